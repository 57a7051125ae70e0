"""Behaviour of drht_jax.inference: any image size, tiling and stitching, compile caching."""

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from drht_jax import inference, models


def fast_variables(model, seed=0, hidden_scale=0.5, output_scale=0.01):
  """Variables shaped like `models.init_variables(model, ...)`, drawn with NumPy.

  (`init_variables` takes ~25 s of XLA compilation on 2 CPU cores, over this file's budget.)
  He-normal kernels (times `hidden_scale`), small output layers (`decoder_5`, times
  `output_scale`) so the nets stay near their residual paths the way a trained DRHT does
  (an untrained one in eval mode saturates half its pixels), identity BatchNorm statistics.
  """
  shapes = jax.eval_shape(lambda k: model.init(k, jnp.zeros((1, 64, 64, 3)), train=False),
                          jax.random.PRNGKey(0))
  rng = np.random.default_rng(seed)

  def draw(path, leaf):
    if path[-1] == "kernel":
      std = np.sqrt(2.0 / np.prod(leaf.shape[:-1]))
      std *= output_scale if path[-2] == f"decoder_{models.NUM_LEVELS - 1}" else hidden_scale
      return (rng.standard_normal(leaf.shape) * std).astype(np.float32)
    if path[-1] in ("scale", "var"):
      return np.ones(leaf.shape, np.float32)
    return np.zeros(leaf.shape, np.float32)

  flat = flax.traverse_util.flatten_dict(shapes)
  return flax.traverse_util.unflatten_dict({k: draw(k, v) for k, v in flat.items()})


@pytest.fixture(scope="module")
def tiny():
  config = default.model_config()
  config.width = 0.125
  model = models.create_model(config)
  return model, fast_variables(model)


def smooth_image(height, width, seed=0):
  """A photo-like `[H, W, 3]` image in [0.05, 0.95]: smooth gradients plus a little noise."""
  y, x = np.mgrid[0:height, 0:width] / 100.0
  image = np.stack([0.5 + 0.35 * np.sin(3 * x + y), 0.5 + 0.35 * np.cos(2 * y),
                    0.35 + 0.2 * np.sin(3 * x * y)], axis=-1)
  noise = np.random.default_rng(seed).uniform(-0.05, 0.05, image.shape)
  return np.clip(image + noise, 0.05, 0.95).astype(np.float32)


def test_pad_to_multiple_reflects_at_bottom_right_and_keeps_the_image():
  image = np.random.default_rng(0).uniform(size=(37, 45, 3)).astype(np.float32)
  padded = inference.pad_to_multiple(image)
  assert padded.shape == (64, 64, 3)
  np.testing.assert_array_equal(padded[:37, :45], image)
  # Reflection (edge pixel not repeated): row 37 mirrors row 35, column 45 mirrors column 43.
  np.testing.assert_array_equal(padded[37, :45], image[35])
  np.testing.assert_array_equal(padded[:37, 45], image[:, 43])


def test_pad_to_multiple_handles_one_pixel_wide_images():
  image = np.linspace(0, 1, 5 * 3, dtype=np.float32).reshape(5, 1, 3)
  padded = inference.pad_to_multiple(image)
  assert padded.shape == (32, 32, 3)
  np.testing.assert_array_equal(padded[:5, 7], image[:, 0])


@pytest.mark.parametrize("size", [(37, 45), (100, 130)])
def test_correct_returns_the_input_size_for_odd_sizes(tiny, size):
  model, variables = tiny
  corrected, radiance = inference.correct(model, variables, smooth_image(*size))
  assert corrected.shape == radiance.shape == size + (3,)
  assert corrected.min() >= 0.0 and corrected.max() <= 1.0
  assert np.all(np.isfinite(radiance)) and radiance.min() >= 0.0


def test_tile_starts_cover_the_image_with_the_requested_overlap():
  for size, tile, overlap in [(3008, 1024, 64), (4000, 1024, 64), (416, 128, 32), (96, 96, 0)]:
    starts = inference.tile_starts(size, tile, overlap)
    assert starts[0] == 0 and starts[-1] + tile == size
    assert all(s % 32 == 0 for s in starts)
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))


