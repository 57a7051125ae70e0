"""Tests of drht_jax.imageio_utils: LDR/HDR reading, writing, conversions and errors."""

import os
import struct

import numpy as np
import OpenEXR
import pytest
from PIL import Image, ImageFile

from drht_jax import imageio_utils as iu


def _rgb(height=16, width=32, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _radiance(height=8, width=16, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.random((height, width, 3)) * 10.0).astype(np.float32)


def _truncate(path, fraction=0.5):
  data = open(path, "rb").read()
  with open(path, "wb") as f:
    f.write(data[:int(len(data) * fraction)])


# --- LDR.

def test_png_round_trip_is_exact(tmp_path):
  image = _rgb()
  iu.write_ldr(tmp_path / "a.png", image)
  out = iu.read_ldr(tmp_path / "a.png")
  assert out.pixels.dtype == np.float32 and out.pixels.shape == (16, 32, 3)
  np.testing.assert_array_equal(np.round(out.pixels * 255).astype(np.uint8), image)
  assert out.bit_depth == 8 and out.conversions == ()


def test_write_ldr_rounds_floats_to_nearest_level(tmp_path):
  image = np.full((4, 8, 3), 100.4 / 255.0)
  image[0, 0] = 100.6 / 255.0
  iu.write_ldr(tmp_path / "f.png", image)
  got = np.asarray(Image.open(tmp_path / "f.png"))
  assert got[1, 1, 0] == 100 and got[0, 0, 0] == 101


def test_jpeg_written_at_high_quality(tmp_path):
  image = np.tile(np.linspace(0, 1, 64)[None, :, None], (32, 1, 3))
  iu.write_ldr(tmp_path / "a.jpg", image)
  out = iu.read_ldr(tmp_path / "a.jpg")
  assert np.abs(out.pixels - image).max() < 4 / 255


def test_write_ldr_creates_parents_and_leaves_no_temp_file(tmp_path):
  iu.write_ldr(tmp_path / "x" / "y" / "a.png", _rgb())
  assert os.listdir(tmp_path / "x" / "y") == ["a.png"]


def test_write_ldr_rejects_unknown_extension(tmp_path):
  with pytest.raises(ValueError, match="unknown image extension"):
    iu.write_ldr(tmp_path / "a.xyz", _rgb())
  assert not os.listdir(tmp_path)


def test_grayscale_is_replicated_to_rgb(tmp_path):
  gray = _rgb()[..., 0]
  Image.fromarray(gray, "L").save(tmp_path / "g.png")
  out = iu.read_ldr(tmp_path / "g.png")
  for c in range(3):
    np.testing.assert_array_equal(np.round(out.pixels[..., c] * 255), gray)
  assert any("grayscale" in c for c in out.conversions)


def test_rgba_drops_alpha_without_compositing(tmp_path):
  rgba = np.concatenate([_rgb(), np.zeros((16, 32, 1), np.uint8)], axis=-1)
  Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
  out = iu.read_ldr(tmp_path / "a.png")
  np.testing.assert_array_equal(np.round(out.pixels * 255).astype(np.uint8), rgba[..., :3])
  assert any("alpha dropped" in c for c in out.conversions)


def test_16bit_grayscale_png_keeps_full_precision(tmp_path):
  values = np.arange(16 * 32, dtype=np.uint16).reshape(16, 32) * 127 + 1
  Image.fromarray(values).save(tmp_path / "g16.png")
  out = iu.read_ldr(tmp_path / "g16.png")
  assert out.bit_depth == 16
  np.testing.assert_allclose(out.pixels[..., 1], values / 65535.0, rtol=0, atol=1e-7)


def test_16bit_rgb_png_keeps_full_precision(tmp_path):
  mitsuba = pytest.importorskip("mitsuba")
  values = np.random.default_rng(1).integers(0, 65536, (8, 16, 3)).astype(np.uint16)
  mitsuba.Bitmap(values, pixel_format=mitsuba.Bitmap.PixelFormat.RGB).write(
      str(tmp_path / "c16.png"))
  out = iu.read_ldr(tmp_path / "c16.png")
  assert out.bit_depth == 16
  np.testing.assert_allclose(out.pixels, values / 65535.0, rtol=0, atol=1e-7)


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_truncated_image_raises_naming_the_file(tmp_path, ext):
  path = tmp_path / f"t{ext}"
  iu.write_ldr(path, _rgb(64, 128))
  _truncate(path)
  with pytest.raises(iu.ImageReadError, match="truncated") as info:
    iu.read_ldr(path)
  assert str(info.value).startswith(str(path))


def test_truncated_jpeg_raises_even_if_pillow_was_told_to_accept_it(tmp_path):
  path = tmp_path / "t.jpg"
  iu.write_ldr(path, _rgb(64, 128))
  _truncate(path, 0.7)
  ImageFile.LOAD_TRUNCATED_IMAGES = True
  try:
    with pytest.raises(iu.ImageReadError):
      iu.read_ldr(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is restored
  finally:
    ImageFile.LOAD_TRUNCATED_IMAGES = False


def test_non_image_file_raises(tmp_path):
  path = tmp_path / "notes.jpg"
  path.write_text("this is not a JPEG")
  with pytest.raises(iu.ImageReadError, match="not an image") as info:
    iu.read_ldr(path)
  assert str(info.value).startswith(str(path))


def test_missing_file_raises_file_not_found(tmp_path):
  with pytest.raises(FileNotFoundError):
    iu.read_ldr(tmp_path / "nope.png")


# --- HDR.

def test_exr_float32_round_trip_is_exact(tmp_path):
  radiance = _radiance()
  iu.write_hdr(tmp_path / "a.exr", radiance)
  np.testing.assert_array_equal(iu.read_hdr(tmp_path / "a.exr"), radiance)


def test_exr_half_round_trip_within_half_precision(tmp_path):
  radiance = _radiance()
  iu.write_hdr(tmp_path / "h.exr", radiance, dtype=np.float16)
  np.testing.assert_allclose(iu.read_hdr(tmp_path / "h.exr"), radiance, rtol=1e-3)


def test_half_exr_refuses_values_beyond_half_range(tmp_path):
  with pytest.raises(ValueError, match="overflows half"):
    iu.write_hdr(tmp_path / "h.exr", np.full((2, 2, 3), 1e5, np.float32), dtype=np.float16)


def test_single_channel_exr_is_replicated(tmp_path):
  y = np.ascontiguousarray(_radiance()[..., 0])  # OpenEXR's binding ignores strides
  header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
  with OpenEXR.File(header, {"Y": y}) as exr:
    exr.write(str(tmp_path / "y.exr"))
  radiance, conversions = iu.read_hdr_with_conversions(tmp_path / "y.exr")
  for c in range(3):
    np.testing.assert_array_equal(radiance[..., c], y)
  assert any("replicated" in c for c in conversions)


def test_exr_with_two_unrelated_channels_is_refused(tmp_path):
  header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
  y = _radiance()[..., 0]
  with OpenEXR.File(header, {"U": y, "V": y}) as exr:
    exr.write(str(tmp_path / "uv.exr"))
  with pytest.raises(iu.ImageReadError, match="channels"):
    iu.read_hdr(tmp_path / "uv.exr")


@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "Inf")])
def test_invalid_radiance_raises_with_pixel_count(tmp_path, value, word):
  radiance = _radiance()
  radiance[0, 0, 0] = radiance[3, 4, 2] = value
  path = tmp_path / "bad.exr"
  iu.write_hdr(path, radiance, allow_invalid=True)
  with pytest.raises(iu.ImageReadError, match=f"2 pixels with {word}") as info:
    iu.read_hdr(path)
  assert str(info.value).startswith(str(path))


