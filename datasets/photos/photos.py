"""`photos`: real photographs shipped inside the scikit-image wheel, with fixed exposure errors.

A small real-photo evaluation set that needs no download and no manual_dir: the colour
photographs in the installed `skimage/data/` folder (`PHOTOS`), each centre-cropped to a multiple
of 32 in each dimension and at most `MAX_SIDE` (512) per side (no resampling: the crop keeps the
original pixels), then corrupted with each fixed exposure error of `EVS` by
`drht_jax.recipe.corrupt_ldr(photo, ev, contrast=1.0)` (linearise with gamma 2.2, scale by 2**ev,
re-encode, quantise to 8 bits). The target (`ldr_gt`) is the cropped original. One `test`
split of `len(PHOTOS) * len(EVS)` examples (15), ids `"<photo>/ev<+-x.x>"`, e.g.
`"coffee/ev-3.0"`, in `datasets.common.ldr_features` schema (sizes differ between photos, so
the image features have unknown height and width). Nothing is random: a rebuild gives the
same bytes.

Conversions (counted in `builder.conversions["test"]`, like the manual_dir builders):
  - "centre-cropped to a multiple of 32 (at most 512)" when the photo's size changes.
    (All shipped photos are 8-bit RGB; other modes would be converted by `read_ldr` and counted.)

`test_camera` split (1.1.0, issue 16): the same photos and EVs with camera-realistic errors
that a histogram stretch cannot undo exactly (`camera_corrupt`): the photo is linearised with
the sRGB curve, exposed by `2**ev`, given shot + read noise (`drht_jax.camera.sensor`; full well
and read noise drawn per example from `camera.sample_camera` with the key
`common.example_key(CAMERA_SEED, id)`), re-encoded with the sRGB curve, quantised to 8 bits
and JPEG-compressed at quality `CAMERA_JPEG_QUALITY` (`camera.jpeg`); no white-balance error
(the target is the original's colour). Same ids as `test`; a rebuild gives the same bytes.

`write_corrupted(out_dir)` (or `python -m datasets.photos --output=DIR`) writes the same
corrupted inputs and the originals as image files, for `eval.py --input=...` photo mode.
"""

import argparse
import collections
import logging
import os

import jax
import jax.numpy as jnp
import numpy as np
import tensorflow_datasets as tfds

from datasets import common
from drht_jax import hdr
from drht_jax import imageio_utils
from drht_jax import recipe

_LOG = logging.getLogger(__name__)

# name -> file in skimage/data/. All colour photographs of real scenes that the scikit-image
# 0.26 wheel ships (no download). Left out: motorcycle_right.png (the stereo partner of
# motorcycle_left, nearly the same picture), and colour images that are not photographs of
# everyday scenes: hubble_deep_field.jpg (telescope), retina.jpg and ihc.png (medical
# microscopy), color.png / chessboard_RGB.png / logo.png (synthetic).
PHOTOS = {
    "astronaut": "astronaut.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "motorcycle_left": "motorcycle_left.png",
    "rocket": "rocket.jpg",
}
EVS = (-3.0, -2.0, 1.5)  # fixed exposure errors, stops: part of the data set's definition
CONTRAST = 1.0
MULTIPLE = 32
MAX_SIDE = 512
SPLIT = "test"
CAMERA_SPLIT = "test_camera"
CAMERA_SEED = 16            # part of test_camera's definition, do not change in 1.x
CAMERA_JPEG_QUALITY = 90

_HOMEPAGE = "https://scikit-image.org/docs/stable/api/skimage.data.html"


def data_dir() -> str:
  """The installed scikit-image's data folder (the files ship inside the wheel)."""
  import skimage.data  # pylint: disable=import-outside-toplevel
  return os.path.dirname(os.path.abspath(skimage.data.__file__))


