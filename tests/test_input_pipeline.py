"""Input pipeline: seeded order, per-process shards, the device-side recipe on both placements
(same bits), resumable state, the test protocols. The recipe itself: test_recipe.py."""

import grain.python as grain
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from datasets import common
from drht_jax import input_pipeline
from drht_jax import recipe


def _config(data_dir, seed=0, batch_size=4, image_size=(32, 64), flip=True, placement="auto"):
  return ml_collections.ConfigDict({
      "seed": seed, "batch_size": batch_size, "image_size": image_size,
      "data": {"dataset": "rendered/tiny", "train_split": "train", "data_dir": data_dir,
               "manual_dir": None, "num_workers": 0, "flip": flip, "placement": placement}})


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


@pytest.mark.parametrize("placement", ["device", "host"])
def test_restored_iterator_state_continues_with_the_same_batches(tiny_data_dir, placement):
  config = _config(tiny_data_dir, placement=placement)
  iterator = input_pipeline.create_train_iterator(config, 0, 1, 1)
  assert iterator.placement == placement
  _take(iterator, 3)
  state = iterator.get_state()
  expected = _take(iterator, 3)
  resumed = input_pipeline.create_train_iterator(config, 0, 1, 1)
  resumed.set_state(state)
  for x, y in zip(expected, _take(resumed, 3)):
    for key in x:
      np.testing.assert_array_equal(x[key], y[key])


def test_device_and_host_placements_give_the_same_batches(tiny_data_dir):
  on_device = input_pipeline.create_train_iterator(_config(tiny_data_dir, placement="device"),
                                                   0, 1, 2)
  on_host = input_pipeline.create_train_iterator(_config(tiny_data_dir, placement="host"),
                                                 0, 1, 2)
  for x, y in zip(_take(on_device, 4), _take(on_host, 4)):   # 4 batches of 4: past an epoch
    for key in x:
      np.testing.assert_array_equal(x[key], y[key])


def test_device_order_is_the_grain_loaders_order():
  sampler = input_pipeline.make_sampler(10, 3, 1, 2)   # endless, as training uses it
  one = grain.DataLoader(data_source=list(range(10)),
                         sampler=input_pipeline.make_sampler(10, 3, 1, 2, num_epochs=1))
  assert list(one) == list(input_pipeline.sampler_shard(sampler, 0))
  two = grain.DataLoader(data_source=list(range(10)),
                         sampler=input_pipeline.make_sampler(10, 3, 1, 2, num_epochs=2))
  assert list(two)[5:] == list(input_pipeline.sampler_shard(sampler, 1))


def test_checkpointed_state_of_the_other_placement_is_a_clear_error(tiny_data_dir):
  state = input_pipeline.create_train_iterator(
      _config(tiny_data_dir, placement="host"), 0, 1, 1).get_state()
  on_device = input_pipeline.create_train_iterator(_config(tiny_data_dir, placement="device"),
                                                   0, 1, 1)
  with pytest.raises(input_pipeline.DataError, match="placement=host"):
    on_device.set_state(state)


def test_auto_placement_keeps_data_on_the_device_only_within_the_budget():
  data = ml_collections.ConfigDict({"placement": "auto", "device_budget_gib": 1.0})
  assert input_pipeline.choose_placement(data, 1 << 29)[0] == "device"
  assert input_pipeline.choose_placement(data, 3 << 29)[0] == "host"
  data.placement = "tpu"
  with pytest.raises(ValueError, match="placement"):
    input_pipeline.choose_placement(data, 1)


def test_decoded_bytes_count_what_the_raw_records_hold():
  """Placement's budget line counts the arrays `RawRecord` keeps: a re-exposed source keeps its
  photo and the HDR, not the stored input."""
  record = {"ldr": np.zeros((8, 8, 3), np.uint8), "ldr_gt": np.zeros((8, 8, 3), np.uint8),
            "ldr_mid": np.zeros((8, 8, 3), np.uint8), "hdr": np.zeros((8, 8, 3), np.float32)}
  raw = input_pipeline.RawRecord((8, 16))
  held = sum(v.nbytes for k, v in raw(record).items() if k != "hw")
  assert input_pipeline._decoded_bytes(record, 1, (8, 16)) == held  # pylint: disable=protected-access
  reexposed = input_pipeline.RawRecord((8, 16), photo="ldr_mid")
  held = sum(v.nbytes for k, v in reexposed(record).items() if k != "hw")
  assert input_pipeline._decoded_bytes(record, 1, (8, 16), "ldr_mid") == held  # pylint: disable=protected-access


