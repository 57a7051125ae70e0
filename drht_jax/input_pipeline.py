"""Data sets -> device batches: TFDS array_record sources read with Grain, no TensorFlow.

`create_train_iterator` gives an endless, seeded, per-process-sharded iterator of
`{"ldr", "hdr", "ldr_gt"}` batches shaped `[D, B/D, H, W, 3] float32` (D = local devices; LDR
images in [0, 1], HDR linear radiance >= 0, all zeros for LDR-only data sets such as Sun360).
Its `get_state()`/`set_state()` go into checkpoints, so a resumed run sees the same data order.

The recipe runs on the device, in one compiled function right before the train step
(`DeviceBatches`, `drht_jax/recipe.py`, vmapped over the batch); the host delivers only what
must come from storage:
- scene records (`rendered` >= 2.0.0: a whole radiance map, `datasets/common.py`): the scene's
  uint16 log2 codes; on the device, a random crop with the training aspect ratio (side a
  uniform fraction `data.crop_scale` of the scene, or the whole scene with probability
  `data.whole_scene_prob`), area-resized to `image_size`, a random flip and a fresh corruption
  (`data.corruption`), with the ground truth tone-mapped over that same field of view
  (`recipe.scene_example`, `datasets.common.RECIPE`).
- example records (`city_scene`, `sun360`: stored ldr / ldr_gt / hdr): the stored arrays; on
  the device, a random crop and flip (`recipe.crop_example`).
Each example's key is folded from (seed, batch number, global example position), so a batch is
a function of the seed and its number only. `data.placement` says where the records live:
`device` (decoded once, stacked, put on every local device, gathered there by index: no
per-step host work but the batch's record indices), `host` (Grain reads and decodes each
batch's records, in `data.num_workers` processes) or `auto` (device when the decoded records
fit `device_budget_bytes`); both give the same bits.

`eval_examples` walks a split once, in order, one whole image at a time. For scene data sets the
test protocols are the splits `test_HxW`: each test scene area-resized to HxW (`test_64x128`,
the paper's city-scene protocol; `test_256x512`, its Sun360 protocol), corrupted with
parameters fixed by (the data set's seed, scene id); plain `test` is the scenes at their stored
size.

A held-out validation set comes from a stored split by scene (`HOLDOUT_SPLIT`): `train[held/K]`
is every K-th scene of `train` in sorted order (an exposure stack's frames stay together: a
record's scene is its id without the last path part, `train/<stack>/<frame>` -> the stack), and
`train[kept/K]` is the rest. Train on `kept`, validate on `held` (`config.validation`), and no
validation scene is ever a training scene.

    python -m drht_jax.input_pipeline --dataset=rendered/small --output=sample.png
writes a grid of what the loader produces (input / tone-mapped HDR / ground truth);
`--prepare` only builds the data set.
"""

import collections
import dataclasses
import functools
import importlib
import json
import os
import re
import lzma
import zlib
from typing import Iterator, Optional

import grain.python as grain
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tensorflow_datasets as tfds

from drht_jax import recipe
from drht_jax.formats import scene_codec
from drht_jax.formats.common import DataError  # pylint: disable=unused-import  (re-exported)

# Data set name -> module whose import registers its TFDS builder.
BUILDER_MODULES = {
    "rendered": "datasets.rendered.rendered",
    "city_scene": "datasets.city_scene.city_scene",
    "sun360": "datasets.sun360.sun360",
    "photos": "datasets.photos.photos",
    "exposure_stacks": "datasets.exposure_stacks.exposure_stacks",
}
IMAGE_KEYS = ("ldr", "hdr", "ldr_gt")
PROTOCOL_SPLIT = re.compile(r"test_(\d+)x(\d+)")
HOLDOUT_SPLIT = re.compile(r"(\w+)\[(held|kept)/(\d+)\]")  # train[held/6], train[kept/6]


