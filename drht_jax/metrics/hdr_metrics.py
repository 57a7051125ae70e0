"""HDR metrics: PU21-PSNR / PU21-SSIM (Mantiuk & Azimi 2021) and the log-domain RMSE.

`(pred, ref)` `[..., H, W, 3]` linear radiance >= 0 -> one value per image `[...]`.
"""

import jax.numpy as jnp

from drht_jax import hdr
from drht_jax.metrics.fidelity import _IMAGE_AXES, _check_pair, psnr, ssim

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