def _write_exr_raw(path, radiance, compression):
  header = {"compression": compression, "type": OpenEXR.scanlineimage}
  channels = {c: np.ascontiguousarray(radiance[..., i]) for i, c in enumerate("RGB")}
  with OpenEXR.File(header, channels) as exr:
    exr.write(str(path))


def _read_exr_raw(path):
  with OpenEXR.File(str(path), separate_channels=True) as exr:
    return np.stack([np.asarray(exr.channels()[c].pixels, np.float32) for c in "RGB"], -1)


@pytest.mark.parametrize("compression", ["NO_COMPRESSION", "ZIP_COMPRESSION", "DWAA_COMPRESSION"])
def test_negative_exr_pixels_are_clamped_and_reported(tmp_path, compression):
  radiance = _radiance(32, 64)
  negatives = [(0, 0, 0), (3, 4, 2), (3, 4, 1), (10, 20, 1), (31, 63, 2)]  # 4 pixels
  for y, x, c in negatives:
    radiance[y, x, c] = -0.02
  path = tmp_path / "neg.exr"
  _write_exr_raw(path, radiance, getattr(OpenEXR, compression))
  raw = _read_exr_raw(path)  # DWAA is lossy (values move a little; the negatives stay)
  if compression != "DWAA_COMPRESSION":
    np.testing.assert_array_equal(raw, radiance)
  assert int(np.count_nonzero((raw < 0).any(axis=-1))) == 4
  got, conversions = iu.read_hdr_with_conversions(path)
  assert conversions == ("clamped 4 negative pixels to 0",)
  np.testing.assert_array_equal(got, np.maximum(raw, 0.0))
  assert got.dtype == np.float32 and got.min() == 0.0


