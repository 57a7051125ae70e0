"""The data recipe, once: crop, area resize, flip, corruption, 8-bit quantisation, targets.

Everything here is JAX, pure and jit/vmap-friendly (no Python branching on values): the
training loader runs it on the device inside a compiled function, vmapped over the batch
(`input_pipeline`), and the builders (`datasets/*`, their fixed test splits) and the
evaluation splits call the same functions on the CPU. `drht_jax.hdr` holds the math it is
made of (exposure, contrast, camera curves, Eq. 1's quantisation, the tone mapping).

One example from linear radiance `[H, W, 3]` float32 >= 0 (docs/data.md, `datasets.common.RECIPE`):

  1. window  `crop_window`: the aspect ratio of `image_size`; the whole scene with probability
             `whole_prob` (the test protocol), else a side uniform in `scale_range` of the
             largest such window, never below `image_size` (no upsampling); position uniform.
             Windows are fractional: `[y0, y0 + h) x [x0, x0 + w)` in pixels.
  2. resize  `resample`: exact area (box) resampling of the window to `image_size`, as two
             overlap matrices (`area_weights`), so the shapes are static whatever the window.
  3. flip    horizontal, probability 1/2 (the rows of the column matrix reversed).
  4. input   `corrupt(kind, ...)`: "parametric" (`sample_corruption` + `corrupt_radiance`,
             Eq. 1 with a random exposure, contrast and camera curve, 8-bit) or "camera"
             (`drht_jax.camera`: a simulated camera capture), from the example's key.
  5. targets `targets`: `hdr` = the radiance normalised to log-average luminance 0.18 (f1's
             target, Eq. 2), `ldr_gt` = `hdr.ground_truth_ldr` of it, quantised to 8 bits.

Keys: `example_keys(seed, step, indices)` folds (seed, step, example index) into one key per
example, so a batch is a function of the seed and its step only: same seed -> same bits, and
a resumed run (the step restored) makes the same examples.
"""

import zlib

import jax
import jax.numpy as jnp
import numpy as np

from drht_jax import hdr

CORRUPTIONS = ("parametric", "camera")
# Salt folded into the run's seed for data keys (so they never equal the model-init keys).
_DATA_SALT = 0x64617461  # "data"

# --- The parametric corruption (docs/data.md): the distribution and Eq. 1 with its parameters.

EV_RANGE = (-6.0, 3.0)          # paper Sec. 4.1
CONTRAST_RANGE = (0.7, 1.4)     # power-law contrast around mid-grey, see hdr.change_contrast
CRF_GAMMA_RANGE = (1.8, 2.6)
CRF_SIGMOID_N_RANGE = (0.6, 1.2)


def sample_corruption(key):
  """Draws one example's corruption parameters from `key` (uniform in the ranges above).

  Returns a dict of scalars: `ev`, `contrast`, `crf_kind` (int32 index into hdr.CRF_NAMES)
  and `crf_param` (the gamma or the sigmoid exponent). Same key, same parameters.
  """
  k_ev, k_contrast, k_kind, k_param = jax.random.split(key, 4)
  ev = jax.random.uniform(k_ev, (), minval=EV_RANGE[0], maxval=EV_RANGE[1])
  contrast = jax.random.uniform(k_contrast, (), minval=CONTRAST_RANGE[0],
                                maxval=CONTRAST_RANGE[1])
  kind = jax.random.randint(k_kind, (), 0, len(hdr.CRF_NAMES))
  u = jax.random.uniform(k_param, ())
  lo = jnp.where(kind == 0, CRF_GAMMA_RANGE[0], CRF_SIGMOID_N_RANGE[0])
  hi = jnp.where(kind == 0, CRF_GAMMA_RANGE[1], CRF_SIGMOID_N_RANGE[1])
  return {"ev": ev, "contrast": contrast, "crf_kind": kind, "crf_param": lo + u * (hi - lo)}


def corrupt_radiance(radiance, ev, contrast, crf_kind, crf_param):
  """Eq. 1 with a bad exposure: radiance `[H, W, 3]` -> 8-bit-quantised LDR input in [0, 1].

  Normalise exposure (log-average to 0.18), change contrast, scale by `2 ** ev`, camera curve,
  clip, quantise. The parameters come from `sample_corruption`.
  """
  scene = hdr.change_contrast(hdr.normalize_exposure(radiance), contrast)
  return hdr.quantize_8bit(hdr.apply_crf(jnp.clip(hdr.expose(scene, ev), 0.0, 1.0),
                                         crf_kind, crf_param))


