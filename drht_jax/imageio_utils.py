"""Reading and writing LDR and HDR image files, with errors that name the file and the problem.

LDR (`read_ldr` / `write_ldr`): JPEG, PNG, BMP through Pillow; 16-bit PNGs through Mitsuba's
`Bitmap` (already a dependency: Pillow reads 16-bit RGB PNGs as 8-bit, dropping the low byte).
Pixels come back as `[H, W, 3]` float32 in [0, 1]. Conversions, each listed in
`LdrImage.conversions`:
  - grayscale (L, 1-bit, 16-bit gray) -> RGB, the channel replicated;
  - RGBA / LA / palette with transparency -> RGB, alpha dropped (not composited);
  - palette, CMYK, YCbCr -> RGB (Pillow's conversion);
  - 16-bit -> float in [0, 1] at full precision (`value / 65535`), `bit_depth` = 16.
Truncated files and files that are not images raise `ImageReadError` (Pillow's
`LOAD_TRUNCATED_IMAGES` is forced to False while a file loads, so a truncated JPEG is never
silently padded with grey).

HDR (`read_hdr` / `write_hdr`): OpenEXR (`.exr`, OpenEXR package) and Radiance RGBE (`.hdr`,
a small reader/writer here: imageio has no RGBE codec without the FreeImage binary, and its
`.hdr` writer silently writes a TIFF). Radiance comes back as `[H, W, 3]` float32, finite and
>= 0. Negative values are clamped to 0 and reported as a conversion ("clamped N negative pixels
to 0", N = pixels with at least one negative channel): lossy EXR compression (DWAA/DWAB, B44)
routinely rings a little below 0 next to dark edges, and such files are otherwise fine, so
refusing them would reject many real files for a tiny, harmless error. NaN/Inf are still
refused (`ImageReadError` naming the file and how many pixels): there is no sensible value to
put in their place, and they usually mean a broken render or a corrupt file. (RGBE `.hdr`
cannot store negatives, NaN or Inf, so this only ever concerns EXR.)
Conversions: a single-channel EXR (e.g. `Y`) -> RGB replicated; a luminance/chroma EXR
(`Y`, `RY`, `BY`, chroma possibly subsampled) -> RGB as OpenEXR's `RgbaInputFile` does
(`yca_to_rgb`); a multi-view or multi-layer EXR -> its default view / layer; an alpha channel
is dropped; header lines before a Radiance file's `#?` magic are skipped; negative values -> 0
(above).
The Radiance `EXPOSURE=` header is ignored (the data recipe normalises exposure anyway).
`write_hdr` writes EXR as float32 (or half with `dtype=np.float16`), ZIP-compressed, channels
R, G, B; or RGBE for `.hdr`. Every writer writes a temporary file next to the target and
`os.replace`s it, so a reader never sees half a file.

`center_crop_to_aspect` and `resize_area` are the geometry helpers the data set builders share.
"""

import os
import re
import tempfile
import threading
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
HDR_EXTENSIONS = (".exr", ".hdr")

_JPEG_QUALITY = 95
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pillow reads LOAD_TRUNCATED_IMAGES as a module global: hold it at False while we load.
_STRICT_LOAD_LOCK = threading.Lock()


class ImageReadError(ValueError):
  """A file could not be read as the image it should be. The message starts with the path."""


class LdrImage(NamedTuple):
  """`pixels`: `[H, W, 3]` float32 in [0, 1]; `bit_depth`: 8 or 16 (per channel, as stored);
  `conversions`: what was done to reach RGB, e.g. `("grayscale -> RGB (replicated)",)`."""
  pixels: np.ndarray
  bit_depth: int
  conversions: tuple


def _check_exists(path: str) -> None:
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{path}: no such file")


def has_extension(path, extensions) -> bool:
  """Whether `path` ends with one of `extensions`, ignoring case (`.JPG` is a JPEG)."""
  return os.fspath(path).lower().endswith(tuple(extensions))


