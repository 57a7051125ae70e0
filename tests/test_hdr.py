"""The HDR math between f1 and f2, and the data recipe's corruption and tone mapping."""

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


def test_sample_corruption_is_a_function_of_the_key():
  a = hdr.sample_corruption(jax.random.PRNGKey(3))
  b = hdr.sample_corruption(jax.random.PRNGKey(3))
  c = hdr.sample_corruption(jax.random.PRNGKey(4))
  assert all(np.array_equal(a[k], b[k]) for k in a)
  assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_sampled_corruptions_stay_in_documented_ranges():
  params = jax.vmap(hdr.sample_corruption)(jax.random.split(jax.random.PRNGKey(0), 2000))
  ev, contrast, kind, p = (np.asarray(params[k]) for k in ("ev", "contrast", "crf_kind",
                                                           "crf_param"))
  assert ev.min() >= -6 and ev.max() <= 3 and ev.min() < -5.5 and ev.max() > 2.5
  assert contrast.min() >= hdr.CONTRAST_RANGE[0] and contrast.max() <= hdr.CONTRAST_RANGE[1]
  assert set(np.unique(kind)) == {0, 1}
  assert np.all((p[kind == 0] >= 1.8) & (p[kind == 0] <= 2.6))
  assert np.all((p[kind == 1] >= 0.6) & (p[kind == 1] <= 1.2))


def test_negative_ev_darkens_and_positive_ev_brightens_the_input():
  radiance = _radiance()[0]
  base = dict(contrast=1.0, crf_kind=0, crf_param=2.2)
  dark = hdr.corrupt_radiance(radiance, ev=-4.0, **base)
  normal = hdr.corrupt_radiance(radiance, ev=0.0, **base)
  bright = hdr.corrupt_radiance(radiance, ev=2.5, **base)
  assert float(dark.mean()) < float(normal.mean()) < float(bright.mean())
  assert float((bright == 1).mean()) > float((normal == 1).mean())


def test_corrupt_ldr_with_zero_ev_and_unit_contrast_keeps_an_8bit_image():
  ldr = hdr.quantize_8bit(jax.random.uniform(jax.random.PRNGKey(0), (16, 16, 3)))
  np.testing.assert_allclose(hdr.corrupt_ldr(ldr, 0.0, 1.0), ldr, atol=1 / 255 + 1e-6)


# --- The NumPy twins the input pipeline uses in its workers must compute the same recipe.

@pytest.mark.parametrize("params", [
    dict(ev=-4.3, contrast=0.8, crf_kind=0, crf_param=2.1),
    dict(ev=1.7, contrast=1.3, crf_kind=1, crf_param=0.75),
    dict(ev=0.0, contrast=1.0, crf_kind=1, crf_param=1.2)])
def test_numpy_corruption_matches_jax(params):
  radiance = np.asarray(_radiance((1, 32, 64, 3), seed=5)[0])
  jax_curve = hdr.apply_crf(jnp.clip(hdr.expose(hdr.change_contrast(
      hdr.normalize_exposure(radiance), params["contrast"]), params["ev"]), 0.0, 1.0),
                            params["crf_kind"], params["crf_param"])
  np_curve = hdr.np_corrupt_radiance(radiance, quantize=False, **params)
  assert np_curve.dtype == np.float32
  np.testing.assert_allclose(np_curve, jax_curve, atol=1e-5)
  # After 8-bit rounding, only values within float noise of a rounding edge may differ.
  diff = np.abs(hdr.np_corrupt_radiance(radiance, **params)
                - np.asarray(hdr.corrupt_radiance(radiance, **params))) * 255
  assert diff.max() <= 1 + 1e-4 and (diff > 0.5).mean() < 1e-3


def test_numpy_tone_mapping_and_exposure_match_jax():
  radiance = np.asarray(_radiance((1, 32, 64, 3), seed=6, sigma=3.0)[0])
  gt = hdr.np_ground_truth_ldr(radiance)
  assert gt.dtype == np.float32
  np.testing.assert_allclose(gt, hdr.ground_truth_ldr(radiance), atol=1e-5)
  np.testing.assert_allclose(hdr.np_normalize_exposure(radiance),
                             hdr.normalize_exposure(radiance), rtol=1e-5)


def test_numpy_sampled_corruptions_stay_in_documented_ranges():
  rng = np.random.default_rng(0)
  params = [hdr.np_sample_corruption(rng) for _ in range(2000)]
  ev = np.array([p["ev"] for p in params])
  kind = np.array([p["crf_kind"] for p in params])
  crf = np.array([p["crf_param"] for p in params])
  contrast = np.array([p["contrast"] for p in params])
  assert ev.min() >= -6 and ev.max() <= 3 and ev.min() < -5.5 and ev.max() > 2.5
  assert contrast.min() >= hdr.CONTRAST_RANGE[0] and contrast.max() <= hdr.CONTRAST_RANGE[1]
  assert set(np.unique(kind)) == {0, 1}
  assert np.all((crf[kind == 0] >= 1.8) & (crf[kind == 0] <= 2.6))
  assert np.all((crf[kind == 1] >= 0.6) & (crf[kind == 1] <= 1.2))
  again = np.random.default_rng(0)
  assert hdr.np_sample_corruption(again) == params[0]


def test_auto_key_stays_finite_on_a_black_image_with_a_few_bright_pixels():
  # A night crop: 99% black, a lamp in 1% of the pixels. The percentiles both fall on black,
  # the log-average does not: Reinhard's key exponent ran to thousands (NaN ground truth).
  radiance = np.zeros((64, 128, 3), np.float32)
  radiance[:8, :10] = 50.0
  for out in (np.asarray(hdr.reinhard_global(jnp.asarray(radiance))),
              hdr.np_reinhard_global(radiance)):
    assert np.all(np.isfinite(out)) and out.max() > 0.5 and out[20:].max() == 0.0
  np.testing.assert_allclose(hdr.np_ground_truth_ldr(radiance),
                             np.asarray(hdr.ground_truth_ldr(jnp.asarray(radiance))), atol=1e-5)


def test_all_black_image_maps_to_black():
  radiance = np.zeros((32, 64, 3), np.float32)
  assert np.all(hdr.np_ground_truth_ldr(radiance) == 0.0)
  assert np.all(np.asarray(hdr.ground_truth_ldr(jnp.asarray(radiance))) == 0.0)
