"""What every builder shares: the example schemas and the corruption recipe of design/data.md.

Scene records (`rendered` >= 2.0.0) hold one whole radiance map, stored compactly
(`encode_radiance`); the input pipeline makes every example from one online (`make_example`:
crop, area resize, flip, a fresh seeded corruption and the ground truth of that field of view).

An example record (`city_scene`, `sun360`) holds the exposure-normalised radiance (f1's target),
the corrupted 8-bit input and the 8-bit ground truth of the fixed tone-mapping operator, plus the corruption parameters.
An LDR-only example (Sun360) has no `hdr`. The corruption of example `example_id` is a pure
function of `(seed, example_id)`, so rebuilding a data set reproduces it bit for bit.
"""

import lzma
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import tensorflow_datasets as tfds

from drht_jax import hdr

# Bump with any change to drht_jax.hdr's corruption or tone mapping (data.md: versioned TMO).
# v2: the ground truth's statistics (log-average, 1st/99th luminance percentiles, auto key) are
# those of the example's own field of view, i.e. the radiance the net sees (the crop, after its
# area resize); a whole-scene test image is the crop at scale 1, so train and test share one
# definition and the target is a function of the input's scene content only.
RECIPE = ("v2 gt=reinhard-global-autokey(exponent clipped to [-1,1])+gamma2.2 over the example's field of view, 8-bit; "
          "ev[-6,3], contrast[0.7,1.4], crf{gamma[1.8,2.6],sigmoid[0.6,1.2]}, clip, 8-bit")


class DataError(ValueError):
  """A data set that cannot be read as it is: the message says what and what to run."""


# --- Scene storage: radiance as log2 codes in uint16, deltas along rows, byte planes, LZMA.
# code 0 = radiance <= 2**LOG2_MIN (stored as 0); code k >= 1 = 2 ** (LOG2_MIN + k / STEPS).
# Codes of 1/256 stop span 2**-32 .. 2**127 (float32's range; no clipping in practice). Relative error
# <= 2**(1/512) - 1 = 1.4e-3 (measured in tests/test_rendered.py), below an 8-bit step
# (1/255 = 3.9e-3 of white; more in the shadows). Each code is stored as its difference to its
# left neighbour (mod 2**16): render noise sets the size (~4 bits per value), the deltas and
# LZMA shave the rest (measured on `small`: 481 KB per scene at 1/1024 stop with zlib, 332 KB
# with this codec).
SCENE_CODEC = "log2-u16-1/256stop-from-2^-32-rowdelta-byteplanes-lzma"
LOG2_MIN = -32.0
STEPS_PER_STOP = 256.0
MAX_CODE = int((127 - LOG2_MIN) * STEPS_PER_STOP)
_DECODE_LUT = np.exp2(LOG2_MIN + np.minimum(np.arange(65536), MAX_CODE) / STEPS_PER_STOP
                      ).astype(np.float32)
_DECODE_LUT[0] = 0.0


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
  return _DECODE_LUT[codes]


def decode_radiance(data: bytes, shape) -> np.ndarray:
  return codes_to_radiance(decode_codes(data, shape))


def scene_features() -> tfds.features.FeaturesDict:
  """Schema of a scene record: one whole radiance map, compressed (no TensorFlow codec)."""
  return tfds.features.FeaturesDict({
      "id": tfds.features.Text(),
      "radiance": tfds.features.Tensor(shape=(), dtype=np.object_,
                                       doc=f"linear radiance [height, width, 3], {SCENE_CODEC}"),
      "height": tfds.features.Scalar(dtype=np.int32),
      "width": tfds.features.Scalar(dtype=np.int32),
      "codec": tfds.features.Text(doc="storage format of `radiance`"),
  })


def make_scene_record(radiance: np.ndarray, scene_id: str) -> dict:
  radiance = np.asarray(radiance, np.float32)
  if radiance.ndim != 3 or radiance.shape[-1] != 3:
    raise ValueError(f"scene {scene_id}: expected [H, W, 3] radiance, got {radiance.shape}")
  if not np.all(np.isfinite(radiance)) or radiance.min() < 0:
    raise ValueError(f"scene {scene_id}: radiance has NaN/Inf or negative values")
  return {"id": scene_id, "radiance": encode_radiance(radiance),
          "height": np.int32(radiance.shape[0]), "width": np.int32(radiance.shape[1]),
          "codec": SCENE_CODEC}