def prepare_command(dataset: str) -> str:
  """The shell command that builds `dataset` (`name[/config]`), for error messages."""
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
  """Random-access source of a stored split, or of a `HOLDOUT_SPLIT` of one (`SceneSubset`)."""
  holdout = HOLDOUT_SPLIT.fullmatch(split)
  stored = holdout.group(1) if holdout else split
  try:
    source = builder.as_data_source(split=stored)
  except (ValueError, KeyError) as e:
    raise DataError(f"{dataset} at {builder.data_dir}: {str(e).splitlines()[0]}") from None
  if not holdout:
    return source
  every = int(holdout.group(3))
  if every < 2:
    raise DataError(f"{dataset}: split {split!r} holds out every {every}-th scene; K must be "
                    f"at least 2 (train[held/K], train[kept/K])")
  return SceneSubset(source, every, held=holdout.group(2) == "held", name=split)


def scene_of(ident: str) -> str:
  """The scene a record belongs to: its id without the last path part when the id has at least
  three (`train/<stack>/<frame>` -> `train/<stack>`), else the id (`scene7`)."""
  parts = ident.split("/")
  return "/".join(parts[:-1]) if len(parts) >= 3 else ident


def holdout_scenes(idents, every: int) -> set:
  """The held-out scenes of records with ids `idents`: every `every`-th of the sorted scenes,
  the first included."""
  return set(sorted({scene_of(i) for i in idents})[::every])


class SceneSubset:
  """The records of `source` whose scene is (`held`) or is not in `holdout_scenes(every)`,
  in stored order (`HOLDOUT_SPLIT`)."""

  def __init__(self, source, every: int, held: bool, name: str):
    idents = [_text(source[i]["id"]) for i in range(len(source))]
    chosen = holdout_scenes(idents, every)
    self._source, self._name = source, name
    self._indices = [i for i, ident in enumerate(idents) if (scene_of(ident) in chosen) == held]

  def __len__(self):
    return len(self._indices)

  def __getitem__(self, index):
    return self._source[self._indices[index]]

  def __repr__(self):
    return f"SceneSubset({self._source!r}, {self._name!r})"


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

  def __repr__(self):
    return f"FirstRecords({self._source!r}, {self._count})"


def data_source(data_config, split: str):
  """Random-access source of one stored split (built first if needed)."""
  builder = prepare(data_config.dataset, data_config.get("data_dir"),
                    data_config.get("manual_dir"))
  return _source(builder, data_config.dataset, split)


# --- Scene records -> examples.

_SCENE_CACHE = collections.OrderedDict()
SCENE_CACHE_BYTES = 1 << 29  # decoded scenes kept per process (uint16 codes): 512 MiB


def is_scene(record) -> bool:
  """Whether a stored record is a whole scene (`rendered` >= 2.0.0: log2 radiance codes) rather
  than a stored example (ldr / ldr_gt / hdr arrays)."""
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
  codec = _text(record.get("codec", scene_codec.SCENE_CODEC))
  try:
    if codec != scene_codec.SCENE_CODEC:
      raise ValueError(f"unknown codec {codec!r}")
    codes = scene_codec.decode_codes(data, (int(record["height"]), int(record["width"]), 3))
  except (lzma.LZMAError, EOFError, ValueError) as e:
    raise DataError(f"{origin or 'data set'}: scene record {ident} is corrupt ({e}); delete the "
                    f"data set's folder and rebuild it{': ' + rebuild if rebuild else ''}"
                    ) from None
  _SCENE_CACHE[key] = codes
  while sum(c.nbytes for c in _SCENE_CACHE.values()) > SCENE_CACHE_BYTES and len(_SCENE_CACHE) > 1:
    _SCENE_CACHE.popitem(last=False)
  return codes


def to_float(example):
  """uint8 LDR -> float32 in [0, 1]; a missing `hdr` (LDR-only data) -> zeros."""
  out = {"ldr": np.asarray(example["ldr"], np.float32) / 255.0,
         "ldr_gt": np.asarray(example["ldr_gt"], np.float32) / 255.0}
  hdr = example.get("hdr")
  out["hdr"] = (np.zeros_like(out["ldr"]) if hdr is None else np.asarray(hdr, np.float32))
  if "ldr_mid" in example:  # exposure_stacks: the second reference and the input's direction
    out["ldr_mid"] = np.asarray(example["ldr_mid"], np.float32) / 255.0
    out["direction"] = _text(example["direction"])
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


