"""Running a trained DRHT on images of any size: a working resolution + guided upsampling
(default), or the whole photo through the networks (padding, tiling, one compile per shape).

Two modes (`correct(..., mode=)`):

`guided` (default, `MODE_GUIDED`): the photo is area-downscaled to a working size near what
the nets trained on (`working_size`: long side in pixels, default `DEFAULT_WORKING_SIZE`, each
side rounded to a multiple of 32), DRHT runs once on that (one global context, so one tone
curve for the whole photo, no tiles), and the *transformation* is carried to full resolution,
not the pixels: a local affine colour transform `out(x) = A(x) I(x) + b(x)` (`A` 3x3, `b` 3)
is fitted from the low-res input to the low-res output, guided-filter style (He et al.,
"Guided Image Filtering", TPAMI 2013, Eq. 5-8 with a colour guide: box-filter means over a
`(2r+1)^2` window, ridge regulariser `eps`; the fast guided filter, He & Sun 2015, fits at low
resolution and upsamples the coefficients), the coefficients are upsampled bilinearly and
applied to the full-resolution input in row strips (`strip_rows`), so memory stays bounded.
f1's HDR is carried the same way in the log domain: the fitted target is
`log(S_full + delta)` (Eq. 3's compression), the result is `exp(.) - delta`. Edges of the
full-resolution photo stay sharp because each output pixel is a function of its own input
colour; a photo no larger than the working size goes through the nets as in `full`.

`full` (`MODE_FULL`): the whole photo through the networks at its own resolution (the
behaviour before working sizes existed):

The networks need H and W to be multiples of `models.SIZE_MULTIPLE` (32) and hold a few
full-resolution feature maps at once (the full-size model: ~64 channels x 4 bytes per pixel
each), so an arbitrary photo is
  1. reflect-padded at the bottom and right to multiples of 32 (and cropped back afterwards);
  2. processed in one piece if the padded image has at most `max_pixels` pixels (default
     2048 x 2048 ~ 4.2 MP; its peak host memory: bench/README.md, "Inference"),
     else in overlapping windows of at most 2048 x 2048, all of one shape (one compilation
     serves the whole photo; a 3000 x 4000 photo -> 4 tiles of 1536 x 2048), whose outputs
     are blended with a feathered (linear ramp) window over the 64-pixel overlap.
BatchNorm runs on its running statistics at inference (`train=False`), so a tile is processed
exactly as the same pixels would be in a whole image, apart from the context the tile lacks:
the receptive field of the 6-level encoder-decoder exceeds any practical overlap, so seams are
close to, not bit-equal with, the untiled result (tests/test_inference.py bounds the gap).

Outputs per image: the corrected LDR `I_hat` clipped to [0, 1], and f1's HDR estimate
`S_full = hdr.inverse_gamma(S_hat)` (linear radiance >= 0, relative scale).

`forward` is the project's one network call in eval mode (inference, evaluation, training's
image grids); here it is compiled ahead of time and cached per (model, input shape): see
`compiled_shapes()`.
"""

import functools
from typing import Callable, Dict, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from drht_jax import hdr, imageio_utils, models

# ~4.2 MP goes in one piece: the full-size model's peak memory for that stays well inside a
# 24 GiB machine (bench/README.md, "Inference"); tiles are no larger.
DEFAULT_MAX_PIXELS = 2048 * 2048
DEFAULT_TILE = 2048
DEFAULT_OVERLAP = 64

MODE_GUIDED = "guided"
MODE_FULL = "full"
MODES = (MODE_GUIDED, MODE_FULL)
DEFAULT_MODE = MODE_GUIDED
# Long side of the working resolution in `guided` mode, and the guided-filter fit there: window
# radius (working-resolution pixels) and ridge regulariser on the guide's 3x3 colour covariance
# (guide in [0, 1]). Chosen by `python experiments/working_size.py` on the released model (its
# numbers: docs/measure.md, "Guided mode's working size"); 256 is the scale the nets trained at
# (whole scenes at 64x128 .. 128x256).
DEFAULT_WORKING_SIZE = 256
DEFAULT_RADIUS = 16
DEFAULT_EPS = 1e-4
# Full-resolution rows per strip when applying the upsampled transform (bounds memory:
# ~strip_rows x W x 24 float32 of coefficients at a time).
DEFAULT_STRIP_ROWS = 256

