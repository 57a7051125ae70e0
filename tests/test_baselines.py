"""The comparison methods on real, under-exposed photos: shape, range, and that they brighten."""

import numpy as np
import pytest
from skimage import color, data

from drht_jax import baselines


def _underexposed(name, crop, ev=-3.0):
  """A skimage photo cropped, linearised (gamma 2.2), scaled by 2**ev and re-encoded."""
  img = getattr(data, name)().astype(np.float64) / 255.0
  (y0, y1), (x0, x1) = crop
  linear = img[y0:y1, x0:x1] ** 2.2 * 2.0**ev
  return (linear ** (1 / 2.2)).astype(np.float32)


@pytest.fixture(scope="module")
def dark_photos():
  return {"astronaut": _underexposed("astronaut", ((0, 128), (64, 192))),
          "coffee": _underexposed("coffee", ((100, 164), (200, 328)))}


@pytest.fixture(scope="module")
def outputs(dark_photos):
  """Every baseline on every dark photo, computed once."""
  return {(method, photo): fn(img) for method, fn in baselines.BASELINES.items()
          for photo, img in dark_photos.items()}


METHODS = sorted(baselines.BASELINES)
PHOTOS = ("astronaut", "coffee")


def test_registry_lists_the_comparison_methods_of_measure_md():
  assert set(baselines.BASELINES) == {"input", "auto_exposure", "histeq", "clahe", "lime",
                                      "wvm", "l0_enhance"}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("photo", PHOTOS)
def test_baseline_keeps_shape_and_returns_float32_in_unit_range(outputs, dark_photos, method,
                                                                photo):
  out = outputs[(method, photo)]
  assert out.shape == dark_photos[photo].shape
  assert out.dtype == np.float32
  assert np.all(np.isfinite(out)) and out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("method", [m for m in METHODS if m != "input"])
@pytest.mark.parametrize("photo", PHOTOS)
def test_baseline_brightens_an_underexposed_photo(outputs, dark_photos, method, photo):
  before = baselines.luma(dark_photos[photo].astype(np.float64)).mean()
  after = baselines.luma(outputs[(method, photo)].astype(np.float64)).mean()
  assert after > before + 0.05


@pytest.mark.parametrize("photo", PHOTOS)
def test_input_baseline_is_the_identity(outputs, dark_photos, photo):
  np.testing.assert_array_equal(outputs[("input", photo)], dark_photos[photo])


def test_auto_exposure_sets_mean_luma_to_one_half(outputs):
  out = outputs[("auto_exposure", "coffee")].astype(np.float64)
  assert baselines.luma(out).mean() == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("method", ["histeq", "clahe"])
def test_histogram_methods_keep_the_hue(outputs, dark_photos, method):
  before = color.rgb2hsv(dark_photos["astronaut"])
  after = color.rgb2hsv(outputs[(method, "astronaut")])
  coloured = (before[..., 1] > 0.2) & (before[..., 2] > 0.05) & (after[..., 2] < 0.99)
  hue_diff = np.abs(before[..., 0] - after[..., 0])[coloured]
  assert np.max(np.minimum(hue_diff, 1.0 - hue_diff)) < 0.01


def test_lime_never_darkens_a_pixel(outputs, dark_photos):
  # R = L / T ** 0.8 with the illumination T <= 1.
  assert np.all(outputs[("lime", "coffee")] >= dark_photos["coffee"] - 1e-6)


def test_l0_smooth_leaves_fewer_nonzero_gradients():
  rng = np.random.default_rng(0)
  steps = np.repeat(np.repeat(rng.uniform(size=(4, 4, 3)), 16, 0), 16, 1)
  noisy = steps + rng.normal(0, 0.02, steps.shape)
  smooth = baselines.l0_smooth(noisy, lam=0.02)
  count = lambda x: np.sum(np.abs(np.diff(x, axis=1)).sum(-1) > 1e-2)
  assert count(smooth) < 0.1 * count(noisy)
  assert np.abs(smooth - steps).mean() < np.abs(noisy - steps).mean()


def test_baselines_reject_a_non_rgb_image():
  with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
    baselines.lime(np.zeros((16, 16), np.float32))


def test_baselines_reject_integer_images():
  with pytest.raises(ValueError, match="float"):
    baselines.histeq(np.zeros((16, 16, 3), np.uint8))
