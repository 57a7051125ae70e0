"""`city_scene`: the outdoor HDR panoramas of Zhang & Lalonde (ICCV 2017), from a manual_dir.

Each HDR panorama (`.exr` or `.hdr`) becomes one 64x128 example of `datasets.common`'s HDR
schema: centre-cropped to the 1:2 aspect of an equirectangular panorama if it is not 1:2,
area-averaged to 64x128 (`imageio_utils.resize_area`), then exposure-normalised, corrupted and
tone-mapped by `make_hdr_example` with the builder's fixed `SEED` and the file's path relative
to `<manual_dir>/city_scene` (e.g. `train/0001.exr`) as the example id, so a rebuild gives the
same bytes. Single-channel HDRs are replicated to RGB. Unreadable or truncated files, and files
with NaN/Inf/negative or all-zero radiance, are skipped: each is logged (WARNING) with its path
and reason, and each split ends with a count; `builder.skipped[split]` lists
`(relative_path, reason)` after a build.
"""

import collections
import logging
import os

import numpy as np
import tensorflow_datasets as tfds

from datasets import common
from drht_jax import imageio_utils

_LOG = logging.getLogger(__name__)

HEIGHT, WIDTH = 64, 128
SPLITS = ("train", "test")
FOLDER = "city_scene"

_HOMEPAGE = "http://www.jflalonde.ca/projects/learningHDR"
_CITATION = """@inproceedings{zhang2017learning,
  title={Learning High Dynamic Range from Outdoor Panoramas},
  author={Zhang, Jinsong and Lalonde, Jean-Fran{\\c{c}}ois},
  booktitle={IEEE International Conference on Computer Vision (ICCV)},
  year={2017}
}"""


def list_files(split_dir, extensions):
  """Files under `split_dir` (recursively) with one of `extensions` (any case), sorted;
  hidden files (`.name`, e.g. macOS `._x.exr` forks) are left out. Returns (files, n_other)."""
  files, n_other = [], 0
  for root, dirs, names in os.walk(split_dir):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    for name in names:
      if name.startswith("."):
        continue
      if imageio_utils.has_extension(name, extensions):
        files.append(os.path.join(root, name))
      else:
        n_other += 1
  return sorted(files), n_other


def split_dirs(manual_dir, folder, instructions):
  """`{split: <manual_dir>/<folder>/<split>}`; an AssertionError with the instructions (like
  tfds's own for a missing manual_dir) if a folder is missing."""
  root = os.path.join(os.fspath(manual_dir), folder)
  missing = [s for s in SPLITS if not os.path.isdir(os.path.join(root, s))]
  if missing:
    raise AssertionError(
        f"Manual directory {manual_dir} lacks {', '.join(os.path.join(root, s) for s in missing)}."
        f" Create it using instructions:\n{instructions}")
  return {s: os.path.join(root, s) for s in SPLITS}


class CityScene(tfds.core.GeneratorBasedBuilder):
  """Zhang & Lalonde (ICCV 2017) outdoor HDR panoramas as 64x128 DRHT examples."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": f"First release. Recipe: {common.RECIPE}."}
  SEED = 2017  # corruption seed: part of the data set's definition, do not change in 1.x
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
  The city scene HDR panoramas of Zhang & Lalonde, "Learning High Dynamic Range from Outdoor
  Panoramas" (ICCV 2017) are not downloadable automatically: ask for them from the authors
  (Universite Laval, {_HOMEPAGE}) and accept their licence (academic, non-commercial research
  use; do not redistribute). Then put the HDR files (OpenEXR `.exr` or Radiance `.hdr`, any
  size, ideally 1:2 equirectangular) in this layout:

    <manual_dir>/city_scene/train/*.exr|*.hdr   (sub-folders allowed; paper: 39,198 images)
    <manual_dir>/city_scene/test/*.exr|*.hdr    (paper: 1,672 images)

  and build with
    CityScene(data_dir=DATA_DIR).download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=MANUAL_DIR))
  (default manual_dir: <data_dir>/downloads/manual). See datasets/city_scene/README.md.
  """

  def __init__(self, *, file_format="array_record", **kwargs):
    """As `GeneratorBasedBuilder`, but writes `array_record` by default (read with
    `tfds.data_source`, no TensorFlow needed)."""
    super().__init__(file_format=file_format, **kwargs)
    self.skipped = {}      # split -> [(relative path, reason)], filled by a build
    self.conversions = {}  # split -> Counter of conversion descriptions

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=("Outdoor HDR panoramas (Zhang & Lalonde, ICCV 2017) resized to 64x128, "
                     "with a seeded badly exposed 8-bit input and a Reinhard-global ground "
                     f"truth. Recipe: {common.RECIPE}."),
        features=common.hdr_features(HEIGHT, WIDTH),
        homepage=_HOMEPAGE,
        citation=_CITATION,
    )

  def _split_generators(self, dl_manager):
    dirs = split_dirs(dl_manager.manual_dir, FOLDER, self.MANUAL_DOWNLOAD_INSTRUCTIONS)
    root = os.path.dirname(dirs["train"])
    return {split: self._generate_examples(root, split, path) for split, path in dirs.items()}

  def _generate_examples(self, root, split, split_dir):
    files, n_other = list_files(split_dir, imageio_utils.HDR_EXTENSIONS)
    skipped = self.skipped.setdefault(split, [])
    conversions = self.conversions.setdefault(split, collections.Counter())
    if n_other:
      _LOG.info("%s: ignored %d files without an HDR extension %s", split_dir, n_other,
                imageio_utils.HDR_EXTENSIONS)
    for path in files:
      rel = os.path.relpath(path, root).replace(os.sep, "/")
      example, reason, notes = self._load(path, rel)
      if example is None:
        skipped.append((rel, reason))
        _LOG.warning("city_scene: skipping %s", reason)
        continue
      conversions.update(notes)
      yield rel, example
    _LOG.warning("city_scene/%s: %d examples, skipped %d of %d files%s", split,
                 len(files) - len(skipped), len(skipped), len(files),
                 "".join(f"; {n}x {c}" for c, n in sorted(conversions.items())))

  def _load(self, path, rel):
    """One file -> (example, None, conversions) or (None, reason, ())."""
    try:
      radiance, notes = imageio_utils.read_hdr_with_conversions(path)
    except (imageio_utils.ImageReadError, OSError) as e:
      reason = str(e)
      return None, reason if reason.startswith(path) else f"{path}: {reason}", ()
    notes = list(notes)
    height, width = radiance.shape[:2]
    radiance = imageio_utils.center_crop_to_aspect(radiance, WIDTH / HEIGHT)
    if radiance.shape[:2] != (height, width):
      notes.append("centre-cropped to 1:2")
    radiance = imageio_utils.resize_area(radiance, HEIGHT, WIDTH)
    if not np.max(radiance) > 0:
      return None, f"{path}: all pixels are zero (black image)", ()
    example = common.make_hdr_example(radiance, self.SEED, rel)
    if not all(np.all(np.isfinite(example[k])) for k in ("hdr", "ev", "contrast", "crf_param")):
      return None, f"{path}: the recipe produced NaN/Inf values", ()
    return example, None, notes
