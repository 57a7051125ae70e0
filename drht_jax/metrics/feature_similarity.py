"""FSIM / FSIMc (Zhang et al., IEEE TIP 2011, the authors' FeatureSIM.m and Kovesi's phasecong2).

`(pred, ref)` `[..., H, W, 3]` display-encoded in [0, 1] -> one value per image `[...]`.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from drht_jax.metrics.fidelity import _check_pair

FSIM_T1 = 0.85
FSIM_T2 = 160.0
FSIM_T3 = 200.0
FSIM_T4 = 200.0
FSIM_LAMBDA = 0.03
PC_NSCALE = 4
PC_NORIENT = 4
PC_MIN_WAVELENGTH = 6.0
PC_MULT = 2.0
PC_SIGMA_ONF = 0.55
PC_DTHETA_ON_SIGMA = 1.2
PC_K = 2.0
PC_EPSILON = 1e-4
# RGB -> YIQ rows as in FeatureSIM.m.
YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
# Scharr kernels of FeatureSIM.m (MATLAB conv2 flips them; the magnitude does not care, but we
# flip them anyway so that the signed responses match conv2 too).
SCHARR_DX = np.array([[3.0, 0.0, -3.0], [10.0, 0.0, -10.0], [3.0, 0.0, -3.0]]) / 16.0
SCHARR_DY = SCHARR_DX.T.copy()


def fsim_downsample_factor(height, width):
  """FeatureSIM.m's F = max(1, round(min(H, W) / 256)), MATLAB rounding (half away from 0)."""
  return max(1, int(math.floor(min(height, width) / 256.0 + 0.5)))


def _freq_grid(n):
  """phasecong2's normalised frequency coordinates for one axis (handles odd and even n)."""
  if n % 2:
    return np.arange(-(n - 1) / 2, (n - 1) / 2 + 1) / (n - 1)
  return np.arange(-n / 2, n / 2) / n


@functools.lru_cache(maxsize=8)
def phasecong_filters(rows, cols):
  """Kovesi's phasecong2 log-Gabor filters and noise-threshold factors for a `rows x cols` image.

  Returns `(filters [NORIENT, NSCALE, rows, cols] float32, threshold_factor [NORIENT])`: the
  frequency-domain filters (zero frequency at [0, 0]) and, per orientation, the factor c_o with
  noise threshold `T_o = c_o * sqrt(median(|EO[o, scale 0]|^2))` (phasecong2's Rayleigh
  estimate, divided by 1.7 for its PC_2 measure).
  """
  x, y = np.meshgrid(_freq_grid(cols), _freq_grid(rows))
  radius = np.fft.ifftshift(np.sqrt(x**2 + y**2))
  theta = np.fft.ifftshift(np.arctan2(-y, x))
  radius[0, 0] = 1.0
  sintheta, costheta = np.sin(theta), np.cos(theta)
  lowpass = 1.0 / (1.0 + (np.fft.ifftshift(np.sqrt(x**2 + y**2)) / 0.45) ** 30)  # order 15
  log_gabor = []
  for s in range(PC_NSCALE):
    fo = 1.0 / (PC_MIN_WAVELENGTH * PC_MULT**s)
    g = np.exp(-np.log(radius / fo) ** 2 / (2 * np.log(PC_SIGMA_ONF) ** 2)) * lowpass
    g[0, 0] = 0.0
    log_gabor.append(g)
  theta_sigma = np.pi / PC_NORIENT / PC_DTHETA_ON_SIGMA
  filters = np.empty((PC_NORIENT, PC_NSCALE, rows, cols))
  factors = np.empty(PC_NORIENT)
  for o in range(PC_NORIENT):
    angle = o * np.pi / PC_NORIENT
    ds = sintheta * np.cos(angle) - costheta * np.sin(angle)
    dc = costheta * np.cos(angle) + sintheta * np.sin(angle)
    spread = np.exp(-np.arctan2(ds, dc) ** 2 / (2 * theta_sigma**2))
    filters[o] = np.stack(log_gabor) * spread
    spatial = np.real(np.fft.ifft2(filters[o])) * np.sqrt(rows * cols)
    sum_an2 = np.sum(spatial**2)
    sum_aiaj = sum(np.sum(spatial[i] * spatial[j])
                   for i in range(PC_NSCALE) for j in range(i + 1, PC_NSCALE))
    em_n = np.sum(filters[o, 0] ** 2)
    # noisePower = median / ln 2 / EM_n; tau = sqrt(noisePower * (2 sumAn2 + 4 sumAiAj) / 2).
    tau_per_sqrt_median = np.sqrt((2 * sum_an2 + 4 * sum_aiaj) / (2 * np.log(2.0) * em_n))
    factors[o] = tau_per_sqrt_median * (np.sqrt(np.pi / 2) + PC_K * np.sqrt(2 - np.pi / 2)) / 1.7
  return filters.astype(np.float32), factors