# --- Training batches: raw arrays from storage (Grain) or from device memory, the recipe on
# the device.

PLACEMENTS = ("auto", "device", "host")
CPU_DEVICE_BUDGET_BYTES = 2 << 30  # `auto` on a device that reports no memory size (CPUs)


def record_hw(record) -> tuple:
  """(height, width) of a scene or example record, without decoding it."""
  if is_scene(record):
    return int(record["height"]), int(record["width"])
  return tuple(int(v) for v in np.asarray(record["ldr"]).shape[:2])


def _pad(image: np.ndarray, pad_hw) -> np.ndarray:
  """`[h, w, C]` -> `[*pad_hw, C]`, zeros below and right (the recipe never reads them)."""
  h, w = image.shape[:2]
  if (h, w) == tuple(pad_hw):
    return np.ascontiguousarray(image)
  if h > pad_hw[0] or w > pad_hw[1]:
    raise DataError(f"a record of {h}x{w} is larger than the padded size {pad_hw}")
  out = np.zeros(tuple(pad_hw) + image.shape[2:], image.dtype)
  out[:h, :w] = image
  return out


@dataclasses.dataclass(frozen=True)
class RawRecord:
  """A stored record -> what the device recipe needs, padded to `pad_hw` (NumPy only: this runs
  in Grain workers): scene records `{"codes": [Hp, Wp, 3] uint16, "hw": [2] int32}`; example
  records `{"ldr", "ldr_gt": uint8, "hdr": float32 (when `with_hdr`), "hw"}`; with `photo`
  (a stored image's name, e.g. "ldr_mid": the `data.reexpose` source) `ldr_gt` is that image
  and `ldr` is not read (the recipe makes the input from it)."""
  pad_hw: tuple
  with_hdr: bool = True
  origin: str = ""
  rebuild: str = ""
  photo: str = ""

  def __call__(self, record) -> dict:
    hw = np.asarray(record_hw(record), np.int32)
    if is_scene(record):
      return {"codes": _pad(scene_codes(record, self.origin, self.rebuild), self.pad_hw),
              "hw": hw}
    if self.photo:
      out = {"ldr_gt": _pad(np.asarray(record[self.photo], np.uint8), self.pad_hw), "hw": hw}
    else:
      out = {"ldr": _pad(np.asarray(record["ldr"], np.uint8), self.pad_hw),
             "ldr_gt": _pad(np.asarray(record["ldr_gt"], np.uint8), self.pad_hw), "hw": hw}
    if self.with_hdr:
      out["hdr"] = (_pad(np.asarray(record["hdr"], np.float32), self.pad_hw)
                    if "hdr" in record else np.zeros(tuple(self.pad_hw) + (3,), np.float32))
    return out


class RawSource:
  """Random-access source of `{"index": int32 record index, **RawRecord(record)}` (Grain reads
  it in its workers on the host path)."""

  def __init__(self, source, raw: RawRecord):
    self._source, self._raw = source, raw

  def __len__(self):
    return len(self._source)

  def __getitem__(self, index):
    return {"index": np.int32(index), **self._raw(self._source[index])}

  def __repr__(self):  # Grain checks a restored state against the source's repr
    return f"RawSource({self._source!r}, {self._raw!r})"


def _decoded_bytes(record, count: int, pad_hw, photo: str = "") -> int:
  """Device bytes of `count` records like `record`, padded to `pad_hw`, as `RawRecord` holds
  them: uint16 codes for scenes; uint8 ldr / ldr_gt (only the photo with `photo`, the
  `data.reexpose` source) and float32 hdr for examples."""
  pixels = pad_hw[0] * pad_hw[1] * 3
  if is_scene(record):
    return count * pixels * 2
  return count * pixels * ((1 if photo else 2) + (4 if "hdr" in record else 0))


def device_budget_bytes(data_config) -> int:
  """`data.device_budget_gib` when set, else 1/4 of the first local device's memory (a CPU
  reports none: `CPU_DEVICE_BUDGET_BYTES`)."""
  gib = float(data_config.get("device_budget_gib", 0) or 0)
  if gib > 0:
    return int(gib * (1 << 30))
  stats = jax.local_devices()[0].memory_stats() or {}
  limit = stats.get("bytes_limit")
  return int(limit) // 4 if limit else CPU_DEVICE_BUDGET_BYTES


