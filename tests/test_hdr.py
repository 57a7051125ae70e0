"""The HDR math between f1 and f2 and the tone mapping (the recipe itself: test_recipe.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drht_jax import hdr


def _radiance(shape=(2, 32, 64, 3), seed=0, sigma=2.0):
  return jnp.exp(sigma * jax.random.normal(jax.random.PRNGKey(seed), shape))


def test_inverse_gamma_inverts_gamma_compression_on_1e_minus4_to_1e4():
  radiance = jnp.logspace(-4, 4, 1001, dtype=jnp.float32)
  back = hdr.inverse_gamma(hdr.gamma_compress(radiance))
  np.testing.assert_allclose(back, radiance, rtol=1e-5)


def test_inverse_gamma_clamps_nonpositive_s_hat_to_a_finite_value_and_gradient():
  s_hat = jnp.array([-1.0, 0.0, 1e-9])
  value, grad = jax.vmap(jax.value_and_grad(hdr.inverse_gamma))(s_hat)
  assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
  assert np.all(value >= 0)


def test_log_compress_is_log_of_radiance_plus_delta():
  radiance = jnp.array([0.0, 1.0, 1e4])
  np.testing.assert_allclose(hdr.log_compress(radiance), np.log(np.array([0, 1, 1e4]) + 1 / 255),
                             rtol=1e-6, atol=1e-6)


def test_normalize_exposure_sets_log_average_luminance_per_image():
  radiance = _radiance() * jnp.array([1.0, 50.0])[:, None, None, None]
  normalized = hdr.normalize_exposure(radiance, 0.18)
  np.testing.assert_allclose(hdr.log_average_luminance(normalized).ravel(), [0.18, 0.18],
                             rtol=1e-4)


def test_expose_scales_by_two_to_the_ev():
  np.testing.assert_allclose(hdr.expose(jnp.ones(3), jnp.array(-3.0)), np.full(3, 0.125))


def test_change_contrast_keeps_pivot_and_stretches_log_range():
  values = jnp.array([0.018, 0.18, 1.8])
  out = hdr.change_contrast(values, 1.5)
  np.testing.assert_allclose(out[1], 0.18, rtol=1e-6)
  assert np.log(out[2] / out[0]) == pytest.approx(1.5 * np.log(100), rel=1e-5)


@pytest.mark.parametrize("kind, param", [(0, 1.8), (0, 2.6), (1, 0.6), (1, 1.2)])
def test_camera_curves_are_monotone_and_fix_zero_and_one(kind, param):
  x = jnp.linspace(0, 1, 257)
  y = hdr.apply_crf(x, kind, param)
  assert y[0] == pytest.approx(0.0, abs=1e-7) and y[-1] == pytest.approx(1.0, abs=1e-6)
  assert np.all(np.diff(np.asarray(y)) > 0)


def test_quantize_8bit_gives_256_levels_in_range():
  y = hdr.quantize_8bit(jnp.linspace(-0.5, 1.5, 10001))
  assert y.min() == 0 and y.max() == 1
  np.testing.assert_allclose(np.asarray(y) * 255, np.round(np.asarray(y) * 255), atol=1e-4)


def test_reinhard_maps_any_radiance_into_unit_range():
  ldr = hdr.reinhard_global(_radiance(sigma=4.0))
  assert float(ldr.min()) >= 0 and float(ldr.max()) <= 1


def test_reinhard_preserves_the_order_of_luminances_within_an_image():
  radiance = jnp.repeat(_radiance((1, 32, 64, 1), sigma=4.0), 3, axis=-1)   # grey: no clipping
  ldr = hdr.reinhard_global(radiance)
  lum_in = np.asarray(hdr.luminance(radiance)).ravel()
  lum_out = np.asarray(hdr.luminance(ldr)).ravel()
  order = np.argsort(lum_in)
  assert np.all(np.diff(lum_out[order]) >= -1e-6)


def test_ground_truth_ldr_is_invariant_to_global_exposure():
  radiance = _radiance()
  np.testing.assert_allclose(hdr.ground_truth_ldr(radiance), hdr.ground_truth_ldr(radiance * 64),
                             atol=1e-4)


def test_auto_key_stays_finite_on_a_black_image_with_a_few_bright_pixels():
  # A night crop: 99% black, a lamp in 1% of the pixels. The percentiles both fall on black,
  # the log-average does not: Reinhard's key exponent ran to thousands (NaN ground truth).
  radiance = np.zeros((64, 128, 3), np.float32)
  radiance[:8, :10] = 50.0
  out = np.asarray(hdr.reinhard_global(jnp.asarray(radiance)))
  assert np.all(np.isfinite(out)) and out.max() > 0.5 and out[20:].max() == 0.0


def test_all_black_image_maps_to_black():
  radiance = np.zeros((32, 64, 3), np.float32)
  assert np.all(np.asarray(hdr.ground_truth_ldr(jnp.asarray(radiance))) == 0.0)
