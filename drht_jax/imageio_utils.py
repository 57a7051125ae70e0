"""Reading and writing LDR and HDR image files, with errors that name the file and the problem.

The public face of drht_jax/formats/, one module per format (import the names from here):

- `read_ldr` / `write_ldr`, `LdrImage`, `IMAGE_EXTENSIONS` (drht_jax/formats/ldr.py): JPEG, PNG,
  BMP through Pillow, 16-bit PNGs through Mitsuba, as `[H, W, 3]` float32 in [0, 1], each
  conversion to RGB listed;
- `read_hdr`, `read_hdr_with_conversions`, `write_hdr`, `HDR_EXTENSIONS`
  (drht_jax/formats/hdr_files.py): linear radiance, finite and >= 0 (negatives clamped and
  reported, NaN/Inf refused), from OpenEXR (drht_jax/formats/exr.py: also `luminance_weights`,
  `upsample_chroma`, `yca_to_rgb` for luminance/chroma files) or Radiance RGBE
  (drht_jax/formats/radiance.py);
- `ImageReadError`, `has_extension` (drht_jax/formats/common.py): a truncated, corrupt or
  unsupported file raises `ImageReadError`, its message starting with the path; every writer
  is atomic (temp file + `os.replace`);
- `center_crop_to_aspect`, `resize_area` (drht_jax/formats/geometry.py): the geometry helpers the
  data set builders share.
"""

from drht_jax.formats.common import ImageReadError, has_extension
from drht_jax.formats.exr import luminance_weights, upsample_chroma, yca_to_rgb
from drht_jax.formats.geometry import center_crop_to_aspect, resize_area
from drht_jax.formats.hdr_files import (HDR_EXTENSIONS, read_hdr, read_hdr_with_conversions,
                                        write_hdr)
from drht_jax.formats.ldr import IMAGE_EXTENSIONS, LdrImage, read_ldr, write_ldr

__all__ = [
    "HDR_EXTENSIONS", "IMAGE_EXTENSIONS", "ImageReadError", "LdrImage", "center_crop_to_aspect",
    "has_extension", "luminance_weights", "read_hdr", "read_hdr_with_conversions", "read_ldr",
    "resize_area", "upsample_chroma", "write_hdr", "write_ldr", "yca_to_rgb",
]
