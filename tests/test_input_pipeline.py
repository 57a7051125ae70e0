"""Input pipeline: seeded order, per-process shards, crops/flips, resumable iterator state."""

import grain.python as grain
import ml_collections
import numpy as np
import pytest

from drht_jax import input_pipeline


def _config(data_dir, seed=0, batch_size=4, image_size=(32, 64), flip=True):
  return ml_collections.ConfigDict({
      "seed": seed, "batch_size": batch_size, "image_size": image_size,
      "data": {"dataset": "rendered/tiny", "train_split": "train", "data_dir": data_dir,
               "manual_dir": None, "num_workers": 0, "flip": flip}})


def _take(iterator, n):
  return [next(iterator) for _ in range(n)]


def _records(num_records, seed, process_index, process_count, epochs=1):
  """The record keys one process's loader visits, in order."""
  loader = grain.DataLoader(
      data_source=list(range(num_records)),
      sampler=input_pipeline.make_sampler(num_records, seed, process_index, process_count,
                                          num_epochs=epochs))
  return list(loader)


def test_batches_are_device_sharded_float32_in_range(tiny_data_dir):
  batch = next(input_pipeline.create_train_iterator(_config(tiny_data_dir), 0, 1, 2))
  assert set(batch) == {"ldr", "hdr", "ldr_gt"}
  for key, value in batch.items():
    assert value.shape == (2, 2, 32, 64, 3) and value.dtype == np.float32, key
    assert np.all(np.isfinite(value))
  assert batch["ldr"].min() >= 0 and batch["ldr"].max() <= 1
  assert batch["hdr"].min() >= 0 and batch["hdr"].max() > 0


def test_same_seed_gives_the_same_batches_in_the_same_order(tiny_data_dir):
  a = _take(input_pipeline.create_train_iterator(_config(tiny_data_dir), 0, 1, 1), 5)
  b = _take(input_pipeline.create_train_iterator(_config(tiny_data_dir), 0, 1, 1), 5)
  for x, y in zip(a, b):
    for key in x:
      np.testing.assert_array_equal(x[key], y[key])


def test_different_seed_gives_different_batches(tiny_data_dir):
  a = next(input_pipeline.create_train_iterator(_config(tiny_data_dir, seed=0), 0, 1, 1))
  b = next(input_pipeline.create_train_iterator(_config(tiny_data_dir, seed=1), 0, 1, 1))
  assert not np.array_equal(a["ldr"], b["ldr"])


def test_two_processes_read_disjoint_halves_that_make_the_whole():
  first, second = _records(16, 0, 0, 2), _records(16, 0, 1, 2)
  assert len(first) == len(second) == 8 and not set(first) & set(second)
  assert sorted(first + second) == list(range(16))
  assert first != sorted(first)  # shuffled


def test_shuffle_order_depends_on_seed_and_changes_each_epoch():
  two_epochs = _records(10, 0, 0, 1, epochs=2)
  assert two_epochs[:10] != two_epochs[10:] and sorted(two_epochs[10:]) == list(range(10))
  assert _records(10, 0, 0, 1) == _records(10, 0, 0, 1)
  assert _records(10, 0, 0, 1) != _records(10, 1, 0, 1)


def test_restored_iterator_state_continues_with_the_same_batches(tiny_data_dir):
  iterator = input_pipeline.create_train_iterator(_config(tiny_data_dir), 0, 1, 1)
  _take(iterator, 3)
  state = iterator.get_state()
  expected = _take(iterator, 3)
  resumed = input_pipeline.create_train_iterator(_config(tiny_data_dir), 0, 1, 1)
  resumed.set_state(state)
  for x, y in zip(expected, _take(resumed, 3)):
    np.testing.assert_array_equal(x["ldr_gt"], y["ldr_gt"])


def test_crop_and_flip_cut_the_same_window_from_all_images():
  height, width = 8, 12
  ramp = np.arange(height * width * 3, dtype=np.float32).reshape(height, width, 3)
  example = {"ldr": (ramp % 256).astype(np.uint8), "ldr_gt": (ramp % 256).astype(np.uint8),
             "hdr": ramp}
  transform = input_pipeline.CropAndFlip((4, 6), flip=True)
  flips = set()
  for seed in range(20):
    out = transform.random_map(example, np.random.default_rng(seed))
    np.testing.assert_array_equal(out["ldr"] * 255.0, out["hdr"] % 256)
    np.testing.assert_array_equal(out["ldr"], out["ldr_gt"])
    flips.add(bool(out["hdr"][0, 0, 0] > out["hdr"][0, -1, 0]))
  assert flips == {True, False}


def test_crop_larger_than_the_example_is_a_clear_error():
  example = {"ldr": np.zeros((8, 8, 3), np.uint8), "ldr_gt": np.zeros((8, 8, 3), np.uint8)}
  with pytest.raises(ValueError, match="smaller than image_size"):
    input_pipeline.CropAndFlip((16, 16)).random_map(example, np.random.default_rng(0))


def test_ldr_only_examples_get_zero_hdr():
  out = input_pipeline.to_float({"ldr": np.full((2, 2, 3), 255, np.uint8),
                                 "ldr_gt": np.zeros((2, 2, 3), np.uint8)})
  assert out["ldr"].max() == 1.0 and not out["hdr"].any()


def test_batch_must_divide_over_processes_and_devices():
  with pytest.raises(ValueError, match="divisible"):
    input_pipeline.split_batch(6, 1, 4)
  assert input_pipeline.split_batch(8, 2, 2) == (4, 2)


def test_unknown_dataset_lists_the_available_ones():
  with pytest.raises(ValueError, match="rendered"):
    input_pipeline.get_builder("imagenet")


def test_eval_examples_walk_the_split_once_with_ids(tiny_data_dir):
  examples = list(input_pipeline.eval_examples(_config(tiny_data_dir).data, "test"))
  assert len(examples) == 1 and examples[0]["id"].startswith("scene")
  assert examples[0]["ldr"].shape == (128, 256, 3)
