"""What every builder shares: the record schemas, the scene codec, seeded stored examples.

The recipe itself (crop, area resize, flip, corruption, targets) is `drht_jax/recipe.py`, in
JAX, the only implementation: the loader runs it on the device, `make_hdr_example` /
`make_ldr_example` below run it (jitted on the CPU) for builders with stored examples.

Scene records (`rendered` >= 2.0.0) hold one whole radiance map, stored compactly
(`encode_radiance`); the input pipeline makes every example from one online
(`recipe.scene_example`: crop, area resize, flip, a fresh seeded corruption and the ground truth
of that field of view).

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
from drht_jax import recipe

# Bump with any change to drht_jax.recipe / hdr's corruption or tone mapping (docs/data.md: versioned
# TMO).
# v2: the ground truth's statistics (log-average, 1st/99th luminance percentiles, auto key) are
# those of the example's own field of view, i.e. the radiance the net sees (the crop, after its
# area resize); a whole-scene test image is the crop at scale 1, so train and test share one
# definition and the target is a function of the input's scene content only.
# v3: one JAX implementation (drht_jax/recipe.py), run on the device: fractional crop windows
# resampled by exact area weights, examples keyed by fold_in(seed, step, example); the ground
# truth is that of the exposure-normalised radiance (as stored examples always had it).
# v4: the training/eval input of scene data is `config.data.corruption`, by default "camera"
# (drht_jax/camera.py); stored example records (city_scene, sun360) keep the parametric one.
RECIPE = ("v4 jax-recipe input=data.corruption(default camera: drht_jax/camera.py; "
          "parametric below) gt=reinhard-global-autokey(exponent clipped to [-1,1])+gamma2.2 over the example's field of view, 8-bit; "
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
  example, params = recipe.make_example(key, radiance, "parametric")
  return example["hdr"], example["ldr"], example["ldr_gt"], params


def make_hdr_example(radiance: np.ndarray, seed: int, example_id) -> dict:
  """Radiance `[H, W, 3]` float, finite, >= 0 -> one HDR example (see `hdr_features`):
  `recipe.make_example` with the parametric corruption, keyed by `example_key(seed, id)`."""
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
  params = recipe.sample_corruption(key)
  return recipe.corrupt_ldr(ldr, params["ev"], params["contrast"]), params


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