# --- LDR reading.

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
  _check_exists(path)
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


# --- Atomic writes.

def _atomic_write(path: str, write_fn) -> None:
  """Calls `write_fn(tmp_path)` on a temporary file next to `path`, then renames it."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  suffix = os.path.splitext(path)[1]
  fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
  os.close(fd)
  try:
    write_fn(tmp)
    # mkstemp makes the file owner-only (0600); a written image gets the mode any new file gets.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


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
  _atomic_write(path, lambda tmp: pil.save(tmp, format=fmt, **options))


# --- Radiance RGBE (.hdr).

def _rgbe_to_float(rgbe: np.ndarray) -> np.ndarray:
  """`[..., 4]` uint8 RGBE -> `[..., 3]` float32 as Radiance's `colr_color`:
  `(m + 0.5) * 2 ** (e - 136)`, and 0 where e = 0."""
  e = rgbe[..., 3:4].astype(np.int32)
  scale = np.where(e == 0, 0.0, np.ldexp(1.0, e - 136))
  return ((rgbe[..., :3].astype(np.float64) + 0.5) * scale).astype(np.float32)


def _float_to_rgbe(rgb: np.ndarray) -> np.ndarray:
  """`[..., 3]` float >= 0 -> `[..., 4]` uint8 RGBE (Radiance's `setcolr`)."""
  rgb = rgb.astype(np.float64)
  brightest = rgb.max(axis=-1, keepdims=True)
  mantissa, exponent = np.frexp(brightest)
  tiny = brightest < 1e-32
  scale = np.where(tiny, 0.0, mantissa * 256.0 / np.where(tiny, 1.0, brightest))
  out = np.empty(rgb.shape[:-1] + (4,), np.uint8)
  out[..., :3] = np.clip(np.floor(rgb * scale), 0, 255)
  out[..., 3:] = np.where(tiny, 0, np.clip(exponent + 128, 0, 255))
  return out


def _read_rgbe_scanline(path, data, pos, width, row):
  """Decodes one scanline starting at `data[pos]` -> (`[width, 4]` uint8, new pos)."""
  def fail(what):
    raise ImageReadError(f"{path}: truncated or corrupt Radiance HDR ({what} in scanline {row})")
  if 8 <= width <= 0x7FFF:
    if pos + 4 > len(data):
      fail("unexpected end of file")
    r, g, b, e = data[pos:pos + 4]
    if r == 2 and g == 2 and not b & 0x80:  # "new" run-length encoding, channel by channel
      if (b << 8 | e) != width:
        fail(f"scanline width {b << 8 | e} != {width}")
      pos += 4
      line = np.empty((4, width), np.uint8)
      for c in range(4):
        x = 0
        while x < width:
          if pos >= len(data):
            fail("unexpected end of file")
          count = data[pos]
          pos += 1
          if count > 128:  # a run
            count -= 128
            if x + count > width or pos >= len(data):
              fail("bad run length")
            line[c, x:x + count] = data[pos]
            pos += 1
          else:  # literal bytes
            if count == 0 or x + count > width or pos + count > len(data):
              fail("bad literal length")
            line[c, x:x + count] = np.frombuffer(data, np.uint8, count, pos)
            pos += count
          x += count
      return line.T, pos
  # Flat pixels, possibly with the old (1, 1, 1, n) repeat codes.
  if pos + 4 * width > len(data):
    fail("unexpected end of file")
  flat = np.frombuffer(data, np.uint8, 4 * width, pos).reshape(width, 4)
  if not np.any(np.all(flat[:, :3] == 1, axis=-1)):
    return flat.copy(), pos + 4 * width
  line, x, shift = np.empty((width, 4), np.uint8), 0, 0
  while x < width:
    if pos + 4 > len(data):
      fail("unexpected end of file")
    px = np.frombuffer(data, np.uint8, 4, pos)
    pos += 4
    if px[0] == 1 and px[1] == 1 and px[2] == 1:
      count = int(px[3]) << shift
      if x == 0 or x + count > width:
        fail("bad repeat code")
      line[x:x + count] = line[x - 1]
      x += count
      shift += 8
    else:
      line[x] = px
      x += 1
      shift = 0
  return line, pos


_RESOLUTION = re.compile(rb"^([-+])Y (\d+) \+X (\d+)$")


_MAX_PRE_MAGIC = 4096  # bytes of header lines accepted before the '#?' magic


def _read_radiance(path: str):
  """Radiance RGBE file -> (`[H, W, 3]` float32, conversions) (EXPOSURE ignored; XYZE and
  rotated files refused). Header lines before the `#?RADIANCE` magic (Debevec's original
  `memorial.hdr` starts with a `VIEW=` line) are accepted and noted as a conversion."""
  with open(path, "rb") as f:
    data = f.read()
  conversions = []
  if not data.startswith(b"#?"):
    magic = data.find(b"\n#?", 0, _MAX_PRE_MAGIC)
    blank = data.find(b"\n\n", 0, _MAX_PRE_MAGIC)
    lead = data[:magic] if magic >= 0 else b""
    if magic < 0 or (0 <= blank < magic) or not all(32 <= c < 127 or c in (9, 13, 10)
                                                     for c in lead):
      raise ImageReadError(f"{path}: not a Radiance HDR file (no '#?' magic)")
    lines = lead.count(b"\n") + 1
    conversions.append(f"ignored {lines} header line(s) before the '#?' magic "
                       f"({lead.split(b'=', 1)[0][:16].decode()}=...)")
    data = data[magic + 1:]
  end = data.find(b"\n\n")
  if end < 0:
    raise ImageReadError(f"{path}: truncated Radiance HDR (header not terminated)")
  for line in data[:end].split(b"\n")[1:]:
    if line.startswith(b"FORMAT=") and line.strip() != b"FORMAT=32-bit_rle_rgbe":
      fmt = line[7:].decode(errors="replace")
      raise ImageReadError(f"{path}: unsupported Radiance format {fmt} (only 32-bit_rle_rgbe)")
  nl = data.find(b"\n", end + 2)
  match = _RESOLUTION.match(data[end + 2:nl if nl >= 0 else len(data)].strip())
  if nl < 0 or match is None:
    raise ImageReadError(f"{path}: unsupported or missing Radiance resolution line "
                         "(expected '-Y H +X W' or '+Y H +X W')")
  height, width = int(match.group(2)), int(match.group(3))
  if height == 0 or width == 0:
    raise ImageReadError(f"{path}: empty image ({height}x{width})")
  if height * width > 64 * len(data):  # run-length coding packs at most ~64 pixels per byte
    raise ImageReadError(f"{path}: truncated or corrupt Radiance HDR (header says "
                         f"{height}x{width}, file has {len(data)} bytes)")
  pos, rows = nl + 1, np.empty((height, width, 4), np.uint8)
  for y in range(height):
    rows[y], pos = _read_rgbe_scanline(path, data, pos, width, y)
  if match.group(1) == b"+":  # bottom-to-top
    rows = rows[::-1]
  return _rgbe_to_float(rows), conversions


def _write_radiance(path: str, radiance: np.ndarray) -> None:
  """`[H, W, 3]` float >= 0 -> Radiance RGBE, run-length encoded (literal chunks only)."""
  height, width = radiance.shape[:2]
  rgbe = _float_to_rgbe(radiance)
  parts = [b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n", f"-Y {height} +X {width}\n".encode()]
  for y in range(height):
    if not 8 <= width <= 0x7FFF:
      parts.append(rgbe[y].tobytes())
      continue
    parts.append(bytes((2, 2, width >> 8, width & 0xFF)))
    for c in range(4):
      channel = rgbe[y, :, c]
      for x in range(0, width, 128):
        chunk = channel[x:x + 128]
        parts.append(bytes((len(chunk),)) + chunk.tobytes())
  with open(path, "wb") as f:
    f.write(b"".join(parts))


# --- OpenEXR.

# Rec. 709 primaries and D65 white: OpenEXR's default chromaticities (ImfChromaticities.h).
_REC709_CHROMATICITIES = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)


def luminance_weights(chromaticities=_REC709_CHROMATICITIES) -> np.ndarray:
  """`[3]` weights of R, G, B in luminance Y for the given primaries and white point
  `(rx, ry, gx, gy, bx, by, wx, wy)`: the Y row of the RGB -> XYZ matrix, as OpenEXR's
  `RgbaYca::computeYw` (Rec. 709 gives 0.2126, 0.7152, 0.0722)."""
  rx, ry, gx, gy, bx, by, wx, wy = (float(c) for c in chromaticities)
  primaries = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in ((rx, ry), (gx, gy), (bx, by))]).T
  white = np.array([wx / wy, 1.0, (1 - wx - wy) / wy])
  return np.linalg.solve(primaries, white)  # the scale of each primary = its Y