# (model, padded input shape) -> `forward` compiled for it: `variables, ldr -> outputs`.
_COMPILED: Dict[tuple, Callable] = {}


@functools.partial(jax.jit, static_argnums=(0,))
def forward(model, variables, ldr):
  """DRHT in eval mode (BatchNorm on its running statistics): `ldr` `[B, H, W, 3]` in [0, 1]
  (H, W multiples of 32) -> `{"s_hat": f1's output (Eq. 2 domain), "i_hat": f2's corrected
  LDR, ~[0, 1] unclipped}`, both `[B, H, W, 3]`. `variables`: `{'params', 'batch_stats'}`."""
  return model.apply(variables, ldr, train=False)


def outputs_to_images(outputs):
  """`forward`'s outputs -> `(corrected = i_hat clipped to [0, 1], radiance = S_full, f1's
  linear HDR >= 0)`, NumPy float32 of the same shape."""
  return (np.clip(np.asarray(outputs["i_hat"]), 0.0, 1.0),
          np.asarray(hdr.inverse_gamma(outputs["s_hat"])))


def _compiled_forward(model, variables, shape: Tuple[int, ...]):
  """`forward` compiled for inputs of `shape`, as `(variables, ldr) -> (corrected,
  radiance)` (`outputs_to_images`); one compilation per (model, shape)."""
  key = (model, tuple(shape))
  fn = _COMPILED.get(key)
  if fn is None:
    abstract_vars = jax.tree_util.tree_map(
        lambda x: jax.ShapeDtypeStruct(np.shape(x), jnp.result_type(x)), variables)
    fn = forward.lower(model, abstract_vars, jax.ShapeDtypeStruct(shape, jnp.float32)).compile()
    _COMPILED[key] = fn
  return lambda v, x: outputs_to_images(fn(v, x))


def compiled_shapes(model=None) -> list:
  """Input shapes `[B, H, W, 3]` compiled so far (for `model`, or for any model)."""
  return [shape for m, shape in _COMPILED if model is None or m == model]


def clear_cache():
  """Forgets every compiled forward (`compiled_shapes()` becomes empty); returns None."""
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


