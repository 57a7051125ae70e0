"""Image-quality metrics (docs/measure.md): PSNR, SSIM, FSIM/FSIMc, PU21 and log-domain HDR errors,
colour (CIEDE2000, colourfulness) and artifacts (block grid, flat regions).

One module per family, every public name re-exported here (`drht_jax.metrics.psnr`, ...):
  fidelity            psnr, ssim
  feature_similarity  fsim (FSIMc), fsim_luminance, fsim_both, phase_congruency
  hdr_metrics         pu_psnr, pu_ssim, pu21_encode, to_absolute, log_hdr_error
  artifacts           block_pattern, block_artifact_excess, flat_region_stats,
                      noise_excess, smooth_mask
  colour              ciede2000, delta_e_lab, colourfulness, colourfulness_ratio
  perceptual          perceptual_available, cvvdp_jod (optional ColorVideoVDP)
`REGISTRY` maps each metric name of a report (metrics.json, per_image.csv) to its function,
kind ('ldr': display images, 'hdr': radiance) and direction; `compute_all` runs them.

Every metric takes `(pred, ref)` batched as `[..., H, W, C]` and returns one value per image,
shape `[...]`. LDR metrics expect display-encoded values in [0, 1]; HDR metrics expect linear
radiance >= 0. All but `ciede2000` (NumPy, skimage) and `cvvdp_jod` (PyTorch) are pure jnp
functions, jit-able (shapes are static: filters are built with
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
- CIEDE2000: `skimage.color.deltaE_ciede2000` (kL = kC = kH = 1) between `rgb2lab` of both
  images read as sRGB (D65, 2-degree observer), averaged over the pixels.
- Colourfulness: Hasler & Suesstrunk, "Measuring colourfulness in natural images", SPIE 2003,
  on the 0-255 scale; the report shows the output's and its ratio to the reference's.
"""

import functools
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from drht_jax.metrics.artifacts import (BLOCK_PERIOD, FLAT_SIGMA, block_artifact_excess,
                                        block_pattern, flat_region_stats, noise_excess,
                                        smooth_mask)
from drht_jax.metrics.colour import (COLOURFULNESS_FLOOR, ciede2000, colourfulness,
                                     colourfulness_ratio, delta_e_lab)
from drht_jax.metrics.feature_similarity import (
    FSIM_LAMBDA, FSIM_T1, FSIM_T2, FSIM_T3, FSIM_T4, PC_DTHETA_ON_SIGMA, PC_EPSILON, PC_K,
    PC_MIN_WAVELENGTH, PC_MULT, PC_NORIENT, PC_NSCALE, PC_SIGMA_ONF, SCHARR_DX, SCHARR_DY, YIQ,
    fsim, fsim_both, fsim_downsample_factor, fsim_luminance, phase_congruency,
    phasecong_filters)
from drht_jax.metrics.fidelity import (SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_TRUNCATE,
                                       _check_pair, psnr, ssim)
from drht_jax.metrics.hdr_metrics import (DISPLAY_PEAK_CD_M2, PU21_BANDING_GLARE, PU21_L_MAX,
                                          PU21_L_MIN, PU21_PEAK, log_hdr_error, pu21_encode,
                                          pu_psnr, pu_ssim, to_absolute)
from drht_jax.metrics.perceptual import PERCEPTUAL_HINT, cvvdp_jod, perceptual_available

# --- The registry: every metric a report shows.


class Metric(NamedTuple):
  """A registered metric: `fn(pred, ref) -> [...]` (one value per image of `[..., H, W, C]`),
  its kind ('ldr': display images in [0, 1] | 'hdr': linear radiance >= 0), whether it is
  pure jnp (`jit`: compiled together with the others) or NumPy, and `higher_is_better` (None:
  neither, e.g. colourfulness)."""
  fn: Callable
  kind: str
  jit: bool
  higher_is_better: Optional[bool]


REGISTRY = {
    "psnr": Metric(psnr, "ldr", True, True),
    "ssim": Metric(ssim, "ldr", True, True),
    "fsim": Metric(fsim, "ldr", True, True),
    "fsim_luminance": Metric(fsim_luminance, "ldr", True, True),
    "block_excess": Metric(block_artifact_excess, "ldr", True, False),
    "ciede2000": Metric(ciede2000, "ldr", False, False),
    "colourfulness": Metric(lambda pred, ref: colourfulness(pred), "ldr", True, None),
    "colourfulness_ratio": Metric(colourfulness_ratio, "ldr", True, None),
    "pu21_psnr": Metric(pu_psnr, "hdr", True, True),
    "pu21_ssim": Metric(pu_ssim, "hdr", True, True),
    "log_hdr_rmse": Metric(log_hdr_error, "hdr", True, False),
}


def names(kind):
  """Registered metric names of `kind` ('ldr' | 'hdr'), in registration order."""
  return tuple(n for n, m in REGISTRY.items() if m.kind == kind)


LDR_METRICS = names("ldr")
HDR_METRICS = names("hdr")


@functools.partial(jax.jit, static_argnames="names")
def _jit_metrics(pred, ref, names):
  out = {}
  if "fsim" in names or "fsim_luminance" in names:  # they share their phase congruency:
    out["fsim_luminance"], out["fsim"] = fsim_both(pred, ref)   # computed once
  for name in names:
    if name not in out:
      out[name] = REGISTRY[name].fn(pred, ref)
  return out


def _compute(names, pred, ref):
  """`names` (registered, of one kind) in registry order -> {name: NumPy `[...]`}."""
  pred, ref = jnp.asarray(pred, jnp.float32), jnp.asarray(ref, jnp.float32)
  jitted = tuple(n for n in names if REGISTRY[n].jit)
  out = {k: np.asarray(v) for k, v in _jit_metrics(pred, ref, jitted).items()} if jitted else {}
  for name in names:
    if not REGISTRY[name].jit:
      out[name] = np.asarray(REGISTRY[name].fn(pred, ref), np.float32)
  return {n: out[n] for n in names}


def compute_all(pred, ref, pred_hdr=None, ref_hdr=None, names=None):
  """Registered metrics per image as a dict of NumPy arrays of shape `[...]`.

  Args:
    pred, ref: `[..., H, W, 3]` LDR in [0, 1] -> `LDR_METRICS` ('psnr', 'ssim', 'fsim'
      (FSIMc), 'fsim_luminance', 'block_excess' (`block_artifact_excess`), 'ciede2000',
      'colourfulness' (the output's), 'colourfulness_ratio').
    pred_hdr, ref_hdr: optional linear radiance `[..., H, W, 3]` >= 0, both or neither ->
      also `HDR_METRICS` ('pu21_psnr', 'pu21_ssim', 'log_hdr_rmse').
    names: only these registered metrics (None: all); HDR ones only with the HDR pair.

  Returns:
    `{name: [...] float array}` in registry order. The jnp metrics of one kind are compiled
    together, once per shape and set of names.
  """
  if (pred_hdr is None) != (ref_hdr is None):
    raise ValueError("compute_all: pass both pred_hdr and ref_hdr, or neither")
  if names is not None and set(names) - set(REGISTRY):
    raise ValueError(f"compute_all: unknown metrics {sorted(set(names) - set(REGISTRY))}; "
                     f"registered: {list(REGISTRY)}")
  wanted = lambda registered: tuple(n for n in registered if names is None or n in names)
  out = _compute(wanted(LDR_METRICS), pred, ref)
  if pred_hdr is not None:
    out.update(_compute(wanted(HDR_METRICS), pred_hdr, ref_hdr))
  return out