def upsample_chroma(plane: np.ndarray, x_sampling: int, y_sampling: int, height: int,
                    width: int) -> np.ndarray:
  """A subsampled channel (`[ceil(H / ys), ceil(W / xs)]`, samples at multiples of the
  sampling rates) -> `[H, W]` by linear interpolation between the samples (OpenEXR's
  `RgbaInputFile` uses a longer filter; for the smooth chroma of a luminance/chroma file the
  difference is small)."""
  plane = np.asarray(plane, np.float64)
  ys = np.arange(plane.shape[0]) * y_sampling
  xs = np.arange(plane.shape[1]) * x_sampling
  rows = np.stack([np.interp(np.arange(width), xs, r) for r in plane])
  return np.stack([np.interp(np.arange(height), ys, rows[:, x]) for x in range(width)], axis=1)


def yca_to_rgb(y, ry, by, weights) -> np.ndarray:
  """OpenEXR luminance/chroma -> `[H, W, 3]` RGB, as `RgbaYca::YCAtoRGB`: `RY = (R - Y) / Y`,
  `BY = (B - Y) / Y`, so `R = (RY + 1) Y`, `B = (BY + 1) Y`, `G = (Y - wr R - wb B) / wg`;
  a pixel with RY = BY = 0 is grey (R = G = B = Y)."""
  y = np.asarray(y, np.float64)
  r = (np.asarray(ry, np.float64) + 1.0) * y
  b = (np.asarray(by, np.float64) + 1.0) * y
  g = (y - r * weights[0] - b * weights[2]) / weights[1]
  grey = (np.asarray(ry) == 0) & (np.asarray(by) == 0)
  rgb = np.stack([r, g, b], axis=-1)
  rgb[grey] = y[grey][:, None]
  return rgb.astype(np.float32)


