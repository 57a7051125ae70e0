"""Running a trained DRHT on images of any size: padding, tiling, one compile per shape.

The networks need H and W to be multiples of `models.SIZE_MULTIPLE` (32) and hold a few
full-resolution feature maps at once (the full-size model: ~64 channels x 4 bytes per pixel
each), so an arbitrary photo is
  1. reflect-padded at the bottom and right to multiples of 32 (and cropped back afterwards);
  2. processed in one piece if the padded image has at most `max_pixels` pixels (default
     2048 x 2048 ~ 4.2 MP: 3.1 GiB peak host memory with the full-size model on XLA CPU),
     else in overlapping windows of at most 2048 x 2048, all of one shape (one compilation
     serves the whole photo; a 3000 x 4000 photo -> 4 tiles of 1536 x 2048), whose outputs
     are blended with a feathered (linear ramp) window over the 64-pixel overlap.
BatchNorm runs on its running statistics at inference (`train=False`), so a tile is processed
exactly as the same pixels would be in a whole image, apart from the context the tile lacks:
the receptive field of the 6-level encoder-decoder exceeds any practical overlap, so seams are
close to, not bit-equal with, the untiled result (tests/test_inference.py bounds the gap).

Outputs per image: the corrected LDR `I_hat` clipped to [0, 1], and f1's HDR estimate
`S_full = hdr.inverse_gamma(S_hat)` (linear radiance >= 0, relative scale).

Forward functions are compiled ahead of time and cached per (model, input shape): see
`compiled_shapes()`.
"""

from typing import Callable, Dict, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from drht_jax import hdr, models

# ~4.2 MP goes in one piece: the full-size model's peak memory for that (measured 3.1 GiB RSS
# on XLA CPU, 1.15 GiB at 1 MP) stays well inside a 24 GiB machine; tiles are no larger.
DEFAULT_MAX_PIXELS = 2048 * 2048
DEFAULT_TILE = 2048
DEFAULT_OVERLAP = 64

# (model, padded input shape) -> compiled `variables, ldr -> (corrected, radiance)`.
_COMPILED: Dict[tuple, Callable] = {}


def _forward(model, variables, ldr):
  out = model.apply(variables, ldr, train=False)
  return jnp.clip(out["i_hat"], 0.0, 1.0), hdr.inverse_gamma(out["s_hat"])


def _compiled_forward(model, variables, shape: Tuple[int, ...]):
  key = (model, tuple(shape))
  fn = _COMPILED.get(key)
  if fn is None:
    abstract_vars = jax.tree_util.tree_map(
        lambda x: jax.ShapeDtypeStruct(np.shape(x), jnp.result_type(x)), variables)
    fn = jax.jit(lambda v, x: _forward(model, v, x)).lower(
        abstract_vars, jax.ShapeDtypeStruct(shape, jnp.float32)).compile()
    _COMPILED[key] = fn
  return fn


def compiled_shapes(model=None) -> list:
  """Input shapes `[B, H, W, 3]` compiled so far (for `model`, or for any model)."""
  return [shape for m, shape in _COMPILED if model is None or m == model]


def clear_cache():
  _COMPILED.clear()


def padded_size(height: int, width: int, multiple: int = models.SIZE_MULTIPLE):
  """Smallest (H', W') >= (height, width) with both multiples of `multiple`."""
  return -(-height // multiple) * multiple, -(-width // multiple) * multiple


def pad_to_multiple(image, multiple: int = models.SIZE_MULTIPLE) -> np.ndarray:
  """`[..., H, W, C]` -> `[..., H', W', C]` reflect-padded at the bottom and right to multiples
  of `multiple`; `image[..., :H, :W, :]` is the input. (NumPy reflects repeatedly when the
  padding exceeds the image, and replicates a 1-pixel axis.)"""
  image = np.asarray(image)
  h, w = image.shape[-3:-1]
  ph, pw = padded_size(h, w, multiple)
  if (ph, pw) == (h, w):
    return image
  pads = [(0, 0)] * (image.ndim - 3) + [(0, ph - h), (0, pw - w), (0, 0)]
  return np.pad(image, pads, mode="reflect" if min(h, w) > 1 else "edge")


def _check_image(image, name="image"):
  image = np.asarray(image, np.float32)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f"{name}: expected one [H, W, 3] image, got shape {image.shape}")
  if not np.all(np.isfinite(image)):
    raise ValueError(f"{name}: image has NaN/Inf values")
  return np.clip(image, 0.0, 1.0)