def choose_placement(data_config, decoded_bytes: int) -> tuple:
  """`data.placement` -> ("device" | "host", reason for the run banner)."""
  placement = data_config.get("placement", "auto")
  if placement not in PLACEMENTS:
    raise ValueError(f"config.data.placement: expected one of {PLACEMENTS}, got {placement!r}")
  if placement != "auto":
    return placement, f"{decoded_bytes / 2**20:.1f} MiB decoded, placement={placement}"
  budget = device_budget_bytes(data_config)
  chosen = "device" if decoded_bytes <= budget else "host"
  return chosen, (f"auto: {decoded_bytes / 2**20:.1f} MiB decoded "
                  f"{'<=' if chosen == 'device' else '>'} budget {budget / 2**20:.0f} MiB")


def pad_size(builder, source) -> tuple:
  """The size every record is padded to: the rendered config's render size, a fixed feature
  shape, else the largest record (one pass over the records' sizes)."""
  cfg = builder.builder_config
  if getattr(cfg, "render_size", None):
    return tuple(int(v) for v in cfg.render_size)
  features = builder.info.features
  if "ldr" in features and None not in tuple(features["ldr"].shape[:2]):
    return tuple(int(v) for v in features["ldr"].shape[:2])
  sizes = [record_hw(source[i]) for i in range(len(source))]
  return max(h for h, _ in sizes), max(w for _, w in sizes)


@functools.lru_cache(maxsize=None)
def compiled_examples(kind: str, size, flip: bool, scale_range, whole_prob, corruption: str,
                      fresh_corruptions: bool, multi: bool, reexpose: bool = False):
  """`_examples_fn(...)` over the D local shares: `jax.pmap` when `multi` (data, keys and step
  replicated, one share per device), else `jax.jit(jax.vmap)` on one device (data, keys and
  step shared, unbatched). Cached, so every iterator with these settings reuses one
  compilation. `reexpose`: example records whose input is made from their `ldr_gt` photo by
  `recipe.reexpose` with `corruption` (a `data.reexpose` source); `corruption` makes the input
  of scenes too, and is unused for example records that keep their stored input."""
  fn = _examples_fn(kind, size, flip, scale_range, whole_prob, corruption, fresh_corruptions,
                    reexpose)
  if multi:
    return jax.pmap(fn, axis_name="batch")
  return jax.jit(jax.vmap(fn, in_axes=(None, 0, 0, 0, None, None, None), axis_name="batch"))


def _examples_fn(kind: str, size, flip: bool, scale_range, whole_prob, corruption: str,
                 fresh_corruptions: bool, reexpose: bool = False):
  """The per-device recipe: (data, slots [b], indices [b], positions [b], base_key,
  frozen_key, step) -> {"ldr", "hdr", "ldr_gt"} `[b, H, W, 3]` float32, vmapped over the b
  examples. `data` holds M raw records (`RawRecord` arrays with a leading M); example j is
  record `slots[j]` of it (the whole data set on the device path, the batch's own records on
  the host path), `indices[j]` its record index, `positions[j]` its global position in the
  step's batch (which, with the step, keys it)."""
  lut = jnp.asarray(scene_codec.DECODE_LUT)

  def examples(data, slots, indices, positions, base_key, frozen_key, step):
    keys = recipe.example_keys(base_key, step, positions)

    def one(key, slot, index):
      hw = data["hw"][slot]
      if kind == "scene":
        radiance = jnp.take(lut, data["codes"][slot].astype(jnp.int32))
        frozen = None if fresh_corruptions else jax.random.fold_in(frozen_key, index)
        return recipe.scene_example(key, radiance, hw, size, flip=flip,
                                    scale_range=scale_range, whole_prob=whole_prob,
                                    corruption=corruption, corruption_key=frozen)
      images = {k: data[k][slot] for k in ("ldr", "ldr_gt", "hdr") if k in data}
      if reexpose:
        k_crop, k_shot = jax.random.split(key)
        out = recipe.crop_example(k_crop, images, hw, size, flip=flip)
        out["ldr"], _ = recipe.reexpose(k_shot, out["ldr_gt"], corruption)
      else:
        out = recipe.crop_example(key, images, hw, size, flip=flip)
      out.setdefault("hdr", jnp.zeros_like(out["ldr"]))
      return out

    return jax.vmap(one)(keys, slots, indices)

  return examples


