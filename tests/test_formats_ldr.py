"""drht_jax/formats/ldr.py: LDR reading and writing (JPEG, PNG incl. 16-bit, BMP), conversions to RGB
and errors."""

import os

import numpy as np
import pytest
from PIL import Image, ImageFile

from drht_jax.formats.common import ImageReadError
from drht_jax.formats.ldr import read_ldr, write_ldr


def _rgb(height=16, width=32, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _truncate(path, fraction=0.5):
  data = open(path, "rb").read()
  with open(path, "wb") as f:
    f.write(data[:int(len(data) * fraction)])


def test_png_round_trip_is_exact(tmp_path):
  image = _rgb()
  write_ldr(tmp_path / "a.png", image)
  out = read_ldr(tmp_path / "a.png")
  assert out.pixels.dtype == np.float32 and out.pixels.shape == (16, 32, 3)
  np.testing.assert_array_equal(np.round(out.pixels * 255).astype(np.uint8), image)
  assert out.bit_depth == 8 and out.conversions == ()


def test_write_ldr_rounds_floats_to_nearest_level(tmp_path):
  image = np.full((4, 8, 3), 100.4 / 255.0)
  image[0, 0] = 100.6 / 255.0
  write_ldr(tmp_path / "f.png", image)
  got = np.asarray(Image.open(tmp_path / "f.png"))
  assert got[1, 1, 0] == 100 and got[0, 0, 0] == 101


def test_jpeg_written_at_high_quality(tmp_path):
  image = np.tile(np.linspace(0, 1, 64)[None, :, None], (32, 1, 3))
  write_ldr(tmp_path / "a.jpg", image)
  out = read_ldr(tmp_path / "a.jpg")
  assert np.abs(out.pixels - image).max() < 4 / 255


def test_write_ldr_creates_parents_and_leaves_no_temp_file(tmp_path):
  write_ldr(tmp_path / "x" / "y" / "a.png", _rgb())
  assert os.listdir(tmp_path / "x" / "y") == ["a.png"]


def test_write_ldr_rejects_unknown_extension(tmp_path):
  with pytest.raises(ValueError, match="unknown image extension"):
    write_ldr(tmp_path / "a.xyz", _rgb())
  assert not os.listdir(tmp_path)


def test_grayscale_is_replicated_to_rgb(tmp_path):
  gray = _rgb()[..., 0]
  Image.fromarray(gray, "L").save(tmp_path / "g.png")
  out = read_ldr(tmp_path / "g.png")
  for c in range(3):
    np.testing.assert_array_equal(np.round(out.pixels[..., c] * 255), gray)
  assert any("grayscale" in c for c in out.conversions)


def test_rgba_drops_alpha_without_compositing(tmp_path):
  rgba = np.concatenate([_rgb(), np.zeros((16, 32, 1), np.uint8)], axis=-1)
  Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
  out = read_ldr(tmp_path / "a.png")
  np.testing.assert_array_equal(np.round(out.pixels * 255).astype(np.uint8), rgba[..., :3])
  assert any("alpha dropped" in c for c in out.conversions)


def test_16bit_grayscale_png_keeps_full_precision(tmp_path):
  values = np.arange(16 * 32, dtype=np.uint16).reshape(16, 32) * 127 + 1
  Image.fromarray(values).save(tmp_path / "g16.png")
  out = read_ldr(tmp_path / "g16.png")
  assert out.bit_depth == 16
  np.testing.assert_allclose(out.pixels[..., 1], values / 65535.0, rtol=0, atol=1e-7)


def test_16bit_rgb_png_keeps_full_precision(tmp_path):
  mitsuba = pytest.importorskip("mitsuba")
  values = np.random.default_rng(1).integers(0, 65536, (8, 16, 3)).astype(np.uint16)
  mitsuba.Bitmap(values, pixel_format=mitsuba.Bitmap.PixelFormat.RGB).write(
      str(tmp_path / "c16.png"))
  out = read_ldr(tmp_path / "c16.png")
  assert out.bit_depth == 16
  np.testing.assert_allclose(out.pixels, values / 65535.0, rtol=0, atol=1e-7)


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_truncated_image_raises_naming_the_file(tmp_path, ext):
  path = tmp_path / f"t{ext}"
  write_ldr(path, _rgb(64, 128))
  _truncate(path)
  with pytest.raises(ImageReadError, match="truncated") as info:
    read_ldr(path)
  assert str(info.value).startswith(str(path))


def test_truncated_jpeg_raises_even_if_pillow_was_told_to_accept_it(tmp_path):
  path = tmp_path / "t.jpg"
  write_ldr(path, _rgb(64, 128))
  _truncate(path, 0.7)
  ImageFile.LOAD_TRUNCATED_IMAGES = True
  try:
    with pytest.raises(ImageReadError):
      read_ldr(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is restored
  finally:
    ImageFile.LOAD_TRUNCATED_IMAGES = False


def test_non_image_file_raises(tmp_path):
  path = tmp_path / "notes.jpg"
  path.write_text("this is not a JPEG")
  with pytest.raises(ImageReadError, match="not an image") as info:
    read_ldr(path)
  assert str(info.value).startswith(str(path))


def test_missing_file_raises_file_not_found(tmp_path):
  with pytest.raises(FileNotFoundError):
    read_ldr(tmp_path / "nope.png")
