"""drht_jax.imageio_utils, the public face of drht_jax/formats/: every name others import is there
and is the implementation's own object. The formats' tests: tests/test_io_*.py."""

import numpy as np

from drht_jax import imageio_utils as iu
from drht_jax.formats import common, exr, geometry, hdr_files, ldr

HOMES = {
    common: ("ImageReadError", "has_extension"),
    exr: ("luminance_weights", "upsample_chroma", "yca_to_rgb"),
    geometry: ("center_crop_to_aspect", "resize_area"),
    hdr_files: ("HDR_EXTENSIONS", "read_hdr", "read_hdr_with_conversions", "write_hdr"),
    ldr: ("IMAGE_EXTENSIONS", "LdrImage", "read_ldr", "write_ldr"),
}


def test_every_public_name_is_the_implementations_object():
  names = [name for group in HOMES.values() for name in group]
  assert sorted(iu.__all__) == sorted(names)
  for module, group in HOMES.items():
    for name in group:
      assert getattr(iu, name) is getattr(module, name), name


def test_one_error_class_for_every_format(tmp_path):
  (tmp_path / "x.png").write_text("not an image")
  (tmp_path / "x.hdr").write_text("not an image")
  for read, name in ((iu.read_ldr, "x.png"), (iu.read_hdr, "x.hdr")):
    try:
      read(tmp_path / name)
    except iu.ImageReadError as e:
      assert str(e).startswith(str(tmp_path / name))
    else:
      raise AssertionError(f"{name} was read")


def test_ldr_and_hdr_round_trips_through_the_facade(tmp_path):
  rgb = np.random.default_rng(0).integers(0, 256, (4, 8, 3), dtype=np.uint8)
  iu.write_ldr(tmp_path / "a.png", rgb)
  np.testing.assert_array_equal(np.round(iu.read_ldr(tmp_path / "a.png").pixels * 255), rgb)
  radiance = np.random.default_rng(1).random((4, 8, 3)).astype(np.float32)
  iu.write_hdr(tmp_path / "a.exr", radiance)
  np.testing.assert_array_equal(iu.read_hdr(tmp_path / "a.exr"), radiance)
