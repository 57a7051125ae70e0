"""drht_jax/formats/radiance.py: the Radiance RGBE codec (.hdr) through read_hdr / write_hdr: flat and
run-length scanlines, agreement with Mitsuba, header lines before the magic."""

import numpy as np
import pytest

from drht_jax.formats.common import ImageReadError
from drht_jax.formats import radiance as rgbe
from drht_jax.formats.hdr_files import read_hdr, read_hdr_with_conversions, write_hdr


def _radiance(height=8, width=16, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.random((height, width, 3)) * 10.0).astype(np.float32)


def _scene(height=6, width=10, seed=0):
  return (np.random.default_rng(seed).random((height, width, 3)) * 3 + 0.05).astype(np.float32)


def _rgbe_header(height, width):
  return f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {height} +X {width}\n".encode()


def test_radiance_flat_pixels_decode_like_radiance_colr_color(tmp_path):
  # (m + 0.5) * 2 ** (e - 136): (127, 63, 0, 129) -> (127.5, 63.5, 0.5) / 128; e = 0 -> black.
  pixels = bytes([127, 63, 0, 129, 9, 9, 9, 0])
  (tmp_path / "f.hdr").write_bytes(_rgbe_header(1, 2) + pixels)
  got = read_hdr(tmp_path / "f.hdr")
  np.testing.assert_allclose(got[0, 0], [127.5 / 128, 63.5 / 128, 0.5 / 128], rtol=1e-6)
  np.testing.assert_array_equal(got[0, 1], [0, 0, 0])


def test_radiance_run_length_scanline_decodes(tmp_path):
  width = 8  # new RLE: per channel, a run of 8 (128 + 8) then the byte
  line = bytes([2, 2, 0, width]) + bytes([136, 127, 136, 63, 136, 0, 136, 129])
  (tmp_path / "r.hdr").write_bytes(_rgbe_header(1, width) + line)
  got = read_hdr(tmp_path / "r.hdr")
  want = np.tile([127.5 / 128, 63.5 / 128, 0.5 / 128], (width, 1))
  np.testing.assert_allclose(got[0], want, rtol=1e-6)


def test_radiance_files_agree_with_mitsuba(tmp_path):
  mitsuba = pytest.importorskip("mitsuba")
  radiance = _radiance(12, 40)
  radiance[0, 0] = [1e5, 2.0, 0.0]
  write_hdr(tmp_path / "ours.hdr", radiance)
  mitsuba.Bitmap(radiance).write(str(tmp_path / "theirs.hdr"))
  ours_read_by_mitsuba = np.array(mitsuba.Bitmap(str(tmp_path / "ours.hdr")))
  theirs_read_by_us = read_hdr(tmp_path / "theirs.hdr")
  scale = radiance.max(axis=-1, keepdims=True)  # RGBE error is relative to the brightest
  assert np.max(np.abs(ours_read_by_mitsuba - radiance) / scale) < 1 / 128
  assert np.max(np.abs(theirs_read_by_us - radiance) / scale) < 1 / 128


# Real files read_hdr used to refuse (issue 16).

def test_radiance_file_with_a_view_line_before_the_magic_is_read(tmp_path):
  # Debevec's original memorial.hdr starts with "VIEW= ..." before "#?RADIANCE".
  radiance = _scene()
  plain = tmp_path / "plain.hdr"
  write_hdr(plain, radiance)
  odd = tmp_path / "memorial_like.hdr"
  odd.write_bytes(b"VIEW= -vtv -vp 0 0 0 -vd 0 0 -1 -vu 0 1 0 -vh 45 -vv 45\n"
                  + plain.read_bytes())
  image, notes = read_hdr_with_conversions(odd)
  np.testing.assert_array_equal(image, read_hdr(plain))
  assert any("before the '#?' magic" in n for n in notes)


def test_text_before_a_missing_magic_is_still_refused(tmp_path):
  path = tmp_path / "text.hdr"
  path.write_bytes(b"VIEW= something\n\nnot a radiance file\n")
  with pytest.raises(ImageReadError, match="no '#\\?' magic"):
    read_hdr(path)


def test_codec_round_trips_within_rgbe_precision(tmp_path):
  radiance = _radiance(4, 300)  # 300 > 128: several literal chunks per run-length scanline
  rgbe.write_radiance(str(tmp_path / "c.hdr"), radiance)
  got, conversions = rgbe.read_radiance(str(tmp_path / "c.hdr"))
  assert conversions == [] and got.shape == radiance.shape and got.dtype == np.float32
  scale = radiance.max(axis=-1, keepdims=True)
  assert np.max(np.abs(got - radiance) / scale) < 1 / 128