# --- Online examples from a scene (NumPy only: this runs in Grain workers).

def _area_resize_axis(image: np.ndarray, size_out: int, axis: int) -> np.ndarray:
  """Exact area (box) resize along `axis`: output pixel `i` is the mean of the input over
  [i, i + 1) * size_in / size_out, fractional pixels weighted by their overlap. Differences of
  a float64 running sum (no BLAS: a small matmul in a loader worker can be 10x slower with
  OpenBLAS threads fighting over busy cores)."""
  size_in = image.shape[axis]
  edges = np.arange(size_out + 1, dtype=np.float64) * (size_in / size_out)
  index = np.minimum(edges.astype(np.int64), size_in - 1)
  frac = (edges - index).reshape((-1,) + (1,) * (image.ndim - 1 - axis))
  running = np.cumsum(image, axis=axis, dtype=np.float64)
  # Sum of the input before position p: running[k - 1] + frac * image[k], k = floor(p).
  before = np.take(running, index, axis=axis) - np.take(image, index, axis=axis) * (1 - frac)
  return (np.diff(before, axis=axis) * (size_out / size_in)).astype(np.float32)


def area_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
  """Area resize of `[h, w, C]` to `[height, width, C]`: block means where the factor is an
  integer, exact fractional box weights otherwise (`_area_resize_axis`)."""
  h, w, c = image.shape
  if (h, w) == (height, width):
    return image
  if h % height == 0 and w % width == 0:
    fy, fx = h // height, w // width
    return image.reshape(height, fy, width, fx, c).mean(axis=(1, 3), dtype=np.float32)
  if h != height:
    image = _area_resize_axis(image, height, 0)
  if w != width:
    image = _area_resize_axis(image, width, 1)
  return image


def crop_window(rng: np.random.Generator, scene_hw, size, scale_range, whole_prob):
  """A random crop `(y, x, h, w)` of a scene `scene_hw` with the aspect ratio of `size`.

  With probability `whole_prob` the largest such crop (the whole scene when the aspect ratios
  match, i.e. the test protocol); otherwise its side is a uniform fraction in `scale_range` of
  the largest, never below `size` itself (no upsampling). Position uniform.
  """
  sh, sw = scene_hw
  th, tw = size
  max_h = min(sh, int(sw * th / tw))
  if max_h < th:
    raise DataError(f"a scene of {sh}x{sw} is smaller than image_size {th}x{tw}")
  if rng.uniform() < whole_prob:
    h = max_h
  else:
    lo = max(scale_range[0] * max_h, th)
    h = int(round(rng.uniform(lo, max(lo, scale_range[1] * max_h))))
  h = min(max(h, th), max_h)
  w = min(sw, max(tw, int(round(h * tw / th))))
  y = int(rng.integers(0, sh - h + 1))
  x = int(rng.integers(0, sw - w + 1))
  return y, x, h, w


def make_example(radiance: np.ndarray, params: dict) -> dict:
  """Radiance of the field of view `[H, W, 3]` (already cropped and resized) -> the float32
  example `{"ldr", "hdr", "ldr_gt"}`: input by `hdr.np_corrupt_radiance(**params)`, `hdr` the
  radiance normalised to log-average 0.18, ground truth by `hdr.np_ground_truth_ldr` of this
  same radiance, quantised to 8 bits like the input (the recipe of `RECIPE`)."""
  radiance = np.asarray(radiance, np.float32)
  return {"ldr": hdr.np_corrupt_radiance(radiance, **params).astype(np.float32),
          "hdr": hdr.np_normalize_exposure(radiance).astype(np.float32),
          "ldr_gt": hdr.np_quantize_8bit(hdr.np_ground_truth_ldr(radiance)).astype(np.float32)}


def example_key(seed: int, example_id) -> jax.Array:
  """PRNG key of one example: `fold_in(seed, id)`; a string id is hashed with CRC-32."""
  if isinstance(example_id, str):
    example_id = zlib.crc32(example_id.encode("utf-8"))
  return jax.random.fold_in(jax.random.PRNGKey(seed), np.uint32(example_id))


def _corruption_features():
  return {
      "ev": tfds.features.Scalar(dtype=np.float32, doc="exposure change in stops"),
      "contrast": tfds.features.Scalar(dtype=np.float32, doc="power-law contrast"),
  }


