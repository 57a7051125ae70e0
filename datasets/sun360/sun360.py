"""`sun360`: SUN360 outdoor panoramas (Xiao et al., CVPR 2012) as LDR-only examples, manual_dir.

Each photo (`.jpg`, `.jpeg`, `.png`, `.bmp`, any case) becomes one 256x512 example of
`datasets.common`'s LDR schema: the photo is the ground truth and `make_ldr_example` makes the
badly exposed input, seeded by the builder's fixed `SEED` and the file's path relative to
`<manual_dir>/sun360` (e.g. `train/pano_a.jpg`, the example id).

Conversions (each counted in the log and in `builder.conversions[split]`):
  - grayscale -> RGB (replicated); RGBA / LA -> RGB (alpha dropped, not composited);
    palette / CMYK -> RGB;
  - 16-bit -> 8-bit, rounded to nearest (`round(v / 65535 * 255)`);
  - aspect not 1:2 -> centre crop to 1:2 (the larger side is cut);
  - any size -> 256x512 by area averaging (Pillow `BOX` on the 8-bit image; JPEGs are first
    decoded at a reduced DCT scale that keeps >= 2x the target size). Images smaller than
    256x512 are enlarged by the same filter (blocky) and counted as "upscaled".
Truncated files, files that are not images and unsupported bit depths are skipped: each is
logged (WARNING) with its path and reason, and each split ends with a count;
`builder.skipped[split]` lists `(relative_path, reason)` after a build.
"""


import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from datasets import common
from datasets import manual_dir
from drht_jax import imageio_utils


HEIGHT, WIDTH = 256, 512

_HOMEPAGE = "https://vision.cs.princeton.edu/projects/2012/SUN360/"
_CITATION = """@inproceedings{xiao2012recognizing,
  title={Recognizing scene viewpoint using panoramic place representation},
  author={Xiao, Jianxiong and Ehinger, Krista A. and Oliva, Aude and Torralba, Antonio},
  booktitle={IEEE Conference on Computer Vision and Pattern Recognition (CVPR)},
  year={2012}
}"""


def to_panorama_uint8(pixels: np.ndarray, height: int = HEIGHT, width: int = WIDTH):
  """`[H, W, 3]` float in [0, 1] -> (`[height, width, 3]` uint8, conversion notes).

  Rounds to 8 bits, centre-crops to the aspect `width / height`, area-averages (Pillow BOX).
  """
  notes = []
  image = np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)
  cropped = imageio_utils.center_crop_to_aspect(image, width / height)
  if cropped.shape[:2] != image.shape[:2]:
    notes.append("centre-cropped to 1:2")
  if cropped.shape[0] < height or cropped.shape[1] < width:
    notes.append(f"upscaled (smaller than {height}x{width})")
  if cropped.shape[:2] != (height, width):
    cropped = np.asarray(Image.fromarray(np.ascontiguousarray(cropped)).resize(
        (width, height), Image.Resampling.BOX))
  return np.ascontiguousarray(cropped), notes


class Sun360(manual_dir.ManualDirBuilder):
  """SUN360 panoramas at 256x512: the photo as ground truth, a seeded bad exposure as input."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": f"First release. Recipe: {common.RECIPE}."}
  FOLDER = "sun360"
  EXTENSIONS = imageio_utils.IMAGE_EXTENSIONS
  SEED = 360  # corruption seed: part of the data set's definition, do not change in 1.x
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
  SUN360 (Xiao et al., "Recognizing scene viewpoint using panoramic place representation",
  CVPR 2012; {_HOMEPAGE}) is not downloadable automatically: the panoramas are distributed by
  the authors on request, for non-commercial research only (the photos come from the web and
  keep their owners' copyright; do not redistribute). DRHT used 6,400 outdoor panoramas for
  fine-tuning and 1,200 for test. Put the equirectangular photos (JPEG or PNG, any size,
  ideally 1:2) in this layout:

    <manual_dir>/sun360/train/*.jpg|*.png   (sub-folders allowed)
    <manual_dir>/sun360/test/*.jpg|*.png

  and build with
    Sun360(data_dir=DATA_DIR).download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=MANUAL_DIR))
  (default manual_dir: <data_dir>/downloads/manual). See datasets/sun360/README.md.
  """

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=("SUN360 outdoor panoramas resized to 256x512 (ground truth) with a seeded "
                     f"badly exposed 8-bit input. Recipe: {common.RECIPE}."),
        features=common.ldr_features(HEIGHT, WIDTH),
        homepage=_HOMEPAGE,
        citation=_CITATION,
    )

  def _load(self, path, rel):
    """One file -> (example, None, conversions) or (None, reason, ())."""
    try:
      image = imageio_utils.read_ldr(path, draft_size=(2 * WIDTH, 2 * HEIGHT))
    except (imageio_utils.ImageReadError, OSError) as e:
      return None, manual_dir.read_error(path, e), ()
    notes = list(image.conversions)
    if image.bit_depth == 16:
      notes.append("16-bit -> 8-bit (rounded)")
    ldr, resize_notes = to_panorama_uint8(image.pixels)
    return common.make_ldr_example(ldr, self.SEED, rel), None, notes + resize_notes
