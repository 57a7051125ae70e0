"""LDR image files (`read_ldr` / `write_ldr`): JPEG, PNG, BMP through Pillow; 16-bit PNGs
through Mitsuba's `Bitmap` (already a dependency: Pillow reads 16-bit RGB PNGs as 8-bit,
dropping the low byte). Pixels come back as `[H, W, 3]` float32 in [0, 1]. Conversions, each
listed in `LdrImage.conversions`:
  - grayscale (L, 1-bit, 16-bit gray) -> RGB, the channel replicated;
  - RGBA / LA / palette with transparency -> RGB, alpha dropped (not composited);
  - palette, CMYK, YCbCr -> RGB (Pillow's conversion);
  - 16-bit -> float in [0, 1] at full precision (`value / 65535`), `bit_depth` = 16.
Truncated files and files that are not images raise `ImageReadError` (Pillow's
`LOAD_TRUNCATED_IMAGES` is forced to False while a file loads, so a truncated JPEG is never
silently padded with grey). `write_ldr` is atomic (drht_jax/formats/common.py).
"""

import os
import threading
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from drht_jax.formats.common import ImageReadError, atomic_write, check_exists

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")

_JPEG_QUALITY = 95
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pillow reads LOAD_TRUNCATED_IMAGES as a module global: hold it at False while we load.
_STRICT_LOAD_LOCK = threading.Lock()


class LdrImage(NamedTuple):
  """`pixels`: `[H, W, 3]` float32 in [0, 1]; `bit_depth`: 8 or 16 (per channel, as stored);
  `conversions`: what was done to reach RGB, e.g. `("grayscale -> RGB (replicated)",)`."""
  pixels: np.ndarray
  bit_depth: int
  conversions: tuple


def _png_bit_depth(path: str):
  """Bit depth from a PNG's IHDR chunk, or None if the file is not a PNG."""
  with open(path, "rb") as f:
    head = f.read(26)
  if len(head) < 26 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
    return None
  return head[24]


def _read_png16(path: str) -> LdrImage:
  """16-bit PNG -> float at full precision, via Mitsuba's libpng reader (Pillow truncates)."""
  import mitsuba  # pylint: disable=import-outside-toplevel  # heavy: only for 16-bit PNGs
  try:
    pixels = np.array(mitsuba.Bitmap(path))
  except RuntimeError as e:
    raise ImageReadError(f"{path}: truncated or corrupt 16-bit PNG ({e})") from e
  if pixels.dtype != np.uint16:
    raise ImageReadError(f"{path}: expected 16-bit samples, got {pixels.dtype}")
  conversions = ["16-bit -> float [0, 1] (full precision)"]
  if pixels.ndim == 2:
    pixels = pixels[..., None]
  channels = pixels.shape[-1]
  if channels in (2, 4):
    conversions.append(("LA" if channels == 2 else "RGBA") + " -> RGB (alpha dropped)")
    pixels = pixels[..., :channels - 1]
  if pixels.shape[-1] == 1:
    conversions.append("grayscale -> RGB (replicated)")
    pixels = np.repeat(pixels, 3, axis=-1)
  if pixels.shape[-1] != 3:
    raise ImageReadError(f"{path}: expected 1 to 4 channels, got {channels}")
  return LdrImage((pixels / np.float32(65535.0)).astype(np.float32), 16, tuple(conversions))