class DeviceBatches:
  """Endless iterator of training batches `{"ldr", "hdr", "ldr_gt"}` `[D, B_p/D, H, W, 3]`
  float32 device arrays, made on the device by `recipe` from raw records.

  Placement "device": every record decoded once, padded, stacked and put on each local device
  (replicated, one copy per device); a batch is the record indices of this process's seeded order
  (`make_sampler`, computed on the host once per epoch) and the gather happens on the device.
  Placement "host": Grain reads, decodes and pads the batch's records (in `num_workers` worker
  processes) and ships them; the same recipe runs on them. Both give the same bits.

  Batch n of the iterator is keyed by (seed, n, global example position): the state
  (`get_state`/`set_state`, stored in checkpoints) is n and, on the host path, Grain's state.
  """

  def __init__(self, *, placement, source, raw, sampler, per_process, local_devices,
               process_index, examples_fn, seed, worker_count=0,
               worker_buffer_size=2, description="", stream=0):
    self.placement = placement
    self.description = description
    self._devices = local_devices
    self._per_device = per_process // local_devices
    self._batches = 0
    self._sampler = sampler
    self._process_index = process_index
    self._per_process = per_process
    positions = (process_index * per_process
                 + np.arange(per_process, dtype=np.int32)).reshape(local_devices, -1)
    # Several real local devices (or processes): pmap, each device its share, the shared
    # arrays replicated. Otherwise one device runs the D shares under vmap (D may be simulated,
    # e.g. tests asking for 2 devices on one CPU) with the shared arrays unbatched.
    self._multi = (local_devices > 1 and local_devices == jax.local_device_count()) or (
        jax.process_count() > 1)
    if self._multi:  # a leading axis over the local devices, one slice on each (pmap's layout)
      devices = jax.local_devices()
      sharding = jax.sharding.NamedSharding(jax.sharding.Mesh(np.array(devices), ("d",)),
                                            jax.sharding.PartitionSpec("d"))
      self._shared = lambda x: jax.device_put(np.stack([np.asarray(x)] * len(devices)),
                                              sharding)
      self._positions = jax.device_put(positions, sharding)
    else:
      self._shared = lambda x: jax.device_put(np.asarray(x))
      self._positions = jax.device_put(positions)
    self._fn = examples_fn(self._multi)
    self._base_key = self._shared(recipe.data_key(seed, stream))
    self._frozen_key = self._shared(recipe.data_key(seed + 1, stream))
    if placement == "device":
      records = [raw(source[i]) for i in range(len(source))]
      stacked = {k: np.stack([r[k] for r in records]) for k in records[0]}
      self._resident = {k: self._shared(v) for k, v in stacked.items()}
      self._num_shard = len(sampler_shard(sampler))
      self._epoch_cache = {}
      self._loader = None
    else:
      self._resident = None
      self._loader = grain.DataLoader(
          data_source=RawSource(source, raw), sampler=sampler,
          operations=[grain.Batch(per_process, drop_remainder=True)],
          worker_count=worker_count, worker_buffer_size=worker_buffer_size)
      self._iterator = iter(self._loader)

  def __iter__(self):
    return self

  def _split(self, x):
    return x.reshape((self._devices, self._per_device) + x.shape[1:])

  def _epoch(self, epoch: int) -> np.ndarray:
    """This process's record indices of `epoch`, in the sampler's order (cached)."""
    if epoch not in self._epoch_cache:
      self._epoch_cache = {epoch: sampler_shard(self._sampler, epoch)}
    return self._epoch_cache[epoch]

  def record_indices(self, batch: int) -> np.ndarray:
    """`[B_p]` record indices of this process's batch number `batch` (device path)."""
    start = batch * self._per_process
    out = np.empty(self._per_process, np.int32)
    for j in range(self._per_process):
      epoch, k = divmod(start + j, self._num_shard)
      out[j] = self._epoch(epoch)[k]
    return out

  def __next__(self):
    step = self._batches
    if self._resident is not None:
      indices = self._split(self.record_indices(step))
      data, slots = self._resident, indices
    else:
      raw = next(self._iterator)
      indices = self._split(raw.pop("index"))
      if self._multi:   # each device gets its share of the records
        data = {k: self._split(v) for k, v in raw.items()}
        slots = np.broadcast_to(np.arange(self._per_device, dtype=np.int32), indices.shape)
      else:             # one device holds the batch's records; slot = position in it
        data = raw
        slots = self._split(np.arange(self._per_process, dtype=np.int32))
    self._batches += 1
    steps = (np.full((self._devices,), step, np.int32) if self._multi else np.int32(step))
    return self._fn(data, np.ascontiguousarray(slots), np.ascontiguousarray(indices),
                    self._positions, self._base_key, self._frozen_key, steps)

  def get_state(self) -> bytes:
    """JSON bytes for the checkpoint: batches served, placement and (host path) Grain's state."""
    state = {"batches": self._batches, "placement": self.placement}
    if self._loader is not None:
      state["grain"] = self._iterator.get_state().decode()
    return json.dumps(state).encode()

  def set_state(self, state: bytes):
    """Continues from `get_state`'s bytes; DataError if they are another loader's."""
    try:
      state = json.loads(state.decode())
      batches = int(state["batches"])
    except (ValueError, KeyError, TypeError, AttributeError):
      raise DataError("the checkpoint's data iterator state is not this loader's (written "
                      "before the recipe moved to the device?): start a new workdir") from None
    if state.get("placement") != self.placement:
      raise DataError(f"the checkpoint was written with data placement "
                      f"{state.get('placement')!r}, this run uses {self.placement!r}: set "
                      f"--config.data.placement={state.get('placement')}")
    self._batches = batches
    if self._loader is not None:
      self._iterator.set_state(state["grain"].encode())


