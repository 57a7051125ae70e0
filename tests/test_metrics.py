"""Specifies drht_jax/metrics/__init__.py: the registry and `compute_all` (every metric at once).

The metric families have their own files: tests/test_metrics_<module>.py.
"""

import numpy as np
import pytest

from drht_jax import metrics
from tests.metric_inputs import PHOTOS, _distort, _f32, _radiance


def test_compute_all_returns_one_value_per_image_for_every_metric(photos):
  refs = np.stack([photos[n][:64, :96] for n in PHOTOS])
  preds = np.stack([_distort(r, "noise") for r in refs])
  hdr_ref = _radiance(5, refs.shape)
  out = metrics.compute_all(preds, refs, 1.2 * hdr_ref, hdr_ref)
  assert set(out) == {"psnr", "ssim", "fsim", "fsim_luminance", "block_excess", "ciede2000",
                      "colourfulness", "colourfulness_ratio", "pu21_psnr", "pu21_ssim",
                      "log_hdr_rmse"}
  for value in out.values():
    assert isinstance(value, np.ndarray) and value.shape == (3,)
    assert np.all(np.isfinite(value))
  np.testing.assert_allclose(out["fsim"], metrics.fsim(_f32(preds), _f32(refs)), atol=1e-6)


def test_compute_all_without_hdr_gives_only_ldr_metrics(photos):
  x = photos["coffee"][:32, :48]
  assert set(metrics.compute_all(x, x)) == set(metrics.LDR_METRICS) == {
      "psnr", "ssim", "fsim", "fsim_luminance", "block_excess", "ciede2000", "colourfulness",
      "colourfulness_ratio"}


def test_compute_all_with_names_computes_only_those_and_agrees_with_the_full_set(photos):
  refs = np.stack([photos[n][:32, :48] for n in PHOTOS])
  preds = np.stack([_distort(r, "noise") for r in refs])
  full = metrics.compute_all(preds, refs)
  some = metrics.compute_all(preds, refs, names=("ssim", "psnr", "ciede2000"))
  assert list(some) == ["psnr", "ssim", "ciede2000"]   # registry order
  for name, value in some.items():
    np.testing.assert_allclose(value, full[name], rtol=1e-5)
  with pytest.raises(ValueError, match="unknown metrics"):
    metrics.compute_all(preds, refs, names=("psnr", "nope"))
