"""Image-quality metrics (measure.md): PSNR, SSIM, FSIM/FSIMc, PU21 and log-domain HDR errors.

Every metric takes `(pred, ref)` batched as `[..., H, W, C]` and returns one value per image,
shape `[...]`. LDR metrics expect display-encoded values in [0, 1]; HDR metrics expect linear
radiance >= 0. All are pure jnp functions, jit-able (shapes are static: filters are built with
NumPy at trace time and cached per image size).

Conventions (the table must state them):
- PSNR: `10 log10(data_range^2 / MSE)`, MSE over all pixels and channels of one image, as
  `skimage.metrics.peak_signal_noise_ratio`; identical images give +inf.
- SSIM: Wang et al. 2004 as `skimage.metrics.structural_similarity(gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1)`: Gaussian window of
  11 taps (sigma 1.5, truncate 3.5), K1 = 0.01, K2 = 0.03, the SSIM map averaged over the
  pixels whose window lies inside the image (skimage crops (11 - 1) // 2 = 5 pixels per side),
  per channel, then averaged over channels.
- FSIM / FSIMc: Zhang, Zhang, Mou & Zhang, "FSIM: A Feature Similarity Index for Image Quality
  Assessment", IEEE TIP 2011, following the authors' FeatureSIM.m: pixel values on the 0-255
  scale, YIQ colour space, luminance (and I, Q) averaged by an F x F box (MATLAB `conv2(.,
  'same')`, zero padded) and subsampled by F = max(1, round(min(H, W) / 256)); phase congruency
  by Kovesi's phasecong2 (4 scales, 4 orientations, min wavelength 6, mult 2, sigmaOnf 0.55,
  dThetaOnSigma 1.2, k 2, noise threshold from the median of the smallest scale's energy and
  Rayleigh statistics, divided by 1.7); Scharr gradient magnitude (zero padded); T1 = 0.85,
  T2 = 160, and for FSIMc T3 = T4 = 200, lambda = 0.03. `fsim` returns FSIMc (the paper's FSIM
  column for colour images), `fsim_luminance` the luminance-only FSIM.
- HDR: PU21 (Mantiuk & Azimi, "PU21: A novel perceptually uniform encoding for adapting
  existing quality metrics for HDR", Picture Coding Symposium 2021), `banding_glare` parameters
  of the authors' pu21_encoder.m. Relative radiance is made absolute by mapping the reference
  image's peak luminance to a display peak of 4000 cd/m^2 (the pu21 README example; pred gets
  the same factor), then PSNR with peak 256 on the encoded RGB and SSIM with data range 256 on
  the encoded luminance, as the authors' pu21_metric.m ('PSNR', 'SSIM'; our SSIM keeps the
  skimage convention above, MATLAB's ssim pads the border instead of cropping it).
- Log-domain HDR error: RMSE of `log(radiance + 1/255)` (Eq. 3's domain, natural log).
"""

import functools
import importlib
import math

import jax
import jax.numpy as jnp
import numpy as np

from drht_jax import hdr

_IMAGE_AXES = (-3, -2, -1)

# --- PSNR and SSIM.


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


# --- FSIM (Zhang et al. 2011, the authors' FeatureSIM.m and Kovesi's phasecong2).

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
  counting passes, ~10x faster on CPU than the full sort behind jnp.median.
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


# --- HDR: PU21 and log-domain errors.

# pu21_encoder.m, type 'banding_glare' (the authors' recommended variant).
PU21_BANDING_GLARE = (0.353487901, 0.3734658629, 8.277049286e-05, 0.9062562627,
                      0.09150303166, 0.9099517204, 596.3148142)
PU21_L_MIN = 0.005
PU21_L_MAX = 10000.0
PU21_PEAK = 256.0  # pu21_metric.m: psnr(.., 256) and ssim(.., 'DynamicRange', 256)
DISPLAY_PEAK_CD_M2 = 4000.0


def pu21_encode(luminance_cd_m2, params=PU21_BANDING_GLARE):
  """PU21 encoding of absolute luminance (cd/m^2, clamped to [0.005, 1e4]) -> ~[0, 595].

  `V = p7 * (((p1 + p2 Y^p4) / (1 + p3 Y^p4))^p5 - p6)`; 100 cd/m^2 maps to ~256 (SDR peak).
  """
  p1, p2, p3, p4, p5, p6, p7 = params
  y = jnp.clip(luminance_cd_m2, PU21_L_MIN, PU21_L_MAX)
  yp = jnp.power(y, p4)
  return p7 * (jnp.power((p1 + p2 * yp) / (1.0 + p3 * yp), p5) - p6)


def to_absolute(pred, ref, display_peak=DISPLAY_PEAK_CD_M2):
  """Relative radiance pair -> cd/m^2: the reference's peak luminance maps to `display_peak`.

  `[..., H, W, 3]` linear >= 0 (negative values clipped). Both images get the reference's
  factor, so an error in overall exposure of `pred` is measured, not normalised away.
  """
  pred = jnp.maximum(jnp.asarray(pred, jnp.float32), 0.0)
  ref = jnp.maximum(jnp.asarray(ref, jnp.float32), 0.0)
  peak = jnp.max(hdr.luminance(ref), axis=(-2, -1))[..., None, None, None]
  scale = display_peak / jnp.maximum(peak, 1e-12)
  return pred * scale, ref * scale


