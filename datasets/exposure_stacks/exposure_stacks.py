"""`exposure_stacks`: real exposure brackets as real under- and over-exposed inputs.

Reads `<manual_dir>/brackets/{train,test}/<scene>/` (each scene folder: >= 3 frames of one
scene, JPEG / PNG / TIFF, 8 or 16 bit), or the flat development layout
`<manual_dir>/brackets/<scene>/` split by the fixed `TEST_SCENES` list (every other scene is
train), which is how /work/shared/data/brackets/ is laid out: pass `manual_dir` = its parent
(`DEV_SET`; also the fallback when `<manual_dir>/brackets` does not exist, with a warning).

Per scene (`drht_jax.stacks.load_stack`, after a centre crop of every frame to multiples of
`MULTIPLE`, at most `MAX_SIDE` per side, datasets/photos' convention): the frames sorted by
exposure, their log2 exposures (EXIF where every frame has it, else estimated from the pixels),
the Mertens fusion of the whole stack, the middle frame and the HDR merged from the stack
(Debevec-Malik response recovered from the stack). Every frame at least `MIN_EV` stops from the
middle frame is one example (in `example_features` schema): `ldr` that real frame, `ldr_gt`
the fused reference, `ldr_mid` the middle frame, `hdr` the merged radiance normalised to
log-average luminance 0.18 (like the other HDR data sets), `ev` its exposure relative to the
middle frame, `direction` "under" or "over", `id` `<split>/<scene>/<frame file>`.

Bad scenes (frames of different sizes, fewer than 3 frames, an unreadable frame, exposures that
cannot be told apart) are skipped: each is logged (WARNING) with its folder and reason, each
split ends with a count, and `builder.skipped[split]` lists `(relative folder, reason)`.
Nothing is random: a rebuild gives the same bytes.
"""

import collections
import logging
import os

import numpy as np
import tensorflow_datasets as tfds

from datasets import manual_dir
from drht_jax import hdr
from drht_jax import stacks

_LOG = logging.getLogger(__name__)

FOLDER = "brackets"
MULTIPLE = 32
MAX_SIDE = 512
MIN_EV = 1.0
TEST_SCENES = stacks.TEST_SCENES  # the fixed split (drht_jax/stacks.py)
DEV_SET = "/work/shared/data"  # the development set's manual_dir on the project machines


def example_features() -> tfds.features.FeaturesDict:
  """Schema of an exposure-stack example (sizes differ between scenes: unknown H, W)."""
  image = lambda dtype, doc: tfds.features.Tensor(shape=(None, None, 3), dtype=dtype,
                                                  encoding="bytes", doc=doc)
  return tfds.features.FeaturesDict({
      "id": tfds.features.Text(),
      "scene": tfds.features.Text(),
      "ldr": image(np.uint8, "a real frame of the stack, >= 1 EV from the middle one, 8-bit"),
      "ldr_gt": image(np.uint8, "Mertens exposure fusion of the whole stack, 8-bit"),
      "ldr_mid": image(np.uint8, "the stack's middle frame, 8-bit"),
      "hdr": image(np.float32, "radiance merged from the stack, log-average luminance 0.18"),
      "ev": tfds.features.Scalar(dtype=np.float32,
                                 doc="log2 exposure of `ldr` relative to the middle frame"),
      "direction": tfds.features.Text(doc="'under' (ev < 0) or 'over' (ev > 0)"),
      "n_frames": tfds.features.Scalar(dtype=np.int32, doc="frames in the stack"),
      "exposure_source": tfds.features.Text(doc="'exif' or 'pixels'"),
  })


def to_uint8(x) -> np.ndarray:
  return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def scene_dirs(root: str):
  """`{split: [(relative folder, path)]}` of the scenes under `root` (`<manual_dir>/brackets`):
  from `train/` and `test/` if both exist, else the flat layout split by `TEST_SCENES`."""
  if all(os.path.isdir(os.path.join(root, s)) for s in manual_dir.SPLITS):
    out = {}
    for split in manual_dir.SPLITS:
      base = os.path.join(root, split)
      names = sorted(n for n in os.listdir(base)
                     if not n.startswith(".") and os.path.isdir(os.path.join(base, n)))
      out[split] = [(f"{split}/{n}", os.path.join(base, n)) for n in names]
    return out
  names = sorted(n for n in os.listdir(root)
                 if not n.startswith(".") and os.path.isdir(os.path.join(root, n)))
  return {split: [(n, os.path.join(root, n)) for n in names
                  if (n in TEST_SCENES) == (split == "test")] for split in manual_dir.SPLITS}


