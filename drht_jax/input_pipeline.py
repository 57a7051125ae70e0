"""Data sets -> device batches: TFDS array_record sources read with Grain, no TensorFlow.

`create_train_iterator` gives an endless, seeded, per-process-sharded iterator of
`{"ldr", "hdr", "ldr_gt"}` batches shaped `[D, B/D, H, W, 3] float32` (D = local devices; LDR
images in [0, 1], HDR linear radiance >= 0, all zeros for LDR-only data sets such as Sun360).
Its `get_state()`/`set_state()` go into checkpoints, so a resumed run sees the same data order.

Two kinds of records (`MakeExample` dispatches on the record):
- scene records (`rendered` >= 2.0.0: a whole radiance map, `datasets/common.py`): every training
  example is made here, online, in NumPy (no JAX in loader workers): a random crop with the
  training aspect ratio (side a uniform fraction `data.crop_scale` of the scene, or the whole
  scene with probability `data.whole_scene_prob`), area-resized to `image_size`, a random flip,
  and a fresh corruption per example and epoch drawn from Grain's per-record generator (seeded
  by the config seed and the record's position in the endless shuffled order), with the ground
  truth tone-mapped over that same field of view (`common.make_example`, `common.RECIPE`).
- example records (`city_scene`, `sun360`: stored ldr / ldr_gt / hdr): random crop and flip.

`eval_examples` walks a split once, in order, one whole image at a time. For scene data sets the
test protocols are the splits `test_HxW`: each test scene area-resized to HxW (`test_64x128`,
the paper's city-scene protocol; `test_256x512`, its Sun360 protocol), corrupted with
parameters fixed by (the data set's seed, scene id); plain `test` is the scenes at their stored
size.

    python -m drht_jax.input_pipeline --dataset=rendered/small --output=sample.png
writes a grid of what the loader produces (input / tone-mapped HDR / ground truth);
`--prepare` only builds the data set.
"""

import collections
import dataclasses
import importlib
import os
import re
import lzma
import zlib
from typing import Iterator, Optional

import grain.python as grain
import jax
import numpy as np
import tensorflow_datasets as tfds

from datasets import common
from datasets.common import DataError  # pylint: disable=unused-import  (re-exported)
from drht_jax import hdr

# Data set name -> module whose import registers its TFDS builder.
BUILDER_MODULES = {
    "rendered": "datasets.rendered.rendered",
    "city_scene": "datasets.city_scene.city_scene",
    "sun360": "datasets.sun360.sun360",
    "photos": "datasets.photos.photos",
}
IMAGE_KEYS = ("ldr", "hdr", "ldr_gt")
PROTOCOL_SPLIT = re.compile(r"test_(\d+)x(\d+)")


def prepare_command(dataset: str) -> str:
  return f"python -m drht_jax.input_pipeline --dataset={dataset} --prepare"


def get_builder(dataset: str, data_dir: Optional[str] = None) -> tfds.core.DatasetBuilder:
  """`dataset` is `name` or `name/config` (e.g. `rendered/small`)."""
  name = dataset.split("/")[0].split(":")[0]
  if name not in BUILDER_MODULES:
    raise ValueError(f"unknown data set {dataset!r}; available: {sorted(BUILDER_MODULES)}")
  importlib.import_module(BUILDER_MODULES[name])
  try:
    return tfds.builder(dataset, data_dir=data_dir)
  except Exception as e:  # pylint: disable=broad-except  (tfds raises several types here)
    raise DataError(f"{dataset}: {str(e).splitlines()[0] if str(e) else type(e).__name__} "
                    f"(this code builds {name} configs at their current version: "
                    f"{prepare_command(dataset.split(':')[0])})") from None


def _stale_versions(builder) -> list:
  """Other version folders of this builder config on disk (e.g. an old 1.0.0 build)."""
  parent = os.path.dirname(builder.data_dir)
  if not os.path.isdir(parent):
    return []
  current = str(builder.version)
  return sorted(v for v in os.listdir(parent)
                if re.fullmatch(r"\d+\.\d+\.\d+", v) and v != current
                and os.path.exists(os.path.join(parent, v, "dataset_info.json")))


