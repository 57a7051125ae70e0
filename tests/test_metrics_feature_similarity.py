"""Specifies drht_jax/metrics/feature_similarity.py: FSIM against a NumPy FeatureSIM.m."""

import jax
import numpy as np
import pytest
from scipy.signal import convolve2d
from skimage import filters

from drht_jax import metrics
from tests.metric_inputs import _distort, _f32, _photo

# FSIM: an independent NumPy transcription of FeatureSIM.m / phasecong2 (loops, float64).


def _np_freq(n):
  if n % 2:
    return np.arange(-(n - 1) / 2, (n - 1) / 2 + 1) / (n - 1)
  return np.arange(-n / 2, n / 2) / n


def _np_conv2_same(x, kernel):
  """MATLAB conv2(x, k, 'same'): the full convolution's central part from row floor(kh / 2)."""
  full = convolve2d(x, kernel, mode="full")
  r0, c0 = kernel.shape[0] // 2, kernel.shape[1] // 2
  return full[r0:r0 + x.shape[0], c0:c0 + x.shape[1]]


def _np_phasecong2(im):
  nscale, norient, min_wl, mult, sigma_onf, dtheta_on_sigma, k, eps = (
      4, 4, 6.0, 2.0, 0.55, 1.2, 2.0, 1e-4)
  theta_sigma = np.pi / norient / dtheta_on_sigma
  rows, cols = im.shape
  imagefft = np.fft.fft2(im)
  x, y = np.meshgrid(_np_freq(cols), _np_freq(rows))
  radius = np.fft.ifftshift(np.sqrt(x**2 + y**2))
  theta = np.fft.ifftshift(np.arctan2(-y, x))
  radius[0, 0] = 1.0
  sintheta, costheta = np.sin(theta), np.cos(theta)
  lp = np.fft.ifftshift(1.0 / (1.0 + (np.sqrt(x**2 + y**2) / 0.45) ** (2 * 15)))
  log_gabor = []
  for s in range(nscale):
    fo = 1.0 / (min_wl * mult**s)
    g = np.exp(-(np.log(radius / fo)) ** 2 / (2 * np.log(sigma_onf) ** 2)) * lp
    g[0, 0] = 0.0
    log_gabor.append(g)
  energy_all = np.zeros((rows, cols))
  an_all = np.zeros((rows, cols))
  for o in range(norient):
    angl = o * np.pi / norient
    ds = sintheta * np.cos(angl) - costheta * np.sin(angl)
    dc = costheta * np.cos(angl) + sintheta * np.sin(angl)
    spread = np.exp(-np.abs(np.arctan2(ds, dc)) ** 2 / (2 * theta_sigma**2))
    sum_e, sum_o, sum_an = np.zeros((rows, cols)), np.zeros((rows, cols)), np.zeros((rows, cols))
    eo, ifft_filters = [], []
    for s in range(nscale):
      filt = log_gabor[s] * spread
      ifft_filters.append(np.real(np.fft.ifft2(filt)) * np.sqrt(rows * cols))
      eo.append(np.fft.ifft2(imagefft * filt))
      sum_an += np.abs(eo[s])
      sum_e += np.real(eo[s])
      sum_o += np.imag(eo[s])
      if s == 0:
        em_n = np.sum(filt**2)
    x_energy = np.sqrt(sum_e**2 + sum_o**2) + eps
    mean_e, mean_o = sum_e / x_energy, sum_o / x_energy
    energy = np.zeros((rows, cols))
    for s in range(nscale):
      e, od = np.real(eo[s]), np.imag(eo[s])
      energy += e * mean_e + od * mean_o - np.abs(e * mean_o - od * mean_e)
    median_e2n = np.median(np.abs(eo[0]).ravel() ** 2)
    noise_power = (-median_e2n / np.log(0.5)) / em_n
    est_sum_an2 = sum(f**2 for f in ifft_filters)
    est_sum_aiaj = np.zeros((rows, cols))
    for si in range(nscale - 1):
      for sj in range(si + 1, nscale):
        est_sum_aiaj += ifft_filters[si] * ifft_filters[sj]
    est_noise_energy2 = (2 * noise_power * est_sum_an2.sum()
                         + 4 * noise_power * est_sum_aiaj.sum())
    tau = np.sqrt(est_noise_energy2 / 2)
    threshold = (tau * np.sqrt(np.pi / 2) + k * np.sqrt((2 - np.pi / 2) * tau**2)) / 1.7
    energy_all += np.maximum(energy - threshold, 0.0)
    an_all += sum_an
  return energy_all / an_all