def test_padding_keeps_the_record_and_rejects_larger_ones():
  image = np.ones((2, 3, 3), np.uint16)
  padded = input_pipeline._pad(image, (4, 5))  # pylint: disable=protected-access
  assert padded.shape == (4, 5, 3) and padded[:2, :3].all() and padded.sum() == image.sum()
  with pytest.raises(input_pipeline.DataError, match="larger than the padded size"):
    input_pipeline._pad(image, (1, 5))  # pylint: disable=protected-access


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
      np.testing.assert_allclose(a[key] * 255, np.round(a[key] * 255), atol=1e-3)  # 8-bit
      assert 0 <= a[key].min()
  assert not np.array_equal(small[0]["ldr"].mean(), small[1]["ldr"].mean())
  assert input_pipeline.num_examples(data, "test_64x128") == 2


def test_test_corruption_is_a_function_of_dataset_seed_and_scene_id():
  draw = lambda seed, ident: recipe.sample_corruption(common.example_key(seed, ident))["ev"]
  a = draw(0, "scene1000001")
  assert a == draw(0, "scene1000001")
  assert a != draw(0, "scene1000000") and a != draw(1, "scene1000001")


def test_missing_or_upsampling_splits_are_one_line_data_errors(tiny_data_dir):
  data = _config(tiny_data_dir).data
  with pytest.raises(input_pipeline.DataError, match="no split 'validation'") as info:
    list(input_pipeline.eval_examples(data, "validation"))
  assert tiny_data_dir in str(info.value) and "\n" not in str(info.value)
  with pytest.raises(input_pipeline.DataError, match="128x256.*upsample"):
    list(input_pipeline.eval_examples(data, "test_256x512"))


def test_whole_scene_training_example_is_the_test_protocol_image(tiny_data_dir):
  config = _config(tiny_data_dir, batch_size=1, image_size=(64, 128), flip=False)
  config.data.whole_scene_prob = 1.0
  config.data.max_train_records = 1
  train = jax.device_get(next(input_pipeline.create_train_iterator(config, 0, 1, 1)))
  source = input_pipeline.data_source(config.data, "train")
  radiance = common.codes_to_radiance(input_pipeline.scene_codes(source[0]))
  test = recipe.make_example(jax.random.PRNGKey(1), recipe.resize(radiance, (64, 128)))[0]
  np.testing.assert_array_equal(train["ldr_gt"][0, 0], test["ldr_gt"])  # one target definition
  # (vmapped over the batch, the log-average's sum may round differently: 1 ulp)
  np.testing.assert_allclose(train["hdr"][0, 0], test["hdr"], rtol=1e-6)


def test_each_batch_draws_fresh_examples_from_the_same_scenes(tiny_data_dir):
  config = _config(tiny_data_dir, batch_size=3)   # 3 scenes: one epoch per batch
  a, b = _take(input_pipeline.create_train_iterator(config, 0, 1, 1), 2)
  assert not np.array_equal(a["ldr"], b["ldr"])


def test_stored_example_records_are_cropped_with_zero_hdr_for_ldr_only_data():
  fn = input_pipeline._examples_fn(  # pylint: disable=protected-access
      "example", (4, 6), True, (0.25, 1.0), 0.25, "parametric", True)
  data = {"ldr": jnp.full((1, 8, 12, 3), 7, jnp.uint8), "ldr_gt": jnp.full((1, 8, 12, 3), 9, jnp.uint8),
          "hw": jnp.asarray([[8, 12]], jnp.int32)}
  zero = jnp.zeros((1,), jnp.int32)
  out = fn(data, zero, zero, zero, recipe.data_key(0), recipe.data_key(1), jnp.int32(0))
  assert out["ldr"].shape == (1, 4, 6, 3) and not np.asarray(out["hdr"]).any()
  np.testing.assert_allclose(out["ldr_gt"], 9 / 255)


@pytest.mark.parametrize("corruption", ["camera", "parametric"])
def test_reexposed_example_records_take_their_input_from_the_target_photo(corruption):
  fn = input_pipeline._examples_fn(  # pylint: disable=protected-access
      "example", (16, 16), False, (0.25, 1.0), 0.25, corruption, True, reexpose=True)
  photo = jnp.full((2, 16, 16, 3), 120, jnp.uint8)
  data = {"ldr_gt": photo, "hdr": jnp.ones((2, 16, 16, 3), jnp.float32),
          "hw": jnp.asarray([[16, 16], [16, 16]], jnp.int32)}
  slots = jnp.arange(2, dtype=jnp.int32)
  out = fn(data, slots, slots, slots, recipe.data_key(0), recipe.data_key(1), jnp.int32(0))
  np.testing.assert_allclose(out["ldr_gt"], 120 / 255)                # the photo is the target
  np.testing.assert_array_equal(out["hdr"], 1.0)                      # stored HDR kept for f1
  keys = recipe.example_keys(recipe.data_key(0), 0, slots)
  shots = [recipe.reexpose(jax.random.split(key)[1], out["ldr_gt"][i], corruption)[0]  # re-shot
           for i, key in enumerate(keys)]
  np.testing.assert_allclose(out["ldr"], np.stack(shots), atol=1 / 255 + 1e-6)  # vmap rounding
  assert not np.array_equal(out["ldr"][0], out["ldr"][1])             # each its own exposure


