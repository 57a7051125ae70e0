"""Specifies drht_jax/metrics/fidelity.py: PSNR and SSIM against scikit-image on photos."""

import jax.numpy as jnp
import numpy as np
import pytest
from skimage import metrics as skmetrics

from drht_jax import metrics
from tests.metric_inputs import PHOTOS, _distort, _f32


DISTORTIONS = ("noise", "blur", "exposure", "jpeg")


@pytest.mark.parametrize("kind", DISTORTIONS)
def test_psnr_matches_skimage_on_distorted_photos(photos, kind):
  for ref in photos.values():
    pred = _distort(ref, kind)
    expected = skmetrics.peak_signal_noise_ratio(ref, pred, data_range=1)
    assert float(metrics.psnr(_f32(pred), _f32(ref))) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("kind", DISTORTIONS)
def test_ssim_matches_skimage_to_1e_minus_4_on_distorted_photos(photos, kind):
  for ref in photos.values():
    pred = _distort(ref, kind)
    expected = skmetrics.structural_similarity(
        pred, ref, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        channel_axis=-1, data_range=1)
    assert abs(float(metrics.ssim(_f32(pred), _f32(ref))) - expected) < 1e-4


def test_psnr_of_identical_images_is_infinite(photos):
  x = _f32(photos["coffee"])
  assert np.isinf(float(metrics.psnr(x, x)))


def test_ssim_of_identical_images_is_one(photos):
  x = _f32(photos["coffee"])
  assert float(metrics.ssim(x, x)) == pytest.approx(1.0, abs=1e-6)


def test_psnr_and_ssim_give_one_value_per_image_of_a_batch(photos):
  refs = np.stack([photos[n] for n in PHOTOS])
  preds = np.stack([_distort(photos[n], "noise", seed=i) for i, n in enumerate(PHOTOS)])
  batched_ssim = metrics.ssim(_f32(preds[None]), _f32(refs[None]))
  assert batched_ssim.shape == (1, 3)
  for i in range(3):
    assert float(batched_ssim[0, i]) == pytest.approx(
        float(metrics.ssim(_f32(preds[i]), _f32(refs[i]))), abs=1e-6)
  assert metrics.psnr(_f32(preds), _f32(refs)).shape == (3,)


def test_ssim_rejects_images_smaller_than_its_window():
  with pytest.raises(ValueError, match="window"):
    metrics.ssim(jnp.zeros((8, 32, 3)), jnp.zeros((8, 32, 3)))


def test_metrics_reject_mismatched_shapes():
  with pytest.raises(ValueError, match="shapes differ"):
    metrics.psnr(jnp.zeros((16, 16, 3)), jnp.zeros((16, 17, 3)))
