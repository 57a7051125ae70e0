"""TFDS builder of the `rendered` split: the paper's PBRT set, rebuilt with Mitsuba 3 on the CPU.

Scene `i` is a pure function of `(config.seed, i)` (see `scenes.py`); train and test use disjoint
scene indices (test scenes from `TEST_INDEX_OFFSET` on). Version 2 stores each scene once, whole,
as compressed radiance (`common.scene_features`, `common.SCENE_CODEC`); the input pipeline makes
every training example online (random crop and scale, flip, a fresh seeded corruption and the
ground truth of that field of view) and the test images of the two protocol splits
(`test_64x128`, `test_256x512`) with corruptions fixed by (seed, scene id). See README.md.

    python -m drht_jax.input_pipeline --dataset=rendered/small --prepare
"""

import dataclasses
import time
from typing import Tuple

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from datasets import common
from datasets.rendered import scenes

TEST_INDEX_OFFSET = 1_000_000  # test scenes are indices offset + j: never a training scene


@dataclasses.dataclass
class RenderedConfig(tfds.core.BuilderConfig):
  """Size of the rendered set: scene counts, render size (H, W), samples per pixel, seed."""
  num_train_scenes: int = 24
  num_test_scenes: int = 8
  render_size: Tuple[int, int] = (256, 512)
  spp: int = 16
  seed: int = 0


def scene_indices(cfg: RenderedConfig, split: str) -> range:
  if split == "train":
    return range(cfg.num_train_scenes)
  return range(TEST_INDEX_OFFSET, TEST_INDEX_OFFSET + cfg.num_test_scenes)


def scene_id(index: int) -> str:
  return f"scene{index}"


def render_scenes(seed, indices, height, width, spp):
  """Yields `(index, radiance)` in order: `scenes.render_scenes` (parallel) when it exists."""
  if hasattr(scenes, "render_scenes"):
    yield from scenes.render_scenes(seed, list(indices), height, width, spp)
    return
  for index in indices:
    start = time.time()
    radiance = scenes.render(scenes.scene_dict(seed, index, height, width, spp))
    logging.info("rendered scene %d in %.1f s", index, time.time() - start)
    yield index, radiance


def is_degenerate(radiance) -> bool:
  """True for a scene with nothing to see: more than half its pixels black (an interior whose
  window faces away and whose lamp is off renders all zeros; input and ground truth are then
  both black and PSNR is infinite)."""
  luminance = np.asarray(radiance, np.float32) @ np.asarray((0.2126, 0.7152, 0.0722), np.float32)
  return bool(np.mean(luminance <= 0.0) > 0.5)


class Rendered(tfds.core.GeneratorBasedBuilder):
  """Procedural outdoor HDR scenes rendered with Mitsuba 3, stored whole as radiance."""

  VERSION = tfds.core.Version("2.0.0")
  RELEASE_NOTES = {
      "1.0.0": "First release: fixed 64x128 patches with corruptions frozen at build time.",
      "2.0.0": ("Scenes stored once (whole radiance, log2 uint16 codes, LZMA); examples made online "
                f"by the input pipeline. Recipe: {common.RECIPE}."),
  }
  BUILDER_CONFIGS = [
      RenderedConfig(name="tiny", description="For tests: 3+2 scenes at 128x256, 4 spp.",
                     num_train_scenes=3, num_test_scenes=2, render_size=(128, 256), spp=4),
      RenderedConfig(name="small", description=(
          "Demo/CI: 24 train + 8 test scenes at 256x512, 16 spp; about a minute on 2 cores.")),
      RenderedConfig(name="medium", description=(
          "The first 120 train and 24 test scenes of `full`: what a 64 MB transfer to a GPU "
          "machine carries."), num_train_scenes=120, num_test_scenes=24, spp=16),
      # 41 test indices: one of them (scene 1000012, an interior whose window faces away) renders
      # black and is left out, so the split holds 40 scenes.
      RenderedConfig(name="full", description=(
          "200 train + 40 test scenes at 256x512, 16 spp."),
                     num_train_scenes=200, num_test_scenes=41, spp=16),
  ]
  DEFAULT_CONFIG_NAME = "small"

  def _info(self):
    return self.dataset_info_from_configs(
        description=__doc__,
        features=common.scene_features(),
        homepage="https://mitsuba.readthedocs.io",
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download: everything is rendered here
    return {split: self._generate_examples(split) for split in ("train", "test")}

  def _generate_examples(self, split):
    cfg = self.builder_config
    height, width = cfg.render_size
    indices = scene_indices(cfg, split)
    skipped = []
    for index, radiance in render_scenes(cfg.seed, indices, height, width, cfg.spp):
      key = scene_id(index)
      if is_degenerate(radiance):
        skipped.append(key)
        logging.warning("rendered/%s:%s: %s is (almost) black, left out", cfg.name, split, key)
        continue
      yield key, common.make_scene_record(radiance, key)
    if skipped:
      logging.warning("rendered/%s:%s: left out %d black scene(s): %s", cfg.name, split,
                      len(skipped), ", ".join(skipped))