def _np_feature_sim(image_ref, image_dis):
  """FeatureSIM.m on 0-255 RGB float64 images -> (FSIM, FSIMc, any negative I*Q similarity)."""
  rows, cols = image_ref.shape[:2]

  def yiq(im):
    r, g, b = im[..., 0], im[..., 1], im[..., 2]
    return (0.299 * r + 0.587 * g + 0.114 * b, 0.596 * r - 0.274 * g - 0.322 * b,
            0.211 * r - 0.523 * g + 0.312 * b)

  f = max(1, int(np.floor(min(rows, cols) / 256 + 0.5)))
  ave = np.ones((f, f)) / f**2
  y1, i1, q1 = (_np_conv2_same(c, ave)[::f, ::f] for c in yiq(image_ref))
  y2, i2, q2 = (_np_conv2_same(c, ave)[::f, ::f] for c in yiq(image_dis))
  pc1, pc2 = _np_phasecong2(y1), _np_phasecong2(y2)
  dx = np.array([[3, 0, -3], [10, 0, -10], [3, 0, -3]]) / 16
  dy = np.array([[3, 10, 3], [0, 0, 0], [-3, -10, -3]]) / 16
  g1 = np.sqrt(_np_conv2_same(y1, dx) ** 2 + _np_conv2_same(y1, dy) ** 2)
  g2 = np.sqrt(_np_conv2_same(y2, dx) ** 2 + _np_conv2_same(y2, dy) ** 2)
  pc_sim = (2 * pc1 * pc2 + 0.85) / (pc1**2 + pc2**2 + 0.85)
  g_sim = (2 * g1 * g2 + 160) / (g1**2 + g2**2 + 160)
  pcm = np.maximum(pc1, pc2)
  sim = g_sim * pc_sim * pcm
  i_sim = (2 * i1 * i2 + 200) / (i1**2 + i2**2 + 200)
  q_sim = (2 * q1 * q2 + 200) / (q1**2 + q2**2 + 200)
  iq = i_sim * q_sim
  chroma = np.real(np.power(iq.astype(complex), 0.03))
  return sim.sum() / pcm.sum(), (sim * chroma).sum() / pcm.sum(), bool(np.any(iq < 0))


@pytest.fixture(scope="module")
def jit_fsim_both():
  return jax.jit(metrics.fsim_both)


FSIM_CASES = [
    # (photo, crop, distortion): 512x512 takes FeatureSIM.m's 2x2 downsampling path; the
    # odd-sized crop the odd branch of phasecong2's frequency grid; 'swap' (RGB -> BGR) makes
    # I*Q similarities negative, the complex-power branch of FSIMc.
    ("astronaut", (512, 512), "noise"),
    ("coffee", (199, 301), "blur"),
    ("chelsea", (192, 256), "jpeg"),
    ("coffee", (192, 256), "swap"),
]


@pytest.mark.parametrize("name, size, kind", FSIM_CASES)
def test_fsim_matches_independent_numpy_feature_sim(jit_fsim_both, name, size, kind):
  ref = _photo(name, size)
  pred = ref[..., ::-1].copy() if kind == "swap" else _distort(ref, kind)
  want_lum, want_color, has_negative_iq = _np_feature_sim(255 * ref, 255 * pred)
  if kind == "swap":
    assert has_negative_iq
  got_lum, got_color = jit_fsim_both(_f32(pred), _f32(ref))
  assert float(got_lum) == pytest.approx(want_lum, abs=2e-5)
  assert float(got_color) == pytest.approx(want_color, abs=2e-5)


def test_fsim_of_identical_images_is_one(jit_fsim_both, photos):
  x = _f32(photos["chelsea"])
  lum, color = jit_fsim_both(x, x)
  assert float(lum) == pytest.approx(1.0, abs=1e-6)
  assert float(color) == pytest.approx(1.0, abs=1e-6)


def test_fsim_is_symmetric(jit_fsim_both, photos):
  ref = photos["astronaut"]
  pred = _distort(ref, "jpeg")
  ab = jit_fsim_both(_f32(pred), _f32(ref))
  ba = jit_fsim_both(_f32(ref), _f32(pred))
  np.testing.assert_allclose(np.asarray(ab), np.asarray(ba), atol=1e-6)


def test_fsim_decreases_with_growing_noise(jit_fsim_both, photos):
  ref = photos["coffee"]
  rng = np.random.default_rng(3)
  noise = rng.normal(size=ref.shape)
  preds = np.stack([np.clip(ref + s * noise, 0, 1) for s in (0.01, 0.03, 0.1, 0.2)])
  lum, color = jit_fsim_both(_f32(preds), _f32(np.broadcast_to(ref, preds.shape)))
  assert np.all(np.diff(np.asarray(lum)) < 0) and np.all(np.diff(np.asarray(color)) < 0)


def test_fsim_decreases_with_growing_blur(jit_fsim_both, photos):
  ref = photos["chelsea"]
  preds = np.stack([filters.gaussian(ref, sigma=s, channel_axis=-1) for s in (0.7, 1.5, 3.0)])
  lum, color = jit_fsim_both(_f32(preds), _f32(np.broadcast_to(ref, preds.shape)))
  assert np.all(np.diff(np.asarray(lum)) < 0) and np.all(np.diff(np.asarray(color)) < 0)


def test_fsim_public_functions_return_fsimc_and_luminance_fsim(photos):
  ref = photos["coffee"][:64, :96]
  pred = ref[..., ::-1]  # a pure colour change: luminance structure kept, chroma not
  lum = float(metrics.fsim_luminance(_f32(pred), _f32(ref)))
  color = float(metrics.fsim(_f32(pred), _f32(ref)))
  assert color < lum


@pytest.mark.parametrize("shape, factor", [((256, 512), 1), ((128, 64), 1), ((384, 600), 2),
                                           ((640, 700), 3), ((1024, 2048), 4)])
def test_fsim_downsample_factor_rounds_half_away_from_zero_like_matlab(shape, factor):
  assert metrics.fsim_downsample_factor(*shape) == factor