def test_lossy_dwaa_half_exr_with_ringing_negatives_reads(tmp_path):
  # DWAA on half channels is lossy: a slightly negative band plus sharp edges, as in real files.
  rng = np.random.default_rng(1)
  radiance = np.where(rng.random((64, 64, 1)) < 0.5, 20.0, 0.001) * np.ones(3)
  radiance[8:12, 8:40] = -0.003
  path = tmp_path / "dwaa.exr"
  _write_exr_raw(path, radiance.astype(np.float16), OpenEXR.DWAA_COMPRESSION)
  raw = _read_exr_raw(path)
  n_negative = int(np.count_nonzero((raw < 0).any(axis=-1)))
  assert n_negative >= 1
  got, conversions = iu.read_hdr_with_conversions(path)
  assert conversions == (f"clamped {n_negative} negative pixels to 0",)
  np.testing.assert_array_equal(got, np.maximum(raw, 0.0))
  np.testing.assert_array_equal(iu.read_hdr(path), got)


def test_exr_without_negatives_reports_no_clamping(tmp_path):
  iu.write_hdr(tmp_path / "ok.exr", _radiance())
  assert iu.read_hdr_with_conversions(tmp_path / "ok.exr")[1] == ()


def test_nan_is_refused_even_with_negatives(tmp_path):
  radiance = _radiance()
  radiance[0, 0, 0], radiance[1, 1, 1] = np.nan, -1.0
  path = tmp_path / "nan_neg.exr"
  iu.write_hdr(path, radiance, allow_invalid=True)
  with pytest.raises(iu.ImageReadError, match="1 pixels with NaN") as info:
    iu.read_hdr(path)
  assert str(info.value).startswith(str(path))


def test_write_hdr_refuses_nan_by_default(tmp_path):
  radiance = _radiance()
  radiance[0, 0, 0] = np.nan
  with pytest.raises(ValueError, match="finite"):
    iu.write_hdr(tmp_path / "n.exr", radiance)


@pytest.mark.parametrize("name", ["t.exr", "t.hdr"])
def test_truncated_hdr_raises(tmp_path, name):
  path = tmp_path / name
  iu.write_hdr(path, _radiance(32, 64))
  _truncate(path)
  with pytest.raises(iu.ImageReadError, match="truncated") as info:
    iu.read_hdr(path)
  assert str(info.value).startswith(str(path))


def test_non_hdr_file_raises(tmp_path):
  for name in ("x.exr", "x.hdr"):
    (tmp_path / name).write_text("hello")
    with pytest.raises(iu.ImageReadError):
      iu.read_hdr(tmp_path / name)


def _rgbe_header(height, width):
  return f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {height} +X {width}\n".encode()


