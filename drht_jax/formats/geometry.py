"""Geometry the data set builders share: `center_crop_to_aspect` and `resize_area` (exact
area averaging, the builders' and the photo path's downscaling)."""

import numpy as np


def center_crop_to_aspect(image: np.ndarray, aspect: float = 2.0) -> np.ndarray:
  """Centre crop of `[H, W, ...]` to width / height = `aspect` (the larger side is cut;
  sizes rounded to the nearest pixel). Returns the input itself if it already fits."""
  height, width = image.shape[:2]
  target_w = int(round(height * aspect))
  if target_w < width:
    x0 = (width - target_w) // 2
    return image[:, x0:x0 + target_w]
  target_h = int(round(width / aspect))
  if target_h < height:
    y0 = (height - target_h) // 2
    return image[y0:y0 + target_h]
  return image


def _area_axis(x: np.ndarray, n_out: int, axis: int) -> np.ndarray:
  """Exact area (box) resampling along `axis`: output `i` is the mean of the input over
  `[i, i + 1) * n_in / n_out`, boundary pixels weighted by their overlap; in `x`'s dtype.
  Downscaling is one `np.add.reduceat` pass plus boundary corrections (fast on a 12 MP photo);
  upscaling (a small panorama) integrates a running sum."""
  n_in = x.shape[axis]
  if n_in == n_out:
    return x
  x = np.moveaxis(x, axis, 0)
  shape = (-1,) + (1,) * (x.ndim - 1)
  edges = np.arange(n_out + 1, dtype=np.float64) * (n_in / n_out)
  if n_out > n_in:
    cumulative = np.concatenate([np.zeros_like(x[:1]), np.cumsum(x, axis=0)], axis=0)
    index = np.minimum(np.floor(edges).astype(np.int64), n_in - 1)
    frac = (edges - index).reshape(shape).astype(x.dtype)
    integral = cumulative[index] + frac * x[index]  # integral of x over [0, edge]
    return np.moveaxis((integral[1:] - integral[:-1]) * x.dtype.type(n_out / n_in), 0, axis)
  edges[-1] = n_in
  start = np.minimum(np.floor(edges).astype(np.int64), n_in)
  frac = (edges - start).astype(x.dtype)              # part of pixel start[i] before edge i
  sums = np.add.reduceat(x, start[:-1], axis=0)       # pixels start[i] .. start[i+1] - 1
  padded = np.concatenate([x, np.zeros_like(x[:1])], axis=0)  # start[-1] may be n_in
  sums -= frac[:-1].reshape(shape) * padded[start[:-1]]
  sums += frac[1:].reshape(shape) * padded[start[1:]]
  return np.moveaxis(sums * x.dtype.type(n_out / n_in), 0, axis)


def resize_area(image: np.ndarray, height: int, width: int, dtype=np.float64) -> np.ndarray:
  """Exact area averaging (box filter with fractional pixel overlaps) of `[H, W, C]` to
  `[height, width, C]` float32. Each output pixel is the mean of the input over its footprint,
  so total energy (mean radiance) is preserved. Computed in `dtype` (float64 for the data set
  builders; float32 where speed matters: photos)."""
  out = _area_axis(np.asarray(image, dtype), height, 0)
  return _area_axis(out, width, 1).astype(np.float32)
