"""HDR <-> LDR math: the compressions between f1 and f2, exposure, camera curves, tone mapping.

Images are `[..., H, W, 3]` float arrays. Radiance ("HDR") is linear, >= 0 and unbounded;
LDR images are display-encoded in [0, 1]. Every function is pure and jit-able; per-image
statistics (log-average luminance, percentiles) reduce over the last three axes only, so a
batch `[B, H, W, 3]` is handled image by image.

The data recipe that composes these (crop, corruption, targets) is `drht_jax/recipe.py`, the
only implementation of it: the loader runs it on the device, the builders on the CPU.
"""

import jax
import jax.numpy as jnp
import numpy as np

# Paper Sec. 3.4: alpha, gamma of Eq. 2 and delta of Eq. 3.
ALPHA = 0.03
GAMMA = 0.45
DELTA = 1.0 / 255.0
# f1's output is clamped to this before the inverse power: d/ds s**(1/gamma) is finite there.
S_HAT_FLOOR = 1e-6
DISPLAY_GAMMA = 2.2
# ITU-R BT.709 luminance weights of linear RGB.
REC709 = (0.2126, 0.7152, 0.0722)

_IMAGE_AXES = (-3, -2, -1)


def gamma_compress(radiance, alpha=ALPHA, gamma=GAMMA):
  """Eq. 2's target `alpha * Y ** gamma`: linear radiance >= 0 -> f1's output domain (~[0, 2])."""
  return alpha * jnp.power(jnp.maximum(radiance, 0.0), gamma)


def inverse_gamma(s_hat, alpha=ALPHA, gamma=GAMMA, floor=S_HAT_FLOOR):
  """S_full = (S_hat / alpha) ** (1 / gamma) (Sec. 3.3): f1's output -> linear radiance.

  `s_hat` is clamped at `floor` first so that values <= 0 (which f1 can emit) stay finite and
  keep a finite gradient.
  """
  return jnp.power(jnp.maximum(s_hat, floor) / alpha, 1.0 / gamma)


def log_compress(radiance, delta=DELTA):
  """Eq. 3's `log(S_full + delta)`: radiance >= 0 -> f2's input, >= log(delta) ~ -5.5."""
  return jnp.log(radiance + delta)


def luminance(rgb):
  """Rec. 709 luminance of linear RGB: `[..., H, W, 3]` -> `[..., H, W]`."""
  return rgb @ jnp.asarray(REC709, dtype=rgb.dtype)


def log_average_luminance(radiance, eps=1e-6):
  """Geometric mean of luminance per image: `[..., H, W, 3]` -> `[..., 1, 1, 1]`."""
  log_lum = jnp.log(luminance(radiance) + eps)
  return jnp.exp(jnp.mean(log_lum, axis=(-2, -1)))[..., None, None, None]


def normalize_exposure(radiance, key_value=0.18):
  """Scales each image so its log-average luminance equals `key_value` (EV 0 = mid-grey)."""
  return radiance * (key_value / log_average_luminance(radiance))


def expose(radiance, ev):
  """Exposure change of `ev` stops (Eq. 1's S * dt): `radiance * 2 ** ev`.

  `ev` is a scalar or broadcastable per image, e.g. `[B, 1, 1, 1]`.
  """
  return radiance * jnp.exp2(ev)


def change_contrast(radiance, contrast, pivot=0.18):
  """Power-law contrast around `pivot`: `pivot * (S / pivot) ** contrast`.

  `contrast` > 1 stretches the log-radiance range, < 1 flattens it; mid-grey is unchanged.
  A straight line in log-log space, the same family as a film's gamma.
  """
  return pivot * jnp.power(jnp.maximum(radiance, 0.0) / pivot, contrast)


def display_encode(linear, gamma=DISPLAY_GAMMA):
  """Linear [0, 1] -> display values `x ** (1 / 2.2)`, clipped to [0, 1]."""
  return jnp.power(jnp.clip(linear, 0.0, 1.0), 1.0 / gamma)


def display_decode(encoded, gamma=DISPLAY_GAMMA):
  """Display values in [0, 1] -> linear `x ** 2.2` (inverse of `display_encode`)."""
  return jnp.power(jnp.clip(encoded, 0.0, 1.0), gamma)


def srgb_encode(linear):
  """IEC 61966-2-1 sRGB transfer curve: linear [0, 1] (clipped) -> encoded [0, 1]. NumPy in,
  NumPy out (in its dtype); anything else through jax.numpy."""
  xp = np if isinstance(linear, (np.ndarray, np.generic)) else jnp
  x = xp.clip(linear, 0.0, 1.0)
  out = xp.where(x <= 0.0031308, 12.92 * x,
                 1.055 * xp.power(xp.maximum(x, 0.0031308), 1.0 / 2.4) - 0.055)
  return out.astype(x.dtype) if xp is np else out