def _image_feature(height, width, dtype, doc):
  # `Tensor` features need no TensorFlow to read. Unknown sizes (None) are stored as raw bytes.
  encoding = "bytes" if height is None or width is None else "none"
  return tfds.features.Tensor(shape=(height, width, 3), dtype=dtype, encoding=encoding,
                              doc=doc)


def hdr_features(height=None, width=None) -> tfds.features.FeaturesDict:
  """Schema of an HDR example; `height`/`width` None when a builder mixes sizes across splits."""
  image = lambda dtype, doc: _image_feature(height, width, dtype, doc)
  return tfds.features.FeaturesDict({
      "id": tfds.features.Text(),
      "hdr": image(np.float32, "linear radiance, log-average luminance 0.18"),
      "ldr": image(np.uint8, "corrupted input, 8-bit display-encoded"),
      "ldr_gt": image(np.uint8, "ground truth: Reinhard global + gamma 2.2, 8-bit"),
      **_corruption_features(),
      "crf_kind": tfds.features.Scalar(dtype=np.int32, doc=f"index into {hdr.CRF_NAMES}"),
      "crf_param": tfds.features.Scalar(dtype=np.float32, doc="CRF gamma or sigmoid exponent"),
  })


def ldr_features(height=None, width=None) -> tfds.features.FeaturesDict:
  """Schema of an LDR-only example (Sun360): corrupted input and the original as ground truth."""
  image = lambda doc: _image_feature(height, width, np.uint8, doc)
  return tfds.features.FeaturesDict({
      "id": tfds.features.Text(),
      "ldr": image("corrupted input, 8-bit display-encoded"),
      "ldr_gt": image("the original photo, 8-bit"),
      **_corruption_features(),
  })


def to_uint8(x) -> np.ndarray:
  """[..., 3] in [0, 1] -> uint8, rounding to nearest."""
  return np.asarray(jnp.round(jnp.clip(x, 0.0, 1.0) * 255.0)).astype(np.uint8)


@jax.jit
def _hdr_images(radiance, key):
  params = hdr.sample_corruption(key)
  scene = hdr.normalize_exposure(radiance)
  ldr = hdr.corrupt_radiance(radiance, **params)
  return scene, ldr, hdr.ground_truth_ldr(scene), params


def make_hdr_example(radiance: np.ndarray, seed: int, example_id) -> dict:
  """Radiance `[H, W, 3]` float, finite, >= 0 -> one HDR example (see `hdr_features`)."""
  radiance = np.asarray(radiance, np.float32)
  if not np.all(np.isfinite(radiance)):
    raise ValueError(f"example {example_id}: radiance has NaN/Inf values")
  scene, ldr, gt, params = _hdr_images(radiance, example_key(seed, example_id))
  return {
      "id": str(example_id),
      "hdr": np.asarray(scene, np.float32),
      "ldr": to_uint8(ldr),
      "ldr_gt": to_uint8(gt),
      "ev": np.float32(params["ev"]),
      "contrast": np.float32(params["contrast"]),
      "crf_kind": np.int32(params["crf_kind"]),
      "crf_param": np.float32(params["crf_param"]),
  }


@jax.jit
def _ldr_images(ldr, key):
  params = hdr.sample_corruption(key)
  return hdr.corrupt_ldr(ldr, params["ev"], params["contrast"]), params


def make_ldr_example(ldr: np.ndarray, seed: int, example_id) -> dict:
  """An 8-bit photo `[H, W, 3]` uint8 -> one LDR-only example (see `ldr_features`)."""
  ldr = np.asarray(ldr)
  if ldr.dtype != np.uint8 or ldr.ndim != 3 or ldr.shape[-1] != 3:
    raise ValueError(f"example {example_id}: expected [H, W, 3] uint8, got {ldr.shape} "
                     f"{ldr.dtype}")
  corrupted, params = _ldr_images(ldr.astype(np.float32) / 255.0,
                                  example_key(seed, example_id))
  return {
      "id": str(example_id),
      "ldr": to_uint8(corrupted),
      "ldr_gt": ldr,
      "ev": np.float32(params["ev"]),
      "contrast": np.float32(params["contrast"]),
  }


def scene_rng(seed: int, scene_id: str) -> np.random.Generator:
  """The generator of a test scene's fixed corruption: a function of (seed, id) only."""
  return np.random.default_rng([int(seed), zlib.crc32(str(scene_id).encode("utf-8"))])