def _exr_groups(names, views):
  """Channel groups by layer/view prefix, the default first: "" (no prefix: the default layer,
  or the default view = the first of a multiView file's views), then the others sorted."""
  prefixes = [""] + sorted({n.rsplit(".", 1)[0] + "." for n in names if "." in n})
  if views:  # a view's channels may also be named "<view>.<channel>" for the default view
    prefixes.sort(key=lambda p: (p != "" and p != f"{views[0]}.",))
  return [(p, {n[len(p):]: n for n in names if n.startswith(p) and "." not in n[len(p):]})
          for p in prefixes]


def _read_exr(path: str):
  """OpenEXR file (part 0, data window) -> (`[H, W, C]` float32, conversions).

  Channel layouts, in this order, from the default layer / view (`_exr_groups`): R, G, B;
  luminance/chroma Y, RY, BY (`yca_to_rgb`, chroma possibly subsampled: `upsample_chroma`),
  with the file's chromaticities if it has them; a single channel (e.g. Y) replicated. Other
  layers or views are left out (noted in the conversions)."""
  import OpenEXR  # pylint: disable=import-outside-toplevel
  try:
    with OpenEXR.File(path, separate_channels=True) as exr:
      header = {k: exr.header().get(k) for k in ("multiView", "chromaticities")}  # while open
      channels = {name: (np.asarray(ch.pixels), int(ch.xSampling), int(ch.ySampling))
                  for name, ch in exr.channels().items()}
  except Exception as e:  # OpenEXR raises RuntimeError / ValueError / IndexError
    raise ImageReadError(f"{path}: truncated or unreadable OpenEXR file ({e})") from e
  names = sorted(channels)
  views = list(header.get("multiView") or [])
  conversions = []
  groups = [(p, g) for p, g in _exr_groups(names, views) if g]
  chosen = None
  for prefix, group in groups:
    if all(c in group for c in "RGB") or all(c in group for c in ("Y", "RY", "BY")) or \
        len([c for c in group if c != "A"]) == 1:
      chosen = prefix, group
      break
  if chosen is None:
    raise ImageReadError(f"{path}: expected R, G, B, or Y, RY, BY, or a single channel, got "
                         f"channels {names}")
  prefix, group = chosen
  usable = [p for p, g in groups if all(c in g for c in "RGB") or "Y" in g or len(g) == 1]
  if len(usable) > 1:
    kind = "view" if views else "layer"
    label = (views[0] if views and prefix in ("", f"{views[0]}.") else prefix[:-1]) or "(default)"
    conversions.append(f"{kind} {label} used of {len(usable)}")
  if "A" in group:
    conversions.append("RGBA -> RGB (alpha dropped)" if all(c in group for c in "RGB")
                       else "alpha dropped")
  full = {c: v for c, v in group.items() if channels[v][1:] == (1, 1)}
  if not full:
    raise ImageReadError(f"{path}: every channel is subsampled ({sorted(group)})")
  height, width = channels[next(iter(full.values()))][0].shape[:2]
  if all(c in group for c in "RGB"):
    planes = [channels[group[c]] for c in "RGB"]
    if any(p[1:] != (1, 1) for p in planes):
      raise ImageReadError(f"{path}: subsampled R, G, B channels are not supported")
    image = np.stack([p[0].astype(np.float32) for p in planes], axis=-1)
  elif all(c in group for c in ("Y", "RY", "BY")):
    luma, chroma = channels[group["Y"]], []
    if luma[1:] != (1, 1):
      raise ImageReadError(f"{path}: subsampled luminance Y is not supported")
    height, width = luma[0].shape
    for c in ("RY", "BY"):
      pixels, xs, ys = channels[group[c]]
      if (xs, ys) != (1, 1):
        pixels = upsample_chroma(pixels, xs, ys, height, width)
        conversions.append(f"{c} upsampled from 1/{xs} x 1/{ys} (linear)")
      chroma.append(pixels)
    chroma_attr = header.get("chromaticities")
    weights = luminance_weights(np.ravel(chroma_attr) if chroma_attr is not None
                                else _REC709_CHROMATICITIES)
    image = yca_to_rgb(luma[0], chroma[0], chroma[1], weights)
    conversions.append("luminance/chroma (Y, RY, BY) -> RGB")
  else:
    name = next(c for c in group if c != "A")
    plane = channels[group[name]]
    if plane[1:] != (1, 1):
      raise ImageReadError(f"{path}: the only channel {group[name]} is subsampled")
    image = np.repeat(plane[0].astype(np.float32)[..., None], 3, axis=-1)
    conversions.append(f"1 channel ({group[name]}) -> RGB (replicated)")
  if image.ndim != 3 or image.shape[:2] != (height, width):
    raise ImageReadError(f"{path}: channels have different sizes")
  return image, conversions


