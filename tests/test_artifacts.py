"""Block artifacts: `metrics.block_pattern` / `block_artifact_excess` find a 32-pixel grid.

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
