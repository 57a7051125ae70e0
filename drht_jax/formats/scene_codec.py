"""The scene codec: a whole radiance map `[H, W, 3]` float32 >= 0 as compact bytes.

Scene records of the `rendered` builder (>= 2.0.0, datasets/common.py) store their radiance
this way; the input pipeline decodes them (`decode_codes`, or `DECODE_LUT` on the device).
Radiance is stored as log2 codes in uint16, each code as its difference to its left
neighbour, the low and high byte planes apart, then LZMA (docs/data.md has its sizes).
"""

import lzma

import numpy as np

# code 0 = radiance <= 2**LOG2_MIN (stored as 0); code k >= 1 = 2 ** (LOG2_MIN + k / STEPS).
# Codes of 1/256 stop span 2**-32 .. 2**127 (float32's range; no clipping in practice). Relative error
# <= 2**(1/512) - 1 = 1.4e-3 (checked in tests/test_rendered.py), below an 8-bit step
# (1/255 = 3.9e-3 of white; more in the shadows). Each code is stored as its difference to its
# left neighbour (mod 2**16): render noise sets the size, the deltas and LZMA shave the rest
# (sizes against the zlib codec before it: docs/measure.md, "Scene codec").
SCENE_CODEC = "log2-u16-1/256stop-from-2^-32-rowdelta-byteplanes-lzma"
LOG2_MIN = -32.0
STEPS_PER_STOP = 256.0
MAX_CODE = int((127 - LOG2_MIN) * STEPS_PER_STOP)
DECODE_LUT = np.exp2(LOG2_MIN + np.minimum(np.arange(65536), MAX_CODE) / STEPS_PER_STOP
                      ).astype(np.float32)
DECODE_LUT[0] = 0.0


def encode_radiance(radiance: np.ndarray) -> bytes:
  """`[H, W, 3]` radiance, finite, >= 0 -> compressed bytes (`SCENE_CODEC`)."""
  radiance = np.asarray(radiance, np.float32)
  codes = np.zeros(radiance.shape, np.uint16)
  positive = radiance > 2.0 ** LOG2_MIN
  codes[positive] = np.clip(np.round((np.log2(radiance[positive].astype(np.float64)) - LOG2_MIN)
                                     * STEPS_PER_STOP), 1, MAX_CODE).astype(np.uint16)
  deltas = np.diff(codes, axis=1, prepend=np.zeros_like(codes[:, :1]))  # wraps mod 2**16
  planes = deltas.astype("<u2").view(np.uint8).reshape(-1, 2).T  # low bytes, then high bytes
  return lzma.compress(np.ascontiguousarray(planes).tobytes(), preset=6)


def decode_codes(data: bytes, shape) -> np.ndarray:
  """Compressed bytes -> `shape` uint16 log2 codes (raises lzma.LZMAError / ValueError if
  bad)."""
  raw = np.frombuffer(lzma.decompress(data), np.uint8)
  count = int(np.prod(shape))
  if raw.size != 2 * count:
    raise ValueError(f"{raw.size} bytes decoded, {2 * count} expected for {tuple(shape)}")
  deltas = (raw[:count].astype(np.uint16) | (raw[count:].astype(np.uint16) << 8)).reshape(shape)
  return np.cumsum(deltas, axis=1, dtype=np.uint16)


def codes_to_radiance(codes: np.ndarray) -> np.ndarray:
  """uint16 log2 codes -> float32 radiance (a table lookup)."""
  return DECODE_LUT[codes]


def decode_radiance(data: bytes, shape) -> np.ndarray:
  """Compressed bytes (`encode_radiance`) -> `shape` (`[H, W, 3]`) float32 radiance >= 0
  (`decode_codes` then `codes_to_radiance`)."""
  return codes_to_radiance(decode_codes(data, shape))