def photo_path(name: str) -> str:
  if name not in PHOTOS:
    raise ValueError(f"unknown photo {name!r}; available: {sorted(PHOTOS)}")
  return os.path.join(data_dir(), PHOTOS[name])


def crop_size(height: int, width: int, multiple: int = MULTIPLE, max_side: int = MAX_SIDE):
  """Largest (h, w) <= the image and <= max_side, each a multiple of `multiple`."""
  h, w = min(height, max_side), min(width, max_side)
  h, w = h - h % multiple, w - w % multiple
  if h == 0 or w == 0:
    raise ValueError(f"image {height}x{width} is smaller than {multiple}x{multiple}")
  return h, w


def center_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
  y0 = (image.shape[0] - height) // 2
  x0 = (image.shape[1] - width) // 2
  return np.ascontiguousarray(image[y0:y0 + height, x0:x0 + width])


def load_photo(name: str):
  """Photo `name` -> (`[H, W, 3]` uint8, H and W multiples of 32 and <= 512, conversions)."""
  image = imageio_utils.read_ldr(photo_path(name))
  notes = list(image.conversions)
  if image.bit_depth != 8:
    notes.append(f"{image.bit_depth}-bit -> 8-bit (rounded)")
  pixels = np.round(image.pixels * 255.0).astype(np.uint8)  # exact for 8-bit files
  height, width = crop_size(*pixels.shape[:2])
  if (height, width) != pixels.shape[:2]:
    notes.append(f"centre-cropped to a multiple of {MULTIPLE} (at most {MAX_SIDE})")
    pixels = center_crop(pixels, height, width)
  return pixels, notes


@jax.jit
def _corrupt(ldr, ev):
  return recipe.corrupt_ldr(ldr, ev, CONTRAST)


def corrupt(photo: np.ndarray, ev: float) -> np.ndarray:
  """`[H, W, 3]` uint8 photo -> the same photo with an exposure error of `ev` stops, uint8."""
  return common.to_uint8(_corrupt(np.asarray(photo, np.float32) / 255.0, np.float32(ev)))


@jax.jit
def _camera_corrupt(photo, ev, key):
  from drht_jax import camera  # pylint: disable=import-outside-toplevel
  k_params, k_noise = jax.random.split(key)
  params = camera.sample_camera(k_params)
  x = camera.srgb_decode(photo) * jnp.exp2(ev)
  x = camera.sensor(k_noise, x, params["full_well"], params["read_noise"])
  y = hdr.quantize_8bit(camera.srgb_encode(x))
  return camera.jpeg(y, jnp.int32(CAMERA_JPEG_QUALITY)), params


def camera_corrupt(photo: np.ndarray, ev: float, example: str):
  """`[H, W, 3]` uint8 photo -> (the photo re-shot `ev` stops off by a camera, uint8; the
  drawn `full_well` and `read_noise`). See the module docstring (`test_camera`)."""
  out, params = _camera_corrupt(np.asarray(photo, np.float32) / 255.0, np.float32(ev),
                                common.example_key(CAMERA_SEED, example))
  return common.to_uint8(out), {k: float(params[k]) for k in ("full_well", "read_noise")}


def example_id(name: str, ev: float) -> str:
  return f"{name}/ev{ev:+.1f}"


def make_example(photo: np.ndarray, name: str, ev: float) -> dict:
  """One example of `common.ldr_features`: corrupted input, original as ground truth."""
  return {
      "id": example_id(name, ev),
      "ldr": corrupt(photo, ev),
      "ldr_gt": photo,
      "ev": np.float32(ev),
      "contrast": np.float32(CONTRAST),
  }


