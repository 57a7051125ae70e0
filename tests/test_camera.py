"""The camera simulation (drht_jax/camera.py): sensor noise, curves, JPEG, the measured table."""

import io
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import skimage.data
import skimage.transform
from PIL import Image

from drht_jax import camera, hdr

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _psnr(a, b):
  return 10.0 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - np.asarray(b)) ** 2))


@pytest.fixture(scope="module")
def astronaut():
  """scikit-image's astronaut, 64x64 uint8: a small natural image with skin, sky and edges."""
  small = skimage.transform.resize(skimage.data.astronaut(), (64, 64), anti_aliasing=True)
  return np.round(small * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def jpeg_fn():
  return jax.jit(camera.jpeg)


@pytest.fixture(scope="module")
def capture_fn():
  return jax.jit(camera.capture)


def _pillow_jpeg(image_u8, quality):
  buf = io.BytesIO()
  Image.fromarray(image_u8).save(buf, format="JPEG", quality=int(quality))
  return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")) / 255.0


def _radiance(seed=0, shape=(32, 48, 3)):
  """A log-normal radiance map normalised to log-average luminance 0.18."""
  rad = jnp.exp(1.5 * jax.random.normal(jax.random.PRNGKey(seed), shape))
  return hdr.normalize_exposure(rad)


def _params(**overrides):
  params = camera.sample_camera(jax.random.PRNGKey(3))
  params.update({k: jnp.asarray(v, params[k].dtype) for k, v in overrides.items()})
  return params


# --- sample_camera.

def test_sample_camera_same_key_gives_the_same_parameters():
  a = camera.sample_camera(jax.random.PRNGKey(7))
  b = camera.sample_camera(jax.random.PRNGKey(7))
  for name in a:
    np.testing.assert_array_equal(a[name], b[name])


def test_sample_camera_draws_inside_the_documented_ranges():
  p = jax.vmap(camera.sample_camera)(jax.random.split(jax.random.PRNGKey(0), 2000))
  assert camera.EV_RANGE[0] <= float(p["ev"].min()) and float(p["ev"].max()) <= camera.EV_RANGE[1]
  for name, (lo, hi) in (("full_well", camera.FULL_WELL_RANGE),
                         ("read_noise", camera.READ_NOISE_RANGE)):
    assert lo * 0.999 <= float(p[name].min()) and float(p[name].max()) <= hi * 1.001
  q = np.asarray(p["jpeg_quality"])
  assert q.min() == camera.JPEG_QUALITY_RANGE[0] and q.max() == camera.JPEG_QUALITY_RANGE[1]
  gains = np.log2(np.asarray(p["wb_gains"]))
  assert np.all(gains[:, 1] == 0) and np.abs(gains).max() <= camera.WB_STOPS + 1e-6
  kinds = np.bincount(np.asarray(p["crf_kind"]), minlength=len(camera.CRF_NAMES))
  assert np.all(kinds[:3] > 0)
  assert (kinds[3] > 0) == (camera.NUM_MEASURED > 0)
  assert 0 <= int(p["crf_index"].min()) and int(p["crf_index"].max()) < max(camera.NUM_MEASURED, 1)


# --- Sensor noise.

@pytest.mark.parametrize("ev", [-5.0, -2.0, 0.0])
def test_sensor_noise_variance_in_electrons_is_signal_plus_read_noise_squared(ev):
  full_well, read_noise = 10000.0, 5.0
  x = jnp.full((64, 64, 3), 0.18 * 2.0 ** ev, jnp.float32)
  noisy = camera.sensor(jax.random.PRNGKey(0), x, full_well, read_noise)
  electrons = np.asarray(noisy, np.float64) * full_well
  signal = 0.18 * 2.0 ** ev * full_well
  assert electrons.mean() == pytest.approx(signal, rel=0.01)
  assert electrons.var() == pytest.approx(signal + read_noise ** 2, rel=0.05)


def test_sensor_clips_at_the_full_well_and_the_black_level():
  x = jnp.array([[[-1.0, 0.0, 3.0]]], jnp.float32)
  noisy = np.asarray(camera.sensor(jax.random.PRNGKey(0), x, 1000.0, 5.0))
  assert noisy.min() >= 0.0 and noisy[0, 0, 2] == 1.0


def test_darker_captures_of_a_flat_patch_have_a_lower_signal_to_noise_ratio(capture_fn):
  flat = jnp.full((32, 32, 3), 0.18, jnp.float32)
  snr = []
  for ev in (0.0, -3.0):
    out = capture_fn(jax.random.PRNGKey(1), flat,
                     _params(ev=ev, crf_kind=2, jpeg_quality=100, full_well=2000.0,
                             read_noise=4.0, wb_gains=[1.0, 1.0, 1.0]))
    linear = np.asarray(camera.srgb_decode(np.asarray(out)))[..., 1]
    snr.append(linear.mean() / linear.std())
  assert snr[1] < 0.6 * snr[0]


# --- capture.

def test_capture_with_the_same_key_is_bit_identical(capture_fn):
  rad, params = _radiance(), _params()
  a = capture_fn(jax.random.PRNGKey(5), rad, params)
  b = capture_fn(jax.random.PRNGKey(5), rad, params)
  np.testing.assert_array_equal(a, b)


def test_capture_with_another_key_draws_other_noise(capture_fn):
  rad, params = _radiance(), _params(ev=-2.0, full_well=3000.0)
  a = capture_fn(jax.random.PRNGKey(5), rad, params)
  b = capture_fn(jax.random.PRNGKey(6), rad, params)
  assert np.mean(np.asarray(a) != np.asarray(b)) > 0.1


def test_capture_output_is_on_8_bit_levels_in_the_unit_range(capture_fn):
  out = np.asarray(capture_fn(jax.random.PRNGKey(0), _radiance(), _params(ev=2.0)))
  assert out.shape == (32, 48, 3) and out.dtype == np.float32
  assert out.min() >= 0.0 and out.max() <= 1.0
  np.testing.assert_allclose(out * 255.0, np.round(out * 255.0), atol=1e-4)


def test_capture_under_vmap_equals_a_loop_of_single_captures(capture_fn):
  keys = jax.random.split(jax.random.PRNGKey(11), 3)
  params = jax.vmap(camera.sample_camera)(keys)
  rads = jnp.stack([_radiance(s) for s in range(3)])
  batch = jax.jit(jax.vmap(camera.capture))(keys, rads, params)
  for i in range(3):
    one = capture_fn(keys[i], rads[i], jax.tree.map(lambda v, i=i: v[i], params))
    np.testing.assert_array_equal(batch[i], one)


def test_capture_clips_radiance_above_the_white_point_to_white(capture_fn):
  bright = jnp.full((16, 16, 3), 0.18, jnp.float32)
  out = capture_fn(jax.random.PRNGKey(0), bright,
                   _params(ev=3.0, wb_gains=[1.0, 1.0, 1.0], jpeg_quality=95))
  assert float(out.min()) == 1.0


def test_white_balance_gains_tint_a_grey_capture(capture_fn):
  grey = jnp.full((16, 16, 3), 0.18, jnp.float32)
  out = np.asarray(capture_fn(jax.random.PRNGKey(0), grey,
                              _params(ev=0.0, crf_kind=2, jpeg_quality=100, full_well=40000.0,
                                      wb_gains=[1.1, 1.0, 0.9])))
  red, green, blue = out[..., 0].mean(), out[..., 1].mean(), out[..., 2].mean()
  assert red > green > blue


def test_capture_refuses_a_batch_with_a_clear_error():
  with pytest.raises(ValueError, match=r"expected radiance \[H, W, 3\]"):
    camera.capture(jax.random.PRNGKey(0), jnp.zeros((2, 8, 8, 3)), _params())


# --- Camera curves.

@pytest.mark.parametrize("kind, param", [(0, 1.8), (0, 2.6), (1, 0.6), (1, 1.2), (2, 0.0)])
def test_parametric_curves_are_increasing_from_zero_to_one(kind, param):
  x = jnp.repeat(jnp.linspace(0, 1, 257)[:, None], 3, axis=1)
  y = np.asarray(camera.apply_curve(x, kind, param, 0))
  np.testing.assert_allclose(y[0], 0.0, atol=1e-6)
  np.testing.assert_allclose(y[-1], 1.0, atol=1e-5)
  assert np.all(np.diff(y, axis=0) > 0)


def test_srgb_decode_inverts_srgb_encode():
  x = np.linspace(0, 1, 1001, dtype=np.float32)
  np.testing.assert_allclose(camera.srgb_decode(np.asarray(camera.srgb_encode(x))), x, atol=1e-6)


def test_measured_curve_maps_each_knot_to_its_8_bit_level():
  inverse = np.asarray(camera.MEASURED_CURVES[0])
  y = np.asarray(camera.apply_measured_curve(jnp.asarray(inverse), jnp.asarray(inverse)))
  np.testing.assert_allclose(y * 255.0, np.arange(256)[:, None].repeat(3, 1), atol=1e-3)


@pytest.mark.skipif(not os.path.exists(camera.CURVES_FILE), reason="no measured table")
def test_measured_table_is_strictly_increasing_and_spans_zero_to_one():
  curves, names = camera.load_curves()
  assert curves.shape[0] == len(names) >= 1
  assert np.all(np.diff(curves, axis=1) > 0)
  np.testing.assert_array_equal(curves[:, 0], 0.0)
  np.testing.assert_allclose(curves[:, -1], 1.0, atol=1e-6)


def test_load_curves_names_the_file_when_it_is_not_a_table(tmp_path):
  path = tmp_path / "bad.npz"
  np.savez(path, curves=np.zeros((2, 10, 3)), names=np.array(["a", "b"]))
  with pytest.raises(ValueError, match="bad.npz"):
    camera.load_curves(str(path))


# --- JPEG.

@pytest.mark.parametrize("quality", [50, 90])
def test_jpeg_round_trip_matches_pillow(astronaut, jpeg_fn, quality):
  ours = np.asarray(jpeg_fn(jnp.asarray(astronaut / 255.0, jnp.float32), quality))
  pillow = _pillow_jpeg(astronaut, quality)
  original = astronaut / 255.0
  assert _psnr(ours, pillow) > 38.0
  assert abs(_psnr(ours, original) - _psnr(pillow, original)) < 0.5


def test_jpeg_at_quality_100_keeps_luma_within_one_level(astronaut, jpeg_fn):
  # At quality 100 every quantiser step is 1: only rounding and 4:2:0 chroma are lost, so the
  # JFIF luma comes back within about half a level (Pillow: 0.46 RMS on this image).
  original = jnp.asarray(astronaut / 255.0, jnp.float32)
  ours = jpeg_fn(original, 100)
  luma = lambda rgb: np.asarray(camera.rgb_to_ycbcr(rgb * 255.0))[..., 0]
  assert np.sqrt(np.mean((luma(ours) - luma(original)) ** 2)) < 1.0


def test_jpeg_error_grows_as_the_quality_drops(astronaut, jpeg_fn):
  original = jnp.asarray(astronaut / 255.0, jnp.float32)
  psnrs = [_psnr(jpeg_fn(original, q), original) for q in (100, 90, 70, 50, 20, 5)]
  assert np.all(np.diff(psnrs) < 0), psnrs


def test_jpeg_keeps_a_size_that_is_not_a_multiple_of_16(jpeg_fn):
  image = jax.random.uniform(jax.random.PRNGKey(0), (20, 27, 3))
  assert jpeg_fn(image, 90).shape == (20, 27, 3)


def test_ijg_quality_scaling_matches_the_reference_values():
  # libjpeg: quality 50 is the Annex K table itself, 100 all ones, 25 twice the table.
  np.testing.assert_array_equal(camera.quant_table(camera.JPEG_LUMA_TABLE, 50),
                                camera.JPEG_LUMA_TABLE)
  np.testing.assert_array_equal(camera.quant_table(camera.JPEG_LUMA_TABLE, 100), np.ones((8, 8)))
  np.testing.assert_array_equal(camera.quant_table(camera.JPEG_LUMA_TABLE, 25),
                                np.minimum(camera.JPEG_LUMA_TABLE * 2, 255))


# --- Fitting measured curves.

def _write_synthetic_stack(folder, curve, evs=(-3.0, -1.5, 0.0, 1.5, 3.0)):
  """A 48x64 stack of a known scene through a known curve (linear [0,1] -> [0,1]), PNG frames;
  returns the frames `[N, H, W, 3]` uint8."""
  os.makedirs(folder, exist_ok=True)
  ramp = np.exp2(np.linspace(-9.0, 1.0, 64))[None, :, None]
  tint = np.stack([np.linspace(0.6, 1.0, 48), np.full(48, 0.8), np.linspace(1.0, 0.5, 48)], -1)
  radiance = ramp * tint[:, None, :]
  frames = []
  for i, ev in enumerate(evs):
    frame = np.round(np.clip(curve(np.clip(radiance * 2.0 ** ev, 0, 1)), 0, 1) * 255)
    frames.append(frame.astype(np.uint8))
    Image.fromarray(frames[-1]).save(os.path.join(folder, f"frame_{i:02d}.png"))
  return np.stack(frames)


def test_fit_curve_recovers_a_known_curve_up_to_the_exponential_ambiguity(tmp_path):
  truth = lambda x: np.asarray(hdr.crf_sigmoid(jnp.asarray(x, jnp.float32), 0.8))
  frames = _write_synthetic_stack(str(tmp_path / "s"), truth)
  fitted = camera.fit_curve(frames)[:, 1]
  levels = np.arange(24, 232)
  # The truth's inverse at those levels, by interpolation of the forward curve.
  grid = np.linspace(0, 1, 100001)
  true_inverse = np.interp(levels / 255.0, truth(grid), grid)
  a, b = np.log(fitted[levels]), np.log(true_inverse)
  k = np.sum(a * b) / np.sum(a * a)
  assert np.max(np.abs(k * a - b)) / np.log(2) < 0.25     # stops


def test_fit_curves_script_writes_the_table_that_fit_curve_gives(tmp_path):
  root = tmp_path / "stacks"
  srgb = lambda x: np.asarray(camera.srgb_encode(x))
  frames = {n: _write_synthetic_stack(str(root / "train" / n), srgb) for n in ("a", "b")}
  _write_synthetic_stack(str(root / "test" / "c"), srgb)
  output = str(tmp_path / "curves.npz")
  subprocess.run([sys.executable, "-m", "drht_jax.camera", f"--fit-curves={root}",
                  f"--output={output}"], cwd=REPO, check=True, capture_output=True)
  curves, names = camera.load_curves(output)
  assert names == [os.path.join("train", "a"), os.path.join("train", "b")]
  # The script reads the PNGs as float32 in [0, 1]; so does this reference.
  np.testing.assert_allclose(curves[0], camera.fit_curve(frames["a"].astype(np.float32) / 255),
                             atol=1e-6)


# --- Noise statistic.

def test_noise_profile_measures_the_std_of_white_noise_in_8_bit_levels():
  rng = np.random.default_rng(0)
  image = np.clip(np.round(60.0 + 3.0 * rng.standard_normal((96, 96, 3))), 0, 255)
  profile = camera.noise_profile(image.astype(np.uint8))
  bin_of_60 = camera.NOISE_BINS.index(32)
  assert profile[bin_of_60] == pytest.approx(3.0, rel=0.1)
  assert np.all(np.isnan(np.delete(profile, bin_of_60)))


def test_noise_profile_leaves_out_textured_pixels():
  ramp = np.repeat(np.repeat(np.linspace(10, 240, 96)[None, :, None], 96, 0), 3, 2) / 255.0
  assert np.all(np.isnan(camera.noise_profile(ramp)))   # 2.4 levels per pixel: not flat


def test_noise_report_sees_more_noise_in_captures_with_a_smaller_full_well(tmp_path):
  # A 64x64 scene: a radiance ramp on the left (for the response), flat bands on the right.
  ramp = np.exp2(np.linspace(-9.0, 1.0, 64 * 32)).reshape(64, 32)
  bands = np.repeat(np.exp2(np.array([-7.0, -5.5, -4.0, -2.5])), 16)[:, None] * np.ones((1, 32))
  radiance = np.repeat(np.concatenate([ramp, bands], axis=1)[..., None], 3, axis=-1)
  folder = tmp_path / "scene"
  folder.mkdir()
  for i, ev in enumerate((-2.0, 0.0, 2.0)):
    frame = np.asarray(camera.srgb_encode(np.clip(radiance * 2.0 ** ev, 0, 1)))
    Image.fromarray(np.round(frame * 255).astype(np.uint8)).save(folder / f"frame_{i}.png")
  real, synthetic, kept, evs = camera.noise_report(str(tmp_path), ["scene"],
                                                   [(1e6, 1.0), (300.0, 8.0)], size=64)
  assert kept == ["scene"] and evs.shape == (1,) and evs[0] < 0
  assert real.shape == (1, len(camera.NOISE_BINS) - 1) and synthetic.shape == (2,) + real.shape
  seen = np.isfinite(synthetic[0, 0]) & np.isfinite(synthetic[1, 0])
  assert seen.any() and np.all(synthetic[1, 0][seen] > synthetic[0, 0][seen])


def test_noise_figure_is_written_as_a_png_even_with_empty_bins(tmp_path):
  bins = len(camera.NOISE_BINS) - 1
  real = np.full((2, bins), np.nan)
  real[:, :3] = [[0.5, 0.7, 0.9], [1.0, 1.2, 1.5]]
  synthetic = np.stack([real, 3 * real])
  path = str(tmp_path / "noise.png")
  camera.draw_noise_figure(path, real, synthetic, [(1e9, 0.0), (3000.0, 8.0)])
  assert Image.open(path).size == (640, 360)
  assert os.listdir(tmp_path) == ["noise.png"]
