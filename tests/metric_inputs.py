"""Inputs shared by the metric test files: real photographs from skimage.data, their
distortions (noise, blur, an exposure change, a JPEG-like 8x8 DCT quantisation) and random
relative radiance maps. The `photos` fixture built from them is in tests/conftest.py."""

import jax.numpy as jnp
import numpy as np
import scipy.fft
from skimage import data, filters


def _photo(name, size=(192, 256)):
  img = getattr(data, name)().astype(np.float64) / 255.0
  h, w = size
  return img[:h, :w]


def _jpeg_like(img, step=0.08):
  """8x8 block DCT with uniform quantisation of the coefficients (JPEG's lossy core)."""
  h, w = (img.shape[0] // 8) * 8, (img.shape[1] // 8) * 8
  out = img.copy()
  blocks = img[:h, :w].reshape(h // 8, 8, w // 8, 8, 3)
  coef = scipy.fft.dctn(blocks, axes=(1, 3), norm="ortho")
  coef = np.round(coef / step) * step
  out[:h, :w] = scipy.fft.idctn(coef, axes=(1, 3), norm="ortho").reshape(h, w, 3)
  return np.clip(out, 0.0, 1.0)


def _distort(img, kind, seed=0):
  rng = np.random.default_rng(seed)
  if kind == "noise":
    return np.clip(img + rng.normal(0.0, 0.05, img.shape), 0.0, 1.0)
  if kind == "blur":
    return filters.gaussian(img, sigma=1.5, channel_axis=-1)
  if kind == "exposure":
    return np.clip((img**2.2 * 2.0**-1.5) ** (1 / 2.2), 0.0, 1.0)
  if kind == "jpeg":
    return _jpeg_like(img)
  raise ValueError(kind)


PHOTOS = ("astronaut", "coffee", "chelsea")


def _f32(x):
  return jnp.asarray(x, jnp.float32)


def _radiance(seed=0, shape=(2, 48, 64, 3)):
  rng = np.random.default_rng(seed)
  return np.exp(rng.normal(0.0, 1.5, shape)).astype(np.float32)