def tile_starts(size: int, tile: int, overlap: int,
                multiple: int = models.SIZE_MULTIPLE) -> list:
  """Start offsets of windows of `tile` covering `[0, size)` with at least `overlap` shared
  pixels between neighbours; starts are multiples of `multiple` (the network's stride-32 grid
  stays aligned with the untiled image's) and the last window ends at `size`.

  `size` and `tile` are multiples of `multiple`; `tile >= size` gives `[0]`.
  """
  if tile >= size:
    return [0]
  if not 0 <= overlap <= tile - multiple:
    raise ValueError(f"overlap must be in [0, tile - {multiple}] = [0, {tile - multiple}], "
                     f"got {overlap}")
  step = tile - overlap
  count = -(-(size - tile) // step) + 1
  last = size - tile
  # Evenly spread, rounded down to the grid; the last one pinned to the far edge.
  starts = [int(round(i * last / (count - 1))) // multiple * multiple for i in range(count)]
  starts[-1] = last
  # Rounding down can shrink an overlap below `overlap`: add windows until none does.
  while any(b - a > step for a, b in zip(starts, starts[1:])):
    count += 1
    starts = [int(round(i * last / (count - 1))) // multiple * multiple for i in range(count)]
    starts[-1] = last
  return sorted(set(starts))


def feather_window(length: int, overlap: int, ramp_start: bool, ramp_end: bool) -> np.ndarray:
  """1-D blending weights `[length]` float32: a linear ramp over `overlap` pixels at each end
  that touches a neighbouring tile (`ramp_*`), 1 elsewhere; strictly positive."""
  w = np.ones(length, np.float32)
  if overlap > 0:
    ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
    if ramp_start:
      w[:overlap] = np.minimum(w[:overlap], ramp)
    if ramp_end:
      w[length - overlap:] = np.minimum(w[length - overlap:], ramp[::-1])
  return w


def _tile_shape(tile, height: int, width: int, multiple: int = models.SIZE_MULTIPLE):
  th, tw = (tile, tile) if isinstance(tile, (int, np.integer)) else tuple(tile)
  for side in (th, tw):
    if side <= 0 or side % multiple:
      raise ValueError(f"tile must be a positive multiple of {multiple}, got {tile}")
  return min(th, height), min(tw, width)


def tiled_apply(fn: Callable, image: np.ndarray, tile, overlap: int,
                multiple: int = models.SIZE_MULTIPLE) -> Tuple[np.ndarray, ...]:
  """Applies `fn` (`[1, th, tw, 3]` -> tuple of `[1, th, tw, C_k]` arrays) to overlapping
  windows of `image` `[H, W, 3]` (H, W multiples of `multiple`) and blends the results.

  `tile`: an int (square) or `(th, tw)`, multiples of `multiple`, each capped at the image
  size; one window shape for the whole image. Each output pixel is the weighted mean of the
  windows covering it, weights `feather_window` per axis. Returns a tuple of `[H, W, C_k]`
  float32 arrays.
  """
  height, width = image.shape[:2]
  th, tw = _tile_shape(tile, height, width, multiple)
  rows = tile_starts(height, th, overlap, multiple)
  cols = tile_starts(width, tw, overlap, multiple)
  sums, total = None, np.zeros((height, width, 1), np.float32)
  for i, y in enumerate(rows):
    wy = feather_window(th, overlap, i > 0, i < len(rows) - 1)
    for j, x in enumerate(cols):
      wx = feather_window(tw, overlap, j > 0, j < len(cols) - 1)
      weight = (wy[:, None] * wx[None, :])[..., None]
      outs = fn(image[None, y:y + th, x:x + tw])
      if sums is None:
        sums = [np.zeros((height, width, o.shape[-1]), np.float32) for o in outs]
      for acc, out in zip(sums, outs):
        acc[y:y + th, x:x + tw] += weight * np.asarray(out[0], np.float32)
      total[y:y + th, x:x + tw] += weight
  return tuple(acc / total for acc in sums)


def auto_tile(max_pixels: int = DEFAULT_MAX_PIXELS) -> int:
  """The largest tile side used above `max_pixels`: `DEFAULT_TILE`, or the largest multiple
  of 32 whose square fits in `max_pixels` if that is smaller (at least 64)."""
  side = int(np.sqrt(max_pixels)) // models.SIZE_MULTIPLE * models.SIZE_MULTIPLE
  return int(min(DEFAULT_TILE, max(2 * models.SIZE_MULTIPLE, side)))


def balanced_tile_side(size: int, max_side: int, overlap: int,
                       multiple: int = models.SIZE_MULTIPLE) -> int:
  """The smallest tile side (a multiple of `multiple`, <= `max_side`) that covers `size` with
  as few tiles as `max_side` would: e.g. 3008 rows, max 2048, overlap 64 -> 2 tiles of 1536
  instead of 2 of 2048 (25% fewer pixels through the network for a 12 MP photo)."""
  if size <= max_side:
    return size
  count = -(-(size - overlap) // (max_side - overlap))
  side = -(-(size + (count - 1) * overlap) // count)
  return min(max_side, -(-side // multiple) * multiple)


def correct(model, variables, image, tile: Optional[int] = None,
            overlap: int = DEFAULT_OVERLAP, max_pixels: int = DEFAULT_MAX_PIXELS):
  """Corrects one image of any size.

  `image`: `[H, W, 3]` float32 in [0, 1] (display-encoded, e.g. a photo / 255).
  `tile`: None = one piece if the padded image has <= `max_pixels` pixels, else tiles of at
  most `auto_tile(max_pixels)` (2048) per side, sized per axis by `balanced_tile_side` (one
  shape per photo size); an int (a multiple of 32) forces square tiles of that size.
  `overlap`: pixels shared by neighbouring tiles (<= tile - 32).
  Returns `(corrected [H, W, 3] float32 in [0, 1], radiance [H, W, 3] float32 >= 0)`, the
  latter f1's linear HDR estimate `S_full`.
  """
  image = _check_image(image)
  height, width = image.shape[:2]
  padded = pad_to_multiple(image)
  ph, pw = padded.shape[:2]
  if tile is None and ph * pw > max_pixels:
    side = auto_tile(max_pixels)
    tile = (balanced_tile_side(ph, side, overlap), balanced_tile_side(pw, side, overlap))
  if tile is None:
    fn = _compiled_forward(model, variables, (1, ph, pw, 3))
    corrected, radiance = (np.asarray(o)[0] for o in fn(variables, padded[None]))
  else:
    th, tw = _tile_shape(tile, ph, pw)
    fn = _compiled_forward(model, variables, (1, th, tw, 3))
    corrected, radiance = tiled_apply(lambda x: fn(variables, x), padded, (th, tw), overlap)
  return (np.clip(corrected[:height, :width], 0.0, 1.0),
          np.maximum(radiance[:height, :width], 0.0))


def correct_batch(model, variables, images: Sequence[np.ndarray]):
  """Corrects same-size images in one forward pass (for evaluation of a test split).

  `images`: `[B, H, W, 3]` float32 in [0, 1] (or a list of `[H, W, 3]` of one size); no
  tiling, so B x H' x W' must fit in memory. Returns `(corrected [B, H, W, 3] in [0, 1],
  radiance [B, H, W, 3] >= 0)`, NumPy float32.
  """
  images = np.stack([_check_image(x, f"image {i}") for i, x in enumerate(images)])
  _, height, width, _ = images.shape
  padded = pad_to_multiple(images)
  fn = _compiled_forward(model, variables, padded.shape)
  corrected, radiance = (np.asarray(o) for o in fn(variables, padded))
  return (np.clip(corrected[:, :height, :width], 0.0, 1.0),
          np.maximum(radiance[:, :height, :width], 0.0))
