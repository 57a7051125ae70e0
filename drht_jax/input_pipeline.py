"""Data sets -> device batches: TFDS array_record sources read with Grain, no TensorFlow.

`create_train_iterator` gives an endless, seeded, per-process-sharded iterator of
`{"ldr", "hdr", "ldr_gt"}` batches shaped `[D, B/D, H, W, 3] float32` (D = local devices; LDR
images in [0, 1], HDR linear radiance >= 0, all zeros for LDR-only data sets such as Sun360).
Its `get_state()`/`set_state()` go into checkpoints, so a resumed run sees the same data order.
`eval_examples` walks a split once, in order, one whole image at a time.

    python -m drht_jax.input_pipeline --dataset=rendered/small --split=train --output=data.png
writes a grid of what the loader produces (input / tone-mapped HDR / ground truth).
"""

import dataclasses
import importlib
from typing import Iterator, Optional

import grain.python as grain
import jax
import numpy as np
import tensorflow_datasets as tfds

# Data set name -> module whose import registers its TFDS builder.
BUILDER_MODULES = {
    "rendered": "datasets.rendered.rendered",
    "city_scene": "datasets.city_scene.city_scene",
    "sun360": "datasets.sun360.sun360",
}
IMAGE_KEYS = ("ldr", "hdr", "ldr_gt")


def get_builder(dataset: str, data_dir: Optional[str] = None) -> tfds.core.DatasetBuilder:
  """`dataset` is `name` or `name/config` (e.g. `rendered/small`)."""
  name = dataset.split("/")[0]
  if name not in BUILDER_MODULES:
    raise ValueError(f"unknown data set {dataset!r}; available: {sorted(BUILDER_MODULES)}")
  importlib.import_module(BUILDER_MODULES[name])
  return tfds.builder(dataset, data_dir=data_dir)


def prepare(dataset: str, data_dir: Optional[str] = None,
            manual_dir: Optional[str] = None) -> tfds.core.DatasetBuilder:
  """Builds the data set if it is not on disk yet (rendering it, or reading manual_dir)."""
  builder = get_builder(dataset, data_dir)
  builder.download_and_prepare(
      file_format="array_record",
      download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
  return builder


def data_source(data_config, split: str):
  """Random-access source of one split (built first if needed)."""
  builder = prepare(data_config.dataset, data_config.get("data_dir"),
                    data_config.get("manual_dir"))
  return builder.as_data_source(split=split)


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
  source = data_source(config.data, config.data.train_split)
  sampler = make_sampler(len(source), config.seed, process_index, process_count)
  loader = grain.DataLoader(
      data_source=source, sampler=sampler,
      operations=[CropAndFlip(tuple(config.image_size), config.data.flip),
                  grain.Batch(per_process, drop_remainder=True)],
      worker_count=config.data.num_workers,
      worker_buffer_size=config.data.get("worker_buffer_size", 2))
  return DeviceBatches(iter(loader), local_devices)


def eval_examples(data_config, split: str, max_examples: Optional[int] = None) -> Iterator[dict]:
  """Each example of `split` once, in stored order: `{"id": str, "ldr", "hdr", "ldr_gt"}` with
  `[H, W, 3] float32` images (see `to_float`) at their stored size."""
  source = data_source(data_config, split)
  count = len(source) if max_examples is None else min(max_examples, len(source))
  for index in range(count):
    example = source[index]
    ident = example.get("id", str(index))
    out = to_float(example)
    out["id"] = ident.decode() if isinstance(ident, bytes) else str(ident)
    yield out


def num_examples(data_config, split: str) -> int:
  return len(data_source(data_config, split))


def _main(argv):
  del argv
  from absl import flags  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top
  from drht_jax import visualize  # pylint: disable=g-import-not-at-top
  f = flags.FLAGS
  config = ml_collections.ConfigDict({
      "seed": f.seed, "batch_size": f.num, "image_size": tuple(f.image_size),
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
  flags.DEFINE_integer("num", 8, "Number of examples (rows).")
  flags.DEFINE_list("image_size", ["64", "128"], "Crop size H,W.")
  flags.DEFINE_integer("seed", 0, "Shuffle seed.")
  flags.DEFINE_string("data_dir", None, "TFDS data_dir (default ~/tensorflow_datasets).")
  flags.DEFINE_string("manual_dir", None, "manual_dir for city_scene / sun360.")
  flags.DEFINE_string("output", "data_sample.png", "PNG to write.")
  app.run(_main)
