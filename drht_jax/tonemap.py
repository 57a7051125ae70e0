"""Candidate photographic targets: tone-mapping operators, linear radiance -> display [0, 1].

Issue 17 item 2: the ground truth of the rendered and HDR data is Reinhard's global operator +
gamma 2.2 (`hdr.ground_truth_ldr`), flat low-contrast pictures no camera makes. These are the
candidates that `experiments/choose_target.py` scores on real exposure stacks (against their
Mertens fusion and their middle frame). All are pure jnp functions of `[..., H, W, 3]` linear
radiance >= 0 (any scale: each sets its own exposure from the image) -> `[..., H, W, 3]`
float32 in [0, 1], display-encoded; jit-able (shapes static).

- `reinhard`: today's target, `hdr.ground_truth_ldr` (Reinhard et al. 2002 global, automatic
  key of Reinhard 2006, then gamma 2.2).
- `filmic`: a camera-like global S-curve. Automatic exposure puts the log-average luminance at
  `key` (0.18, middle grey, Reinhard's photographic convention), then Narkowicz's fit of the
  ACES RRT + sRGB ODT ("ACES Filmic Tone Mapping Curve", 2016: `x (2.51 x + 0.03) /
  (x (2.43 x + 0.59) + 0.14)` on `0.6 x`, a toe and a shoulder, per channel, so highlights
  desaturate toward white as film does), then the sRGB encoding (IEC 61966-2-1).
- `exposure_fusion`: a local operator: synthetic exposures of the radiance (`FUSION_EVS`
  stops around the automatic exposure, each clipped and sRGB-encoded like a camera frame)
  blended by Mertens, Kautz & Van Reeth's exposure fusion (Pacific Graphics 2007: contrast x
  saturation x well-exposedness weights, Laplacian-pyramid blend), the same operator as the
  `exposure_stacks` fused reference (drht_jax/stacks.py) but on one radiance map.
"""

import jax
import jax.numpy as jnp
import numpy as np

from drht_jax import hdr

KEY = 0.18
FUSION_EVS = (-2.0, 0.0, 2.0)   # stops relative to the automatic exposure
MERTENS_SIGMA = 0.2             # well-exposedness Gaussian (Mertens et al.)
EPS = 1e-6


def _check(radiance, name):
  radiance = jnp.asarray(radiance, jnp.float32)
  if radiance.ndim < 3 or radiance.shape[-1] != 3:
    raise ValueError(f"tonemap.{name}: expected [..., H, W, 3] radiance, got shape "
                     f"{tuple(radiance.shape)}")
  return jnp.maximum(radiance, 0.0)


srgb_encode = hdr.srgb_encode  # IEC 61966-2-1, clipped first (hdr.py)


def auto_exposure(radiance, key=KEY):
  """`radiance * key / L_avg` with `L_avg` the log-average luminance of each image
  (`hdr.log_average_luminance`): the result does not depend on the radiance's scale."""
  return radiance * (key / hdr.log_average_luminance(radiance, EPS))


def reinhard(radiance):
  """Today's target: `hdr.ground_truth_ldr` (Reinhard global, auto key, gamma 2.2)."""
  return hdr.ground_truth_ldr(_check(radiance, "reinhard"))


def aces_curve(x):
  """Narkowicz's ACES fit on scene-linear `x >= 0` (after the 0.6 pre-scale) -> [0, 1].

  Monotone increasing for x >= 0 (the derivative's numerator is `1.408 x^2 + 0.7 x + 0.0042`
  > 0); reaches 1 at x ~ 7.24, clipped there."""
  return jnp.clip(x * (2.51 * x + 0.03) / (x * (2.43 * x + 0.59) + 0.14), 0.0, 1.0)


def filmic(radiance, key=KEY):
  """Camera-like global operator: auto exposure to `key`, ACES S-curve, sRGB encoding."""
  x = auto_exposure(_check(radiance, "filmic"), key)
  return srgb_encode(aces_curve(0.6 * x))


