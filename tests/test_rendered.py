"""The rendered data set (2.x): scenes as pure functions of (seed, index), stored once, whole,
as compressed radiance; disjoint train/test scenes; bad and stale data named in one line."""

import os

import numpy as np
import pytest

from datasets import common
from datasets.rendered import rendered
from datasets.rendered import scenes
from drht_jax import input_pipeline


def test_scene_is_a_pure_function_of_seed_and_index():
  a, b = scenes.scene_dict(0, 7, 64, 128, 4), scenes.scene_dict(0, 7, 64, 128, 4)
  assert str(a) == str(b)
  assert str(a) != str(scenes.scene_dict(0, 8, 64, 128, 4))
  assert str(a) != str(scenes.scene_dict(1, 7, 64, 128, 4))


def test_render_gives_finite_nonnegative_radiance_with_a_sky():
  radiance = scenes.render(scenes.scene_dict(0, 0, 32, 64, 2))
  assert radiance.shape == (32, 64, 3) and radiance.dtype == np.float32
  assert np.all(np.isfinite(radiance)) and radiance.min() >= 0 and radiance.max() > 0


def test_no_config_has_a_test_scene_among_its_train_scenes():
  for cfg in rendered.Rendered.BUILDER_CONFIGS:
    train = set(rendered.scene_indices(cfg, "train"))
    test = set(rendered.scene_indices(cfg, "test"))
    assert len(train) == cfg.num_train_scenes and len(test) == cfg.num_test_scenes
    assert not train & test and min(test) >= rendered.TEST_INDEX_OFFSET
  full = [c for c in rendered.Rendered.BUILDER_CONFIGS if c.name == "full"][0]
  assert full.num_train_scenes >= 200 and full.num_test_scenes >= 40


def test_tiny_build_holds_whole_scenes_with_disjoint_ids(tiny_data_dir):
  builder = input_pipeline.get_builder("rendered/tiny", tiny_data_dir)
  assert str(builder.version) == "2.0.0"
  assert os.listdir(os.path.dirname(builder.data_dir)) == ["2.0.0"]   # no incomplete.* left
  train, test = builder.as_data_source("train"), builder.as_data_source("test")
  assert len(train) == 3 and len(test) == 2
  train_ids = {train[i]["id"].decode() for i in range(len(train))}
  test_ids = {test[i]["id"].decode() for i in range(len(test))}
  assert len(train_ids) == 3 and len(test_ids) == 2 and not train_ids & test_ids
  assert all(int(i[len("scene"):]) >= rendered.TEST_INDEX_OFFSET for i in test_ids)
  record = train[0]
  assert record["codec"].decode() == common.SCENE_CODEC
  radiance = common.decode_radiance(record["radiance"], (record["height"], record["width"], 3))
  assert radiance.shape == (128, 256, 3) and np.all(np.isfinite(radiance))
  assert radiance.min() >= 0 and radiance.max() > 0


def test_scene_record_with_nan_is_refused():
  radiance = np.ones((4, 4, 3), np.float32)
  radiance[0, 0, 0] = np.nan
  with pytest.raises(ValueError, match="NaN"):
    common.make_scene_record(radiance, "bad")


def test_corrupt_scene_record_is_a_one_line_data_error():
  record = common.make_scene_record(np.ones((4, 8, 3), np.float32), "scene5")
  for bad in (b"not lzma at all", record["radiance"][:-10],
              common.encode_radiance(np.ones((4, 4, 3), np.float32))):
    with pytest.raises(common.DataError, match="scene record scene5 is corrupt") as info:
      input_pipeline.scene_codes(dict(record, radiance=bad), "rendered/x:train (/data)")
    assert "\n" not in str(info.value) and "/data" in str(info.value)


def test_half_written_build_is_not_read_as_complete(tmp_path):
  # TFDS writes into `incomplete.XXXXXX_<version>` and renames it when every split is done.
  builder = input_pipeline.get_builder("rendered/tiny", str(tmp_path))
  partial = os.path.join(os.path.dirname(builder.data_dir), f"incomplete.ABCDEF_{builder.version}")
  os.makedirs(partial)
  open(os.path.join(partial, "dataset_info.json"), "w").write("{}")
  assert not builder.is_prepared()


def test_stale_version_on_disk_says_what_to_run(tmp_path):
  old = tmp_path / "rendered" / "tiny" / "1.0.0"
  old.mkdir(parents=True)
  (old / "dataset_info.json").write_text("{}")
  with pytest.raises(common.DataError, match="only version 1.0.0") as info:
    input_pipeline.prepare("rendered/tiny", str(tmp_path))
  message = str(info.value)
  assert "\n" not in message and str(old.parent) in message
  assert "python -m drht_jax.input_pipeline --dataset=rendered/tiny --prepare" in message


def test_unknown_version_is_a_data_error():
  with pytest.raises(common.DataError, match="rendered/tiny"):
    input_pipeline.get_builder("rendered/tiny:1.0.0")


def test_black_scenes_are_left_out():
  from datasets.rendered import rendered  # pylint: disable=g-import-not-at-top
  black = np.zeros((32, 64, 3), np.float32)
  night = np.full((32, 64, 3), 1e-4, np.float32)
  night[:2, :2] = 100.0
  assert rendered.is_degenerate(black)
  assert not rendered.is_degenerate(night)
