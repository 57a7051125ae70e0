"""OpenEXR files (`.exr`, the OpenEXR package): `read_exr` takes R, G, B; luminance/chroma
(`Y`, `RY`, `BY`, chroma possibly subsampled) -> RGB as OpenEXR's `RgbaInputFile` does
(`yca_to_rgb`); a single channel (e.g. `Y`) replicated; a multi-view or multi-layer file's
default view / layer; an alpha channel dropped. `write_exr` writes R, G, B, ZIP-compressed.
drht_jax/formats/hdr_files.py's `read_hdr` / `write_hdr` are the entry points.
"""

import numpy as np

from drht_jax.formats.common import ImageReadError

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


def read_exr(path: str):
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


def write_exr(path: str, radiance: np.ndarray) -> None:
  """Writes `radiance` `[H, W, 3]` float32 (linear, >= 0) to `path` as a ZIP-compressed RGB
  scanline OpenEXR (needs the `OpenEXR` package); returns None."""
  import OpenEXR  # pylint: disable=import-outside-toplevel
  header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
  channels = {c: np.ascontiguousarray(radiance[..., i]) for i, c in enumerate("RGB")}
  with OpenEXR.File(header, channels) as exr:
    exr.write(path)