def test_radiance_flat_pixels_decode_like_radiance_colr_color(tmp_path):
  # (m + 0.5) * 2 ** (e - 136): (127, 63, 0, 129) -> (127.5, 63.5, 0.5) / 128; e = 0 -> black.
  pixels = bytes([127, 63, 0, 129, 9, 9, 9, 0])
  (tmp_path / "f.hdr").write_bytes(_rgbe_header(1, 2) + pixels)
  got = iu.read_hdr(tmp_path / "f.hdr")
  np.testing.assert_allclose(got[0, 0], [127.5 / 128, 63.5 / 128, 0.5 / 128], rtol=1e-6)
  np.testing.assert_array_equal(got[0, 1], [0, 0, 0])


def test_radiance_run_length_scanline_decodes(tmp_path):
  width = 8  # new RLE: per channel, a run of 8 (128 + 8) then the byte
  line = bytes([2, 2, 0, width]) + bytes([136, 127, 136, 63, 136, 0, 136, 129])
  (tmp_path / "r.hdr").write_bytes(_rgbe_header(1, width) + line)
  got = iu.read_hdr(tmp_path / "r.hdr")
  want = np.tile([127.5 / 128, 63.5 / 128, 0.5 / 128], (width, 1))
  np.testing.assert_allclose(got[0], want, rtol=1e-6)


def test_radiance_files_agree_with_mitsuba(tmp_path):
  mitsuba = pytest.importorskip("mitsuba")
  radiance = _radiance(12, 40)
  radiance[0, 0] = [1e5, 2.0, 0.0]
  iu.write_hdr(tmp_path / "ours.hdr", radiance)
  mitsuba.Bitmap(radiance).write(str(tmp_path / "theirs.hdr"))
  ours_read_by_mitsuba = np.array(mitsuba.Bitmap(str(tmp_path / "ours.hdr")))
  theirs_read_by_us = iu.read_hdr(tmp_path / "theirs.hdr")
  scale = radiance.max(axis=-1, keepdims=True)  # RGBE error is relative to the brightest
  assert np.max(np.abs(ours_read_by_mitsuba - radiance) / scale) < 1 / 128
  assert np.max(np.abs(theirs_read_by_us - radiance) / scale) < 1 / 128


# --- Geometry.

def test_center_crop_cuts_the_longer_side_symmetrically():
  wide = np.arange(10 * 30).reshape(10, 30)
  np.testing.assert_array_equal(iu.center_crop_to_aspect(wide, 2.0), wide[:, 5:25])
  tall = np.arange(20 * 20).reshape(20, 20)
  np.testing.assert_array_equal(iu.center_crop_to_aspect(tall, 2.0), tall[5:15])


def test_resize_area_integer_factor_is_block_mean():
  x = np.random.default_rng(0).random((8, 12, 3))
  want = x.reshape(4, 2, 4, 3, 3).mean(axis=(1, 3))
  np.testing.assert_allclose(iu.resize_area(x, 4, 4), want, rtol=1e-6)


def test_resize_area_fractional_footprints():
  # 3 rows -> 2: row 0 = (r0 + r1 / 2) / 1.5, row 1 = (r1 / 2 + r2) / 1.5.
  x = np.array([0.0, 3.0, 6.0]).reshape(3, 1, 1)
  np.testing.assert_allclose(iu.resize_area(x, 2, 1)[:, 0, 0], [1.0, 5.0], rtol=1e-6)


def test_resize_area_preserves_mean_radiance():
  x = _radiance(37, 81)
  assert iu.resize_area(x, 16, 32).mean() == pytest.approx(x.mean(), rel=1e-5)


# --- Real HDR files read_hdr used to refuse (issue 16).

def _scene(height=6, width=10, seed=0):
  return (np.random.default_rng(seed).random((height, width, 3)) * 3 + 0.05).astype(np.float32)


