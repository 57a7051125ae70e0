"""Input pipeline: seeded order, per-process shards, online examples from scenes (crop, scale,
flip, fresh corruption), crops/flips of stored examples, resumable state, the test protocols."""

import grain.python as grain
import ml_collections
import numpy as np
import pytest

from datasets import common
from drht_jax import hdr
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
  assert len(examples) == 2 and all(e["id"].startswith("scene") for e in examples)
  assert examples[0]["ldr"].shape == (128, 256, 3)


def test_protocol_splits_resize_test_scenes_with_fixed_corruptions(tiny_data_dir):
  data = _config(tiny_data_dir).data
  small = list(input_pipeline.eval_examples(data, "test_64x128"))
  again = list(input_pipeline.eval_examples(data, "test_64x128"))
  whole = list(input_pipeline.eval_examples(data, "test_128x256"))
  assert [e["id"] for e in small] == [e["id"] for e in whole] == [e["id"] for e in again]
  for a, b, w in zip(small, again, whole):
    assert a["ldr"].shape == (64, 128, 3) and w["ldr"].shape == (128, 256, 3)
    for key in ("ldr", "hdr", "ldr_gt"):
      np.testing.assert_array_equal(a[key], b[key])     # the same images every time
    for key in ("ldr", "ldr_gt"):
      assert np.all(a[key] * 255 == np.round(a[key] * 255)) and 0 <= a[key].min()
  assert not np.array_equal(small[0]["ldr"].mean(), small[1]["ldr"].mean())
  assert input_pipeline.num_examples(data, "test_64x128") == 2


def test_test_corruption_is_a_function_of_dataset_seed_and_scene_id():
  a = hdr.np_sample_corruption(common.scene_rng(0, "scene1000001"))
  assert a == hdr.np_sample_corruption(common.scene_rng(0, "scene1000001"))
  assert a != hdr.np_sample_corruption(common.scene_rng(0, "scene1000000"))
  assert a != hdr.np_sample_corruption(common.scene_rng(1, "scene1000001"))


def test_missing_or_upsampling_splits_are_one_line_data_errors(tiny_data_dir):
  data = _config(tiny_data_dir).data
  with pytest.raises(input_pipeline.DataError, match="no split 'validation'") as info:
    list(input_pipeline.eval_examples(data, "validation"))
  assert tiny_data_dir in str(info.value) and "\n" not in str(info.value)
  with pytest.raises(input_pipeline.DataError, match="128x256.*upsample"):
    list(input_pipeline.eval_examples(data, "test_256x512"))


def _scene_record(height=64, width=128, seed=0):
  y, x = np.mgrid[0:height, 0:width]
  rng = np.random.default_rng(seed)
  radiance = (np.exp(3 * np.sin(x / 9.0)[..., None] + y[..., None] / 20.0)
              * rng.uniform(0.5, 1.5, (height, width, 3))).astype(np.float32)
  return common.make_scene_record(radiance, f"scene{seed}"), radiance


def test_crop_window_keeps_the_aspect_ratio_never_upsamples_and_can_take_the_whole_scene():
  rng = np.random.default_rng(0)
  windows = [common.crop_window(rng, (256, 512), (64, 128), (0.25, 1.0), 0.25)
             for _ in range(400)]
  heights = [h for _, _, h, _ in windows]
  assert all(w == 2 * h and 64 <= h <= 256 for _, _, h, w in windows)
  assert all(0 <= y <= 256 - h and 0 <= x <= 512 - w for y, x, h, w in windows)
  assert 0.15 < np.mean([h == 256 for h in heights]) < 0.4 and min(heights) < 80
  assert len(set(heights)) > 50
  with pytest.raises(common.DataError, match="smaller than image_size"):
    common.crop_window(rng, (32, 64), (64, 128), (0.25, 1.0), 0.25)


def test_whole_scene_training_example_is_the_test_protocol_image():
  record, radiance = _scene_record(128, 256)
  codes = input_pipeline.scene_codes(record)
  train = input_pipeline.scene_example(codes, np.random.default_rng(0), (64, 128), flip=False,
                                       whole_prob=1.0)
  test = common.make_example(common.area_resize(common.codes_to_radiance(codes), 64, 128),
                             hdr.np_sample_corruption(np.random.default_rng(1)))
  np.testing.assert_array_equal(train["ldr_gt"], test["ldr_gt"])   # one target definition
  np.testing.assert_array_equal(train["hdr"], test["hdr"])
  codec_error = 2.0 ** (0.5 / common.STEPS_PER_STOP) - 1   # the stored codes' precision
  np.testing.assert_allclose(train["hdr"], hdr.np_normalize_exposure(
      common.area_resize(radiance, 64, 128)), rtol=1.05 * codec_error)


def test_each_epoch_draws_a_fresh_example_from_the_same_scene():
  record, _ = _scene_record()
  loader = grain.DataLoader(
      data_source=[record], sampler=input_pipeline.make_sampler(1, 0, 0, 1, num_epochs=4),
      operations=[input_pipeline.MakeExample((32, 64))])
  examples = list(loader)
  assert len(examples) == 4
  for a, b in zip(examples, examples[1:]):
    assert not np.array_equal(a["ldr"], b["ldr"])
  again = list(grain.DataLoader(
      data_source=[record], sampler=input_pipeline.make_sampler(1, 0, 0, 1, num_epochs=4),
      operations=[input_pipeline.MakeExample((32, 64))]))
  for a, b in zip(examples, again):
    for key in ("ldr", "hdr", "ldr_gt"):
      np.testing.assert_array_equal(a[key], b[key])


def test_make_example_still_crops_stored_example_records():
  example = {"ldr": np.full((8, 12, 3), 7, np.uint8), "ldr_gt": np.full((8, 12, 3), 9, np.uint8)}
  out = input_pipeline.MakeExample((4, 6)).random_map(example, np.random.default_rng(0))
  assert out["ldr"].shape == (4, 6, 3) and not out["hdr"].any()
  np.testing.assert_allclose(out["ldr_gt"], 9 / 255)
