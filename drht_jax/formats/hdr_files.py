"""HDR image files (`read_hdr` / `write_hdr`): OpenEXR (`.exr`, drht_jax/formats/exr.py) and
Radiance RGBE (`.hdr`, drht_jax/formats/radiance.py). Radiance comes back as `[H, W, 3]` float32,
finite and >= 0. Negative values are clamped to 0 and reported as a conversion ("clamped N
negative pixels to 0", N = pixels with at least one negative channel): lossy EXR compression
(DWAA/DWAB, B44) routinely rings a little below 0 next to dark edges, and such files are
otherwise fine, so refusing them would reject many real files for a tiny, harmless error.
NaN/Inf are still refused (`ImageReadError` naming the file and how many pixels): there is no
sensible value to put in their place, and they usually mean a broken render or a corrupt file.
(RGBE `.hdr` cannot store negatives, NaN or Inf, so this only ever concerns EXR.)
`write_hdr` writes EXR as float32 (or half with `dtype=np.float16`), ZIP-compressed, channels
R, G, B; or RGBE for `.hdr`; atomic (drht_jax/formats/common.py).
"""

import os

import numpy as np

from drht_jax.formats import exr
from drht_jax.formats import radiance as rgbe
from drht_jax.formats.common import ImageReadError, atomic_write, check_exists, has_extension

HDR_EXTENSIONS = (".exr", ".hdr")


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
  check_exists(path)
  if has_extension(path, (".exr",)):
    radiance, conversions = exr.read_exr(path)
  elif has_extension(path, (".hdr",)):
    radiance, conversions = rgbe.read_radiance(path)
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
    atomic_write(path, lambda tmp: exr.write_exr(tmp, data))
  else:
    atomic_write(path, lambda tmp: rgbe.write_radiance(tmp, radiance))
