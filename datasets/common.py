"""What every builder shares: the example schema and the corruption recipe of design/data.md.

An HDR example holds the exposure-normalised radiance (f1's target), the corrupted 8-bit input
and the 8-bit ground truth of the fixed tone-mapping operator, plus the corruption parameters.
An LDR-only example (Sun360) has no `hdr`. The corruption of example `example_id` is a pure
function of `(seed, example_id)`, so rebuilding a data set reproduces it bit for bit.
"""

import zlib

import jax
import jax.numpy as jnp
import numpy as np
import tensorflow_datasets as tfds

from drht_jax import hdr

# Bump with any change to drht_jax.hdr's corruption or tone mapping (data.md: versioned TMO).
RECIPE = "reinhard-global-autokey+gamma2.2; ev[-6,3], contrast[0.7,1.4], crf{gamma,sigmoid}"


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