def _pillow_to_rgb(path: str, img: Image.Image):
  """A loaded Pillow image -> (`[H, W, 3]` float32 in [0, 1], bit depth, conversions)."""
  mode = img.mode
  conversions = []
  if mode in ("I;16", "I;16L", "I;16B", "I;16N") or (mode == "I" and img.format == "PNG"):
    gray = np.asarray(img).astype(np.float32)
    if gray.min() < 0 or gray.max() > 65535:
      raise ImageReadError(f"{path}: unsupported bit depth (32-bit integer samples)")
    conversions += ["16-bit -> float [0, 1] (full precision)", "grayscale -> RGB (replicated)"]
    return np.repeat(gray[..., None] / 65535.0, 3, axis=-1), 16, conversions
  if mode in ("I", "F") or mode.startswith("I;"):
    raise ImageReadError(f"{path}: unsupported bit depth (Pillow mode {mode}, 32-bit samples)")
  if mode == "1":
    conversions.append("1-bit -> 8-bit")
    img, mode = img.convert("L"), "L"
  if mode in ("P", "PA"):
    has_alpha = mode == "PA" or "transparency" in img.info
    img = img.convert("RGBA" if has_alpha else "RGB")
    conversions.append("palette -> RGB")
    mode = img.mode
  if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
    conversions.append(f"{mode} -> RGB")
    img, mode = img.convert("RGB"), "RGB"
  pixels = np.asarray(img)
  if pixels.dtype != np.uint8:
    raise ImageReadError(f"{path}: unsupported sample type {pixels.dtype} (Pillow mode {mode})")
  if mode in ("RGBA", "RGBa", "LA", "La"):
    conversions.append(f"{mode} -> RGB (alpha dropped)")
    pixels = pixels[..., :-1]
  elif mode == "RGBX":
    pixels = pixels[..., :3]
  elif mode not in ("RGB", "L"):
    raise ImageReadError(f"{path}: unsupported Pillow mode {mode}")
  if pixels.ndim == 2:
    pixels = pixels[..., None]
  if pixels.shape[-1] == 1:
    conversions.append("grayscale -> RGB (replicated)")
    pixels = np.repeat(pixels, 3, axis=-1)
  return pixels.astype(np.float32) / np.float32(255.0), 8, conversions


def read_ldr(path, draft_size=None) -> LdrImage:
  """Reads an 8- or 16-bit image file as `[H, W, 3]` float32 in [0, 1] (see module docstring).

  `draft_size=(width, height)`: for a JPEG, let libjpeg decode at the smallest power-of-two
  reduction (1/2, 1/4, 1/8) that keeps both sides >= these (DCT-domain averaging; much
  faster on big panoramas). Ignored for other formats.
  Raises `ImageReadError` (truncated, not an image, unsupported bit depth or mode) and
  `FileNotFoundError`.
  """
  path = os.fspath(path)
  check_exists(path)
  if _png_bit_depth(path) == 16:
    return _read_png16(path)
  with _STRICT_LOAD_LOCK:
    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
      with Image.open(path) as img:
        if draft_size is not None and img.format == "JPEG":
          img.draft("RGB" if img.mode == "RGB" else None, tuple(draft_size))
        img.load()
        pixels, bit_depth, conversions = _pillow_to_rgb(path, img)
    except UnidentifiedImageError as e:
      raise ImageReadError(f"{path}: not an image file Pillow can read") from e
    except ImageReadError:
      raise
    except Image.DecompressionBombError as e:
      raise ImageReadError(f"{path}: image too large for Pillow ({e})") from e
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as e:
      raise ImageReadError(f"{path}: truncated or corrupt image ({e})") from e
    finally:
      ImageFile.LOAD_TRUNCATED_IMAGES = saved
  return LdrImage(np.ascontiguousarray(pixels, np.float32), bit_depth, tuple(conversions))


def write_ldr(path, image) -> None:
  """Writes an 8-bit image file; the format follows the extension (.png, .jpg/.jpeg at
  quality 95, .bmp, or any other extension Pillow registers).

  `image`: `[H, W, 3]` (or `[H, W]` grayscale) uint8, or float in [0, 1] (clipped, then
  rounded to the nearest of 256 levels). Creates parent folders; atomic (temp file + rename).
  """
  path = os.fspath(path)
  image = np.asarray(image)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if not (image.ndim == 2 or (image.ndim == 3 and image.shape[-1] == 3)):
    raise ValueError(f"{path}: expected [H, W, 3] or [H, W], got shape {image.shape}")
  if image.dtype != np.uint8:
    if not np.issubdtype(image.dtype, np.floating):
      raise ValueError(f"{path}: expected uint8 or float in [0, 1], got {image.dtype}")
    if not np.all(np.isfinite(image)):
      raise ValueError(f"{path}: image has NaN/Inf values")
    image = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
  ext = os.path.splitext(path)[1].lower()
  fmt = Image.registered_extensions().get(ext)
  if fmt is None:
    raise ValueError(f"{path}: unknown image extension {ext!r}")
  options = {"quality": _JPEG_QUALITY} if fmt == "JPEG" else {}
  pil = Image.fromarray(image)
  atomic_write(path, lambda tmp: pil.save(tmp, format=fmt, **options))
