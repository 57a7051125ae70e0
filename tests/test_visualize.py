"""Image grids: cells of any shape fitted into one box, white around them."""

import numpy as np
import pytest

from drht_jax import visualize


def test_fit_box_keeps_the_aspect_ratio_and_centres_on_white():
  image = np.zeros((20, 40, 3), np.float32)          # 1:2 into a 30x30 box -> 15x30
  out = visualize.fit_box(image, 30, 30)
  assert out.shape == (30, 30, 3)
  dark = np.all(out < 0.5, axis=-1)
  rows = np.flatnonzero(dark.any(axis=1))
  assert dark.all(axis=1).sum() == 15 and rows[0] == 7 and rows[-1] == 21
  assert np.all(out[:7] == 1.0) and np.all(out[22:] == 1.0)


def test_fit_box_area_resizes_so_the_mean_is_kept():
  image = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
  out = visualize.fit_box(image, 16, 16)
  assert out.mean() == pytest.approx(image.mean(), abs=1e-5)


def test_image_grid_rejects_columns_of_different_shapes():
  with pytest.raises(ValueError, match="column 1"):
    visualize.image_grid([np.zeros((1, 4, 4, 3)), np.zeros((1, 4, 5, 3))])
