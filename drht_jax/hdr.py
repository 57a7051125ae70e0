"""HDR <-> LDR math: the compressions between f1 and f2, exposure, camera curves, tone mapping.

Images are `[..., H, W, 3]` float arrays. Radiance ("HDR") is linear, >= 0 and unbounded;
LDR images are display-encoded in [0, 1]. Every function is pure and jit-able; per-image
statistics (log-average luminance, percentiles) reduce over the last three axes only, so a
batch `[B, H, W, 3]` is handled image by image.

The data recipe (exposure normalisation, corruption, ground-truth tone mapping) also has NumPy
twins at the end of this file (`np_*`): the input pipeline makes examples in Grain workers,
where no JAX may run. `tests/test_hdr.py` checks that both agree.
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


# --- The corruption that makes an under/over-exposed input from a radiance map (data.md).

EV_RANGE = (-6.0, 3.0)          # paper Sec. 4.1
CONTRAST_RANGE = (0.7, 1.4)     # power-law contrast around mid-grey, see change_contrast
CRF_GAMMA_RANGE = (1.8, 2.6)
CRF_SIGMOID_N_RANGE = (0.6, 1.2)


def sample_corruption(key):
  """Draws one example's corruption parameters from `key` (uniform in the ranges above).

  Returns a dict of scalars: `ev`, `contrast`, `crf_kind` (int32 index into CRF_NAMES) and
  `crf_param` (the gamma or the sigmoid exponent). Same key, same parameters.
  """
  k_ev, k_contrast, k_kind, k_param = jax.random.split(key, 4)
  ev = jax.random.uniform(k_ev, (), minval=EV_RANGE[0], maxval=EV_RANGE[1])
  contrast = jax.random.uniform(k_contrast, (), minval=CONTRAST_RANGE[0],
                                maxval=CONTRAST_RANGE[1])
  kind = jax.random.randint(k_kind, (), 0, len(CRF_NAMES))
  u = jax.random.uniform(k_param, ())
  lo = jnp.where(kind == 0, CRF_GAMMA_RANGE[0], CRF_SIGMOID_N_RANGE[0])
  hi = jnp.where(kind == 0, CRF_GAMMA_RANGE[1], CRF_SIGMOID_N_RANGE[1])
  return {"ev": ev, "contrast": contrast, "crf_kind": kind, "crf_param": lo + u * (hi - lo)}


def corrupt_radiance(radiance, ev, contrast, crf_kind, crf_param):
  """Eq. 1 with a bad exposure: radiance `[H, W, 3]` -> 8-bit-quantised LDR input in [0, 1].

  Normalise exposure (log-average to 0.18), change contrast, scale by `2 ** ev`, camera curve,
  clip, quantise. The parameters come from `sample_corruption`.
  """
  scene = change_contrast(normalize_exposure(radiance), contrast)
  return quantize_8bit(apply_crf(jnp.clip(expose(scene, ev), 0.0, 1.0), crf_kind, crf_param))


def corrupt_ldr(ldr, ev, contrast):
  """Corruption for LDR-only data (Sun360): linearise, contrast, expose, re-encode, quantise.

  `ldr` `[H, W, 3]` in [0, 1] (display-encoded) -> corrupted LDR in [0, 1].
  """
  linear = change_contrast(display_decode(ldr), contrast)
  return quantize_8bit(display_encode(expose(linear, ev)))


# --- NumPy twins of the data recipe, for loader workers (no JAX there). Float32 math, same
# formulas; `tests/test_hdr.py` checks they match the JAX versions above. One image `[H, W, 3]`.

def np_luminance(rgb):
  # A weighted sum, not `rgb @ w`: no BLAS call (OpenBLAS threads thrash busy loader cores).
  w = [np.asarray(v, rgb.dtype) for v in REC709]
  return rgb[..., 0] * w[0] + rgb[..., 1] * w[1] + rgb[..., 2] * w[2]


def np_log_average_luminance(radiance, eps=1e-6):
  """Geometric mean of the luminance of one image (a float)."""
  return float(np.exp(np.mean(np.log(np_luminance(radiance) + np.float32(eps)),
                              dtype=np.float64)))


def np_normalize_exposure(radiance, key_value=0.18):
  return radiance * np.float32(key_value / np_log_average_luminance(radiance))


def np_change_contrast(radiance, contrast, pivot=0.18):
  pivot = np.float32(pivot)
  return pivot * np.power(np.maximum(radiance, 0.0) / pivot, np.float32(contrast))


def np_display_encode(linear, gamma=DISPLAY_GAMMA):
  return np.power(np.clip(linear, 0.0, 1.0), np.float32(1.0 / gamma))


def np_apply_crf(x, kind, param):
  """`apply_crf` for a Python `kind` (0: gamma, 1: sigmoid with sigma 0.6)."""
  x = np.clip(x, 0.0, 1.0)
  if int(kind) == 0:
    return np.power(x, np.float32(1.0 / param))
  xn = np.power(x, np.float32(param))
  sn = np.float32(0.6 ** param)
  return xn / (xn + sn) * (np.float32(1.0) + sn)


def np_quantize_8bit(x):
  return np.round(np.clip(x, 0.0, 1.0) * np.float32(255.0)) / np.float32(255.0)


def np_reinhard_global(radiance, eps=1e-6):
  """`reinhard_global` with the automatic key, for one image."""
  lum = np_luminance(radiance)
  lum_avg = np_log_average_luminance(radiance, eps)
  lum_min, lum_max = (float(v) + eps for v in np.percentile(lum, (1.0, 99.0)))
  log_min, log_max, log_avg = np.log2(lum_min), np.log2(lum_max), np.log2(lum_avg)
  span = max(log_max - log_min, 1e-3)
  exponent = min(max((2.0 * log_avg - log_min - log_max) / span, -1.0), 1.0)  # see reinhard_global
  key_value = 0.18 * 4.0 ** exponent
  scale = np.float32(key_value / lum_avg)
  scaled = scale * lum
  white = np.float32(max(key_value / lum_avg * lum_max, 1e-3))
  mapped = scaled * (1.0 + scaled / white**2) / (1.0 + scaled)
  ratio = mapped / (lum + np.float32(eps))
  return np.clip(radiance * ratio[..., None], 0.0, 1.0)


def np_ground_truth_ldr(radiance):
  """`ground_truth_ldr` for one image `[H, W, 3]` float32 -> [0, 1] float32."""
  return np_display_encode(np_reinhard_global(radiance))


def np_sample_corruption(rng: np.random.Generator) -> dict:
  """One example's corruption from a NumPy generator: the distribution of `sample_corruption`
  (uniform ev, contrast, CRF kind, CRF parameter in the same ranges), Python scalars."""
  ev = float(rng.uniform(*EV_RANGE))
  contrast = float(rng.uniform(*CONTRAST_RANGE))
  kind = int(rng.integers(0, len(CRF_NAMES)))
  lo, hi = CRF_GAMMA_RANGE if kind == 0 else CRF_SIGMOID_N_RANGE
  return {"ev": ev, "contrast": contrast, "crf_kind": kind,
          "crf_param": float(lo + rng.uniform() * (hi - lo))}


def np_corrupt_radiance(radiance, ev, contrast, crf_kind, crf_param, quantize=True):
  """`corrupt_radiance` for one image; `quantize=False` skips the 8-bit rounding (tests)."""
  scene = np_change_contrast(np_normalize_exposure(radiance), contrast)
  out = np_apply_crf(np.clip(scene * np.float32(2.0 ** ev), 0.0, 1.0), crf_kind, crf_param)
  return np_quantize_8bit(out) if quantize else out
