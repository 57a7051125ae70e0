"""`city_scene`: the outdoor HDR panoramas of Zhang & Lalonde (ICCV 2017), from a manual_dir.

Each HDR panorama (`.exr` or `.hdr`) becomes one 64x128 example of `datasets.common`'s HDR
schema: centre-cropped to the 1:2 aspect of an equirectangular panorama if it is not 1:2,
area-averaged to 64x128 (`imageio_utils.resize_area`), then exposure-normalised, corrupted and
tone-mapped by `make_hdr_example` with the builder's fixed `SEED` and the file's path relative
to `<manual_dir>/city_scene` (e.g. `train/0001.exr`) as the example id, so a rebuild gives the
same bytes. Single-channel HDRs are replicated to RGB; slightly negative pixels (lossy EXR
compression) are clamped to 0 and counted as a conversion. Unreadable or truncated files, and
files with NaN/Inf or all-zero radiance, are skipped: each is logged (WARNING) with its path
and reason, and each split ends with a count; `builder.skipped[split]` lists
`(relative_path, reason)` after a build.
"""


import numpy as np
import tensorflow_datasets as tfds

from datasets import common
from datasets import manual_dir
from drht_jax import imageio_utils


HEIGHT, WIDTH = 64, 128

_HOMEPAGE = "http://www.jflalonde.ca/projects/learningHDR"
_CITATION = """@inproceedings{zhang2017learning,
  title={Learning High Dynamic Range from Outdoor Panoramas},
  author={Zhang, Jinsong and Lalonde, Jean-Fran{\\c{c}}ois},
  booktitle={IEEE International Conference on Computer Vision (ICCV)},
  year={2017}
}"""


class CityScene(manual_dir.ManualDirBuilder):
  """Zhang & Lalonde (ICCV 2017) outdoor HDR panoramas as 64x128 DRHT examples."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": f"First release. Recipe: {common.RECIPE}."}
  FOLDER = "city_scene"
  EXTENSIONS = imageio_utils.HDR_EXTENSIONS
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

  def _load(self, path, rel):
    """One file -> (example, None, conversions) or (None, reason, ())."""
    try:
      radiance, notes = imageio_utils.read_hdr_with_conversions(path)
    except (imageio_utils.ImageReadError, OSError) as e:
      return None, manual_dir.read_error(path, e), ()
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