def test_tiled_apply_of_a_pointwise_function_equals_applying_it_whole():
  """Stitching alone (no network): the feathered weights must average back to the value."""
  image = smooth_image(160, 288)
  fn = lambda x: (np.sqrt(x), x[..., :1] * 2.0)  # pylint: disable=unnecessary-lambda-assignment
  a, b = inference.tiled_apply(fn, image, tile=64, overlap=32)
  np.testing.assert_allclose(a, np.sqrt(image), rtol=1e-6)
  np.testing.assert_allclose(b, image[..., :1] * 2.0, rtol=1e-6)


def test_tiled_correction_matches_untiled_closely(tiny):
  """A tiny `max_pixels` forces 128 x 128 tiles (overlap 64) on a 192 x 288 image.

  Tiles start on the stride-32 grid and BatchNorm uses running statistics, so a tile computes
  what the whole image computes wherever its receptive field stays inside the tile; pixels
  whose field crosses a tile edge see zero padding instead of the neighbours, which the
  feathered blend over the overlap mostly hides. Measured with these weights: mean gap 0.5%
  of the mean change the network makes to the image, max 5.5/255. Bounds: 2% and 12/255;
  stitching without the feathered blend (last tile wins) gives 5.5% and 82/255 and fails.
  """
  model, variables = tiny
  image = smooth_image(192, 288, seed=1)
  whole, whole_hdr = inference.correct(model, variables, image, mode="full")
  tiled, tiled_hdr = inference.correct(model, variables, image, mode="full",
                                       max_pixels=128 * 128)
  change = np.abs(whole - image).mean()
  assert change > 0.01  # the network does something position-dependent to the image
  gap = np.abs(tiled - whole)
  assert gap.mean() < 0.02 * change, (gap.mean(), change)
  assert gap.max() < 12 / 255
  log_gap = np.abs(np.log(tiled_hdr + 1 / 255) - np.log(whole_hdr + 1 / 255))
  assert log_gap.mean() < 0.01 * np.abs(np.log(whole_hdr + 1 / 255)).mean()


def test_tiling_compiles_one_tile_shape_for_a_whole_image(tiny):
  model, variables = tiny
  before = set(inference.compiled_shapes(model))
  image = smooth_image(200, 300, seed=2)   # padded 224 x 320: 3 x 4 tiles of 96
  inference.correct(model, variables, image, tile=96, overlap=32)
  assert set(inference.compiled_shapes(model)) - before <= {(1, 96, 96, 3)}
  assert (1, 96, 96, 3) in inference.compiled_shapes(model)
  assert (1, 224, 320, 3) not in inference.compiled_shapes(model)


def test_correct_batch_equals_correcting_each_image(tiny):
  model, variables = tiny
  images = [smooth_image(50, 70, seed=s) for s in (3, 4)]
  batch_ldr, batch_hdr = inference.correct_batch(model, variables, images)
  assert batch_ldr.shape == (2, 50, 70, 3)
  for k, image in enumerate(images):
    ldr, radiance = inference.correct(model, variables, image)
    np.testing.assert_allclose(batch_ldr[k], ldr, atol=1e-5)
    np.testing.assert_allclose(batch_hdr[k], radiance, rtol=1e-4, atol=1e-6)


def test_correct_rejects_a_tile_that_is_not_a_multiple_of_32(tiny):
  model, variables = tiny
  with pytest.raises(ValueError, match="multiple of 32"):
    inference.correct(model, variables, smooth_image(40, 40), tile=100)


# --- Working resolution + guided upsampling (`guided` mode).


def test_area_downscale_equals_the_exact_area_average():
  from drht_jax import imageio_utils
  image = np.random.default_rng(0).uniform(size=(150, 203, 3)).astype(np.float32)
  for size in [(64, 96), (75, 29), (150, 100)]:
    np.testing.assert_allclose(inference.area_downscale(image, *size),
                               imageio_utils.resize_area(image, *size), atol=2e-6)


def test_working_shape_scales_the_long_side_and_rounds_to_multiples_of_32():
  assert inference.working_shape(3000, 4000, 256) == (192, 256)
  assert inference.working_shape(4000, 6000, 256) == (160, 256)    # 170.7 -> 160
  assert inference.working_shape(100, 130, 2048) == (96, 128)      # never upscaled


