"""The Radiance RGBE codec (`.hdr`): a small reader and writer here, since imageio has no RGBE
codec without the FreeImage binary and its `.hdr` writer silently writes a TIFF. Reads flat,
old-style repeat-coded and run-length-encoded scanlines, top-to-bottom or bottom-to-top;
header lines before the `#?` magic are skipped (noted as a conversion); the `EXPOSURE=` header
is ignored (the data recipe normalises exposure anyway). RGBE cannot store negatives, NaN or
Inf. drht_jax/formats/hdr_files.py's `read_hdr` / `write_hdr` are the entry points.
"""

import re

import numpy as np

from drht_jax.formats.common import ImageReadError


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


def read_radiance(path: str):
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


def write_radiance(path: str, radiance: np.ndarray) -> None:
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
