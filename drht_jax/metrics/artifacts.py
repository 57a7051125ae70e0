"""Artifact metrics: a block grid at the nets' coarsest period, and texture / chroma of regions
that should be flat (a clipped sky, a constant input).

Images `[..., H, W, 3]` display-encoded in [0, 1].
"""

import jax
import jax.numpy as jnp
import numpy as np

from drht_jax import hdr
from drht_jax.metrics.fidelity import _check_pair

BLOCK_PERIOD = 32  # models.SIZE_MULTIPLE: the stride of the encoders' deepest level


def _phase_profile(grad, period, axis):
  """Mean |gradient| per phase `index mod period` along `axis` (-1: columns, -2: rows)."""
  profile = jnp.mean(grad, axis=-2 if axis == -1 else -1)       # [..., n]
  n = (profile.shape[-1] // period) * period
  folded = profile[..., :n].reshape(profile.shape[:-1] + (n // period, period))
  return jnp.mean(folded, axis=-2)                                # [..., period]


def block_pattern(image, period=BLOCK_PERIOD):
  """Strength of a `period`-pixel grid in `image` `[..., H, W, 3]` in [0, 1] -> `[...]`.

  The luminance gradient magnitude along x (and y), averaged over the other axis and folded
  by phase `x mod period`: a block pattern puts its seams at one phase, natural edges fall at
  all phases alike. Score = max / mean of the folded profile - 1, the larger of x and y (0 for
  a perfectly phase-free image; typically 0.1-0.4 for natural 256x512 images, whose edges are
  few; compare with the reference's score, see `block_artifact_excess`). Images must span at
  least one period in each direction.
  """
  y = hdr.luminance(jnp.asarray(image, jnp.float32))
  scores = []
  for axis in (-1, -2):
    grad = jnp.abs(jnp.diff(y, axis=axis))
    # Pad the last phase: diff has one sample less than the image along `axis`.
    pad = [(0, 0)] * grad.ndim
    pad[axis] = (0, 1)
    grad = jnp.pad(grad, pad, mode="edge")
    profile = _phase_profile(grad, period, axis)
    scores.append(jnp.max(profile, axis=-1) / (jnp.mean(profile, axis=-1) + 1e-6) - 1.0)
  return jnp.maximum(scores[0], scores[1])


def block_artifact_excess(pred, ref, period=BLOCK_PERIOD):
  """`block_pattern(pred) - block_pattern(ref)` per image: how much more `period`-pixel grid
  the prediction has than its reference (~0 for a clean output; a model whose coarsest level
  paints blocks scores well above 0). `[..., H, W, 3]` in [0, 1] -> `[...]`."""
  _check_pair(pred, ref, "block_artifact_excess", channels=3)
  return block_pattern(pred, period) - block_pattern(ref, period)


# --- Flat regions: what should stay flat and neutral (a clipped sky, a constant input).

FLAT_SIGMA = 8.0  # px: the high-pass keeps periods up to ~50 px (upsampling patterns: 2-32)


def _masked_blur(x, mask, sigma):
  """Normalised Gaussian convolution of `[H, W]` over `mask` (mask-weighted local mean)."""
  radius = int(3 * sigma + 0.5)
  t = np.arange(-radius, radius + 1, dtype=np.float64)
  taps = np.exp(-0.5 * (t / sigma) ** 2)
  taps = jnp.asarray(taps / taps.sum(), jnp.float32)
  def blur(v):  # zero-padded separable correlation, any image size
    v = v[None, :, :, None]
    for kernel, pads in ((taps[:, None, None, None], [(radius, radius), (0, 0)]),
                         (taps[None, :, None, None], [(0, 0), (radius, radius)])):
      v = jax.lax.conv_general_dilated(v, kernel, (1, 1), pads,
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return v[0, :, :, 0]

  return blur(x * mask) / jnp.maximum(blur(mask), 1e-6)


def flat_region_stats(image, mask, sigma=FLAT_SIGMA):
  """(texture, chroma) of one image's region that should be flat.

  `image` `[H, W, 3]` display-encoded in [0, 1]; `mask` `[H, W]` bool (True: the region;
  leave out the image border yourself). Returns two floats in [0, 1] units (x 255 for 8-bit
  levels):
  - texture: RMS over the region's pixels and channels of the high-pass
    `image - masked Gaussian blur (sigma 8 px, weights only inside the region)`: a tiled
    pattern or noise scores its amplitude, a smooth gradient ~0;
  - chroma: mean over the region of the Euclidean distance of RGB from the grey axis,
    `|rgb - mean(rgb)|`: 0 for neutral (white, grey) pixels.
  Raises ValueError for mismatched shapes or an empty mask.
  """
  image = jnp.asarray(image, jnp.float32)
  mask = jnp.asarray(mask)
  if image.ndim != 3 or image.shape[-1] != 3 or mask.shape != image.shape[:2]:
    raise ValueError(f"flat_region_stats: expected image [H, W, 3] and mask [H, W], got "
                     f"{image.shape} and {mask.shape}")
  m = mask.astype(jnp.float32)
  count = jnp.sum(m)
  if float(count) == 0:
    raise ValueError("flat_region_stats: the mask selects no pixel")
  high = jnp.stack([image[..., c] - _masked_blur(image[..., c], m, sigma) for c in range(3)],
                   axis=-1)
  texture = jnp.sqrt(jnp.sum(jnp.square(high) * m[..., None]) / (3 * count))
  grey = jnp.mean(image, axis=-1, keepdims=True)
  chroma = jnp.sum(jnp.linalg.norm(image - grey, axis=-1) * m) / count
  return float(texture), float(chroma)


# --- Noise: grain an output adds where its reference is smooth (dark real frames, issue 17).

NOISE_SIGMA = 1.5        # px: the high-pass keeps pixel-scale grain (sensor noise, JPEG)
SMOOTH_SIGMA = 4.0       # px: the window of the reference's local texture
SMOOTH_MAX = 2.0 / 255   # a reference pixel is smooth below this local RMS texture


def smooth_mask(reference, sigma=SMOOTH_SIGMA, threshold=SMOOTH_MAX):
  """`[H, W]` bool: where `reference` `[H, W, 3]` in [0, 1] has local RMS texture (luminance
  minus its Gaussian blur, RMS over a Gaussian window) below `threshold`: the flat skies,
  walls and shadows in which added grain is noise, not detail."""
  y = hdr.luminance(jnp.asarray(reference, jnp.float32))
  ones = jnp.ones_like(y)
  high = y - _masked_blur(y, ones, NOISE_SIGMA)
  texture = jnp.sqrt(_masked_blur(high * high, ones, sigma))
  return np.asarray(texture < threshold)


def noise_excess(image, reference, mask=None):
  """RMS (over `mask`'s pixels and the channels, [0, 1] units) of the pixel-scale high-pass of
  `image - reference` (`[H, W, 3]` in [0, 1]): the grain the image has that its reference
  lacks, where the reference is smooth (`mask` default: `smooth_mask(reference)`). Brightening
  a dark noisy frame raises it; denoising lowers it. NaN when the mask is empty."""
  image = jnp.asarray(image, jnp.float32)
  reference = jnp.asarray(reference, jnp.float32)
  if image.shape != reference.shape or image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f"noise_excess: expected two [H, W, 3] images, got {image.shape} and "
                     f"{reference.shape}")
  mask = smooth_mask(reference) if mask is None else np.asarray(mask, bool)
  if not mask.any():
    return float("nan")
  ones = jnp.ones(image.shape[:2], jnp.float32)
  residual = image - reference
  high = jnp.stack([residual[..., c] - _masked_blur(residual[..., c], ones, NOISE_SIGMA)
                    for c in range(3)], axis=-1)
  return float(jnp.sqrt(jnp.mean(jnp.square(high[mask]))))