def test_guided_upsample_reproduces_a_global_affine_colour_map():
  image = smooth_image(96, 160)
  matrix = np.array([[0.8, 0.1, 0.0], [0.05, 0.9, 0.1], [0.0, 0.2, 0.7]], np.float32)
  offset = np.array([0.05, -0.02, 0.1], np.float32)
  low = inference.area_downscale(image, 24, 40)
  out = inference.guided_upsample(low, low @ matrix.T + offset, image, eps=1e-8)
  np.testing.assert_allclose(out, np.clip(image @ matrix.T + offset, 0, 1), atol=2e-3)


def test_guided_upsample_of_radiance_is_affine_in_the_log_domain():
  image = smooth_image(64, 96)
  low = inference.area_downscale(image, 16, 24)
  to_radiance = lambda x: np.exp(3.0 * x - 2.0) - 1.0 / 255.0   # log(R + delta) affine in x
  out = inference.guided_upsample(low, to_radiance(low), image, eps=1e-8, log_domain=True)
  np.testing.assert_allclose(out, to_radiance(image), rtol=5e-3, atol=1e-4)
  assert out.min() >= 0.0


def test_guided_upsample_keeps_a_step_edge_sharp_without_halos():
  # A colour step edge not aligned with the 4x downscale blocks, under a strong tone curve.
  height, width = 64, 256
  dark, bright = np.array([0.05, 0.08, 0.1]), np.array([0.9, 0.7, 0.8])
  image = np.where(np.arange(width)[None, :, None] < 131, dark, bright)
  image = (image * np.ones((height, 1, 1))).astype(np.float32)
  curve = lambda x: x ** 0.45
  low = inference.area_downscale(image, 16, 64)
  out = inference.guided_upsample(low, curve(low), image)
  want = curve(image)
  assert np.abs(out - want).max() < 0.03          # sharp: every pixel near its own colour's map
  assert out.max() < want.max() + 0.03 and out.min() > want.min() - 0.03   # no over/undershoot
  # What upsampling the pixels instead of the transformation does: a blurred edge.
  pixels = np.asarray(jax.image.resize(curve(low), (height, width, 3), "linear"))
  assert np.abs(pixels - want).max() > 0.25


def test_apply_affine_in_strips_equals_one_strip():
  image = smooth_image(50, 70)
  low = inference.area_downscale(image, 13, 17)
  coef = inference.fit_affine(low, np.sqrt(low))
  whole = inference.apply_affine(coef, image, strip_rows=50)
  np.testing.assert_allclose(inference.apply_affine(coef, image, strip_rows=16), whole,
                             atol=1e-6)


def test_correct_guided_runs_the_nets_once_at_the_working_shape(tiny):
  model, variables = tiny
  inference.clear_cache()
  corrected, radiance = inference.correct(model, variables, smooth_image(130, 200),
                                          working_size=96)
  assert inference.compiled_shapes(model) == [(1, 64, 96, 3)]
  assert corrected.shape == radiance.shape == (130, 200, 3)
  assert corrected.min() >= 0.0 and corrected.max() <= 1.0 and radiance.min() >= 0.0


def test_correct_guided_skips_the_radiance_when_not_wanted(tiny):
  model, variables = tiny
  _, radiance = inference.correct(model, variables, smooth_image(130, 200), working_size=96,
                                  want_hdr=False)
  assert radiance is None


def test_correct_guided_passes_photos_at_the_working_size_through_the_full_path(tiny):
  model, variables = tiny
  image = smooth_image(40, 70)
  guided = inference.correct(model, variables, image, mode="guided", working_size=256)
  full = inference.correct(model, variables, image, mode="full")
  for a, b in zip(guided, full):
    np.testing.assert_array_equal(a, b)


def test_correct_rejects_an_unknown_mode_and_tiles_in_guided_mode(tiny):
  model, variables = tiny
  with pytest.raises(ValueError, match="mode must be one of"):
    inference.correct(model, variables, smooth_image(40, 40), mode="fast")
  with pytest.raises(ValueError, match="tile applies to mode='full'"):
    inference.correct(model, variables, smooth_image(40, 40), mode="guided", tile=64)
