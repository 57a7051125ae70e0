"""drht_jax/formats/exr.py: OpenEXR files through read_hdr / write_hdr (R, G, B; half; one channel;
luminance/chroma; multi-view) and the luminance/chroma helpers."""

import numpy as np
import OpenEXR
import pytest

from drht_jax.formats.common import ImageReadError
from drht_jax.formats import exr as exr_codec
from drht_jax.formats.exr import luminance_weights, upsample_chroma, yca_to_rgb
from drht_jax.formats.hdr_files import read_hdr, read_hdr_with_conversions, write_hdr


def _radiance(height=8, width=16, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.random((height, width, 3)) * 10.0).astype(np.float32)


def _scene(height=6, width=10, seed=0):
  return (np.random.default_rng(seed).random((height, width, 3)) * 3 + 0.05).astype(np.float32)


def test_exr_float32_round_trip_is_exact(tmp_path):
  radiance = _radiance()
  write_hdr(tmp_path / "a.exr", radiance)
  np.testing.assert_array_equal(read_hdr(tmp_path / "a.exr"), radiance)


def test_exr_half_round_trip_within_half_precision(tmp_path):
  radiance = _radiance()
  write_hdr(tmp_path / "h.exr", radiance, dtype=np.float16)
  np.testing.assert_allclose(read_hdr(tmp_path / "h.exr"), radiance, rtol=1e-3)


def test_single_channel_exr_is_replicated(tmp_path):
  y = np.ascontiguousarray(_radiance()[..., 0])  # OpenEXR's binding ignores strides
  header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
  with OpenEXR.File(header, {"Y": y}) as exr:
    exr.write(str(tmp_path / "y.exr"))
  radiance, conversions = read_hdr_with_conversions(tmp_path / "y.exr")
  for c in range(3):
    np.testing.assert_array_equal(radiance[..., c], y)
  assert any("replicated" in c for c in conversions)


def test_exr_with_two_unrelated_channels_is_refused(tmp_path):
  header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
  y = _radiance()[..., 0]
  with OpenEXR.File(header, {"U": y, "V": y}) as exr:
    exr.write(str(tmp_path / "uv.exr"))
  with pytest.raises(ImageReadError, match="channels"):
    read_hdr(tmp_path / "uv.exr")


# Real files read_hdr used to refuse (issue 16).

def _write_exr_channels(path, channels, **header):
  header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage, **header}
  with OpenEXR.File(header, {k: np.ascontiguousarray(v, np.float32)
                             for k, v in channels.items()}) as exr:
    exr.write(str(path))


def test_luminance_weights_of_rec709_are_the_standard_ones():
  np.testing.assert_allclose(luminance_weights(), [0.2126, 0.7152, 0.0722], atol=1e-4)


def test_luminance_chroma_exr_is_converted_to_rgb(tmp_path):
  rgb = _scene()
  rgb[0, 0] = 0.7  # a grey pixel: RY = BY = 0
  w = luminance_weights()
  y = rgb @ w
  path = tmp_path / "yc.exr"
  _write_exr_channels(path, {"Y": y, "RY": (rgb[..., 0] - y) / y, "BY": (rgb[..., 2] - y) / y})
  image, notes = read_hdr_with_conversions(path)
  np.testing.assert_allclose(image, rgb, rtol=1e-4)
  assert "luminance/chroma (Y, RY, BY) -> RGB" in notes


def test_luminance_chroma_exr_uses_the_files_chromaticities(tmp_path):
  rgb = _scene(seed=1)
  chroma = (0.7347, 0.2653, 0.0, 1.0, 0.0001, -0.077, 0.32168, 0.33767)  # ACES AP0
  w = luminance_weights(chroma)
  y = rgb @ w
  path = tmp_path / "aces.exr"
  _write_exr_channels(path, {"Y": y, "RY": (rgb[..., 0] - y) / y, "BY": (rgb[..., 2] - y) / y},
                      chromaticities=chroma)
  np.testing.assert_allclose(read_hdr(path), rgb, rtol=1e-4)


def test_subsampled_chroma_is_interpolated_between_its_samples():
  plane = np.array([[0.0, 2.0], [4.0, 6.0]])
  up = upsample_chroma(plane, 2, 2, 3, 3)
  np.testing.assert_allclose(up, [[0, 1, 2], [2, 3, 4], [4, 5, 6]])


def test_multi_view_luminance_exr_reads_the_default_view(tmp_path):
  left = _scene()[..., 0]
  path = tmp_path / "stereo.exr"
  _write_exr_channels(path, {"Y": left, "right.Y": left * 2}, multiView=["left", "right"])
  image, notes = read_hdr_with_conversions(path)
  np.testing.assert_array_equal(image, np.repeat(left[..., None], 3, -1))
  assert "view left used of 2" in notes


def test_multi_view_rgb_exr_reads_the_default_view(tmp_path):
  left = _scene()
  channels = {c: left[..., i] for i, c in enumerate("RGB")}
  channels.update({f"right.{c}": left[..., i] + 1 for i, c in enumerate("RGB")})
  path = tmp_path / "stereo_rgb.exr"
  _write_exr_channels(path, channels, multiView=["left", "right"])
  np.testing.assert_array_equal(read_hdr(path), left)


def test_codec_writes_rgb_and_reads_it_back_exactly(tmp_path):
  radiance = _radiance()
  exr_codec.write_exr(str(tmp_path / "c.exr"), radiance)
  got, conversions = exr_codec.read_exr(str(tmp_path / "c.exr"))
  assert conversions == []
  np.testing.assert_array_equal(got, radiance)


def test_yca_to_rgb_gives_grey_for_zero_chroma():
  y = np.array([[0.5, 2.0]])
  rgb = yca_to_rgb(y, np.zeros_like(y), np.zeros_like(y), luminance_weights())
  np.testing.assert_allclose(rgb, np.repeat(y[..., None], 3, -1))