def pu_psnr(pred, ref, display_peak=DISPLAY_PEAK_CD_M2):
  """PU21-PSNR (dB, peak 256) on PU-encoded RGB radiance: `[..., H, W, 3]` -> `[...]`."""
  _check_pair(pred, ref, "pu_psnr", channels=3)
  pred_abs, ref_abs = to_absolute(pred, ref, display_peak)
  return psnr(pu21_encode(pred_abs), pu21_encode(ref_abs), data_range=PU21_PEAK)


def pu_ssim(pred, ref, display_peak=DISPLAY_PEAK_CD_M2):
  """PU21-SSIM (data range 256) on PU-encoded luminance: `[..., H, W, 3]` -> `[...]`."""
  _check_pair(pred, ref, "pu_ssim", channels=3)
  pred_abs, ref_abs = to_absolute(pred, ref, display_peak)
  encode = lambda v: pu21_encode(hdr.luminance(v))[..., None]
  return ssim(encode(pred_abs), encode(ref_abs), data_range=PU21_PEAK)


def log_hdr_error(pred, ref, delta=hdr.DELTA):
  """RMSE of `log(radiance + delta)` (natural log, Eq. 3's domain, delta = 1/255) per image.

  `[..., H, W, 3]` linear radiance (negative values clipped to 0) -> `[...]`, in log units.
  """
  _check_pair(pred, ref, "log_hdr_error")
  lp = hdr.log_compress(jnp.maximum(jnp.asarray(pred, jnp.float32), 0.0), delta)
  lr = hdr.log_compress(jnp.maximum(jnp.asarray(ref, jnp.float32), 0.0), delta)
  return jnp.sqrt(jnp.mean(jnp.square(lp - lr), axis=_IMAGE_AXES))


# --- Block artifacts: a grid pattern at the period of the nets' coarsest level.

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


# --- Everything at once, for eval.


@jax.jit
def _ldr_metrics(pred, ref):
  lum, color = fsim_both(pred, ref)
  return {"psnr": psnr(pred, ref), "ssim": ssim(pred, ref), "fsim": color,
          "fsim_luminance": lum, "block_excess": block_artifact_excess(pred, ref)}


@jax.jit
def _hdr_metrics(pred, ref):
  return {"pu21_psnr": pu_psnr(pred, ref), "pu21_ssim": pu_ssim(pred, ref),
          "log_hdr_rmse": log_hdr_error(pred, ref)}


def compute_all(pred, ref, pred_hdr=None, ref_hdr=None):
  """All metrics per image as a dict of NumPy arrays of shape `[...]`.

  `pred`, `ref`: `[..., H, W, 3]` LDR in [0, 1] -> 'psnr', 'ssim', 'fsim' (FSIMc),
  'fsim_luminance', 'block_excess' (`block_artifact_excess`). With `pred_hdr`, `ref_hdr` (linear radiance, same shape) also
  'pu21_psnr', 'pu21_ssim', 'log_hdr_rmse'. Compiled once per shape.
  """
  out = _ldr_metrics(jnp.asarray(pred, jnp.float32), jnp.asarray(ref, jnp.float32))
  if (pred_hdr is None) != (ref_hdr is None):
    raise ValueError("compute_all: pass both pred_hdr and ref_hdr, or neither")
  if pred_hdr is not None:
    out.update(_hdr_metrics(jnp.asarray(pred_hdr, jnp.float32),
                            jnp.asarray(ref_hdr, jnp.float32)))
  return {k: np.asarray(v) for k, v in out.items()}


# --- Optional perceptual metric: ColorVideoVDP (PyTorch), behind requirements-perceptual.txt.

PERCEPTUAL_HINT = ("ColorVideoVDP (cvvdp) is not installed: "
                   "pip install -r requirements-perceptual.txt")


def perceptual_available():
  """True when ColorVideoVDP (`pycvvdp`, from the PyPI package `cvvdp`) and torch import."""
  try:
    importlib.import_module("torch")
    importlib.import_module("pycvvdp")
  except ImportError:
    return False
  return True


def cvvdp_jod(pred, ref, display_name="standard_4k"):
  """ColorVideoVDP quality in JOD (10 = no visible difference) per image, on the CPU.

  `pred`, `ref`: `[..., H, W, 3]` display-encoded (sRGB) in [0, 1], seen on `display_name`
  (see pycvvdp's display_models.json). Returns a NumPy array `[...]`. Raises ImportError with
  the install command when the optional dependency is missing. Not jit-able (PyTorch).
  """
  try:
    torch = importlib.import_module("torch")
    pycvvdp = importlib.import_module("pycvvdp")
  except ImportError as e:
    raise ImportError(f"drht_jax.metrics.cvvdp_jod: {PERCEPTUAL_HINT}") from e
  pred, ref = np.asarray(pred, np.float32), np.asarray(ref, np.float32)
  _check_pair(pred, ref, "cvvdp_jod", channels=3)
  metric = pycvvdp.cvvdp(display_name=display_name, quiet=True, device=torch.device("cpu"))
  flat_pred, flat_ref = pred.reshape((-1,) + pred.shape[-3:]), ref.reshape((-1,) + ref.shape[-3:])
  scores = []
  with torch.no_grad():
    for p, r in zip(flat_pred, flat_ref):
      jod, _ = metric.predict(torch.from_numpy(np.clip(p, 0, 1)),
                              torch.from_numpy(np.clip(r, 0, 1)), dim_order="HWC")
      scores.append(float(jod))
  return np.asarray(scores, np.float32).reshape(pred.shape[:-3])