def test_radiance_file_with_a_view_line_before_the_magic_is_read(tmp_path):
  # Debevec's original memorial.hdr starts with "VIEW= ..." before "#?RADIANCE".
  radiance = _scene()
  plain = tmp_path / "plain.hdr"
  iu.write_hdr(plain, radiance)
  odd = tmp_path / "memorial_like.hdr"
  odd.write_bytes(b"VIEW= -vtv -vp 0 0 0 -vd 0 0 -1 -vu 0 1 0 -vh 45 -vv 45\n"
                  + plain.read_bytes())
  image, notes = iu.read_hdr_with_conversions(odd)
  np.testing.assert_array_equal(image, iu.read_hdr(plain))
  assert any("before the '#?' magic" in n for n in notes)


def test_text_before_a_missing_magic_is_still_refused(tmp_path):
  path = tmp_path / "text.hdr"
  path.write_bytes(b"VIEW= something\n\nnot a radiance file\n")
  with pytest.raises(iu.ImageReadError, match="no '#\\?' magic"):
    iu.read_hdr(path)


def _write_exr_channels(path, channels, **header):
  header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage, **header}
  with OpenEXR.File(header, {k: np.ascontiguousarray(v, np.float32)
                             for k, v in channels.items()}) as exr:
    exr.write(str(path))


def test_luminance_weights_of_rec709_are_the_standard_ones():
  np.testing.assert_allclose(iu.luminance_weights(), [0.2126, 0.7152, 0.0722], atol=1e-4)


def test_luminance_chroma_exr_is_converted_to_rgb(tmp_path):
  rgb = _scene()
  rgb[0, 0] = 0.7  # a grey pixel: RY = BY = 0
  w = iu.luminance_weights()
  y = rgb @ w
  path = tmp_path / "yc.exr"
  _write_exr_channels(path, {"Y": y, "RY": (rgb[..., 0] - y) / y, "BY": (rgb[..., 2] - y) / y})
  image, notes = iu.read_hdr_with_conversions(path)
  np.testing.assert_allclose(image, rgb, rtol=1e-4)
  assert "luminance/chroma (Y, RY, BY) -> RGB" in notes


def test_luminance_chroma_exr_uses_the_files_chromaticities(tmp_path):
  rgb = _scene(seed=1)
  chroma = (0.7347, 0.2653, 0.0, 1.0, 0.0001, -0.077, 0.32168, 0.33767)  # ACES AP0
  w = iu.luminance_weights(chroma)
  y = rgb @ w
  path = tmp_path / "aces.exr"
  _write_exr_channels(path, {"Y": y, "RY": (rgb[..., 0] - y) / y, "BY": (rgb[..., 2] - y) / y},
                      chromaticities=chroma)
  np.testing.assert_allclose(iu.read_hdr(path), rgb, rtol=1e-4)


def test_subsampled_chroma_is_interpolated_between_its_samples():
  plane = np.array([[0.0, 2.0], [4.0, 6.0]])
  up = iu.upsample_chroma(plane, 2, 2, 3, 3)
  np.testing.assert_allclose(up, [[0, 1, 2], [2, 3, 4], [4, 5, 6]])


def test_multi_view_luminance_exr_reads_the_default_view(tmp_path):
  left = _scene()[..., 0]
  path = tmp_path / "stereo.exr"
  _write_exr_channels(path, {"Y": left, "right.Y": left * 2}, multiView=["left", "right"])
  image, notes = iu.read_hdr_with_conversions(path)
  np.testing.assert_array_equal(image, np.repeat(left[..., None], 3, -1))
  assert "view left used of 2" in notes


def test_multi_view_rgb_exr_reads_the_default_view(tmp_path):
  left = _scene()
  channels = {c: left[..., i] for i, c in enumerate("RGB")}
  channels.update({f"right.{c}": left[..., i] + 1 for i, c in enumerate("RGB")})
  path = tmp_path / "stereo_rgb.exr"
  _write_exr_channels(path, channels, multiView=["left", "right"])
  np.testing.assert_array_equal(iu.read_hdr(path), left)


def test_written_images_get_the_umask_mode_not_owner_only(tmp_path):
  old = os.umask(0o022)
  try:
    path = str(tmp_path / "out.png")
    iu.write_ldr(path, np.zeros((4, 4, 3), np.uint8))
  finally:
    os.umask(old)
  assert os.stat(path).st_mode & 0o777 == 0o644