def srgb_decode(encoded):
  """Inverse of `srgb_encode`: encoded [0, 1] (clipped) -> linear [0, 1]; NumPy in, NumPy out."""
  xp = np if isinstance(encoded, (np.ndarray, np.generic)) else jnp
  y = xp.clip(encoded, 0.0, 1.0)
  out = xp.where(y <= 0.04045, y / 12.92,
                 xp.power((xp.maximum(y, 0.04045) + 0.055) / 1.055, 2.4))
  return out.astype(y.dtype) if xp is np else out


# --- Camera response curves (Eq. 1's f_CRF). Each maps exposure-scaled radiance, clipped to
# [0, 1], to [0, 1] with f(0) = 0 and f(1) = 1.

def crf_gamma(x, gamma=DISPLAY_GAMMA):
  """Power-law CRF `x ** (1 / gamma)`; gamma in ~[1.8, 2.6] spans typical cameras."""
  return jnp.power(jnp.clip(x, 0.0, 1.0), 1.0 / gamma)


def crf_sigmoid(x, n=0.9, sigma=0.6):
  """Film-like S curve (Naka-Rushton `x^n / (x^n + sigma^n)`), rescaled so that f(1) = 1.

  n in ~[0.6, 1.2] sets the toe/shoulder; smaller `sigma` brightens the mid-tones.
  """
  xn = jnp.power(jnp.clip(x, 0.0, 1.0), n)
  sn = sigma ** n
  return xn / (xn + sn) * (1.0 + sn)


CRF_NAMES = ("gamma", "sigmoid")


def apply_crf(x, kind, param):
  """CRF number `kind` (index into `CRF_NAMES`) with its shape parameter `param` (scalars).

  `gamma`: param is the gamma. `sigmoid`: param is the exponent n (sigma fixed at 0.6).
  Traceable: `kind` may be a traced integer.
  """
  return jax.lax.switch(kind, (lambda v: crf_gamma(v, param), lambda v: crf_sigmoid(v, param)), x)


def quantize_8bit(x):
  """Clips to [0, 1] and rounds to the 256 levels of an 8-bit image (still float)."""
  return jnp.round(jnp.clip(x, 0.0, 1.0) * 255.0) / 255.0


# --- Tone mapping for ground-truth LDR.

def _percentile_per_image(values, q):
  flat = values.reshape(values.shape[:-2] + (-1,))
  return jnp.percentile(flat, q, axis=-1)[..., None, None]


def reinhard_global(radiance, key_value=None, eps=1e-6):
  """Reinhard et al. 2002 global operator with white point; linear output in [0, 1].

  `key_value=None` picks the key automatically (Reinhard 2006, "Parameter estimation for
  photographic tone reproduction"): `0.18 * 4 ** ((2 log2 Lavg - log2 Lmin - log2 Lmax) /
  (log2 Lmax - log2 Lmin))`, with Lmin / Lmax the 1st / 99th luminance percentiles so that a
  few hot pixels (the sun) do not set the white point. Colour ratios are preserved.
  """
  lum = luminance(radiance)
  lum_avg = log_average_luminance(radiance, eps)[..., 0]
  lum_min = _percentile_per_image(lum, 1.0) + eps
  lum_max = _percentile_per_image(lum, 99.0) + eps
  if key_value is None:
    log_min, log_max, log_avg = jnp.log2(lum_min), jnp.log2(lum_max), jnp.log2(lum_avg)
    span = jnp.maximum(log_max - log_min, 1e-3)
    # Reinhard's formula assumes Lmin <= Lavg <= Lmax; with percentiles a mostly black image
    # with a few bright pixels breaks that (a night crop with a lamp: the exponent reached
    # thousands and the key overflowed). Clipped to [-1, 1]: the key stays in [0.045, 0.72].
    exponent = jnp.clip((2.0 * log_avg - log_min - log_max) / span, -1.0, 1.0)
    key_value = 0.18 * jnp.power(4.0, exponent)
  scaled = key_value / lum_avg * lum
  white = jnp.maximum(key_value / lum_avg * lum_max, 1e-3)
  mapped = scaled * (1.0 + scaled / white**2) / (1.0 + scaled)
  ratio = mapped / (lum + eps)
  return jnp.clip(radiance * ratio[..., None], 0.0, 1.0)


def ground_truth_ldr(radiance):
  """The fixed TMO of the data recipe: Reinhard global (auto key), then display gamma 2.2.

  `[..., H, W, 3]` radiance -> `[..., H, W, 3]` in [0, 1]. Changing this changes every
  data set's ground truth: bump the builders' versions with it.
  """
  return display_encode(reinhard_global(radiance))