def corrupt_ldr(ldr, ev, contrast):
  """Corruption for LDR-only data (Sun360, photos): linearise, contrast, expose, re-encode,
  quantise. `ldr` `[H, W, 3]` in [0, 1] (display-encoded) -> corrupted LDR in [0, 1]."""
  linear = hdr.change_contrast(hdr.display_decode(ldr), contrast)
  return hdr.quantize_8bit(hdr.display_encode(hdr.expose(linear, ev)))


def corrupt(kind: str, key, radiance):
  """The input of one example: radiance `[H, W, 3]` float32 >= 0 -> (`[H, W, 3]` float32 in
  [0, 1] on 8-bit levels, its parameters as a dict of scalars). `kind` (static) is one of
  `CORRUPTIONS`; "camera" imports `drht_jax.camera` only when chosen."""
  if kind == "parametric":
    params = sample_corruption(key)
    return corrupt_radiance(radiance, **params), params
  if kind == "camera":
    from drht_jax import camera  # pylint: disable=g-import-not-at-top  (only when chosen)
    k_params, k_capture = jax.random.split(key)
    params = camera.sample_camera(k_params)
    return camera.capture(k_capture, hdr.normalize_exposure(radiance), params), params
  raise ValueError(f"config.data.corruption: expected one of {CORRUPTIONS}, got {kind!r}")


# --- Re-exposure of stored photos (mixture entries with `reexpose`, docs/data.md).

REEXPOSE_EV_RANGE = (-4.0, 2.5)   # stops relative to the photo, uniform


def reexpose(key, photo, corruption: str = "camera"):
  """A well-exposed photo re-shot with an exposure error `ev` (uniform in `REEXPOSE_EV_RANGE`).

  `corruption` (static, one of `CORRUPTIONS`) is how the error is made:

  "parametric": the paper's Sun360 protocol, `corrupt_ldr(photo, ev, contrast=1)`: linearise
  with the display gamma, expose by `2 ** ev`, re-encode, clip, quantise to 8 bits. No noise
  and no compression: an exact global exposure change of the encoded photo (the `photos`
  builder's `test` corruption with a random exposure).

  "camera": the input a camera would have made of the same scene `ev` stops off: the photo is
  linearised with the sRGB curve, exposed by `2 ** ev`, given shot + read noise
  (`camera.sensor`, full well and read noise from `camera.sample_camera`), re-encoded with the
  sRGB curve, quantised to 8 bits and JPEG-compressed at the drawn quality
  (`camera.jpeg`). No white-balance error: the photo's own colour is the target. This is the
  `photos` builder's `test_camera` corruption with a random exposure; it teaches the inverse of
  an exposure change on real photographs, with the photo itself as the ground truth (the
  paper's Sun360 protocol with a camera's errors).

  Args:
    key: a `jax.random` key; same key, same bits.
    photo: `[H, W, 3]` float32 in [0, 1], display-encoded (a real, well-exposed frame).
    corruption: "camera" (the default, as before the argument existed) or "parametric".

  Returns:
    (`[H, W, 3]` float32 in [0, 1] on the 256 8-bit levels, the drawn parameters as a dict of
    scalars: `ev`, and for "camera" `full_well`, `read_noise`, `jpeg_quality`).
  """
  if corruption not in CORRUPTIONS:
    raise ValueError(f"recipe.reexpose: corruption expected one of {CORRUPTIONS}, got "
                     f"{corruption!r}")
  k_ev, k_params, k_noise = jax.random.split(key, 3)
  ev = jax.random.uniform(k_ev, (), minval=REEXPOSE_EV_RANGE[0], maxval=REEXPOSE_EV_RANGE[1])
  if corruption == "parametric":
    return corrupt_ldr(photo, ev, 1.0), {"ev": ev}
  from drht_jax import camera  # pylint: disable=g-import-not-at-top  (only when chosen)
  params = camera.sample_camera(k_params)
  x = hdr.srgb_decode(photo) * jnp.exp2(ev)
  x = camera.sensor(k_noise, x, params["full_well"], params["read_noise"])
  ldr = camera.jpeg(hdr.quantize_8bit(hdr.srgb_encode(x)), params["jpeg_quality"])
  return ldr, {"ev": ev, "full_well": params["full_well"], "read_noise": params["read_noise"],
               "jpeg_quality": params["jpeg_quality"]}