def _write_exr(path: str, radiance: np.ndarray) -> None:
  import OpenEXR  # pylint: disable=import-outside-toplevel
  header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
  channels = {c: np.ascontiguousarray(radiance[..., i]) for i, c in enumerate("RGB")}
  with OpenEXR.File(header, channels) as exr:
    exr.write(path)


# --- HDR reading and writing.

def _check_radiance_values(path: str, radiance: np.ndarray):
  """Raises `ImageReadError` naming how many pixels are NaN or Inf; clamps negative values to
  0. Returns (radiance, conversions): the note "clamped N negative pixels to 0" if N > 0."""
  problems = []
  for what, bad in (("NaN", np.isnan(radiance)), ("Inf", np.isinf(radiance))):
    count = int(np.count_nonzero(bad.any(axis=-1)))
    if count:
      problems.append(f"{count} pixels with {what}")
  if problems:
    total = radiance.shape[0] * radiance.shape[1]
    raise ImageReadError(f"{path}: {', '.join(problems)} (of {total}); radiance must be "
                         "finite")
  negative = radiance < 0
  count = int(np.count_nonzero(negative.any(axis=-1)))
  if not count:
    return radiance, []
  return np.where(negative, np.float32(0.0), radiance), [f"clamped {count} negative pixels to 0"]


