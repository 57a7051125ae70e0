"""Specifies drht_jax/metrics/hdr_metrics.py: PU21, PU-PSNR / PU-SSIM and the log-HDR error."""

import jax.numpy as jnp
import numpy as np
import pytest

from drht_jax import metrics
from tests.metric_inputs import _radiance


def test_pu21_encode_matches_the_published_range_and_is_monotone():
  # p_min / p_max of the banding_glare encoding as tabulated in FFmpeg's PU21 filter.
  v = metrics.pu21_encode(jnp.array([1e-4, 0.005, 1e4, 1e6]))
  assert float(v[0]) == pytest.approx(float(v[1]))  # clamped below 0.005 cd/m^2
  assert float(v[1]) == pytest.approx(5.4705e-10, abs=1e-3)
  assert float(v[2]) == pytest.approx(595.3939, rel=1e-5)
  assert float(v[3]) == pytest.approx(float(v[2]))  # clamped above 1e4 cd/m^2
  lum = jnp.logspace(np.log10(0.005), 4, 200)
  assert np.all(np.diff(np.asarray(metrics.pu21_encode(lum))) > 0)


def test_pu_psnr_and_pu_ssim_are_perfect_for_identical_radiance():
  x = _radiance()
  assert np.all(np.isinf(np.asarray(metrics.pu_psnr(x, x))))
  np.testing.assert_allclose(metrics.pu_ssim(x, x), 1.0, atol=1e-6)


def test_pu_metrics_ignore_a_common_scale_of_relative_radiance():
  ref = _radiance(1)
  pred = ref * np.exp(np.random.default_rng(2).normal(0, 0.2, ref.shape)).astype(np.float32)
  np.testing.assert_allclose(metrics.pu_psnr(100 * pred, 100 * ref),
                             metrics.pu_psnr(pred, ref), rtol=1e-4)
  np.testing.assert_allclose(metrics.pu_ssim(100 * pred, 100 * ref),
                             metrics.pu_ssim(pred, ref), rtol=1e-4)


def test_pu_psnr_penalises_a_wrong_exposure_of_the_prediction():
  ref = _radiance(3)
  assert np.all(np.asarray(metrics.pu_psnr(4 * ref, ref)) < np.asarray(
      metrics.pu_psnr(1.1 * ref, ref)))


def test_log_hdr_error_is_the_rmse_of_log_radiance_plus_delta():
  ref = _radiance(4)
  delta = 1.0 / 255.0
  pred = np.e * (ref + delta) - delta  # log(pred + delta) - log(ref + delta) == 1 everywhere
  np.testing.assert_allclose(metrics.log_hdr_error(pred, ref), 1.0, rtol=1e-5)
  np.testing.assert_allclose(metrics.log_hdr_error(ref, ref), 0.0, atol=1e-7)