def sampler_shard(sampler: grain.IndexSampler, epoch: int = 0) -> np.ndarray:
  """The record indices a Grain `DataLoader` (no workers) reads from `sampler` in epoch
  `epoch`, in order: positions `shard_index + k * shard_count` of the sampler."""
  options = sampler._shard_options  # pylint: disable=protected-access
  count = sampler._num_records // options.shard_count  # pylint: disable=protected-access
  first = epoch * count
  return np.asarray([sampler[options.shard_index + (first + k) * options.shard_count].record_key
                     for k in range(count)], np.int32)


def _source_batches(config, data, per_process: int, process_index: int, process_count: int,
                    local_devices: int, stream: int = 0) -> DeviceBatches:
  """`DeviceBatches` of `per_process` examples a batch from one source `data` (a `config.data`
  or one of its `mixture` entries); `stream` > 0 keys a mixture's further source apart."""
  size = tuple(int(v) for v in config.image_size)
  builder = prepare(data.dataset, data.get("data_dir"), data.get("manual_dir"))
  source = _source(builder, data.dataset, data.train_split)
  if data.get("max_train_records", 0):
    source = FirstRecords(source, int(data.max_train_records))
  if not len(source):
    raise DataError(f"{data.dataset}:{data.train_split} at {builder.data_dir} has no records")
  origin = f"{data.dataset}:{data.train_split} at {builder.data_dir}"
  first = source[0]
  kind = "scene" if is_scene(first) else "example"
  pad_hw = pad_size(builder, source)
  if kind == "scene":
    recipe.check_scene_size(pad_hw, size, origin)
  elif pad_hw[0] < size[0] or pad_hw[1] < size[1]:
    raise DataError(f"{origin}: examples of {pad_hw[0]}x{pad_hw[1]} are smaller than "
                    f"image_size {size[0]}x{size[1]}")
  corruption = data.get("corruption", "parametric")
  if corruption not in recipe.CORRUPTIONS:
    raise ValueError(f"config.data.corruption: expected one of {recipe.CORRUPTIONS}, got "
                     f"{corruption!r}")
  photo = data.get("reexpose", "") or ""
  if photo and (kind == "scene" or photo not in first):
    raise DataError(f"{origin}: data.reexpose={photo!r} needs example records holding a "
                    f"{photo!r} image; these are {kind}s with {sorted(first)}")
  placement, reason = choose_placement(data, _decoded_bytes(first, len(source), pad_hw, photo))
  raw = RawRecord(pad_hw, with_hdr=kind == "example" and "hdr" in first, origin=origin,
                  rebuild=prepare_command(data.dataset), photo=photo)
  fresh = bool(data.get("fresh_corruptions", True))
  fn = functools.partial(compiled_examples, kind, size, bool(data.get("flip", True)),
                         tuple(float(v) for v in data.get("crop_scale", (0.25, 1.0))),
                         float(data.get("whole_scene_prob", 0.25)), corruption, fresh,
                         reexpose=bool(photo))
  inputs = (corruption if kind == "scene"
            else f"{photo} re-exposed by recipe.reexpose ({corruption})" if photo else "stored")
  description = (f"data: {data.dataset}:{data.train_split}, {len(source)} records "
                 f"({kind}s, padded to {pad_hw[0]}x{pad_hw[1]}) on the {placement} ({reason}); "
                 f"recipe on the device, corruption {inputs}")
  return DeviceBatches(
      placement=placement, source=source, raw=raw,
      sampler=make_sampler(len(source), config.seed + stream, process_index, process_count),
      per_process=per_process, local_devices=local_devices, process_index=process_index,
      examples_fn=fn, seed=int(config.seed),
      worker_count=data.get("num_workers", 0),
      worker_buffer_size=data.get("worker_buffer_size", 2),
      description=description, stream=stream)


