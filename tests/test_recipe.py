"""The data recipe (drht_jax/recipe.py): windows, exact area resampling, flip, corruption,
targets, keys. Tiny images; every function is the one the loader runs on the device."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drht_jax import hdr
from drht_jax import recipe


def _radiance(shape=(32, 64, 3), seed=0, sigma=2.0):
  return jnp.exp(sigma * jax.random.normal(jax.random.PRNGKey(seed), shape))


# --- Geometry.

def test_area_weights_rows_sum_to_one_and_skip_pixels_outside_the_window():
  weights = np.asarray(recipe.area_weights(2.5, 7.0, 16, 3))
  np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
  assert not weights[:, :2].any() and not weights[:, 10:].any()
  assert weights[0, 2] == pytest.approx(0.5 / (7 / 3), rel=1e-6)  # half a pixel of overlap


def test_resize_is_block_mean_or_exact_box_weights():
  image = jnp.arange(16, dtype=jnp.float32).reshape(4, 4, 1)
  np.testing.assert_array_equal(recipe.resize(image, (2, 2))[..., 0],
                                [[2.5, 4.5], [10.5, 12.5]])
  image = jax.random.uniform(jax.random.PRNGKey(0), (30, 50, 3))
  out = recipe.resize(image, (8, 16))                   # non-integer factors 3.75, 3.125
  assert out.shape == (8, 16, 3)
  np.testing.assert_allclose(out.mean(axis=(0, 1)), image.mean(axis=(0, 1)), rtol=1e-5)
  ramp = jnp.tile(jnp.arange(12, dtype=jnp.float32)[None, :, None], (6, 1, 1))
  np.testing.assert_allclose(recipe.resize(ramp, (6, 4))[0, :, 0], [1, 4, 7, 10], rtol=1e-6)
  np.testing.assert_allclose(recipe.resize(ramp, (3, 5))[0, :, 0],
                             [(0 + 1 + 0.4 * 2) / 2.4, (0.6 * 2 + 3 + 0.8 * 4) / 2.4,
                              (0.2 * 4 + 5 + 6 + 0.2 * 7) / 2.4,
                              (0.8 * 7 + 8 + 0.6 * 9) / 2.4, (0.4 * 9 + 10 + 11) / 2.4],
                             rtol=1e-5)


def test_resize_on_the_device_matches_the_host_area_resize_of_the_builders():
  # Two implementations of one definition: JAX for the device recipe, NumPy (float64) for the
  # builders and photos (drht_jax/formats/geometry.py); they must agree.
  from drht_jax.formats import geometry  # pylint: disable=g-import-not-at-top
  image = np.asarray(jax.random.uniform(jax.random.PRNGKey(1), (37, 53, 3)))
  np.testing.assert_allclose(recipe.resize(jnp.asarray(image), (8, 12)),
                             geometry.resize_area(image, 8, 12), rtol=1e-5, atol=1e-6)


def test_resize_to_the_same_size_is_the_identity():
  image = _radiance((8, 16, 3))
  np.testing.assert_array_equal(recipe.resize(image, (8, 16)), image)


def test_zero_padding_outside_the_scene_does_not_change_the_resampled_window():
  image = _radiance((8, 16, 3))
  padded = jnp.zeros((12, 24, 3)).at[:8, :16].set(image)
  window = (1.25, 2.5, 6.0, 12.0)
  np.testing.assert_allclose(recipe.resample(padded, window, (3, 6)),
                             recipe.resample(image, window, (3, 6)), rtol=1e-6)


def test_flip_mirrors_the_resampled_window():
  image = _radiance((8, 16, 3))
  window = (0.5, 1.0, 6.0, 12.0)
  np.testing.assert_allclose(recipe.resample(image, window, (3, 6), flip=True),
                             recipe.resample(image, window, (3, 6))[:, ::-1], rtol=1e-6)


def test_crop_window_keeps_the_aspect_ratio_never_upsamples_and_can_take_the_whole_scene():
  keys = jax.random.split(jax.random.PRNGKey(0), 400)
  y, x, h, w = (np.asarray(v) for v in jax.vmap(
      lambda k: recipe.crop_window(k, (256, 512), (64, 128), (0.25, 1.0), 0.25))(keys))
  np.testing.assert_allclose(w, 2 * h, rtol=1e-6)
  assert np.all((h >= 64) & (h <= 256)) and np.all((y >= 0) & (y + h <= 256 + 1e-3))
  assert np.all((x >= 0) & (x + w <= 512 + 1e-3))
  assert 0.15 < np.mean(h == 256) < 0.4 and h.min() < 80 and len(np.unique(h)) > 50


def test_crop_window_of_a_wider_scene_keeps_the_training_aspect():
  y, x, h, w = recipe.crop_window(jax.random.PRNGKey(1), (256, 1024), (64, 128), whole_prob=1.0)
  assert float(h) == 256 and float(w) == 512 and float(y) == 0 and 0 <= float(x) <= 512


def test_scene_smaller_than_image_size_is_a_clear_error():
  with pytest.raises(ValueError, match="smaller than image_size"):
    recipe.check_scene_size((32, 64), (64, 128), "rendered/tiny:train")


def test_crop_example_cuts_the_same_window_from_all_images_and_flips_them():
  ramp = np.arange(8 * 12 * 3, dtype=np.float32).reshape(8, 12, 3)
  images = {"ldr": jnp.asarray(ramp % 256, jnp.uint8), "hdr": jnp.asarray(ramp)}
  flips = set()
  for seed in range(20):
    out = recipe.crop_example(jax.random.PRNGKey(seed), images, (8, 12), (4, 6))
    assert out["ldr"].shape == (4, 6, 3) and out["ldr"].dtype == jnp.float32
    np.testing.assert_array_equal(np.round(np.asarray(out["ldr"]) * 255.0),
                                  np.asarray(out["hdr"]) % 256)
    flips.add(bool(out["hdr"][0, 0, 0] > out["hdr"][0, -1, 0]))
  assert flips == {True, False}


# --- Corruption and targets.

def test_sample_corruption_is_a_function_of_the_key():
  a = recipe.sample_corruption(jax.random.PRNGKey(3))
  b = recipe.sample_corruption(jax.random.PRNGKey(3))
  c = recipe.sample_corruption(jax.random.PRNGKey(4))
  assert all(np.array_equal(a[k], b[k]) for k in a)
  assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_sampled_corruptions_stay_in_documented_ranges():
  params = jax.vmap(recipe.sample_corruption)(jax.random.split(jax.random.PRNGKey(0), 2000))
  ev, contrast, kind, p = (np.asarray(params[k]) for k in ("ev", "contrast", "crf_kind",
                                                           "crf_param"))
  assert ev.min() >= -6 and ev.max() <= 3 and ev.min() < -5.5 and ev.max() > 2.5
  assert contrast.min() >= recipe.CONTRAST_RANGE[0]
  assert contrast.max() <= recipe.CONTRAST_RANGE[1]
  assert set(np.unique(kind)) == {0, 1}
  assert np.all((p[kind == 0] >= 1.8) & (p[kind == 0] <= 2.6))
  assert np.all((p[kind == 1] >= 0.6) & (p[kind == 1] <= 1.2))


def test_negative_ev_darkens_and_positive_ev_brightens_the_input():
  radiance = _radiance()
  base = dict(contrast=1.0, crf_kind=0, crf_param=2.2)
  dark = recipe.corrupt_radiance(radiance, ev=-4.0, **base)
  normal = recipe.corrupt_radiance(radiance, ev=0.0, **base)
  bright = recipe.corrupt_radiance(radiance, ev=2.5, **base)
  assert float(dark.mean()) < float(normal.mean()) < float(bright.mean())
  assert float((bright == 1).mean()) > float((normal == 1).mean())


def test_corrupt_ldr_with_zero_ev_and_unit_contrast_keeps_an_8bit_image():
  ldr = hdr.quantize_8bit(jax.random.uniform(jax.random.PRNGKey(0), (16, 16, 3)))
  np.testing.assert_allclose(recipe.corrupt_ldr(ldr, 0.0, 1.0), ldr, atol=1 / 255 + 1e-6)


def test_example_input_and_target_are_8bit_and_hdr_has_log_average_0_18():
  example, _ = recipe.make_example(jax.random.PRNGKey(0), _radiance())
  for key in ("ldr", "ldr_gt"):
    values = np.asarray(example[key]) * 255
    np.testing.assert_allclose(values, np.round(values), atol=1e-3)
  assert float(hdr.log_average_luminance(example["hdr"]).squeeze()) == pytest.approx(0.18, rel=1e-4)


def test_unknown_corruption_is_a_clear_error():
  with pytest.raises(ValueError, match="config.data.corruption"):
    recipe.corrupt("jpeg", jax.random.PRNGKey(0), _radiance())


# --- Keys and whole scene examples.

def test_example_keys_depend_on_step_and_position_only():
  base = recipe.data_key(0)
  a = recipe.example_keys(base, 3, jnp.arange(4))
  np.testing.assert_array_equal(a, recipe.example_keys(base, 3, jnp.arange(4)))
  np.testing.assert_array_equal(a[2:], recipe.example_keys(base, 3, jnp.arange(2, 4)))
  assert not np.array_equal(a, recipe.example_keys(base, 4, jnp.arange(4)))
  assert not np.array_equal(a, recipe.example_keys(recipe.data_key(1), 3, jnp.arange(4)))


def test_whole_scene_example_has_the_test_protocol_targets():
  radiance = _radiance((32, 64, 3), seed=2)
  train = recipe.scene_example(jax.random.PRNGKey(0), radiance, (32, 64), (16, 32), flip=False,
                               whole_prob=1.0)
  test, _ = recipe.make_example(jax.random.PRNGKey(9), recipe.resize(radiance, (16, 32)))
  np.testing.assert_array_equal(train["hdr"], test["hdr"])      # one target definition
  np.testing.assert_array_equal(train["ldr_gt"], test["ldr_gt"])


def test_frozen_corruption_key_fixes_the_input_exposure_across_crops():
  radiance = _radiance((32, 64, 3), seed=3)
  frozen = jax.random.PRNGKey(5)
  a, b = (recipe.scene_example(jax.random.PRNGKey(s), radiance, (32, 64), (16, 32),
                               whole_prob=1.0, flip=False, corruption_key=frozen)
          for s in (0, 1))
  np.testing.assert_array_equal(a["ldr"], b["ldr"])
  c = recipe.scene_example(jax.random.PRNGKey(0), radiance, (32, 64), (16, 32), whole_prob=1.0,
                           flip=False)
  d = recipe.scene_example(jax.random.PRNGKey(1), radiance, (32, 64), (16, 32), whole_prob=1.0,
                           flip=False)
  assert not np.array_equal(c["ldr"], d["ldr"])


def test_camera_corruption_is_one_call_away_and_a_function_of_the_key():
  radiance = _radiance((16, 32, 3), seed=4)
  a, params = recipe.corrupt("camera", jax.random.PRNGKey(0), radiance)
  b, _ = recipe.corrupt("camera", jax.random.PRNGKey(0), radiance)
  np.testing.assert_array_equal(a, b)
  assert a.shape == (16, 32, 3) and "jpeg_quality" in params
  np.testing.assert_allclose(np.asarray(a) * 255, np.round(np.asarray(a) * 255), atol=1e-3)


def test_reexpose_is_a_function_of_the_key_on_8bit_levels():
  photo = jnp.full((16, 24, 3), 0.5, jnp.float32)
  a, params = recipe.reexpose(jax.random.PRNGKey(3), photo)
  b, _ = recipe.reexpose(jax.random.PRNGKey(3), photo)
  np.testing.assert_array_equal(a, b)
  np.testing.assert_allclose(np.asarray(a) * 255, np.round(np.asarray(a) * 255), atol=1e-4)
  lo, hi = recipe.REEXPOSE_EV_RANGE
  assert lo <= float(params["ev"]) <= hi


def test_parametric_reexposure_is_the_ldr_corruption_at_the_drawn_exposure():
  photo = jnp.asarray(np.random.default_rng(0).uniform(0, 1, (16, 24, 3)), jnp.float32)
  out, params = recipe.reexpose(jax.random.PRNGKey(5), photo, "parametric")
  assert set(params) == {"ev"}
  np.testing.assert_array_equal(out, recipe.corrupt_ldr(photo, params["ev"], 1.0))
  camera_shot, camera_params = recipe.reexpose(jax.random.PRNGKey(5), photo, "camera")
  assert float(camera_params["ev"]) == float(params["ev"])           # same key, same exposure
  assert not np.array_equal(out, camera_shot)                         # but no noise, no JPEG


def test_reexpose_refuses_an_unknown_corruption():
  with pytest.raises(ValueError, match="reexpose: corruption expected one of"):
    recipe.reexpose(jax.random.PRNGKey(0), jnp.zeros((4, 4, 3)), "film")


def test_reexpose_changes_brightness_by_the_drawn_exposure():
  photo = jnp.full((64, 64, 3), 0.5, jnp.float32)
  for seed in range(4):
    out, params = recipe.reexpose(jax.random.PRNGKey(seed), photo)
    expected = hdr.srgb_encode(np.minimum(hdr.srgb_decode(np.float32(0.5)) * 2.0 ** float(params["ev"]), 1.0))
    assert abs(float(np.mean(out)) - float(expected)) < 0.03, (seed, params["ev"])
