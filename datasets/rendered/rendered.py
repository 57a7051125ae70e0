"""TFDS builder of the `rendered` split: the paper's PBRT set, rebuilt with Mitsuba 3 on the CPU.

Scene `i` is a pure function of `(config.seed, i)` (see `scenes.py`); train and test use disjoint
scene indices. Each scene is rendered once at `render_size`; the test split keeps it whole, the
train split cuts it into 64x128 patches at several scales (area-downsampled by 1, 2, 4) with the
config's strides. Every example then gets its own seeded exposure/contrast/CRF corruption and
its tone-mapped ground truth (`datasets/common.py`).

    from datasets.rendered.rendered import Rendered
    Rendered(config="small").download_and_prepare(file_format="array_record")
"""

import dataclasses
import time
from typing import Tuple

from absl import logging
import tensorflow_datasets as tfds

from datasets import common
from datasets.rendered import scenes

PATCH = (64, 128)
TEST_INDEX_OFFSET = 1_000_000  # test scenes are indices offset + j: never a training scene


@dataclasses.dataclass
class RenderedConfig(tfds.core.BuilderConfig):
  """Size of the rendered set. `strides[k]` is the patch stride (dy, dx) at downsampling 2**k;
  None skips that scale."""
  num_train_scenes: int = 24
  num_test_scenes: int = 6
  render_size: Tuple[int, int] = (256, 512)
  spp: int = 16
  strides: Tuple = ((64, 128), (64, 128), (64, 128))
  seed: int = 0


def patch_corners(height, width, stride):
  """Top-left corners of the `PATCH`-sized windows of an image with `stride` (dy, dx)."""
  ys = range(0, height - PATCH[0] + 1, stride[0])
  xs = range(0, width - PATCH[1] + 1, stride[1])
  return [(y, x) for y in ys for x in xs]


def downsample(image, factor):
  """Area (box) downsampling of `[H, W, C]` by an integer factor."""
  if factor == 1:
    return image
  h, w, c = image.shape
  return image.reshape(h // factor, factor, w // factor, factor, c).mean(axis=(1, 3))


def patches(radiance, strides):
  """Yields `(name, [64, 128, 3] patch)` over the scales and strides of the config."""
  for level, stride in enumerate(strides):
    if stride is None:
      continue
    image = downsample(radiance, 2 ** level)
    for y, x in patch_corners(image.shape[0], image.shape[1], stride):
      yield f"s{level}-y{y}-x{x}", image[y:y + PATCH[0], x:x + PATCH[1]]


class Rendered(tfds.core.GeneratorBasedBuilder):
  """Procedural outdoor HDR scenes rendered with Mitsuba 3: LDR input, HDR, LDR ground truth."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": f"First release. Recipe: {common.RECIPE}."}
  BUILDER_CONFIGS = [
      RenderedConfig(name="tiny", description="For tests: 3+1 scenes at 128x256, 4 spp.",
                     num_train_scenes=3, num_test_scenes=1, render_size=(128, 256), spp=4,
                     strides=((64, 128), (64, 128))),
      RenderedConfig(name="small", description=(
          "Demo/CI: 24 train scenes -> 504 patches, 6 test images 256x512, 16 spp; "
          "a few minutes on 2 cores.")),
      RenderedConfig(name="full", description=(
          "In the paper's spirit: 120 train scenes -> 23,400 patches (strides 16x32 at full "
          "and half resolution), 30 test images 256x512, 64 spp."),
                     num_train_scenes=120, num_test_scenes=30, spp=64,
                     strides=((16, 32), (16, 32), (64, 128))),
  ]
  DEFAULT_CONFIG_NAME = "small"

  def _info(self):
    return self.dataset_info_from_configs(
        description=__doc__,
        features=common.hdr_features(),  # train 64x128 patches, test whole images
        homepage="https://mitsuba.readthedocs.io",
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download: everything is rendered here
    cfg = self.builder_config
    return {
        "train": self._generate_examples(range(cfg.num_train_scenes), cut=True),
        "test": self._generate_examples(
            range(TEST_INDEX_OFFSET, TEST_INDEX_OFFSET + cfg.num_test_scenes), cut=False),
    }

  def _generate_examples(self, scene_indices, cut):
    cfg = self.builder_config
    height, width = cfg.render_size
    for index in scene_indices:
      start = time.time()
      radiance = scenes.render(scenes.scene_dict(cfg.seed, index, height, width, cfg.spp))
      logging.info("rendered scene %d in %.1f s", index, time.time() - start)
      if not cut:
        key = f"scene{index}"
        yield key, common.make_hdr_example(radiance, cfg.seed, key)
        continue
      for name, patch in patches(radiance, cfg.strides):
        key = f"scene{index}-{name}"
        yield key, common.make_hdr_example(patch, cfg.seed, key)
