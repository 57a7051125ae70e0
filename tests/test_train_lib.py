"""Specifies drht_jax/train_lib.py: the stage plan, metrics.jsonl and `train_and_evaluate`.

The loop runs in-process on tests/tiny_config.py (helpers from tests/test_train.py); the runs
through train.py itself (reproducibility, resume, devices, processes) are in tests/test_train.py.
"""

import json
import os

import flax
import jax
import ml_collections
import numpy as np
import pytest

from configs import default
from drht_jax import checkpointing
from drht_jax import models
from drht_jax import supervision
from drht_jax import train_lib
from tests.test_train import assert_trees_equal, tiny_config


def _two_stage_config(hdr_fraction, joint_fraction):
  config = default.get_config()
  config.total_steps = 10
  config.stage_order = ("hdr", "joint")
  config.stages = ml_collections.ConfigDict({
      "hdr": default.stage("hdr", fraction=hdr_fraction),
      "joint": default.stage("joint", fraction=joint_fraction)})
  return config


def test_stage_fractions_split_total_steps():
  plan = train_lib.plan_stages(_two_stage_config(0.3, 0.7))
  assert [(s.name, s.start, s.num_steps) for s in plan] == [("hdr", 0, 3), ("joint", 3, 7)]
  assert train_lib.stage_at(plan, 2).index == 0 and train_lib.stage_at(plan, 3).index == 1
  assert train_lib.stage_at(plan, 10).index == 1


def test_stage_fractions_must_sum_to_one():
  with pytest.raises(ValueError, match="sum to 0.6"):
    train_lib.plan_stages(_two_stage_config(0.3, 0.3))


def test_stage_order_must_name_defined_stages():
  config = _two_stage_config(0.3, 0.7)
  config.stage_order = ("hdr", "finetune")
  with pytest.raises(ValueError, match="finetune"):
    train_lib.plan_stages(config)


def test_unknown_batch_norm_mode_is_refused_naming_the_stage():
  config = _two_stage_config(0.3, 0.7)
  config.stages.joint.batch_norm = "group"
  with pytest.raises(ValueError, match=r"stages.joint.batch_norm.*'frozen'.*'group'"):
    train_lib.plan_stages(config)


def test_metrics_jsonl_writer_keeps_lines_up_to_the_resume_step_and_adds_the_stage(tmp_path):
  path = str(tmp_path / "metrics.jsonl")
  with open(path, "w") as f:  # what a run killed after its step-2 checkpoint left
    f.writelines(json.dumps({"step": s, "loss": 0.5 / s}) + "\n" for s in (1, 2, 3))
  writer = train_lib.JsonlWriter(path, resume_step=2)
  writer.write_texts(3, {"stage": "joint"})
  writer.write_scalars(3, {"loss": np.float32(0.25), "eval_step": 3})
  writer.close()
  records = [json.loads(l) for l in open(path)]
  assert records == [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25},
                     {"step": 3, "stage": "joint", "loss": 0.25, "eval_step": 3}]


# --- The training loop on the tiny model ---------------------------------------------------


def test_frozen_groups_stay_bit_identical_until_their_start(tiny_data_dir, tmp_path):
  """hdr stage (steps 0-3): f2 frozen. joint stage: f2/decoder/5 starts at local step 3."""
  config = tiny_config(tiny_data_dir, total_steps=8, checkpoint_every=1)
  train_lib.train_and_evaluate(config, str(tmp_path))
  states = {s: checkpointing.restore_raw_state(str(tmp_path), s)[0] for s in range(1, 9)}
  params0 = models.init_variables(models.create_model(config.model),
                                  jax.random.split(jax.random.PRNGKey(config.seed))[0],
                                  (32, 64))

  def group(tree, prefix):
    labels = flax.traverse_util.flatten_dict(supervision.param_labels(tree))
    return {k: v for k, v in flax.traverse_util.flatten_dict(tree).items()
            if labels[k].startswith(prefix)}

  for step in range(1, 5):  # hdr stage: all of f2 (params and statistics) untouched
    for kind in ("params", "batch_stats"):
      assert_trees_equal(group(states[step][kind], "f2"), group(params0[kind], "f2"))
  for step in range(5, 8):  # joint steps 4, 5, 6 (local 0-2): decoder/5 still frozen
    assert_trees_equal(group(states[step]["params"], "f2/decoder/5"),
                       group(params0["params"], "f2/decoder/5"))
  moved = group(states[8]["params"], "f2/decoder/5")
  assert any(np.any(moved[k] != v) for k, v in group(params0["params"], "f2/decoder/5").items())
  enc_before, enc_after = group(states[4]["params"], "f2/encoder"), group(states[5]["params"],
                                                                          "f2/encoder")
  assert any(np.any(enc_before[k] != v) for k, v in enc_after.items())


