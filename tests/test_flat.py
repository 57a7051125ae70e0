"""No patterns where the input has none (issue 17, item 0).

A stride-2 transposed conv gives its output phases different taps, so a constant input comes
out periodic (the checkerboard, compounded to 32 px over five levels); `upsample=resize_conv`
or `balanced_deconv` (with `padding=edge`) keeps a constant map constant, and `clip_neutral`
keeps pixels clipped in every channel neutral. `clipped_band_stats` is the release check,
run on `pretrained/` (another workdir: `DRHT_FLAT_WORKDIR=runs/NAME pytest tests/test_flat.py`).
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import skimage.data

from drht_jax import metrics, models, train_lib
from configs import default

BORDER = 16
TEXTURE_MAX = 2 / 255   # issue 17: a clipped band's texture and chroma
CHROMA_MAX = 8 / 255


def _config(upsample, padding):
  cfg = default.model_config()
  cfg.width = 1 / 16
  cfg.upsample, cfg.padding = upsample, padding
  return cfg


def _constant_output(model, variables, value, size=(64, 128)):
  x = jnp.full((1, *size, 3), value, jnp.float32)
  return np.asarray(model.apply(variables, x, train=False)["i_hat"])[0]


def _interior_range(y, border=BORDER):
  h, w = y.shape[:2]
  return float(np.ptp(y[border:h - border, border:w - border].reshape(-1, 3), axis=0).max())


@pytest.mark.parametrize("value", [1.0, 0.5])
def test_resize_conv_model_at_random_init_maps_a_constant_to_a_constant(value):
  model = models.create_model(_config("resize_conv", "edge"))
  variables = models.init_variables(model, jax.random.PRNGKey(0))
  assert _interior_range(_constant_output(model, variables, value)) <= 1 / 255


def test_resize_conv_model_after_training_steps_maps_a_constant_to_a_constant():
  model = models.create_model(_config("resize_conv", "edge"))
  variables = models.init_variables(model, jax.random.PRNGKey(0))
  keys = jax.random.split(jax.random.PRNGKey(1), 3)
  batch = {"ldr": jax.random.uniform(keys[0], (2, 64, 128, 3)),
           "ldr_gt": jax.random.uniform(keys[1], (2, 64, 128, 3)),
           "hdr": 4.0 * jax.random.uniform(keys[2], (2, 64, 128, 3))}
  stage = default.stage("joint")
  tx = optax.adam(1e-2)
  params, batch_stats = variables["params"], variables["batch_stats"]
  opt_state = tx.init(params)

  @jax.jit
  def step(params, batch_stats, opt_state):
    grad_fn = jax.grad(lambda p: train_lib.compute_loss(model, p, batch_stats, batch, stage),
                       has_aux=True)
    grads, (_, new_stats) = grad_fn(params)
    updates, opt_state = tx.update(grads, opt_state)
    return optax.apply_updates(params, updates), new_stats, opt_state

  start = params
  for _ in range(3):
    params, batch_stats, opt_state = step(params, batch_stats, opt_state)
  moved = jax.tree_util.tree_leaves(jax.tree_util.tree_map(
      lambda a, b: float(jnp.max(jnp.abs(a - b))), params, start))
  assert max(moved) > 1e-3          # the steps did change the model
  trained = {"params": params, "batch_stats": batch_stats}
  assert _interior_range(_constant_output(model, trained, 1.0)) <= 1 / 255


def test_deconv_model_at_random_init_paints_a_phase_pattern_on_a_constant():
  # Today's layout (paper deconv, zero padding): a constant in comes out non-constant, its
  # even and odd rows (or columns) differing on average: the stride-2 checkerboard.
  model = models.create_model(_config("deconv", "zeros"))
  variables = models.init_variables(model, jax.random.PRNGKey(0))
  y = _constant_output(model, variables, 0.5)[BORDER:-BORDER, BORDER:-BORDER]
  assert float(np.ptp(y)) > 10 / 255
  phase_gap = max(abs(float(y[0::2].mean() - y[1::2].mean())),
                  abs(float(y[:, 0::2].mean() - y[:, 1::2].mean())))
  assert phase_gap > 1 / 255


@pytest.mark.parametrize("kernel_size", [3, 4, 5])
def test_balance_phases_gives_every_output_phase_the_same_tap_sum(kernel_size):
  kernel = jax.random.normal(jax.random.PRNGKey(kernel_size), (kernel_size, kernel_size, 2, 3))
  masks = models.phase_masks(kernel_size, 2)
  assert np.array_equal(masks.sum(0), np.ones((kernel_size, kernel_size)))  # one phase a tap
  sums = np.einsum("pij,ijab->pab", masks, np.asarray(models.balance_phases(kernel, 2)))
  np.testing.assert_allclose(sums, np.broadcast_to(sums.mean(0), sums.shape), atol=1e-5)
  raw = np.einsum("pij,ijab->pab", masks, np.asarray(kernel))
  assert np.ptp(raw, axis=0).max() > 0.1          # the raw kernel's phases did differ


def test_balance_phases_leaves_a_balanced_kernel_unchanged():
  kernel = models.balance_phases(jax.random.normal(jax.random.PRNGKey(0), (3, 3, 2, 2)), 2)
  np.testing.assert_allclose(models.balance_phases(kernel, 2), kernel, atol=1e-6)


@pytest.mark.parametrize("value", [1.0, 0.5])
def test_balanced_deconv_model_at_random_init_maps_a_constant_to_a_constant(value):
  model = models.create_model(_config("balanced_deconv", "edge"))
  variables = models.init_variables(model, jax.random.PRNGKey(0))
  assert _interior_range(_constant_output(model, variables, value), border=0) <= 1 / 255


def test_balanced_deconv_loads_deconv_parameters_unchanged():
  paper = models.create_model(_config("deconv", "zeros"))
  variables = models.init_variables(paper, jax.random.PRNGKey(0))
  balanced = models.create_model(_config("balanced_deconv", "edge"))
  assert (jax.tree_util.tree_structure(variables)
          == jax.tree_util.tree_structure(models.init_variables(balanced, jax.random.PRNGKey(0))))
  y = _constant_output(balanced, variables, 0.5)
  assert np.isfinite(y).all() and _interior_range(y, border=0) <= 1 / 255


def test_neutralize_clipped_greys_only_pixels_clipped_in_every_channel():
  ldr = jnp.array([[[[1.0, 1.0, 1.0], [1.0, 1.0, 0.5], [0.5, 0.5, 0.5]]]])
  out = jnp.array([[[[0.9, 0.8, 0.7], [0.9, 0.8, 0.7], [0.9, 0.8, 0.7]]]])
  y = np.asarray(models.neutralize_clipped(out, ldr))[0, 0]
  np.testing.assert_allclose(y[0], [0.8, 0.8, 0.8], atol=1e-6)   # clipped: its mean, no chroma
  np.testing.assert_allclose(y[1:], np.asarray(out)[0, 0, 1:])  # one channel unclipped: kept


def test_clip_neutral_model_keeps_a_clipped_band_neutral_at_random_init():
  cfg = _config("balanced_deconv", "edge")
  cfg.clip_neutral = True
  model = models.create_model(cfg)
  variables = models.init_variables(model, jax.random.PRNGKey(0))
  photo, mask = clipped_band_photo(64, 128)
  mask[:] = False
  mask[:16] = True                                 # the band, all of it clipped
  out = np.asarray(model.apply(variables, jnp.asarray(photo)[None], train=False)["i_hat"])[0]
  _, chroma = metrics.flat_region_stats(out, mask)
  assert chroma <= 1e-6


# --- Flat regions of a photo: the clipped-band check, pointable at a trained workdir.


def clipped_band_photo(height=256, width=512):
  """skimage's coffee photo (resized, `[H, W, 3]` in [0, 1]) with its top quarter clipped to
  white, as a blown-out sky. Returns (photo, band mask `[H, W]` bool, BORDER px inside)."""
  import skimage.transform  # pylint: disable=g-import-not-at-top
  photo = skimage.transform.resize(skimage.data.coffee() / 255.0, (height, width),
                                   anti_aliasing=True).astype(np.float32)
  band = height // 4
  photo[:band] = 1.0
  mask = np.zeros((height, width), bool)
  mask[BORDER:band - BORDER, BORDER:-BORDER] = True
  return photo, mask


def clipped_band_stats(correct):
  """(texture, chroma) of `correct(photo) -> [H, W, 3]` over the clipped band, in [0, 1]."""
  photo, mask = clipped_band_photo()
  return metrics.flat_region_stats(np.asarray(correct(photo)), mask)


def workdir_corrector(workdir):
  """A trained workdir (or pretrained/) as `photo -> corrected photo` (full-image mode)."""
  from drht_jax import checkpointing, inference  # pylint: disable=g-import-not-at-top
  _, model, variables, _ = checkpointing.restore_for_inference(workdir)
  return lambda photo: inference.correct(model, variables, photo, mode="full")[0]


def test_release_keeps_a_clipped_band_flat_and_neutral():
  texture, chroma = clipped_band_stats(workdir_corrector(os.environ.get("DRHT_FLAT_WORKDIR",
                                                                        "pretrained")))
  assert texture <= TEXTURE_MAX and chroma <= CHROMA_MAX, (texture * 255, chroma * 255)


def test_identity_correction_keeps_the_clipped_band_flat_and_neutral():
  texture, chroma = clipped_band_stats(lambda photo: photo)
  assert texture == 0.0 and chroma == 0.0


def test_flat_region_stats_measures_a_tiled_pattern_and_a_tint():
  h, w = 64, 96
  grid = np.indices((h, w)).sum(0) % 2 * 2.0 - 1.0            # +-1 checkerboard
  image = np.full((h, w, 3), 0.5, np.float32) + 0.02 * grid[..., None]
  mask = np.ones((h, w), bool)
  texture, chroma = metrics.flat_region_stats(image, mask)
  assert texture == pytest.approx(0.02, rel=0.05) and chroma == pytest.approx(0.0, abs=1e-6)
  tinted = np.full((h, w, 3), [0.6, 0.5, 0.4], np.float32)
  texture, chroma = metrics.flat_region_stats(tinted, mask)
  assert texture == pytest.approx(0.0, abs=1e-6)
  assert chroma == pytest.approx(np.sqrt(0.02), rel=1e-4)     # |(0.1, 0, -0.1)|


def test_flat_region_stats_ignores_pixels_outside_the_mask():
  image = np.full((32, 64, 3), 0.8, np.float32)
  image[:, 32:] = np.random.default_rng(0).random((32, 32, 3))
  mask = np.zeros((32, 64), bool)
  mask[:, :28] = True
  assert metrics.flat_region_stats(image, mask) == pytest.approx((0.0, 0.0), abs=1e-6)


def test_flat_region_stats_with_an_empty_mask_raises():
  with pytest.raises(ValueError, match="no pixel"):
    metrics.flat_region_stats(np.zeros((8, 8, 3)), np.zeros((8, 8), bool))