def read_hdr_with_conversions(path):
  """Reads `.exr` / `.hdr` -> (`[H, W, 3]` float32 radiance, finite and >= 0, conversions).

  Negative values (lossy EXR compression rings slightly below 0) are clamped to 0 and reported
  in `conversions` as "clamped N negative pixels to 0" (N: pixels with a negative channel).
  Raises `ImageReadError` if the file is truncated or unreadable, has an unsupported channel
  layout, or has NaN/Inf values (with their pixel counts; the message starts with the path);
  `FileNotFoundError`.
  """
  path = os.fspath(path)
  _check_exists(path)
  if has_extension(path, (".exr",)):
    radiance, conversions = _read_exr(path)
  elif has_extension(path, (".hdr",)):
    radiance, conversions = _read_radiance(path)
  else:
    raise ImageReadError(f"{path}: unknown HDR extension (expected one of {HDR_EXTENSIONS})")
  if radiance.shape[0] == 0 or radiance.shape[1] == 0:
    raise ImageReadError(f"{path}: empty image {radiance.shape[:2]}")
  radiance, clamped = _check_radiance_values(path, radiance)
  return radiance, tuple(conversions) + tuple(clamped)


def read_hdr(path) -> np.ndarray:
  """`read_hdr_with_conversions` without the conversions: `[H, W, 3]` float32, finite, >= 0
  (negative values clamped to 0; NaN/Inf raise `ImageReadError`)."""
  return read_hdr_with_conversions(path)[0]


def write_hdr(path, radiance, dtype=np.float32, allow_invalid=False) -> None:
  """Writes `[H, W, 3]` linear radiance as OpenEXR (`.exr`: R, G, B channels of `dtype`,
  float32 or float16 = half, ZIP-compressed) or Radiance RGBE (`.hdr`, ~1% precision).

  Radiance must be finite and >= 0 unless `allow_invalid=True` (for test fixtures; EXR only).
  Creates parent folders; atomic (temp file + rename).
  """
  path = os.fspath(path)
  radiance = np.asarray(radiance)
  if radiance.ndim != 3 or radiance.shape[-1] != 3:
    raise ValueError(f"{path}: expected [H, W, 3] radiance, got shape {radiance.shape}")
  is_exr = has_extension(path, (".exr",))
  if not is_exr and not has_extension(path, (".hdr",)):
    raise ValueError(f"{path}: unknown HDR extension (expected one of {HDR_EXTENSIONS})")
  if not (allow_invalid and is_exr):
    with np.errstate(invalid="ignore"):
      if not np.all(np.isfinite(radiance)) or np.any(radiance < 0):
        raise ValueError(f"{path}: radiance must be finite and >= 0")
  if is_exr:
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float16)):
      raise ValueError(f"{path}: EXR dtype must be float32 or float16, got {dtype}")
    if (np.dtype(dtype) == np.float16 and not allow_invalid
        and np.max(radiance, initial=0.0) > np.finfo(np.float16).max):
      raise ValueError(f"{path}: radiance up to {np.max(radiance):g} overflows half "
                       f"(max {float(np.finfo(np.float16).max):g}); write float32")
    with np.errstate(over="ignore"):
      data = radiance.astype(dtype)
    _atomic_write(path, lambda tmp: _write_exr(tmp, data))
  else:
    _atomic_write(path, lambda tmp: _write_radiance(tmp, radiance))