MIXTURE_FIELDS = ("dataset", "train_split", "share", "data_dir", "manual_dir", "placement",
                  "device_budget_gib", "flip", "max_train_records", "reexpose", "corruption")


def mixture_counts(data_config, per_process: int, local_devices: int) -> list:
  """`[(name, source config, examples per process batch)]`: `data` itself first, then each
  `data.mixture` entry (a name -> `{dataset, train_split, share, ...}`) with `share` of the
  batch. Every count must be a positive multiple of the local device count."""
  entries = []
  for name, entry in sorted(dict(data_config.get("mixture", None) or {}).items()):
    unknown = sorted(set(entry) - set(MIXTURE_FIELDS))
    if unknown:
      raise ValueError(f"config.data.mixture.{name}: unknown fields {unknown}; expected "
                       f"{list(MIXTURE_FIELDS)}")
    if "dataset" not in entry or "share" not in entry:
      raise ValueError(f"config.data.mixture.{name}: needs `dataset` and `share`")
    share = float(entry["share"])
    count = share * per_process
    if not 0 < share < 1 or abs(count - round(count)) > 1e-6:
      raise ValueError(f"config.data.mixture.{name}.share={share}: must be in (0, 1) and give "
                       f"a whole number of the {per_process} examples of a batch")
    source = ml_collections.ConfigDict(dict(data_config))
    source.mixture = None
    source.update({k: v for k, v in entry.items() if k not in ("share",)})
    source.train_split = entry.get("train_split", "train")
    entries.append((name, source, int(round(count))))
  first = per_process - sum(count for _, _, count in entries)
  counts = [("data", data_config, first)] + entries
  for name, _, count in counts:
    if count <= 0 or count % local_devices:
      raise ValueError(f"data mixture: {name} gets {count} of the {per_process} examples of a "
                       f"batch, not a positive multiple of the {local_devices} local devices")
  return counts