def test_frozen_batch_norm_stage_trains_parameters_with_statistics_unchanged(tiny_data_dir,
                                                                              tmp_path):
  """hdr stage (steps 0-3) in the paper's batch mode, then the joint stage with
  `batch_norm='frozen'`: every running statistic stays as the hdr stage left it, bit for bit,
  while the parameters of both nets keep learning."""
  config = tiny_config(tiny_data_dir, total_steps=8, checkpoint_every=1,
                       **{"stages.joint.batch_norm": "frozen"})
  train_lib.train_and_evaluate(config, str(tmp_path))
  states = {s: checkpointing.restore_raw_state(str(tmp_path), s)[0] for s in (3, 4, 8)}
  moved_in_hdr = jax.tree_util.tree_leaves(jax.tree_util.tree_map(
      lambda a, b: np.any(a != b), states[3]["batch_stats"]["f1"],
      states[4]["batch_stats"]["f1"]))
  assert any(moved_in_hdr)  # batch mode: f1's statistics move with every step
  assert_trees_equal(states[8]["batch_stats"], states[4]["batch_stats"])
  for net in ("f1", "f2"):
    moved = jax.tree_util.tree_leaves(jax.tree_util.tree_map(
        lambda a, b: np.any(a != b), states[8]["params"][net], states[4]["params"][net]))
    assert any(moved), net


def test_nan_loss_stops_naming_the_step_and_keeps_last_checkpoint(tiny_data_dir, tmp_path):
  config = tiny_config(tiny_data_dir, **{"optimizer.learning_rate": 1e38,
                                         "optimizer.clip_norm": 0.0, "checkpoint_every": 1})
  with pytest.raises(train_lib.NonFiniteLossError, match=r"at step \d+") as info:
    train_lib.train_and_evaluate(config, str(tmp_path))
  bad_step = int(info.value.args[0].split("at step ")[1].split()[0])
  latest = checkpointing.create_manager(str(tmp_path), read_only=True).latest_step()
  assert latest is not None and latest <= bad_step
  state, _ = checkpointing.restore_raw_state(str(tmp_path))
  assert all(np.all(np.isfinite(x)) for x in jax.tree_util.tree_leaves(state["params"]))


def test_periodic_evaluation_and_image_grids_come_from_the_config(tiny_data_dir, tmp_path):
  """`evaluators.from_config`: eval_* keys (and eval_step) at the logged steps that are
  multiples of `eval_every`, in metrics.jsonl and the summary; grids every `image_every`."""
  config = tiny_config(tiny_data_dir, total_steps=4, checkpoint_every=4, eval_every=2,
                       num_eval_images=1, image_every=4)
  summary = train_lib.train_and_evaluate(config, str(tmp_path))
  records = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  assert [r["step"] for r in records] == [1, 2, 3, 4]
  assert [r.get("eval_step") for r in records] == [None, 2, None, 4]
  for key in ("eval_psnr", "eval_ssim", "eval_input_psnr", "eval_input_ssim"):
    assert np.isfinite(records[3][key]) and summary[key] == records[3][key]
  assert summary["step"] == 4 and len(summary["digest"]) == 16
  assert (tmp_path / "images" / "step_0000004.png").exists()
  assert os.listdir(tmp_path / "tensorboard")