# --- Geometry shared by the builders.

def center_crop_to_aspect(image: np.ndarray, aspect: float = 2.0) -> np.ndarray:
  """Centre crop of `[H, W, ...]` to width / height = `aspect` (the larger side is cut;
  sizes rounded to the nearest pixel). Returns the input itself if it already fits."""
  height, width = image.shape[:2]
  target_w = int(round(height * aspect))
  if target_w < width:
    x0 = (width - target_w) // 2
    return image[:, x0:x0 + target_w]
  target_h = int(round(width / aspect))
  if target_h < height:
    y0 = (height - target_h) // 2
    return image[y0:y0 + target_h]
  return image


def _area_axis(x: np.ndarray, n_out: int, axis: int) -> np.ndarray:
  """Exact area (box) resampling along `axis`: output `i` is the mean of the input over
  `[i, i + 1) * n_in / n_out`, boundary pixels weighted by their overlap; in `x`'s dtype.
  Downscaling is one `np.add.reduceat` pass plus boundary corrections (fast on a 12 MP photo);
  upscaling (a small panorama) integrates a running sum."""
  n_in = x.shape[axis]
  if n_in == n_out:
    return x
  x = np.moveaxis(x, axis, 0)
  shape = (-1,) + (1,) * (x.ndim - 1)
  edges = np.arange(n_out + 1, dtype=np.float64) * (n_in / n_out)
  if n_out > n_in:
    cumulative = np.concatenate([np.zeros_like(x[:1]), np.cumsum(x, axis=0)], axis=0)
    index = np.minimum(np.floor(edges).astype(np.int64), n_in - 1)
    frac = (edges - index).reshape(shape).astype(x.dtype)
    integral = cumulative[index] + frac * x[index]  # integral of x over [0, edge]
    return np.moveaxis((integral[1:] - integral[:-1]) * x.dtype.type(n_out / n_in), 0, axis)
  edges[-1] = n_in
  start = np.minimum(np.floor(edges).astype(np.int64), n_in)
  frac = (edges - start).astype(x.dtype)              # part of pixel start[i] before edge i
  sums = np.add.reduceat(x, start[:-1], axis=0)       # pixels start[i] .. start[i+1] - 1
  padded = np.concatenate([x, np.zeros_like(x[:1])], axis=0)  # start[-1] may be n_in
  sums -= frac[:-1].reshape(shape) * padded[start[:-1]]
  sums += frac[1:].reshape(shape) * padded[start[1:]]
  return np.moveaxis(sums * x.dtype.type(n_out / n_in), 0, axis)


def resize_area(image: np.ndarray, height: int, width: int, dtype=np.float64) -> np.ndarray:
  """Exact area averaging (box filter with fractional pixel overlaps) of `[H, W, C]` to
  `[height, width, C]` float32. Each output pixel is the mean of the input over its footprint,
  so total energy (mean radiance) is preserved. Computed in `dtype` (float64 for the data set
  builders; float32 where speed matters: photos)."""
  out = _area_axis(np.asarray(image, dtype), height, 0)
  return _area_axis(out, width, 1).astype(np.float32)
