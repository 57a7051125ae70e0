"""PSNR and SSIM (conventions in drht_jax/metrics/__init__.py's docstring).

`(pred, ref)` `[..., H, W, C]` display-encoded in [0, data_range] -> one value per image `[...]`.
"""

import jax.numpy as jnp
import numpy as np

_IMAGE_AXES = (-3, -2, -1)


def _check_pair(pred, ref, name, channels=None):
  if pred.shape != ref.shape:
    raise ValueError(f"{name}: pred and ref shapes differ: {pred.shape} vs {ref.shape}")
  if pred.ndim < 3:
    raise ValueError(f"{name}: expected [..., H, W, C] images, got shape {pred.shape}")
  if channels is not None and pred.shape[-1] != channels:
    raise ValueError(f"{name}: expected {channels} channels, got shape {pred.shape}")


def psnr(pred, ref, data_range=1.0):
  """PSNR in dB: `[..., H, W, C]` in [0, data_range] -> `[...]`; +inf where pred == ref."""
  _check_pair(pred, ref, "psnr")
  err = jnp.asarray(pred, jnp.float32) - jnp.asarray(ref, jnp.float32)
  mse = jnp.mean(jnp.square(err), axis=_IMAGE_AXES)
  return 10.0 * jnp.log10(data_range**2 / mse)


SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # scipy.ndimage / skimage default: radius int(3.5 * 1.5 + 0.5) = 5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _gaussian_taps(sigma, truncate):
  radius = int(truncate * sigma + 0.5)
  x = np.arange(-radius, radius + 1, dtype=np.float64)
  taps = np.exp(-0.5 * (x / sigma) ** 2)
  return taps / taps.sum()


def _filter_valid(x, taps):
  """Separable 'valid' correlation of `[..., H, W]` with 1-D `taps` along H, then W."""
  n = len(taps)
  h, w = x.shape[-2:]
  x = sum(float(t) * x[..., i:h - n + 1 + i, :] for i, t in enumerate(taps))
  return sum(float(t) * x[..., :, i:w - n + 1 + i] for i, t in enumerate(taps))


def ssim(pred, ref, data_range=1.0, sigma=SSIM_SIGMA, k1=SSIM_K1, k2=SSIM_K2):
  """Mean SSIM: `[..., H, W, C]` -> `[...]` (per channel, then averaged; see module doc).

  Only windows that lie inside the image contribute, which is exactly skimage's reflect-padded
  filtering followed by its border crop. H and W must be at least 11.
  """
  _check_pair(pred, ref, "ssim")
  taps = _gaussian_taps(sigma, SSIM_TRUNCATE)
  if min(pred.shape[-3:-1]) < len(taps):
    raise ValueError(f"ssim: images {pred.shape} are smaller than the {len(taps)}-pixel window")
  # Channels first; shift both images by the same constant so that E[x^2] - E[x]^2 loses
  # less to float32 cancellation (variances and covariances are shift invariant).
  shift = 0.5 * data_range
  x = jnp.moveaxis(jnp.asarray(pred, jnp.float32), -1, -3) - shift
  y = jnp.moveaxis(jnp.asarray(ref, jnp.float32), -1, -3) - shift
  maps = _filter_valid(jnp.stack([x, y, x * x, y * y, x * y]), taps)
  mx, my, mxx, myy, mxy = maps
  vx, vy, vxy = mxx - mx * mx, myy - my * my, mxy - mx * my
  mx, my = mx + shift, my + shift
  c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
  s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
  return jnp.mean(s, axis=_IMAGE_AXES)
