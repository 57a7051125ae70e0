"""drht_jax/formats/hdr_files.py: read_hdr / write_hdr over both formats: values refused (NaN, Inf) or
clamped (negatives, reported), write checks, truncated and non-HDR files."""

import numpy as np
import OpenEXR
import pytest

from drht_jax.formats.common import ImageReadError
from drht_jax.formats.hdr_files import read_hdr, read_hdr_with_conversions, write_hdr


def _radiance(height=8, width=16, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.random((height, width, 3)) * 10.0).astype(np.float32)


def _truncate(path, fraction=0.5):
  data = open(path, "rb").read()
  with open(path, "wb") as f:
    f.write(data[:int(len(data) * fraction)])


def test_half_exr_refuses_values_beyond_half_range(tmp_path):
  with pytest.raises(ValueError, match="overflows half"):
    write_hdr(tmp_path / "h.exr", np.full((2, 2, 3), 1e5, np.float32), dtype=np.float16)


@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "Inf")])
def test_invalid_radiance_raises_with_pixel_count(tmp_path, value, word):
  radiance = _radiance()
  radiance[0, 0, 0] = radiance[3, 4, 2] = value
  path = tmp_path / "bad.exr"
  write_hdr(path, radiance, allow_invalid=True)
  with pytest.raises(ImageReadError, match=f"2 pixels with {word}") as info:
    read_hdr(path)
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
  got, conversions = read_hdr_with_conversions(path)
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
  got, conversions = read_hdr_with_conversions(path)
  assert conversions == (f"clamped {n_negative} negative pixels to 0",)
  np.testing.assert_array_equal(got, np.maximum(raw, 0.0))
  np.testing.assert_array_equal(read_hdr(path), got)


def test_exr_without_negatives_reports_no_clamping(tmp_path):
  write_hdr(tmp_path / "ok.exr", _radiance())
  assert read_hdr_with_conversions(tmp_path / "ok.exr")[1] == ()


def test_nan_is_refused_even_with_negatives(tmp_path):
  radiance = _radiance()
  radiance[0, 0, 0], radiance[1, 1, 1] = np.nan, -1.0
  path = tmp_path / "nan_neg.exr"
  write_hdr(path, radiance, allow_invalid=True)
  with pytest.raises(ImageReadError, match="1 pixels with NaN") as info:
    read_hdr(path)
  assert str(info.value).startswith(str(path))


def test_write_hdr_refuses_nan_by_default(tmp_path):
  radiance = _radiance()
  radiance[0, 0, 0] = np.nan
  with pytest.raises(ValueError, match="finite"):
    write_hdr(tmp_path / "n.exr", radiance)


@pytest.mark.parametrize("name", ["t.exr", "t.hdr"])
def test_truncated_hdr_raises(tmp_path, name):
  path = tmp_path / name
  write_hdr(path, _radiance(32, 64))
  _truncate(path)
  with pytest.raises(ImageReadError, match="truncated") as info:
    read_hdr(path)
  assert str(info.value).startswith(str(path))


def test_non_hdr_file_raises(tmp_path):
  for name in ("x.exr", "x.hdr"):
    (tmp_path / name).write_text("hello")
    with pytest.raises(ImageReadError):
      read_hdr(tmp_path / name)