def targets(radiance):
  """radiance `[H, W, 3]` -> `{"hdr": normalised to log-average 0.18, "ldr_gt": the fixed
  TMO (`hdr.ground_truth_ldr`) of it on 8-bit levels in [0, 1]}` (float32)."""
  scene = hdr.normalize_exposure(radiance)
  return {"hdr": scene, "ldr_gt": hdr.quantize_8bit(hdr.ground_truth_ldr(scene))}


def make_example(key, radiance, corruption: str = "parametric"):
  """Radiance of the field of view `[H, W, 3]` (already cropped and resized) -> float32
  `{"ldr", "hdr", "ldr_gt"}` and the corruption's parameters (steps 4 and 5)."""
  ldr, params = corrupt(corruption, key, radiance)
  return {"ldr": ldr, **targets(radiance)}, params


# --- Geometry: windows and exact area resampling with static shapes.

def crop_window(key, scene_hw, size, scale_range=(0.25, 1.0), whole_prob=0.25):
  """A random window `(y0, x0, h, w)` (float32 scalars, pixels) of a scene of `scene_hw`
  (traced or static `(height, width)`) with the aspect ratio of `size` (static `(H, W)`).

  Probability `whole_prob`: the largest such window (the whole scene when the aspect ratios
  match); else its height is uniform in `scale_range` x the largest, never below `size[0]`
  (no upsampling). Position uniform. The scene must be at least `size` (callers check:
  `check_scene_size`).
  """
  th, tw = float(size[0]), float(size[1])
  sh = jnp.asarray(scene_hw[0], jnp.float32)
  sw = jnp.asarray(scene_hw[1], jnp.float32)
  k_whole, k_side, k_y, k_x = jax.random.split(key, 4)
  max_h = jnp.minimum(sh, sw * (th / tw))
  lo = jnp.maximum(scale_range[0] * max_h, th)
  hi = jnp.maximum(lo, scale_range[1] * max_h)
  h = jnp.where(jax.random.uniform(k_whole) < whole_prob, max_h,
                lo + jax.random.uniform(k_side) * (hi - lo))
  h = jnp.clip(h, th, max_h)
  w = jnp.minimum(sw, jnp.maximum(tw, h * (tw / th)))
  y0 = jax.random.uniform(k_y) * (sh - h)
  x0 = jax.random.uniform(k_x) * (sw - w)
  return y0, x0, h, w


def check_scene_size(scene_hw, size, origin=""):
  """Raises ValueError unless a `scene_hw` scene holds a `size` window (host-side check)."""
  sh, sw = (int(v) for v in scene_hw)
  th, tw = size
  if min(sh, sw * th / tw) < th:
    raise ValueError(f"{origin + ': ' if origin else ''}a scene of {sh}x{sw} is smaller than "
                     f"image_size {th}x{tw}")


def area_weights(start, length, size_in: int, size_out: int):
  """`[size_out, size_in]` float32 matrix of exact area (box) resampling of the fractional
  interval `[start, start + length)` of an axis of `size_in` pixels into `size_out` pixels:
  entry (i, p) is the overlap of output pixel i's footprint `start + [i, i + 1) * s` (s =
  length / size_out) with input pixel `[p, p + 1)`, divided by s. Rows sum to 1; pixels
  outside the interval (e.g. padding) get weight 0. `start`, `length` may be traced."""
  step = jnp.asarray(length, jnp.float32) / size_out
  lo = jnp.asarray(start, jnp.float32) + jnp.arange(size_out, dtype=jnp.float32)[:, None] * step
  p = jnp.arange(size_in, dtype=jnp.float32)[None, :]
  overlap = jnp.minimum(lo + step, p + 1.0) - jnp.maximum(lo, p)
  return jnp.maximum(overlap, 0.0) / step