class Photos(tfds.core.GeneratorBasedBuilder):
  """scikit-image's colour photographs with fixed exposure errors (EV -3, -2, +1.5)."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {"1.0.0": "First release: 5 photos x EV {-3, -2, +1.5}, contrast 1.",
                   "1.1.0": "Adds test_camera: the same errors as a camera makes them (sRGB, "
                            "shot + read noise, JPEG q90); test unchanged."}

  def __init__(self, *, file_format="array_record", **kwargs):
    """As `GeneratorBasedBuilder`, but writes `array_record` by default (read with
    `tfds.data_source`, no TensorFlow needed)."""
    super().__init__(file_format=file_format, **kwargs)
    self.conversions = {}  # split -> Counter of conversion descriptions

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=("The colour photographs shipped with scikit-image (" +
                     ", ".join(PHOTOS) + "), centre-cropped to multiples of 32 (at most "
                     f"{MAX_SIDE}), each with fixed exposure errors EV {list(EVS)} (contrast "
                     "1.0, drht_jax.recipe.corrupt_ldr) and, in test_camera, as a camera makes them; "
                     "the original photo is the target."),
        features=common.ldr_features(),
        homepage=_HOMEPAGE,
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download: the files are in the installed package
    return {SPLIT: self._generate_examples(SPLIT),
            CAMERA_SPLIT: self._generate_examples(CAMERA_SPLIT)}

  def _generate_examples(self, split):
    conversions = self.conversions.setdefault(split, collections.Counter())
    for name in PHOTOS:
      photo, notes = load_photo(name)
      conversions.update(notes)
      for ev in EVS:
        example = make_example(photo, name, ev)
        if split == CAMERA_SPLIT:
          example["ldr"], _ = camera_corrupt(photo, ev, example["id"])
        yield example["id"], example
    _LOG.warning("photos/%s: %d examples%s", split, len(PHOTOS) * len(EVS),
                 "".join(f"; {n}x {c}" for c, n in sorted(conversions.items())))


def write_corrupted(out_dir, names=None, evs=EVS, ext=".png"):
  """Writes `<out_dir>/input/<name>_ev<+-x.x><ext>` (the corrupted photos, exactly the data
  set's `ldr`) and `<out_dir>/original/<name><ext>` (the cropped originals, `ldr_gt`).

  `names`: photos of `PHOTOS` (default all); `evs`: exposure errors in stops (a number or a
  sequence); `ext`: `.png` (lossless, default) or `.jpg` (quality 95). Returns the written
  paths, originals first.
  """
  names = list(PHOTOS) if names is None else list(names)
  evs = [float(evs)] if np.ndim(evs) == 0 else [float(ev) for ev in evs]
  paths = []
  for name in names:
    photo, _ = load_photo(name)
    path = os.path.join(os.fspath(out_dir), "original", name + ext)
    imageio_utils.write_ldr(path, photo)
    paths.append(path)
  for name in names:
    photo, _ = load_photo(name)
    for ev in evs:
      path = os.path.join(os.fspath(out_dir), "input", f"{name}_ev{ev:+.1f}{ext}")
      imageio_utils.write_ldr(path, corrupt(photo, ev))
      paths.append(path)
  return paths


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(
      description="Write scikit-image's photos with fixed exposure errors as image files "
                  "(input/) and the cropped originals (original/), for eval.py --input.")
  parser.add_argument("--output", required=True, help="folder to write into")
  parser.add_argument("--names", default=",".join(PHOTOS),
                      help=f"comma-separated photos (default: all of {', '.join(PHOTOS)})")
  parser.add_argument("--ev", default=",".join(str(ev) for ev in EVS),
                      help="comma-separated exposure errors in stops (default: %(default)s)")
  parser.add_argument("--ext", default=".png", choices=(".png", ".jpg"))
  args = parser.parse_args(argv)
  names = [n for n in args.names.split(",") if n]
  unknown = [n for n in names if n not in PHOTOS]
  if unknown:
    parser.error(f"unknown photos {unknown}; available: {', '.join(PHOTOS)}")
  evs = [float(ev) for ev in args.ev.split(",") if ev]
  paths = write_corrupted(args.output, names, evs, args.ext)
  print(f"wrote {len(paths)} files under {args.output}")
  return 0