def correct_full(model, variables, image, tile: Optional[int] = None,
                 overlap: int = DEFAULT_OVERLAP, max_pixels: int = DEFAULT_MAX_PIXELS):
  """Corrects one image of any size with the whole image through the networks (`full`).

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


# --- Working resolution + guided upsampling (`guided` mode, module docstring).


def working_shape(height: int, width: int, working_size: int,
                  multiple: int = models.SIZE_MULTIPLE) -> Tuple[int, int]:
  """The working resolution `(h, w)` of an `height x width` photo: the long side scaled to
  `working_size`, each side then rounded to the nearest multiple of `multiple` (>= `multiple`,
  so the nets need no padding; the aspect ratio changes by at most multiple/2 pixels a side).
  Never larger than the photo rounded the same way."""
  if working_size < multiple:
    raise ValueError(f"working_size must be >= {multiple}, got {working_size}")
  scale = min(1.0, working_size / max(height, width))

  def side(n):
    return max(multiple, int(round(n * scale / multiple)) * multiple)
  return side(height), side(width)


def area_downscale(image: np.ndarray, height: int, width: int) -> np.ndarray:
  """`[H, W, C]` -> `[height, width, C]` float32 by exact area averaging, computed in float32
  (`imageio_utils.resize_area`, the project's one area resize; float32 keeps a 12 MP photo fast)."""
  return imageio_utils.resize_area(image, height, width, dtype=np.float32)


def box_mean(x: np.ndarray, radius: int) -> np.ndarray:
  """Mean of `x` `[h, w, ...]` over the `(2 radius + 1)^2` window around each pixel, the
  window clipped at the borders (divided by the number of pixels inside), float64. Two
  running sums (O(1) per pixel in the radius), as in He et al.'s guided filter."""
  x = np.asarray(x, np.float64)

  def along(a, axis):
    n = a.shape[axis]
    c = np.cumsum(a, axis=axis)
    c = np.concatenate([np.zeros_like(np.take(c, [0], axis=axis)), c], axis=axis)
    hi = np.minimum(np.arange(n) + radius + 1, n)
    lo = np.maximum(np.arange(n) - radius, 0)
    count = (hi - lo).reshape((-1,) + (1,) * (a.ndim - 1 - axis))
    return (np.take(c, hi, axis=axis) - np.take(c, lo, axis=axis)) / count
  return along(along(x, 0), 1)


def fit_affine(guide: np.ndarray, target: np.ndarray, radius: int = DEFAULT_RADIUS,
               eps: float = DEFAULT_EPS) -> np.ndarray:
  """Per-pixel affine colour maps `target ~ A guide + b`, fitted guided-filter style.

  `guide` `[h, w, 3]` (the low-res input, [0, 1]); `target` `[h, w, C]` (the low-res output).
  For each `(2r+1)^2` window k (He et al. 2013, Eq. 14 with a colour guide):
  `A_k = cov_k(target, guide) (Sigma_k + eps U)^-1`, `b_k = mean_k(target) - A_k mean_k(guide)`;
  each pixel then gets the mean of the `A_k, b_k` of the windows that contain it (Eq. 8).
  Returns `[h, w, C, 4]` float32: `[..., :3]` = A (rows: output channels), `[..., 3]` = b.
  """
  guide = np.asarray(guide, np.float64)
  target = np.asarray(target, np.float64)
  h, w, c = target.shape
  mean_i = box_mean(guide, radius)                                        # [h, w, 3]
  mean_t = box_mean(target, radius)                                       # [h, w, C]
  ii = box_mean(guide[..., :, None] * guide[..., None, :], radius)        # [h, w, 3, 3]
  ti = box_mean(target[..., :, None] * guide[..., None, :], radius)       # [h, w, C, 3]
  sigma = ii - mean_i[..., :, None] * mean_i[..., None, :] + eps * np.eye(3)
  cov = ti - mean_t[..., :, None] * mean_i[..., None, :]
  # A Sigma = cov  <=>  Sigma^T A^T = cov^T (Sigma symmetric): solve per pixel.
  a = np.swapaxes(np.linalg.solve(sigma, np.swapaxes(cov, -1, -2)), -1, -2)  # [h, w, C, 3]
  b = mean_t - np.einsum("hwci,hwi->hwc", a, mean_i)
  coef = np.concatenate([a, b[..., None]], axis=-1).reshape(h, w, c * 4)
  return box_mean(coef, radius).reshape(h, w, c, 4).astype(np.float32)


def _bilinear_taps(size_out: int, size_in: int):
  """Source indices `(i0, i1)` and weight of `i1` `[size_out]` for bilinear upsampling with
  pixel centres aligned (`u = (y + 0.5) size_in / size_out - 0.5`), clamped at the borders."""
  u = (np.arange(size_out, dtype=np.float64) + 0.5) * (size_in / size_out) - 0.5
  u = np.clip(u, 0.0, size_in - 1)
  i0 = np.floor(u).astype(np.int32)
  i1 = np.minimum(i0 + 1, size_in - 1)
  return i0, i1, (u - i0).astype(np.float32)


@functools.partial(jax.jit, static_argnames=("log_domain",))
def _apply_strip(coef_rows, j0, j1, wx, strip, log_domain):
  """`coef_rows` `[C, 4, S, w]` (coefficients already interpolated to the strip's rows),
  column taps `[W]`, `strip` `[S, W, 3]` -> `[S, W, C]`: bilinear along columns, then
  `A I + b`; `log_domain`: `exp(.) - delta` clipped at 0, else clipped to [0, 1].

  Channel-planar (`[C, 4, S, W]`): XLA CPU vectorises it along W; a pixel-interleaved
  `[S, W, C, 4]` layout (3x3 products per pixel) is far slower (bench/README.md, "Inference")."""
  planes = jnp.moveaxis(strip, -1, 0)                                     # [3, S, W]
  coef = coef_rows[..., j0] * (1.0 - wx) + coef_rows[..., j1] * wx        # [C, 4, S, W]
  out = (coef[:, 0] * planes[0] + coef[:, 1] * planes[1] + coef[:, 2] * planes[2]
         + coef[:, 3])                                                    # [C, S, W]
  if log_domain:
    out = jnp.maximum(jnp.exp(out) - hdr.DELTA, 0.0)
  else:
    out = jnp.clip(out, 0.0, 1.0)
  return jnp.moveaxis(out, 0, -1)


def apply_affine(coef: np.ndarray, image: np.ndarray, log_domain: bool = False,
                 strip_rows: int = DEFAULT_STRIP_ROWS) -> np.ndarray:
  """Applies low-res affine maps `coef` `[h, w, C, 4]` (`fit_affine`) to the full-resolution
  `image` `[H, W, 3]`: coefficients upsampled bilinearly, `out = A(x) I(x) + b(x)`.

  Works in strips of `strip_rows` rows (the last one padded to the same shape, so one
  compilation per photo width), so only `C x 4 x strip_rows x W` coefficients exist at once.
  Returns `[H, W, C]` float32, in [0, 1] (or >= 0 with `log_domain`, see `_apply_strip`).
  """
  image = np.asarray(image, np.float32)
  height, width = image.shape[:2]
  h, w, c, _ = coef.shape
  planar = np.ascontiguousarray(np.transpose(coef, (2, 3, 0, 1)))        # [C, 4, h, w]
  i0, i1, wy = _bilinear_taps(height, h)
  j0, j1, wx = (jnp.asarray(t) for t in _bilinear_taps(width, w))
  rows = min(strip_rows, height)
  out = np.empty((height, width, c), np.float32)
  for y in range(0, height, rows):
    n = min(rows, height - y)
    strip = image[y:y + n]
    ry = wy[y:y + n, None]
    coef_rows = planar[:, :, i0[y:y + n]] * (1.0 - ry) + planar[:, :, i1[y:y + n]] * ry
    if n < rows:   # pad the last strip to the common shape (one compilation)
      strip = np.pad(strip, ((0, rows - n), (0, 0), (0, 0)), mode="edge")
      coef_rows = np.pad(coef_rows, ((0, 0), (0, 0), (0, rows - n), (0, 0)), mode="edge")
    result = _apply_strip(coef_rows, j0, j1, wx, strip, log_domain=log_domain)
    out[y:y + n] = np.asarray(result)[:n]
  return out


def guided_upsample(low_input: np.ndarray, low_output: np.ndarray, image: np.ndarray,
                    radius: int = DEFAULT_RADIUS, eps: float = DEFAULT_EPS,
                    log_domain: bool = False,
                    strip_rows: int = DEFAULT_STRIP_ROWS) -> np.ndarray:
  """Carries the low-res transformation `low_input -> low_output` to `image`.

  `low_input` `[h, w, 3]` in [0, 1] (the area-downscaled `image`); `low_output` `[h, w, C]`
  (what the nets made of it; with `log_domain`, linear radiance >= 0, fitted as
  `log(. + delta)`); `image` `[H, W, 3]` in [0, 1]. Returns `[H, W, C]` float32 (see
  `apply_affine`).
  """
  target = np.log(np.maximum(low_output, 0.0) + hdr.DELTA) if log_domain else low_output
  coef = fit_affine(low_input, target, radius, eps)
  return apply_affine(coef, image, log_domain=log_domain, strip_rows=strip_rows)


def correct_guided(model, variables, image, working_size: int = DEFAULT_WORKING_SIZE,
                   radius: int = DEFAULT_RADIUS, eps: float = DEFAULT_EPS,
                   want_hdr: bool = True, strip_rows: int = DEFAULT_STRIP_ROWS):
  """Corrects one image of any size at a working resolution (`guided`, module docstring).

  `image`: `[H, W, 3]` float32 in [0, 1]. The nets run once on the area-downscaled photo
  (`working_shape(H, W, working_size)`); their outputs are carried to `H x W` by
  `guided_upsample` (f1's radiance in the log domain). A photo whose working shape is not
  smaller than the photo, or whose long side is at most `working_size`, goes through
  `correct_full` instead. Returns `(corrected [H, W, 3]
  in [0, 1], radiance [H, W, 3] >= 0 or None if not `want_hdr`)`.
  """
  image = _check_image(image)
  height, width = image.shape[:2]
  h, w = working_shape(height, width, working_size)
  if max(height, width) <= working_size or h >= height or w >= width:
    corrected, radiance = correct_full(model, variables, image)
    return corrected, (radiance if want_hdr else None)
  low = area_downscale(image, h, w)
  fn = _compiled_forward(model, variables, (1, h, w, 3))
  low_corrected, low_radiance = (np.asarray(o)[0] for o in fn(variables, low[None]))
  corrected = guided_upsample(low, low_corrected, image, radius, eps, strip_rows=strip_rows)
  radiance = None
  if want_hdr:
    radiance = guided_upsample(low, low_radiance, image, radius, eps, log_domain=True,
                               strip_rows=strip_rows)
  return corrected, radiance


def correct(model, variables, image, mode: Optional[str] = None,
            working_size: int = DEFAULT_WORKING_SIZE, tile: Optional[int] = None,
            overlap: int = DEFAULT_OVERLAP, max_pixels: int = DEFAULT_MAX_PIXELS,
            radius: int = DEFAULT_RADIUS, eps: float = DEFAULT_EPS, want_hdr: bool = True):
  """Corrects one image of any size: `mode` `guided` (`correct_guided`) or `full`
  (`correct_full`; `tile`, `overlap`, `max_pixels` apply to it only); None = `full` if `tile`
  is given (tiles exist in that mode only), else `DEFAULT_MODE`.

  `image`: `[H, W, 3]` float32 in [0, 1] (display-encoded, e.g. a photo / 255).
  Returns `(corrected [H, W, 3] float32 in [0, 1], radiance [H, W, 3] float32 >= 0)`, the
  latter f1's linear HDR estimate `S_full` (None in `guided` mode with `want_hdr=False`).
  """
  if mode is None:
    mode = MODE_FULL if tile is not None else DEFAULT_MODE
  if mode == MODE_FULL:
    return correct_full(model, variables, image, tile=tile, overlap=overlap,
                        max_pixels=max_pixels)
  if mode != MODE_GUIDED:
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
  if tile is not None:
    raise ValueError("tile applies to mode='full' only (guided mode needs no tiles)")
  return correct_guided(model, variables, image, working_size=working_size, radius=radius,
                        eps=eps, want_hdr=want_hdr)


def enable_compilation_cache(path: Optional[str] = None) -> Optional[str]:
  """Keeps compiled executables on disk across runs (JAX's persistent compilation cache), so
  a second `drht-correct` / `eval.py --input` skips the XLA compilation of the nets at the
  working shape (seconds on a CPU). Folder: `path`, else `$XDG_CACHE_HOME/drht_jax/jax`
  (`~/.cache/drht_jax/jax`). Leaves an already configured cache (`JAX_COMPILATION_CACHE_DIR`)
  alone; `DRHT_COMPILATION_CACHE=0` turns it off. Returns the folder in use, or None."""
  import os  # pylint: disable=g-import-not-at-top
  if os.environ.get("DRHT_COMPILATION_CACHE") == "0":
    return None
  if jax.config.jax_compilation_cache_dir:
    return jax.config.jax_compilation_cache_dir
  if path is None:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "drht_jax", "jax")
  jax.config.update("jax_compilation_cache_dir", path)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
  return path
