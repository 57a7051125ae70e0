"""Specifies drht_jax/metrics/artifacts.py: the 32-pixel block grid and the noise excess.

Block artifacts: `metrics.block_pattern` / `block_artifact_excess` find a 32-pixel grid.

The released model's own score is checked in tests/test_pretrained.py.
"""

import numpy as np
import pytest
import skimage.data

from drht_jax import metrics


def _photo():
  image = skimage.data.coffee()[:256, :384].astype(np.float32) / 255.0
  return image


def _blocks(shape, amplitude, period=32, seed=0):
  """Piecewise-constant offsets on a `period` grid: what a net's coarsest level paints."""
  h, w = shape[:2]
  rng = np.random.default_rng(seed)
  cells = rng.normal(0.0, amplitude, (h // period + 1, w // period + 1, 1))
  return cells.repeat(period, 0).repeat(period, 1)[:h, :w]


def test_photo_has_no_excess_over_itself():
  image = _photo()
  assert float(metrics.block_artifact_excess(image[None], image[None])[0]) == 0.0


def test_edge_free_image_has_no_block_pattern():
  ramp = np.linspace(0.1, 0.9, 512, dtype=np.float32)[None, :, None] * np.ones((256, 512, 3),
                                                                               np.float32)
  assert abs(float(metrics.block_pattern(ramp[None])[0])) < 0.01


@pytest.mark.parametrize("amplitude", [0.02, 0.05])
def test_a_32_pixel_grid_is_detected(amplitude):
  image = _photo()
  blocky = np.clip(image + _blocks(image.shape, amplitude), 0.0, 1.0)
  excess = float(metrics.block_artifact_excess(blocky[None], image[None])[0])
  assert excess > 0.2


def test_stronger_grid_scores_higher():
  image = _photo()
  scores = [float(metrics.block_artifact_excess(
      np.clip(image + _blocks(image.shape, a), 0, 1)[None], image[None])[0])
            for a in (0.01, 0.03, 0.1)]
  assert scores[0] < scores[1] < scores[2]


def test_a_grid_of_another_period_is_not_counted_as_32():
  image = _photo()
  # Period 24 does not divide 32: its seams spread over the 32 phases.
  blocky = np.clip(image + _blocks(image.shape, 0.05, period=24), 0.0, 1.0)
  at_32 = float(metrics.block_artifact_excess(blocky[None], image[None])[0])
  at_24 = float(metrics.block_artifact_excess(blocky[None], image[None], period=24)[0])
  assert at_24 > 0.5 and at_32 < at_24 / 2


def test_scores_per_image_in_a_batch():
  image = _photo()
  batch = np.stack([image, np.clip(image + _blocks(image.shape, 0.05), 0, 1)])
  scores = np.asarray(metrics.block_artifact_excess(batch, np.stack([image, image])))
  assert scores.shape == (2,) and scores[0] == 0.0 and scores[1] > 0.2


# --- noise_excess: grain added where the reference is smooth.


def _flat_reference(h=64, w=96):
  ramp = np.linspace(0.2, 0.4, w, dtype=np.float32)[None, :, None]
  return np.broadcast_to(ramp, (h, w, 3)).copy()


def test_an_image_equal_to_its_reference_has_no_noise_excess():
  ref = _flat_reference()
  assert metrics.noise_excess(ref, ref) == pytest.approx(0.0, abs=1e-6)


def test_noise_excess_grows_with_the_added_noise():
  ref = _flat_reference()
  rng = np.random.default_rng(0)
  scores = [metrics.noise_excess(np.clip(ref + s * rng.standard_normal(ref.shape), 0, 1), ref)
            for s in (0.005, 0.02)]
  assert 0.002 < scores[0] < scores[1]
  assert scores[1] == pytest.approx(0.02 * 0.85, rel=0.2)   # the high-pass keeps most of it


def test_a_smooth_brightness_change_is_not_noise():
  ref = _flat_reference()
  assert metrics.noise_excess(np.clip(ref * 1.5, 0, 1), ref) < 1e-3


def test_smooth_mask_leaves_out_textured_regions():
  ref = _flat_reference()
  ref[:, :48] += 0.1 * (np.indices((64, 48)).sum(0) % 2)[..., None]   # a checkerboard half
  mask = metrics.smooth_mask(ref)
  assert not mask[8:-8, 8:40].any() and mask[8:-8, 60:-8].all()


def test_noise_excess_of_an_all_textured_reference_is_nan():
  ref = 0.5 + 0.1 * (np.indices((32, 32)).sum(0) % 2)[..., None] * np.ones(3, np.float32)
  assert np.isnan(metrics.noise_excess(ref, ref))