def prepare(dataset: str, data_dir: Optional[str] = None, manual_dir: Optional[str] = None,
            rebuild_stale: bool = False) -> tfds.core.DatasetBuilder:
  """Builds the data set if it is not on disk yet (rendering it, or reading manual_dir).

  A build writes into a temporary `incomplete.*` folder that TFDS renames to the version folder
  only when every split is written, so a killed build is never read as complete (the next call
  starts over). If only another version of the data set is on disk (e.g. a 1.x build of
  `rendered`, whose records the pipeline no longer reads), raises `DataError` saying what to run,
  unless `rebuild_stale`.
  """
  builder = get_builder(dataset, data_dir)
  if not builder.is_prepared() and not rebuild_stale:
    stale = _stale_versions(builder)
    if stale:
      raise DataError(
          f"{dataset}: only version {', '.join(stale)} is on disk at "
          f"{os.path.dirname(builder.data_dir)}, this code reads {builder.version}; build it "
          f"with `{prepare_command(dataset)}` (the old folder can then be deleted)")
  builder.download_and_prepare(
      file_format="array_record",
      download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
  return builder


def _source(builder, dataset: str, split: str):
  try:
    return builder.as_data_source(split=split)
  except (ValueError, KeyError) as e:
    raise DataError(f"{dataset} at {builder.data_dir}: {str(e).splitlines()[0]}") from None


class FirstRecords:
  """The first `count` records of a random-access source (the `data.max_train_records`
  ablation: fewer training scenes from the same data set)."""

  def __init__(self, source, count: int):
    self._source, self._count = source, min(count, len(source))

  def __len__(self):
    return self._count

  def __getitem__(self, index):
    if not 0 <= index < self._count:
      raise IndexError(index)
    return self._source[index]


def data_source(data_config, split: str):
  """Random-access source of one stored split (built first if needed)."""
  builder = prepare(data_config.dataset, data_config.get("data_dir"),
                    data_config.get("manual_dir"))
  return _source(builder, data_config.dataset, split)


# --- Scene records -> examples.

_SCENE_CACHE = collections.OrderedDict()
SCENE_CACHE_BYTES = 1 << 29  # decoded scenes kept per process (uint16 codes): 512 MiB


def is_scene(record) -> bool:
  return "radiance" in record


def _text(value) -> str:
  return value.decode() if isinstance(value, bytes) else str(value)


def scene_codes(record, origin: str = "", rebuild: str = "") -> np.ndarray:
  """A scene record's `[H, W, 3]` uint16 log2 codes, decoded once per process (LRU cache).

  A record that does not decode raises `DataError` naming the scene and what to run."""
  data = record["radiance"]
  data = data if isinstance(data, bytes) else bytes(np.asarray(data).item())
  ident = _text(record.get("id", "?"))
  key = (ident, len(data), zlib.crc32(data))
  codes = _SCENE_CACHE.get(key)
  if codes is not None:
    _SCENE_CACHE.move_to_end(key)
    return codes
  codec = _text(record.get("codec", common.SCENE_CODEC))
  try:
    if codec != common.SCENE_CODEC:
      raise ValueError(f"unknown codec {codec!r}")
    codes = common.decode_codes(data, (int(record["height"]), int(record["width"]), 3))
  except (lzma.LZMAError, EOFError, ValueError) as e:
    raise DataError(f"{origin or 'data set'}: scene record {ident} is corrupt ({e}); delete the "
                    f"data set's folder and rebuild it{': ' + rebuild if rebuild else ''}"
                    ) from None
  _SCENE_CACHE[key] = codes
  while sum(c.nbytes for c in _SCENE_CACHE.values()) > SCENE_CACHE_BYTES and len(_SCENE_CACHE) > 1:
    _SCENE_CACHE.popitem(last=False)
  return codes


def scene_example(codes: np.ndarray, rng: np.random.Generator, size, flip=True,
                  scale_range=(0.25, 1.0), whole_prob=0.25,
                  corruption_rng: Optional[np.random.Generator] = None) -> dict:
  """One training example from a scene's codes (see the module docstring). The corruption is
  drawn from `corruption_rng` when given (the `fresh_corruptions=False` ablation: the same
  corruption every time the scene comes up), else from `rng` (fresh every time)."""
  y, x, h, w = common.crop_window(rng, codes.shape[:2], size, scale_range, whole_prob)
  radiance = common.area_resize(common.codes_to_radiance(codes[y:y + h, x:x + w]), *size)
  if flip and rng.integers(0, 2):
    radiance = radiance[:, ::-1]
  params = hdr.np_sample_corruption(rng if corruption_rng is None else corruption_rng)
  return common.make_example(np.ascontiguousarray(radiance), params)


def to_float(example):
  """uint8 LDR -> float32 in [0, 1]; a missing `hdr` (LDR-only data) -> zeros."""
  out = {"ldr": np.asarray(example["ldr"], np.float32) / 255.0,
         "ldr_gt": np.asarray(example["ldr_gt"], np.float32) / 255.0}
  hdr = example.get("hdr")
  out["hdr"] = (np.zeros_like(out["ldr"]) if hdr is None else np.asarray(hdr, np.float32))
  return out


@dataclasses.dataclass(frozen=True)
class CropAndFlip(grain.RandomMapTransform):
  """Random `size` crop (the same window in all three images) and a horizontal flip with
  probability 1/2. Grain seeds `rng` from the sampler's seed and the record's position."""
  size: tuple
  flip: bool = True

  def random_map(self, element, rng: np.random.Generator):
    element = to_float(element)
    height, width = element["ldr"].shape[:2]
    th, tw = self.size
    if height < th or width < tw:
      raise ValueError(f"example of {height}x{width} is smaller than image_size {th}x{tw}")
    y = int(rng.integers(0, height - th + 1))
    x = int(rng.integers(0, width - tw + 1))
    flip = self.flip and bool(rng.integers(0, 2))
    out = {}
    for key in IMAGE_KEYS:
      image = element[key][y:y + th, x:x + tw]
      out[key] = np.ascontiguousarray(image[:, ::-1] if flip else image)
    return out


@dataclasses.dataclass(frozen=True)
class MakeExample(grain.RandomMapTransform):
  """Record -> training example: scene records through `scene_example`, example records
  through `CropAndFlip`. `origin` names the data set in error messages."""
  size: tuple
  flip: bool = True
  scale_range: tuple = (0.25, 1.0)
  whole_prob: float = 0.25
  origin: str = ""
  rebuild: str = ""
  fresh_corruptions: bool = True   # False: one corruption per scene, drawn from its id
  seed: int = 0

  def random_map(self, element, rng: np.random.Generator):
    if not is_scene(element):
      return CropAndFlip(self.size, self.flip).random_map(element, rng)
    # Frozen: one corruption per scene, from (seed + 1, id): a stream of its own, apart from
    # the test scenes' fixed corruptions (`common.scene_rng(seed, id)`).
    frozen = (None if self.fresh_corruptions
              else common.scene_rng(self.seed + 1, _text(element.get("id", "?"))))
    return scene_example(scene_codes(element, self.origin, self.rebuild), rng, self.size,
                         self.flip, self.scale_range, self.whole_prob, frozen)


def split_batch(global_batch: int, process_count: int, local_devices: int):
  """(per-process, per-device) batch sizes; raises unless everything divides evenly."""
  if global_batch % (process_count * local_devices):
    raise ValueError(f"batch_size {global_batch} must be divisible by processes x local "
                     f"devices = {process_count} x {local_devices}")
  per_process = global_batch // process_count
  return per_process, per_process // local_devices


def make_sampler(num_records: int, seed: int, process_index: int, process_count: int,
                 num_epochs: Optional[int] = None) -> grain.IndexSampler:
  """Process `i` of `n` reads its own contiguous 1/n of the records (Grain's sharding), in a
  seeded shuffle that changes every epoch: the processes' records are disjoint and, when `n`
  divides the count, together are all of them (else the last `count % n` are left out, so
  every process has as many records as the others)."""
  return grain.IndexSampler(
      num_records=num_records,
      shard_options=grain.ShardOptions(shard_index=process_index, shard_count=process_count,
                                       drop_remainder=True),
      shuffle=True, num_epochs=num_epochs, seed=seed)


class DeviceBatches:
  """Wraps a Grain iterator: `[B_p, ...]` batches -> `[D, B_p/D, ...]`; state passes through."""

  def __init__(self, iterator, local_devices: int):
    self._iterator = iterator
    self._devices = local_devices

  def __iter__(self):
    return self

  def __next__(self):
    batch = next(self._iterator)
    return {k: batch[k].reshape((self._devices, -1) + batch[k].shape[1:]) for k in IMAGE_KEYS}

  def get_state(self) -> bytes:
    return self._iterator.get_state()

  def set_state(self, state: bytes):
    self._iterator.set_state(state)


def create_train_iterator(config, process_index: Optional[int] = None,
                          process_count: Optional[int] = None,
                          local_devices: Optional[int] = None) -> DeviceBatches:
  """Endless iterator of training batches for this process.

  Reads `config.data` (dataset, train_split, data_dir, manual_dir, num_workers, flip),
  `config.seed`, `config.batch_size` (global) and `config.image_size` (H, W). The order,
  crops and flips are functions of the seed only; each process reads its own shard
  (`make_sampler`).
  """
  process_index = jax.process_index() if process_index is None else process_index
  process_count = jax.process_count() if process_count is None else process_count
  local_devices = jax.local_device_count() if local_devices is None else local_devices
  per_process, _ = split_batch(config.batch_size, process_count, local_devices)
  data = config.data
  builder = prepare(data.dataset, data.get("data_dir"), data.get("manual_dir"))
  source = _source(builder, data.dataset, data.train_split)
  if data.get("max_train_records", 0):
    source = FirstRecords(source, int(data.max_train_records))
  sampler = make_sampler(len(source), config.seed, process_index, process_count)
  transform = MakeExample(tuple(int(v) for v in config.image_size), data.flip,
                          tuple(data.get("crop_scale", (0.25, 1.0))),
                          float(data.get("whole_scene_prob", 0.25)),
                          origin=f"{data.dataset}:{data.train_split} at {builder.data_dir}",
                          rebuild=prepare_command(data.dataset),
                          fresh_corruptions=bool(data.get("fresh_corruptions", True)),
                          seed=int(config.seed))
  loader = grain.DataLoader(
      data_source=source, sampler=sampler,
      operations=[transform, grain.Batch(per_process, drop_remainder=True)],
      worker_count=data.num_workers,
      worker_buffer_size=data.get("worker_buffer_size", 2))
  return DeviceBatches(iter(loader), local_devices)


def resolve_split(data_config, split: str):
  """`split` -> (builder, stored split, resize (H, W) or None). `test_HxW` of a scene data set
  is its `test` scenes area-resized to HxW; of an example data set, its `test` split when that
  holds HxW images."""
  dataset = data_config.dataset
  builder = prepare(dataset, data_config.get("data_dir"), data_config.get("manual_dir"))
  splits = list(builder.info.splits)
  if split in splits:
    return builder, split, None
  match = PROTOCOL_SPLIT.fullmatch(split)
  available = f"available: {splits} and the test protocols test_HxW (e.g. test_64x128)"
  if not match or "test" not in splits:
    raise DataError(f"{dataset} at {builder.data_dir} has no split {split!r}; {available}")
  size = (int(match.group(1)), int(match.group(2)))
  source = _source(builder, dataset, "test")
  if len(source):
    first = source[0]
    shape = ((int(first["height"]), int(first["width"])) if is_scene(first)
             else tuple(np.asarray(first["ldr"]).shape[:2]))
    if not is_scene(first) and shape != size:
      raise DataError(f"{dataset}: its test images are {shape[0]}x{shape[1]}, so split {split!r} "
                      f"does not exist; use 'test' or 'test_{shape[0]}x{shape[1]}'")
    if size[0] > shape[0] or size[1] > shape[1]:
      raise DataError(f"{dataset}: its test scenes are {shape[0]}x{shape[1]}, split {split!r} "
                      f"would upsample them; use a size up to test_{shape[0]}x{shape[1]}")
  return builder, "test", size


def eval_examples(data_config, split: str, max_examples: Optional[int] = None) -> Iterator[dict]:
  """Each example of `split` once, in stored order: `{"id": str, "ldr", "hdr", "ldr_gt"}` with
  `[H, W, 3] float32` images (see `to_float`). Scene records become whole-scene examples, resized
  for a `test_HxW` split, with a corruption fixed by (the data set's seed, scene id)."""
  builder, stored, size = resolve_split(data_config, split)
  source = _source(builder, data_config.dataset, stored)
  seed = getattr(builder.builder_config, "seed", 0)
  origin = f"{data_config.dataset}:{stored} at {builder.data_dir}"
  count = len(source) if max_examples is None else min(max_examples, len(source))
  for index in range(count):
    record = source[index]
    ident = _text(record.get("id", str(index)))
    if is_scene(record):
      radiance = common.codes_to_radiance(
          scene_codes(record, origin, prepare_command(data_config.dataset)))
      if size is not None:
        radiance = common.area_resize(radiance, *size)
      out = common.make_example(radiance, hdr.np_sample_corruption(common.scene_rng(seed, ident)))
    else:
      out = to_float(record)
    out["id"] = ident
    yield out


def num_examples(data_config, split: str) -> int:
  builder, stored, _ = resolve_split(data_config, split)
  return len(_source(builder, data_config.dataset, stored))


def _main(argv):
  del argv
  from absl import flags  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top
  from drht_jax import visualize  # pylint: disable=g-import-not-at-top
  f = flags.FLAGS
  if f.prepare:
    builder = prepare(f.dataset, f.data_dir, f.manual_dir, rebuild_stale=True)
    print(f"{f.dataset} {builder.version} is ready at {builder.data_dir}: " + ", ".join(
        f"{name} {info.num_examples}" for name, info in builder.info.splits.items()))
    return
  config = ml_collections.ConfigDict({
      "seed": f.seed, "batch_size": f.num,
      "image_size": tuple(int(v) for v in f.image_size),
      "data": {"dataset": f.dataset, "train_split": f.split, "data_dir": f.data_dir,
               "manual_dir": f.manual_dir, "num_workers": 0, "flip": True}})
  batch = jax.tree_util.tree_map(lambda x: x[0],
                                 next(create_train_iterator(config, 0, 1, 1)))
  visualize.save_grid(f.output, [batch["ldr"], visualize.display_hdr(batch["hdr"]),
                                 batch["ldr_gt"]])
  print(f"wrote {f.output}: {f.num} examples of {f.dataset}:{f.split}, "
        "columns input / tone-mapped HDR / ground truth")


if __name__ == "__main__":
  from absl import app, flags  # pylint: disable=g-import-not-at-top,g-multiple-import
  flags.DEFINE_string("dataset", "rendered/small", "TFDS name[/config].")
  flags.DEFINE_string("split", "train", "Split to sample.")
  flags.DEFINE_integer("num", 16, "Number of examples (rows).")
  flags.DEFINE_list("image_size", ["64", "128"], "Crop size H,W.")
  flags.DEFINE_integer("seed", 0, "Shuffle seed.")
  flags.DEFINE_string("data_dir", None, "TFDS data_dir (default ~/tensorflow_datasets).")
  flags.DEFINE_string("manual_dir", None, "manual_dir for city_scene / sun360.")
  flags.DEFINE_string("output", "data_sample.png", "PNG to write.")
  flags.DEFINE_bool("prepare", False, "Only build the data set (and say where it is).")
  try:
    app.run(_main)
  except DataError as e:
    raise SystemExit(f"error: {e}") from None