# --- Exposure fusion of synthetic exposures (Mertens et al. 2007).

_TAPS = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0   # Burt & Adelson's 5-tap kernel


def _blur(x):
  """5-tap binomial blur of `[..., H, W, C]` along H and W, edge-replicated."""
  pad = [(0, 0)] * (x.ndim - 3) + [(2, 2), (2, 2), (0, 0)]
  x = jnp.pad(x, pad, mode="edge")
  h, w = x.shape[-3] - 4, x.shape[-2] - 4
  x = sum(float(t) * x[..., i:i + h, :, :] for i, t in enumerate(_TAPS))
  return sum(float(t) * x[..., :, i:i + w, :] for i, t in enumerate(_TAPS))


def _down(x):
  return _blur(x)[..., ::2, ::2, :]


def _up(x, shape):
  return jax.image.resize(x, x.shape[:-3] + tuple(shape) + x.shape[-1:], "bilinear")


def _levels(height, width):
  """Pyramid levels: down to a coarsest level of at least ~8 px on the short side."""
  return max(1, int(np.floor(np.log2(max(min(height, width), 1) / 8.0))) + 1)


def mertens_weights(frames):
  """Mertens weights of `[N, ..., H, W, 3]` frames in [0, 1] -> `[N, ..., H, W, 1]`, summing
  to 1 over N: |Laplacian of grey| x std over channels x prod_c exp(-(v - 0.5)^2 / 2 s^2)."""
  grey = jnp.mean(frames, axis=-1, keepdims=True)
  pad = [(0, 0)] * (grey.ndim - 3) + [(1, 1), (1, 1), (0, 0)]
  g = jnp.pad(grey, pad, mode="edge")
  lap = (g[..., :-2, 1:-1, :] + g[..., 2:, 1:-1, :] + g[..., 1:-1, :-2, :]
         + g[..., 1:-1, 2:, :] - 4.0 * grey)
  contrast = jnp.abs(lap)
  saturation = jnp.std(frames, axis=-1, keepdims=True)
  exposedness = jnp.prod(jnp.exp(-0.5 * ((frames - 0.5) / MERTENS_SIGMA) ** 2), axis=-1,
                         keepdims=True)
  weight = contrast * saturation * exposedness + 1e-12
  return weight / jnp.sum(weight, axis=0, keepdims=True)


def fuse(frames):
  """Mertens exposure fusion of `[N, ..., H, W, 3]` frames in [0, 1] -> `[..., H, W, 3]` in
  [0, 1]: each frame's Laplacian pyramid weighted by the Gaussian pyramid of its weights."""
  weights = mertens_weights(frames)
  levels = _levels(*frames.shape[-3:-1])
  blended = None
  image, weight = frames, weights
  laplacians = []
  for _ in range(levels - 1):
    small = _down(image)
    laplacians.append(jnp.sum(weight * (image - _up(small, image.shape[-3:-1])), axis=0))
    image, weight = small, _down(weight)
  blended = jnp.sum(weight * image, axis=0)
  for lap in reversed(laplacians):
    blended = _up(blended, lap.shape[-3:-1]) + lap
  return jnp.clip(blended, 0.0, 1.0)


def synthetic_exposures(radiance, evs=FUSION_EVS, key=KEY):
  """`[N, ..., H, W, 3]`: the auto-exposed radiance times 2**ev for each ev, clipped and
  sRGB-encoded (a camera's frames of the scene, without noise)."""
  x = auto_exposure(radiance, key)
  return jnp.stack([srgb_encode(x * 2.0 ** ev) for ev in evs])


def exposure_fusion(radiance, evs=FUSION_EVS, key=KEY):
  """Local operator: Mertens fusion of `synthetic_exposures(radiance)`."""
  return fuse(synthetic_exposures(_check(radiance, "exposure_fusion"), evs, key))


# name -> operator, in the order the target-choice table lists them.
OPERATORS = {
    "reinhard": reinhard,
    "filmic": filmic,
    "exposure_fusion": exposure_fusion,
}
