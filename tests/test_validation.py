"""Held-out validation scenes and the best checkpoint (issue 17: choose checkpoints on data the
run never trained on, not on the test split).

`train[held/K]` / `train[kept/K]` split a stored split by scene (input_pipeline.HOLDOUT_SPLIT);
`config.validation` scores every checkpoint on the held-out scenes, writes validation.jsonl and
keeps the best checkpoint beside the newest (checkpointing.prune); `--step=best` reads it.
"""

import json
import os

import ml_collections
import numpy as np
import pytest

from drht_jax import checkpointing, evaluate, evaluators, input_pipeline, train_lib
from test_train import tiny_config


def ids(source):
  return [input_pipeline._text(source[i]["id"]) for i in range(len(source))]


STACK_IDS = [f"train/{scene}/{frame}" for scene in ("a", "b", "c", "d", "e")
             for frame in ("m2.jpg", "p2.jpg")]


@pytest.mark.parametrize("ident, scene", [("train/stack/frame.jpg", "train/stack"),
                                          ("scene7", "scene7"), ("test/x", "test/x")])
def test_a_records_scene_is_its_id_without_the_frame(ident, scene):
  assert input_pipeline.scene_of(ident) == scene


def test_held_and_kept_partition_the_records_by_scene():
  records = [{"id": i} for i in STACK_IDS]
  held = input_pipeline.SceneSubset(records, 2, held=True, name="train[held/2]")
  kept = input_pipeline.SceneSubset(records, 2, held=False, name="train[kept/2]")
  assert sorted(ids(held) + ids(kept)) == sorted(STACK_IDS)
  held_scenes = {input_pipeline.scene_of(i) for i in ids(held)}
  assert held_scenes == {"train/a", "train/c", "train/e"}   # every 2nd sorted scene, first in
  assert not held_scenes & {input_pipeline.scene_of(i) for i in ids(kept)}


def test_held_out_scenes_do_not_depend_on_the_stored_order():
  records = [{"id": i} for i in STACK_IDS]
  shuffled = [records[i] for i in np.random.default_rng(0).permutation(len(records))]
  assert (sorted(ids(input_pipeline.SceneSubset(records, 3, True, "h")))
          == sorted(ids(input_pipeline.SceneSubset(shuffled, 3, True, "h"))))


def test_a_held_out_split_of_a_stored_data_set_is_read(tiny_data_dir):
  data = ml_collections.ConfigDict(dict(dataset="rendered/tiny", data_dir=tiny_data_dir,
                                        corruption="camera"))
  held = [e["id"] for e in input_pipeline.eval_examples(data, "train[held/3]")]
  kept = input_pipeline.num_examples(data, "train[kept/3]")
  assert len(held) == 1 and kept == 2   # rendered/tiny has 3 training scenes


def test_holding_out_every_first_scene_is_refused(tiny_data_dir):
  data = ml_collections.ConfigDict(dict(dataset="rendered/tiny", data_dir=tiny_data_dir))
  with pytest.raises(input_pipeline.DataError, match=r"train\[held/1\].*at least 2"):
    input_pipeline.num_examples(data, "train[held/1]")


def test_a_held_out_splits_report_is_one_folder():
  assert (evaluate.report_dir("runs/x", "exposure_stacks", "train[held/6]")
          == os.path.join("runs/x", "eval", "exposure_stacks-train-held-6"))


def write_validation(workdir, scores):
  for step, value in scores.items():
    checkpointing.append_validation(workdir, step, {"val_psnr": value})


def save_steps(manager, steps):
  for step in steps:
    checkpointing.save(manager, step, {"w": np.full(2, step, np.float32)}, None)


def test_prune_keeps_the_newest_and_the_best_validated_checkpoint(tmp_path):
  workdir = str(tmp_path)
  manager = checkpointing.create_manager(workdir, max_to_keep=None)
  save_steps(manager, [1, 2, 3, 4])
  write_validation(workdir, {1: 5.0, 2: 9.0, 3: 7.0, 4: 6.0})
  assert checkpointing.prune(manager, workdir, 1, "val_psnr") == [2, 4]
  assert sorted(manager.all_steps()) == [2, 4]


def test_a_resumed_run_still_keeps_the_best_checkpoint(tmp_path):
  workdir = str(tmp_path)
  manager = checkpointing.create_manager(workdir, max_to_keep=None)
  save_steps(manager, [1, 2])
  write_validation(workdir, {1: 9.0, 2: 6.0})
  checkpointing.prune(manager, workdir, 1, "val_psnr")
  manager.close()
  resumed = checkpointing.create_manager(workdir, max_to_keep=None)
  save_steps(resumed, [3])
  write_validation(workdir, {3: 7.0})
  assert checkpointing.prune(resumed, workdir, 1, "val_psnr") == [1, 3]


def test_best_step_ignores_a_validated_step_without_a_checkpoint(tmp_path):
  workdir = str(tmp_path)
  save_steps(checkpointing.create_manager(workdir, max_to_keep=None), [1, 2])
  write_validation(workdir, {1: 5.0, 2: 6.0, 3: 8.0})   # killed after validating step 3
  assert checkpointing.best_step(workdir, "val_psnr") == 2


def test_step_best_without_a_validation_record_names_the_file(tmp_path):
  with pytest.raises(FileNotFoundError, match="validation.jsonl"):
    checkpointing.best_step(str(tmp_path), "val_psnr")


def test_a_step_that_is_neither_a_number_nor_best_is_refused(tmp_path):
  with pytest.raises(ValueError, match="'latest'"):
    checkpointing.resolve_step(str(tmp_path), "latest")


def test_an_unknown_validation_metric_is_refused():
  config = tiny_config("unused", **{"validation.split": "train[held/3]",
                                    "validation.metric": "fsim"})
  with pytest.raises(ValueError, match="validation.metric"):
    evaluators.validation_from_config(config)


@pytest.fixture(scope="module")
def validated_run(tiny_data_dir, tmp_path_factory):
  """The tiny run trained on 2 of rendered/tiny's 3 training scenes, validated on the third at
  every checkpoint (steps 3, 6, 8), keeping 1 newest checkpoint."""
  workdir = str(tmp_path_factory.mktemp("validated"))
  config = tiny_config(tiny_data_dir, **{"data.train_split": "train[kept/3]",
                                         "validation.split": "train[held/3]",
                                         "max_to_keep": 1})
  summary = train_lib.train_and_evaluate(config, workdir)
  return workdir, summary


def test_every_checkpoint_is_validated(validated_run):
  workdir, _ = validated_run
  with open(os.path.join(workdir, checkpointing.VALIDATION_FILE)) as f:
    records = [json.loads(line) for line in f]
  assert [r["step"] for r in records] == [3, 6, 8]
  assert all(np.isfinite(r["val_psnr"]) and 0 < r["val_ssim"] <= 1 for r in records)


def test_the_best_validated_and_the_newest_checkpoint_are_kept(validated_run):
  workdir, summary = validated_run
  with open(os.path.join(workdir, checkpointing.VALIDATION_FILE)) as f:
    records = [json.loads(line) for line in f]
  best = max(records, key=lambda r: r["val_psnr"])["step"]
  steps = checkpointing.create_manager(workdir, max_to_keep=None, read_only=True).all_steps()
  assert sorted(steps) == sorted({best, 8})
  assert summary["best_step"] == best
  assert checkpointing.restore_variables(workdir, "best")[1] == best