def resample(image, window, size, flip=False):
  """`[H, W, C]` -> `[size[0], size[1], C]` float32: the area resampling of `window`
  `(y0, x0, h, w)`, mirrored left-right when `flip` (a traced bool is fine).

  `Wy @ image @ Wx^T` per channel (einsum, float32 at full precision: GPUs would otherwise use
  TF32). An integer factor gives exact block means; the whole image at its own size is the
  identity."""
  y0, x0, h, w = window
  wy = area_weights(y0, h, image.shape[0], size[0])
  wx = area_weights(x0, w, image.shape[1], size[1])
  wx = jnp.where(flip, wx[::-1], wx)
  image = jnp.asarray(image, jnp.float32)
  high = jax.lax.Precision.HIGHEST
  rows = jnp.einsum("oh,hwc->owc", wy, image, precision=high)
  return jnp.einsum("owc,pw->opc", rows, wx, precision=high)


def resize(image, size):
  """Area resize of a whole `[H, W, C]` image to `size` (the test protocols' `test_HxW`)."""
  h, w = image.shape[:2]
  return resample(image, (0.0, 0.0, float(h), float(w)), size)


# --- Keys and whole examples.

def data_key(seed: int, stream: int = 0):
  """The run's base key for data (a stream apart from the model's init keys). `stream` > 0
  gives each further source of a data mixture its own keys (`input_pipeline.Mixture`)."""
  key = jax.random.fold_in(jax.random.PRNGKey(seed), _DATA_SALT)
  return jax.random.fold_in(key, stream) if stream else key


def example_key(seed: int, example_id) -> jax.Array:
  """PRNG key of one example: `fold_in(seed, id)`; a string id is hashed with CRC-32."""
  if isinstance(example_id, str):
    example_id = zlib.crc32(example_id.encode("utf-8"))
  return jax.random.fold_in(jax.random.PRNGKey(seed), np.uint32(example_id))


def example_keys(base_key, step, indices):
  """One key per example: `fold_in(fold_in(base_key, step), index)` for `indices` `[B]`
  (global positions in the step's batch). `step` and `indices` may be traced."""
  step_key = jax.random.fold_in(base_key, step)
  return jax.vmap(lambda i: jax.random.fold_in(step_key, i))(indices)


def scene_example(key, radiance, scene_hw, size, *, flip=True, scale_range=(0.25, 1.0),
                  whole_prob=0.25, corruption="parametric", corruption_key=None):
  """One training example from a scene: radiance `[Hp, Wp, 3]` (a scene of `scene_hw`,
  possibly zero-padded to `Hp x Wp`) -> float32 `{"ldr", "hdr", "ldr_gt"}` `[*size, 3]`.

  Steps 1-5 of the module docstring from `key`; the corruption from `corruption_key` when
  given (the frozen-corruption ablation), else from `key`."""
  k_window, k_flip, k_corrupt = jax.random.split(key, 3)
  window = crop_window(k_window, scene_hw, size, scale_range, whole_prob)
  mirror = jnp.logical_and(flip, jax.random.bernoulli(k_flip))
  view = resample(radiance, window, size, mirror)
  example, _ = make_example(k_corrupt if corruption_key is None else corruption_key, view,
                            corruption)
  return example


def crop_example(key, images, example_hw, size, *, flip=True):
  """A stored example (`{"ldr", "ldr_gt"}` uint8 or float, `"hdr"` float, `[Hp, Wp, 3]`, an
  example of `example_hw` possibly zero-padded) -> a random `size` crop, the same window in
  all images, flipped with probability 1/2; float32, LDR images in [0, 1]."""
  k_y, k_x, k_flip = jax.random.split(key, 3)
  th, tw = size
  y = jnp.floor(jax.random.uniform(k_y) * (example_hw[0] - th + 1)).astype(jnp.int32)
  x = jnp.floor(jax.random.uniform(k_x) * (example_hw[1] - tw + 1)).astype(jnp.int32)
  mirror = jnp.logical_and(flip, jax.random.bernoulli(k_flip))
  out = {}
  for name, image in images.items():
    crop = jax.lax.dynamic_slice(image, (y, x, 0), (th, tw, image.shape[-1]))
    crop = crop.astype(jnp.float32) / (255.0 if image.dtype == jnp.uint8 else 1.0)
    out[name] = jnp.where(mirror, crop[:, ::-1], crop)
  return out