def stack_examples(stack: stacks.Stack, split: str, scene: str):
  """A loaded `Stack` -> its examples (frames >= `MIN_EV` from the middle one)."""
  fused, middle = to_uint8(stack.fused), to_uint8(stack.frames[stack.middle])
  radiance = np.asarray(hdr.normalize_exposure(stack.hdr), np.float32)  # log-average 0.18
  for frame, ev, name in zip(stack.frames, stack.log2_exposures, stack.names):
    if abs(ev) < MIN_EV:
      continue
    yield {
        "id": f"{split}/{scene}/{name}",
        "scene": scene,
        "ldr": to_uint8(frame),
        "ldr_gt": fused,
        "ldr_mid": middle,
        "hdr": radiance,
        "ev": np.float32(ev),
        "direction": "under" if ev < 0 else "over",
        "n_frames": np.int32(len(stack.frames)),
        "exposure_source": stack.exposure_source,
    }


class ExposureStacks(tfds.core.GeneratorBasedBuilder):
  """Real exposure brackets: real under/over-exposed frames, fused and middle-frame references."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release: Mertens fusion and middle-frame references, "
                            "Debevec-Malik merged HDR, frames >= 1 EV from the middle one."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
  Put real exposure brackets (>= 3 frames of one static scene each, JPEG/PNG/TIFF, 8 or 16 bit,
  EXIF kept if you have it) in this layout:

    <manual_dir>/{FOLDER}/train/<scene>/<frames>
    <manual_dir>/{FOLDER}/test/<scene>/<frames>

  or flat, <manual_dir>/{FOLDER}/<scene>/<frames>, split by the builder's fixed TEST_SCENES
  (the development set: manual_dir={DEV_SET}, also read when <manual_dir>/{FOLDER} does not
  exist). Build with
    ExposureStacks(data_dir=DATA_DIR).download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=MANUAL_DIR))
  See datasets/exposure_stacks/README.md.
  """

  def __init__(self, *, file_format="array_record", **kwargs):
    """As `GeneratorBasedBuilder`, but writes `array_record` by default."""
    super().__init__(file_format=file_format, **kwargs)
    self.skipped = {}  # split -> [(relative folder, reason)], filled by a build
    self.stats = {}    # split -> {"stacks", "examples", "steps": [EV steps], ...}

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=("Real exposure brackets: every frame >= 1 EV from the stack's middle "
                     "frame is an input; references: the Mertens fusion of the stack and the "
                     "middle frame; hdr: the radiance merged from the stack."),
        features=example_features(),
    )

  def _split_generators(self, dl_manager):
    root = os.path.join(os.fspath(dl_manager.manual_dir), FOLDER)
    dev_root = os.path.join(DEV_SET, FOLDER)
    if not os.path.isdir(root) and os.path.isdir(dev_root):
      _LOG.warning("%s does not exist: reading the development set %s", root, dev_root)
      root = dev_root
    if not os.path.isdir(root):
      raise AssertionError(f"Manual directory {dl_manager.manual_dir} lacks {root}. Create it "
                           f"using instructions:\n{self.MANUAL_DOWNLOAD_INSTRUCTIONS}")
    dirs = scene_dirs(root)
    return {split: self._generate_examples(split, dirs[split]) for split in manual_dir.SPLITS}

  def _generate_examples(self, split, scenes):
    skipped = self.skipped.setdefault(split, [])
    stats = self.stats.setdefault(split, {"stacks": 0, "examples": 0, "steps": [],
                                          "sources": collections.Counter()})
    for rel, path in scenes:
      try:
        stack = stacks.load_stack(path, multiple=MULTIPLE, max_side=MAX_SIDE)
      except (stacks.StackError, ValueError) as e:
        reason = manual_dir.read_error(path, e)
        skipped.append((rel, reason))
        _LOG.warning("%s: skipping %s", FOLDER, reason)
        continue
      stats["stacks"] += 1
      stats["steps"].extend(np.diff(stack.log2_exposures).tolist())
      stats["sources"][stack.exposure_source] += 1
      scene = os.path.basename(rel)
      for example in stack_examples(stack, split, scene):
        stats["examples"] += 1
        yield example["id"], example
    _LOG.warning("%s/%s: %d stacks, %d examples, skipped %d of %d scene folders", FOLDER, split,
                 stats["stacks"], stats["examples"], len(skipped), len(scenes))