class Mixture:
  """Batches made of several sources (`config.data.mixture`): each step takes a fixed number
  of examples from each (`mixture_counts`), concatenated along the per-device batch axis, the
  sources keyed apart (`stream` i). Same interface as `DeviceBatches`."""

  def __init__(self, parts):
    self._parts = parts  # [(name, DeviceBatches)]
    self.placement = "+".join(p.placement for _, p in parts)
    self.description = "\n".join(f"{name} ({p._per_process} a batch): {p.description}"
                                  for name, p in parts)  # pylint: disable=protected-access

  def __iter__(self):
    return self

  def __next__(self):
    batches = [next(p) for _, p in self._parts]
    return {k: jnp.concatenate([b[k] for b in batches], axis=-4) for k in batches[0]}

  def get_state(self) -> bytes:
    """JSON bytes: every source's `get_state`, by mixture name."""
    return json.dumps({name: p.get_state().decode() for name, p in self._parts}).encode()

  def set_state(self, state: bytes):
    """Continues every source from `get_state`'s bytes; DataError naming a missing source."""
    try:
      states = json.loads(state.decode())
      missing = [name for name, _ in self._parts if name not in states]
    except (ValueError, AttributeError):
      states, missing = None, ["?"]
    if states is None or missing or not isinstance(states, dict):
      raise DataError(f"the checkpoint's data iterator state has no state for the mixture's "
                      f"sources {missing}: it was written with another data mixture; start a "
                      f"new workdir")
    for name, part in self._parts:
      part.set_state(states[name].encode())


def create_train_iterator(config, process_index: Optional[int] = None,
                          process_count: Optional[int] = None,
                          local_devices: Optional[int] = None):
  """Endless iterator of training batches for this process (`DeviceBatches`, or a `Mixture`
  of them when `config.data.mixture` names further sources).

  Reads `config.data` (dataset, train_split, data_dir, manual_dir, num_workers, flip,
  crop_scale, whole_scene_prob, fresh_corruptions, max_train_records, placement,
  device_budget_gib, corruption, mixture), `config.seed`, `config.batch_size` (global) and
  `config.image_size` (H, W). Order, crops, flips and corruptions are functions of the seed
  only; each process reads its own shard (`make_sampler`).
  """
  process_index = jax.process_index() if process_index is None else process_index
  process_count = jax.process_count() if process_count is None else process_count
  local_devices = jax.local_device_count() if local_devices is None else local_devices
  per_process, _ = split_batch(config.batch_size, process_count, local_devices)
  counts = mixture_counts(config.data, per_process, local_devices)
  parts = [(name, _source_batches(config, data, count, process_index, process_count,
                                  local_devices, stream))
           for stream, (name, data, count) in enumerate(counts)]
  return parts[0][1] if len(parts) == 1 else Mixture(parts)

def resolve_split(data_config, split: str):
  """`split` -> (builder, stored split, resize (H, W) or None). `test_HxW` of a scene data set
  is its `test` scenes area-resized to HxW; of an example data set, its `test` split when that
  holds HxW images."""
  dataset = data_config.dataset
  builder = prepare(dataset, data_config.get("data_dir"), data_config.get("manual_dir"))
  splits = list(builder.info.splits)
  holdout = HOLDOUT_SPLIT.fullmatch(split)
  if split in splits or (holdout and holdout.group(1) in splits):
    return builder, split, None
  match = PROTOCOL_SPLIT.fullmatch(split)
  available = (f"available: {splits}, their held-out scenes SPLIT[held/K] and SPLIT[kept/K], "
               f"and the test protocols test_HxW (e.g. test_64x128)")
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


@functools.partial(jax.jit, static_argnums=(2, 3))
def _test_example(radiance, key, size, corruption):
  """A test scene's whole-scene example: `recipe.resize` to `size` (None: as stored), then
  `recipe.make_example` with the scene's fixed key -> float32 `{"ldr", "hdr", "ldr_gt"}`."""
  if size is not None:
    radiance = recipe.resize(radiance, size)
  return recipe.make_example(key, radiance, corruption)[0]


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
      radiance = scene_codec.codes_to_radiance(
          scene_codes(record, origin, prepare_command(data_config.dataset)))
      out = jax.device_get(_test_example(radiance, recipe.example_key(seed, ident), size,
                                         data_config.get("corruption", "parametric")))
    else:
      out = to_float(record)
    out["id"] = ident
    yield out


def num_examples(data_config, split: str) -> int:
  """How many records `split` of `data_config.dataset` holds (a `test_HxW` protocol: its
  stored split's)."""
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
  batch = jax.device_get(jax.tree_util.tree_map(lambda x: x[0],
                                                next(create_train_iterator(config, 0, 1, 1))))
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
