"""drht_jax/formats/geometry.py: centre crop to an aspect ratio and exact area resizing."""

import numpy as np
import pytest

from drht_jax.formats.geometry import center_crop_to_aspect, resize_area


def _radiance(height=8, width=16, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.random((height, width, 3)) * 10.0).astype(np.float32)


def test_center_crop_cuts_the_longer_side_symmetrically():
  wide = np.arange(10 * 30).reshape(10, 30)
  np.testing.assert_array_equal(center_crop_to_aspect(wide, 2.0), wide[:, 5:25])
  tall = np.arange(20 * 20).reshape(20, 20)
  np.testing.assert_array_equal(center_crop_to_aspect(tall, 2.0), tall[5:15])


def test_resize_area_integer_factor_is_block_mean():
  x = np.random.default_rng(0).random((8, 12, 3))
  want = x.reshape(4, 2, 4, 3, 3).mean(axis=(1, 3))
  np.testing.assert_allclose(resize_area(x, 4, 4), want, rtol=1e-6)


def test_resize_area_fractional_footprints():
  # 3 rows -> 2: row 0 = (r0 + r1 / 2) / 1.5, row 1 = (r1 / 2 + r2) / 1.5.
  x = np.array([0.0, 3.0, 6.0]).reshape(3, 1, 1)
  np.testing.assert_allclose(resize_area(x, 2, 1)[:, 0, 0], [1.0, 5.0], rtol=1e-6)


def test_resize_area_preserves_mean_radiance():
  x = _radiance(37, 81)
  assert resize_area(x, 16, 32).mean() == pytest.approx(x.mean(), rel=1e-5)