def _kth_smallest_nonnegative(values, ks):
  """Exact k-th smallest entries of `[..., N]` float32 >= 0, for each k in `ks` -> `[..., len(ks)]`.

  A bitwise binary search over the float bit patterns (monotone for non-negative floats): 31
  counting passes, faster on CPU than the full sort behind jnp.median (bench/README.md,
  "FSIM's median").
  """
  bits = jax.lax.bitcast_convert_type(values, jnp.int32)[..., None, :]
  k = jnp.asarray(ks, jnp.int32)

  def body(i, result):
    candidate = result | jnp.left_shift(jnp.int32(1), 30 - i)
    count = jnp.sum(bits < candidate[..., None], axis=-1, dtype=jnp.int32)
    return jnp.where(count <= k, candidate, result)

  start = jnp.zeros(values.shape[:-1] + (len(ks),), jnp.int32)
  return jax.lax.bitcast_convert_type(jax.lax.fori_loop(0, 31, body, start), jnp.float32)


def _median_nonnegative(values):
  """`jnp.median(values, axis=-1)` (mean of the middle two for even N) for values >= 0."""
  n = values.shape[-1]
  if n % 2:
    return _kth_smallest_nonnegative(values, (n // 2,))[..., 0]
  middle = _kth_smallest_nonnegative(values, (n // 2 - 1, n // 2))
  return 0.5 * (middle[..., 0] + middle[..., 1])


def phase_congruency(image):
  """phasecong2's phase congruency of one `[H, W]` image (0-255 scale) -> `[H, W]` in [0, 1].

  Where no filter responds at all (a flat image) the 0/0 of the reference is defined as 0.
  """
  rows, cols = image.shape
  filters, factors = phasecong_filters(rows, cols)
  eo = jnp.fft.ifft2(jnp.fft.fft2(image)[None, None] * jnp.asarray(filters, jnp.float32))
  even, odd, amp = jnp.real(eo), jnp.imag(eo), jnp.abs(eo)  # [O, S, H, W]
  sum_e, sum_o = jnp.sum(even, axis=1), jnp.sum(odd, axis=1)
  x_energy = jnp.sqrt(sum_e**2 + sum_o**2) + PC_EPSILON
  mean_e, mean_o = (sum_e / x_energy)[:, None], (sum_o / x_energy)[:, None]
  energy = jnp.sum(even * mean_e + odd * mean_o - jnp.abs(even * mean_o - odd * mean_e), axis=1)
  median = _median_nonnegative(jnp.square(amp[:, 0]).reshape(PC_NORIENT, -1))
  threshold = jnp.asarray(factors, jnp.float32) * jnp.sqrt(median)
  energy = jnp.maximum(energy - threshold[:, None, None], 0.0)
  energy_all, an_all = jnp.sum(energy, axis=0), jnp.sum(amp, axis=(0, 1))
  return jnp.where(an_all > 0, energy_all / jnp.where(an_all > 0, an_all, 1.0), 0.0)


def _correlate_same_zero(x, kernel, before):
  """`[H, W]` correlated with a small kernel over a zero-padded image; output `[H, W]`.

  Output (i, j) sums kernel[a, b] * x[i - before + a, j - before + b].
  """
  kh, kw = kernel.shape
  h, w = x.shape
  padded = jnp.pad(x, ((before, kh - 1 - before), (before, kw - 1 - before)))
  return sum(float(kernel[a, b]) * padded[a:a + h, b:b + w]
             for a in range(kh) for b in range(kw) if kernel[a, b] != 0)


def _matlab_box_downsample(x, factor):
  """FeatureSIM.m: `conv2(x, fspecial('average', F), 'same')` then `x(1:F:end, 1:F:end)`."""
  if factor == 1:
    return x
  # conv2 'same' keeps full-convolution rows from floor(F/2): output i averages x[i+F//2-F+1 :
  # i+F//2+1] (zeros outside), i.e. a correlation window starting F-1-F//2 before i.
  box = np.full((factor, factor), 1.0 / factor**2)
  return _correlate_same_zero(x, box, factor - 1 - factor // 2)[::factor, ::factor]


def _gradient_magnitude(y):
  gx = _correlate_same_zero(y, SCHARR_DX[::-1, ::-1], 1)
  gy = _correlate_same_zero(y, SCHARR_DY[::-1, ::-1], 1)
  return jnp.sqrt(gx**2 + gy**2)


def _fsim_single(pred, ref):
  """(FSIM, FSIMc) of one `[H, W, 3]` pair in [0, 1]; the reference's 0-255 scale inside."""
  yiq = jnp.asarray(YIQ, jnp.float32)
  factor = fsim_downsample_factor(*ref.shape[:2])
  channels = []
  for image in (ref, pred):
    planes = jnp.moveaxis((255.0 * image.astype(jnp.float32)) @ yiq.T, -1, 0)
    channels.append([_matlab_box_downsample(p, factor) for p in planes])
  (y1, i1, q1), (y2, i2, q2) = channels
  pc1, pc2 = phase_congruency(y1), phase_congruency(y2)
  g1, g2 = _gradient_magnitude(y1), _gradient_magnitude(y2)
  pc_sim = (2 * pc1 * pc2 + FSIM_T1) / (pc1**2 + pc2**2 + FSIM_T1)
  g_sim = (2 * g1 * g2 + FSIM_T2) / (g1**2 + g2**2 + FSIM_T2)
  pc_m = jnp.maximum(pc1, pc2)
  sim = g_sim * pc_sim * pc_m
  i_sim = (2 * i1 * i2 + FSIM_T3) / (i1**2 + i2**2 + FSIM_T3)
  q_sim = (2 * q1 * q2 + FSIM_T4) / (q1**2 + q2**2 + FSIM_T4)
  iq = i_sim * q_sim
  # MATLAB's real((I .* Q) .^ lambda): a negative base takes the principal complex power.
  chroma = jnp.where(iq >= 0, 1.0, jnp.cos(jnp.pi * FSIM_LAMBDA)) * jnp.abs(iq) ** FSIM_LAMBDA
  total = jnp.sum(pc_m)
  return jnp.sum(sim) / total, jnp.sum(sim * chroma) / total


def fsim_both(pred, ref):
  """(FSIM on luminance, FSIMc): `[..., H, W, 3]` in [0, 1] -> two `[...]` arrays.

  Images are processed one at a time (`lax.map`) to bound memory: each holds 16 complex
  filter responses. Undefined (NaN) only when neither image has any phase congruency (flat).
  """
  _check_pair(pred, ref, "fsim", channels=3)
  batch = pred.shape[:-3]
  flat = lambda v: jnp.reshape(jnp.asarray(v, jnp.float32), (-1,) + v.shape[-3:])
  lum, color = jax.lax.map(lambda pr: _fsim_single(*pr), (flat(pred), flat(ref)))
  return lum.reshape(batch), color.reshape(batch)


def fsim(pred, ref):
  """FSIMc (colour FSIM, the paper's FSIM column): `[..., H, W, 3]` in [0, 1] -> `[...]`."""
  return fsim_both(pred, ref)[1]


def fsim_luminance(pred, ref):
  """FSIM on the YIQ luminance only: `[..., H, W, 3]` in [0, 1] -> `[...]`."""
  return fsim_both(pred, ref)[0]
