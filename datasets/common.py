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

import jax
import jax.numpy as jnp
import numpy as np
import tensorflow_datasets as tfds

from drht_jax import hdr
from drht_jax import recipe
from drht_jax.formats import common as formats_common
from drht_jax.formats import scene_codec

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


DataError = formats_common.DataError


# The scene codec and the example keys live in drht_jax (the loader reads them); re-exported
# here for the builders.
SCENE_CODEC = scene_codec.SCENE_CODEC
encode_radiance = scene_codec.encode_radiance
decode_codes = scene_codec.decode_codes
codes_to_radiance = scene_codec.codes_to_radiance
decode_radiance = scene_codec.decode_radiance
example_key = recipe.example_key


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