def test_reexpose_of_an_image_the_records_lack_is_named(tiny_data_dir):
  config = _config(tiny_data_dir)
  config.data.reexpose = "ldr_mid"
  with pytest.raises(input_pipeline.DataError, match="reexpose='ldr_mid' needs example records"):
    input_pipeline.create_train_iterator(config, 0, 1, 1)


# --- Data mixtures: a fixed share of every batch from each further source.


def _mixture_config(data_dir, share=0.5, batch_size=4, **entry):
  config = _config(data_dir, batch_size=batch_size)
  config.data.mixture = ml_collections.ConfigDict({"other": dict(
      dataset="rendered/tiny", train_split="test", data_dir=data_dir, share=share, **entry)})
  return config


def test_mixture_batch_is_the_main_sources_share_then_the_others(tiny_data_dir):
  mixed = _take(input_pipeline.create_train_iterator(_mixture_config(tiny_data_dir), 0, 1, 1), 2)
  plain = _take(input_pipeline.create_train_iterator(_config(tiny_data_dir, batch_size=2),
                                                     0, 1, 1), 2)
  for m, p in zip(mixed, plain):
    assert m["ldr"].shape == (1, 4, 32, 64, 3)
    for key in m:
      np.testing.assert_array_equal(m[key][:, :2], p[key])   # main source: its own stream
  assert not np.array_equal(mixed[0]["ldr"][:, 2:], plain[0]["ldr"])


def test_a_mixture_entry_sets_its_own_corruption():
  data = ml_collections.ConfigDict(dict(corruption="camera", mixture={
      "param": dict(dataset="rendered/small", share=0.25, corruption="parametric")}))
  counts = input_pipeline.mixture_counts(data, per_process=4, local_devices=1)
  assert [(name, source.corruption, n) for name, source, n in counts] == [
      ("data", "camera", 3), ("param", "parametric", 1)]


def test_mixture_sources_are_keyed_apart_even_on_the_same_data(tiny_data_dir):
  config = _mixture_config(tiny_data_dir)
  config.data.mixture.other.train_split = "train"
  batch = next(input_pipeline.create_train_iterator(config, 0, 1, 1))
  assert not np.array_equal(batch["ldr"][:, :2], batch["ldr"][:, 2:])


def test_mixture_splits_each_devices_share_over_the_sources(tiny_data_dir):
  batch = next(input_pipeline.create_train_iterator(
      _mixture_config(tiny_data_dir, batch_size=8), 0, 1, 2))
  assert batch["ldr"].shape == (2, 4, 32, 64, 3)


def test_restored_mixture_state_continues_with_the_same_batches(tiny_data_dir):
  config = _mixture_config(tiny_data_dir)
  first = input_pipeline.create_train_iterator(config, 0, 1, 1)
  _take(first, 2)
  state = first.get_state()
  expected = next(first)
  resumed = input_pipeline.create_train_iterator(config, 0, 1, 1)
  resumed.set_state(state)
  np.testing.assert_array_equal(next(resumed)["ldr"], expected["ldr"])


def test_mixture_state_without_a_source_is_a_clear_error(tiny_data_dir):
  plain = input_pipeline.create_train_iterator(_config(tiny_data_dir), 0, 1, 1)
  mixed = input_pipeline.create_train_iterator(_mixture_config(tiny_data_dir), 0, 1, 1)
  with pytest.raises(input_pipeline.DataError, match="another data mixture"):
    mixed.set_state(plain.get_state())


@pytest.mark.parametrize("share, match", [(0.3, "whole number"), (1.0, r"in \(0, 1\)")])
def test_mixture_share_must_give_whole_examples_of_a_batch(tiny_data_dir, share, match):
  with pytest.raises(ValueError, match=match):
    input_pipeline.create_train_iterator(_mixture_config(tiny_data_dir, share=share), 0, 1, 1)


def test_mixture_entry_with_an_unknown_field_is_named(tiny_data_dir):
  with pytest.raises(ValueError, match=r"mixture.other: unknown fields \['shares'\]"):
    input_pipeline.create_train_iterator(_mixture_config(tiny_data_dir, shares=0.5), 0, 1, 1)
