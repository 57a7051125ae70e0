"""Colour metrics (metrics/colour.py): CIEDE2000 and Hasler & Suesstrunk colourfulness."""

import numpy as np
import pytest
import skimage.data

from drht_jax import metrics

# Sharma, Wu & Dalal, "The CIEDE2000 color-difference formula: implementation notes,
# supplementary test data, and mathematical observations", Color Res. Appl. 30(1), 2005,
# Table 1: (L1, a1, b1), (L2, a2, b2), Delta E_00.
SHARMA_PAIRS = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),
    ((50.0000, -1.3802, -84.2814), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -1.1848, -84.8006), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -0.9009, -85.5211), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, -1.0000, 2.0000), (50.0000, 0.0000, 0.0000), 2.3669),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0009), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0010), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0012), 7.2195),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0009, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0010, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0011, -2.4900), 4.7461),
    ((50.0000, 2.5000, 0.0000), (50.0000, 0.0000, -2.5000), 4.3065),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.1736, 0.5854), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2972, 0.0000), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 1.8634, 0.5757), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2592, 0.3350), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def test_delta_e_matches_sharmas_published_pairs():
  lab1 = np.array([p[0] for p in SHARMA_PAIRS])
  lab2 = np.array([p[1] for p in SHARMA_PAIRS])
  expected = np.array([p[2] for p in SHARMA_PAIRS])
  np.testing.assert_allclose(metrics.delta_e_lab(lab1, lab2), expected, atol=1e-4)


def _photo():
  return skimage.data.astronaut()[::8, ::8].astype(np.float32) / 255.0   # 64x64x3


def _desaturate(image, amount):
  grey = image.mean(-1, keepdims=True)
  return (1 - amount) * image + amount * grey


def test_ciede2000_of_an_image_with_itself_is_zero():
  image = _photo()
  assert float(metrics.ciede2000(image[None], image[None])[0]) == pytest.approx(0.0, abs=1e-9)


def test_ciede2000_grows_as_the_output_loses_its_colours():
  image = _photo()
  scores = [float(metrics.ciede2000(_desaturate(image, a), image)) for a in (0.2, 0.5, 0.9)]
  assert 0 < scores[0] < scores[1] < scores[2]


def test_ciede2000_of_black_against_white_is_lab_lightness_100():
  black, white = np.zeros((1, 4, 4, 3)), np.ones((1, 4, 4, 3))
  assert float(metrics.ciede2000(black, white)[0]) == pytest.approx(100.0, abs=1e-3)


def test_colourfulness_of_a_grey_image_is_zero():
  grey = np.full((16, 16, 3), 0.4, np.float32)
  assert float(metrics.colourfulness(grey)) == pytest.approx(0.0, abs=1e-4)


def test_colourfulness_follows_hasler_suesstrunks_formula():
  rng = np.random.default_rng(0)
  image = rng.random((1, 12, 20, 3)).astype(np.float32)
  x = 255.0 * image[0].astype(np.float64)
  rg, yb = x[..., 0] - x[..., 1], 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
  expected = (np.sqrt(rg.std() ** 2 + yb.std() ** 2)
              + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))
  assert float(metrics.colourfulness(image)[0]) == pytest.approx(expected, rel=1e-4)


def test_colourfulness_ratio_is_below_one_for_a_washed_out_output():
  image = _photo()
  assert float(metrics.colourfulness_ratio(image, image)) == pytest.approx(1.0, rel=1e-6)
  assert float(metrics.colourfulness_ratio(_desaturate(image, 0.7), image)) < 0.5


def test_colourfulness_ratio_against_a_grey_reference_is_finite():
  grey = np.full((8, 8, 3), 0.5, np.float32)
  assert np.isfinite(float(metrics.colourfulness_ratio(_photo()[:8, :8], grey)))


def test_registry_names_every_report_metric_with_its_kind():
  assert set(metrics.names("ldr")) >= {"ciede2000", "colourfulness", "colourfulness_ratio"}
  assert metrics.REGISTRY["ciede2000"].higher_is_better is False
  assert metrics.names("hdr") == ("pu21_psnr", "pu21_ssim", "log_hdr_rmse")
