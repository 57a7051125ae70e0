"""Image grids a person can look at: data samples, training progress, evaluation comparisons."""

import numpy as np

from drht_jax import hdr


def display_hdr(radiance) -> np.ndarray:
  """`[..., H, W, 3]` radiance -> displayable `[0, 1]` (the ground-truth TMO of docs/data.md)."""
  return np.asarray(hdr.ground_truth_ldr(np.asarray(radiance, np.float32)))


def fit_box(image, height: int, width: int) -> np.ndarray:
  """`[h, w, 3]` in [0, 1] -> `[height, width, 3]` float32: area-resized to fit inside the box,
  aspect ratio kept, centred on white (grids of images of different shapes)."""
  from drht_jax import imageio_utils  # pylint: disable=g-import-not-at-top
  h, w = image.shape[:2]
  scale = min(height / h, width / w)
  th, tw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
  small = imageio_utils.resize_area(np.asarray(image, np.float32), th, tw, dtype=np.float32)
  out = np.ones((height, width, 3), np.float32)
  y, x = (height - th) // 2, (width - tw) // 2
  out[y:y + th, x:x + tw] = small
  return out


def image_grid(columns, pad: int = 2) -> np.ndarray:
  """`columns`: list of `[N, H, W, 3]` arrays in [0, 1] (one per column, same N, H, W) ->
  `uint8 [N*(H+pad)-pad, C*(W+pad)-pad, 3]`, white padding between cells."""
  columns = [np.clip(np.asarray(c, np.float32), 0.0, 1.0) for c in columns]
  n, h, w, _ = columns[0].shape
  grid = np.ones((n * (h + pad) - pad, len(columns) * (w + pad) - pad, 3), np.float32)
  for j, column in enumerate(columns):
    if column.shape != (n, h, w, 3):
      raise ValueError(f"column {j}: expected {(n, h, w, 3)}, got {column.shape}")
    for i in range(n):
      grid[i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = column[i]
  return np.round(grid * 255.0).astype(np.uint8)


def save_grid(path, columns, pad: int = 2):
  """Writes `image_grid(columns)` as a PNG (atomically: a reader never sees half a file)."""
  import os  # pylint: disable=g-import-not-at-top
  import imageio.v3 as iio  # pylint: disable=g-import-not-at-top
  path = os.fspath(path)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = path + ".tmp.png"
  iio.imwrite(tmp, image_grid(columns, pad))
  os.replace(tmp, path)
