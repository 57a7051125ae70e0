"""Training: stage plan, hierarchical schedule, frozen groups, reproducibility, resume, NaN stop.

Runs use tests/tiny_config.py (8 steps of a 1/8-width DRHT on 32x64 crops of rendered/tiny);
subprocess runs go through train.py itself.
"""

import json
import os
import subprocess
import sys
import textwrap

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from configs import default
from drht_jax import checkpointing
from drht_jax import models
from drht_jax import supervision
from drht_jax import train_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(REPO, "tests", "tiny_config.py")


def tiny_config(data_dir, **overrides):
  sys.path.insert(0, os.path.join(REPO, "tests"))
  import tiny_config as tiny  # pylint: disable=g-import-not-at-top
  config = tiny.get_config()
  config.data.data_dir = data_dir
  for key, value in overrides.items():
    target = config
    *path, last = key.split(".")
    for p in path:
      target = target[p]
    target[last] = value
  return config


def run_train_py(workdir, data_dir, *flags, kill_at_batch=None, env=None):
  """`python train.py --config=tests/tiny_config.py` in a subprocess; with `kill_at_batch`
  the process SIGKILLs itself when the loader hands out that batch (mid-run, no warning)."""
  argv = [os.path.join(REPO, "train.py"), f"--config={TINY}", f"--workdir={workdir}",
          f"--config.data.data_dir={data_dir}", *flags]
  code = textwrap.dedent(f"""
      import os, runpy, signal, sys
      sys.path.insert(0, {REPO!r})
      kill_at = {kill_at_batch!r}
      if kill_at is not None:
        from drht_jax import input_pipeline
        next_batch, count = input_pipeline.DeviceBatches.__next__, [0]
        def killing_next(self):
          count[0] += 1
          if count[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
          return next_batch(self)
        input_pipeline.DeviceBatches.__next__ = killing_next
      sys.argv = {argv!r}
      runpy.run_path(sys.argv[0], run_name="__main__")
  """)
  return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                        env={**os.environ, **(env or {})}, timeout=600)


def final_digest(result):
  line = [l for l in result.stdout.splitlines() if l.startswith("final:")][-1]
  return dict(kv.split("=", 1) for kv in line.split()[1:])["digest"]


def losses(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return {r["step"]: r["loss"] for r in map(json.loads, f)}


def assert_trees_equal(a, b):
  leaves_a, tree_a = jax.tree_util.tree_flatten_with_path(a)
  leaves_b, tree_b = jax.tree_util.tree_flatten_with_path(b)
  assert tree_a == tree_b
  for (path, x), (_, y) in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y),
                                  err_msg=jax.tree_util.keystr(path))


# --- Stage plan and schedule (no model run) -------------------------------------------------


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


@pytest.fixture(scope="module")
def tiny_params():
  config = default.model_config()
  config.width = 0.125
  return models.init_variables(models.create_model(config), jax.random.PRNGKey(0),
                               (32, 64))["params"]


def _moving_groups(config, params, steps):
  """For each step: the set of groups whose parameters change under constant gradients."""
  tx = supervision.create_optimizer(config, params)
  grads = jax.tree_util.tree_map(jnp.ones_like, params)
  labels = supervision.param_labels(params)
  opt_state, moved = tx.init(params), []
  update = jax.jit(tx.update)
  for _ in range(steps):
    updates, opt_state = update(grads, opt_state, params)
    new = optax.apply_updates(params, updates)
    changed = jax.tree_util.tree_map(lambda a, b: bool(jnp.any(a != b)), params, new)
    moved.append({l for l, c in zip(jax.tree_util.tree_leaves(labels),
                                    jax.tree_util.tree_leaves(changed)) if c})
    params = new
  return moved


def _schedule_config(total_steps=10):
  config = ml_collections.ConfigDict({
      "total_steps": total_steps, "optimizer": default.get_config().optimizer,
      "supervision": default.hierarchical_supervision()})
  config.supervision.decoder_starts = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9)
  return config


def test_schedule_switches_decoder_groups_on_coarse_to_fine(tiny_params):
  moved = _moving_groups(_schedule_config(), tiny_params, 10)
  decoder_start = {0: 0, 1: 2, 2: 4, 3: 6, 4: 8, 5: 9}
  for step, groups in enumerate(moved):
    expected = {"f1", "f2/encoder"} | {f"f2/decoder/{j}" for j, s in decoder_start.items()
                                        if step >= s}
    assert groups == expected, f"step {step}"


def test_schedule_decays_earlier_groups_at_each_later_start(tiny_params):
  config = _schedule_config()
  starts = supervision.group_starts(config.supervision, config.total_steps)
  factor = supervision.group_lr_factor("f2/encoder", starts, config.supervision.decay)
  assert [float(factor(jnp.int32(s))) for s in (0, 1, 2, 4, 9)] == [1.0, 1.0, 0.5, 0.25,
                                                                    0.5 ** 5]
  f1 = supervision.group_lr_factor("f1", starts, config.supervision.decay)
  assert float(f1(jnp.int32(9))) == 1.0  # f1 is outside the hierarchy


def test_groups_outside_trainable_never_move(tiny_params):
  config = _schedule_config()
  config.supervision = default.all_at_once(("f1",))
  for groups in _moving_groups(config, tiny_params, 3):
    assert groups == {"f1"}


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


def test_checkpoints_hold_the_train_state_as_it_is_and_read_old_dict_checkpoints(tmp_path):
  """Orbax saves the flax struct with its fields as top-level keys: the layout that runs
  before it wrote as a plain dict, so old training checkpoints restore into a TrainState."""
  params = {"f1": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}}
  tx = optax.adam(1e-3)
  state = jax.device_get(train_lib.TrainState(
      step=np.asarray(4, np.int32), rng=np.asarray([0, 7], np.uint32), params=params,
      batch_stats={"f1": {"mean": np.ones(3, np.float32)}}, opt_state=tx.init(params)))
  new, old = str(tmp_path / "new"), str(tmp_path / "old")
  checkpointing.save(checkpointing.create_manager(new), 4, state, b"{}")
  old_dict = {f: getattr(state, f) for f in ("step", "rng", "params", "batch_stats",
                                             "opt_state")}
  checkpointing.save(checkpointing.create_manager(old), 4, old_dict, b"{}")
  for workdir in (new, old):
    raw, _ = checkpointing.restore_raw_state(workdir)
    assert sorted(raw) == ["batch_stats", "opt_state", "params", "rng", "step"]
    restored, data = checkpointing.restore(
        checkpointing.create_manager(workdir, read_only=True), 4, state)
    assert isinstance(restored, train_lib.TrainState) and data == b"{}"
    assert_trees_equal(restored, state)
    variables, step = checkpointing.restore_variables(workdir)
    assert step == 4 and sorted(variables) == ["batch_stats", "params"]


# --- Real steps on the tiny model ---------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tiny_data_dir, tmp_path_factory):
  """The uninterrupted reference run, in a subprocess through train.py."""
  workdir = str(tmp_path_factory.mktemp("reference"))
  result = run_train_py(workdir, tiny_data_dir)
  assert result.returncode == 0, result.stderr[-3000:]
  return workdir, result


def test_run_writes_workdir_contract(tiny_run, tiny_data_dir):
  workdir, _ = tiny_run
  with open(os.path.join(workdir, "config.json")) as f:  # the config as given, not rewritten
    assert json.load(f) == json.loads(tiny_config(tiny_data_dir).to_json_best_effort())
  with open(os.path.join(workdir, "run.json")) as f:  # what the run decided, and its plan
    assert json.load(f) == {"init_from": "", "stages": [
        {"name": "hdr", "start": 0, "steps": 4, "loss": "hdr"},
        {"name": "joint", "start": 4, "steps": 4, "loss": "joint"}]}
  records = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  assert [r["step"] for r in records] == list(range(1, 9))
  assert all(np.isfinite(r["loss"]) for r in records)
  assert [r["stage"] for r in records] == ["hdr"] * 4 + ["joint"] * 4
  steps = checkpointing.create_manager(workdir, read_only=True).all_steps()
  assert sorted(steps) == [3, 6, 8]


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


def test_same_seed_gives_bit_identical_runs(tiny_run, tiny_data_dir, tmp_path):
  reference_dir, reference = tiny_run
  result = run_train_py(str(tmp_path), tiny_data_dir)
  assert result.returncode == 0, result.stderr[-3000:]
  assert final_digest(result) == final_digest(reference)
  assert losses(str(tmp_path)) == losses(reference_dir)


def test_different_seed_gives_different_run(tiny_run, tiny_data_dir, tmp_path):
  _, reference = tiny_run
  result = run_train_py(str(tmp_path), tiny_data_dir, "--config.seed=1",
                        "--config.total_steps=2")
  assert result.returncode == 0, result.stderr[-3000:]
  assert final_digest(result) != final_digest(reference)


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_uninterrupted_result(tiny_run, tiny_data_dir, tmp_path):
  reference_dir, reference = tiny_run
  workdir = str(tmp_path)
  killed = run_train_py(workdir, tiny_data_dir, kill_at_batch=6)  # during step 5
  assert killed.returncode == -9
  assert checkpointing.create_manager(workdir, read_only=True).latest_step() == 3
  resumed = run_train_py(workdir, tiny_data_dir)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert final_digest(resumed) == final_digest(reference)
  assert losses(workdir) == losses(reference_dir)
  state, _ = checkpointing.restore_raw_state(workdir)
  reference_state, _ = checkpointing.restore_raw_state(reference_dir)
  assert_trees_equal(state, reference_state)  # incl. optimizer state, step and key


def test_unfinished_checkpoint_is_ignored_on_resume(tiny_run, tmp_path):
  """A save killed half-way leaves Orbax's temporary folder: never taken for a checkpoint."""
  import shutil  # pylint: disable=g-import-not-at-top
  reference_dir, _ = tiny_run
  workdir = tmp_path / "run"
  shutil.copytree(reference_dir, workdir)
  partial = workdir / "checkpoints" / "9.orbax-checkpoint-tmp-1234"
  (partial / "state").mkdir(parents=True)
  (partial / "state" / "half_written").write_bytes(b"\0" * 10)
  assert checkpointing.create_manager(str(workdir), read_only=True).latest_step() == 8


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


def test_train_py_rejects_unknown_config_name(tmp_path):
  result = subprocess.run([sys.executable, os.path.join(REPO, "train.py"), "--config=nope",
                           f"--workdir={tmp_path}"], capture_output=True, text=True,
                          cwd=str(tmp_path))
  assert result.returncode != 0
  assert "unknown config 'nope'" in result.stderr and "demo" in result.stderr


def test_init_from_copies_only_the_named_groups(tiny_run, tiny_data_dir, tmp_path):
  reference_dir, _ = tiny_run
  config = tiny_config(tiny_data_dir, init_from=reference_dir, init_from_groups=("f1",),
                       seed=5)
  model = models.create_model(config.model)
  state = train_lib.initial_state(config, model, train_lib.plan_stages(config))
  source, _ = checkpointing.restore_raw_state(reference_dir)
  assert_trees_equal(state.params["f1"], source["params"]["f1"])
  assert_trees_equal(state.batch_stats["f1"], source["batch_stats"]["f1"])
  assert not np.array_equal(
      jax.tree_util.tree_leaves(state.params["f2"])[0],
      jax.tree_util.tree_leaves(source["params"]["f2"])[0])


# --- Devices and processes ------------------------------------------------------------------


def test_one_and_four_devices_give_the_same_losses(tiny_run, tiny_data_dir, tmp_path):
  reference_dir, _ = tiny_run
  # 4 simulated devices on a 2-core machine under load (xdist workers) can reach an all-reduce
  # late; XLA:CPU aborts after its default rendezvous timeout (seen once in CI: "only 2 of
  # them arrived on time"), so give the collectives minutes instead.
  flags = ("--xla_force_host_platform_device_count=4"
           " --xla_cpu_collective_call_terminate_timeout_seconds=600"
           " --xla_cpu_collective_timeout_seconds=600")
  result = run_train_py(str(tmp_path), tiny_data_dir, "--config.total_steps=8",
                        "--config.checkpoint_every=8", env={"XLA_FLAGS": flags})
  assert result.returncode == 0, result.stderr[-3000:]
  assert "4 devices" in result.stdout
  four, one = losses(str(tmp_path)), losses(reference_dir)
  for step in range(1, 6):  # the hdr stage and the first joint step (grouping changes)
    np.testing.assert_allclose(four[step], one[step], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_two_processes_train_to_identical_parameters(tiny_data_dir, tmp_path):
  import socket  # pylint: disable=g-import-not-at-top
  with socket.socket() as s:
    s.bind(("localhost", 0))
    port = s.getsockname()[1]
  common = ["--config.total_steps=3", "--config.distributed.initialize=True",
            f"--config.distributed.coordinator_address=localhost:{port}",
            "--config.distributed.num_processes=2"]
  argv = lambda i: [sys.executable, os.path.join(REPO, "train.py"), f"--config={TINY}",
                    f"--workdir={tmp_path}", f"--config.data.data_dir={tiny_data_dir}",
                    *common, f"--config.distributed.process_id={i}"]
  procs = [subprocess.Popen(argv(i), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True) for i in range(2)]
  outputs = [p.communicate(timeout=600) for p in procs]
  for p, (out, err) in zip(procs, outputs):
    assert p.returncode == 0, err[-3000:]
  digests = [[l for l in out.splitlines() if l.startswith("final:")][-1].split("digest=")[1]
             .split()[0] for out, _ in outputs]
  assert digests[0] == digests[1]


# --- Issue 12: the headline command, determinism ---------------------------------------------


def test_deterministic_knob_sets_xla_flags_before_jax_starts_and_keeps_the_digest(
    tiny_run, tiny_data_dir, tmp_path):
  """On a CPU the flags change nothing: same digest as the run without them; train.py put them
  in XLA_FLAGS itself (the line prints the process's own XLA_FLAGS)."""
  _, reference = tiny_run
  result = run_train_py(str(tmp_path), tiny_data_dir, "--config.deterministic=True")
  assert result.returncode == 0, result.stderr[-3000:]
  line = [l for l in result.stdout.splitlines() if l.startswith("deterministic: on")]
  assert line, result.stdout[:2000]
  assert "--xla_gpu_deterministic_ops=true" in line[0]
  assert "--xla_gpu_autotune_level=0" in line[0] and "no effect on cpu" in line[0]
  assert final_digest(result) == final_digest(reference)
  with open(os.path.join(tmp_path, "config.json")) as f:
    assert json.load(f)["deterministic"] is True


@pytest.mark.slow
def test_joint_config_without_an_hdr_run_pretrains_f1_first(tiny_data_dir, tmp_path):
  """`python train.py --config=joint` on a machine with no runs/hdr (shrunk to 4 tiny steps):
  it says first that it pre-trains f1, runs `hdr` then `joint`, and records it."""
  workdir = tmp_path / "runs" / "joint"
  flags = ["--config=joint", f"--workdir={workdir}", "--config.data.dataset=rendered/tiny",
           f"--config.data.data_dir={tiny_data_dir}", "--config.model.width=0.125",
           "--config.model.conv_grads=xla", "--config.image_size=(32, 64)",
           "--config.batch_size=4", "--config.total_steps=4", "--config.pretrain_fraction=0.5",
           "--config.log_every=1", "--config.checkpoint_every=4", "--config.image_every=0",
           "--config.eval_every=0", "--config.num_eval_images=0"]
  result = subprocess.run([sys.executable, os.path.join(REPO, "train.py"), *flags],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  first = result.stdout.splitlines()[0]
  assert first.startswith("init_from: runs/hdr has no checkpoints, so this run pre-trains f1 "
                          "itself first: stage hdr (Eq. 2 on f1) for 2 of its 4 steps"), first
  records = [json.loads(l) for l in open(workdir / "metrics.jsonl")]
  assert [r["stage"] for r in records] == ["hdr", "hdr", "joint", "joint"]
  with open(workdir / "config.json") as f:  # the config as given
    recorded = json.load(f)
  assert recorded["stage_order"] == ["joint"] and recorded["init_from"] == "runs/hdr"
  assert "init_from_status" not in recorded and "hdr" not in recorded["stages"]
  with open(workdir / "run.json") as f:  # what the run decided
    run = json.load(f)
  assert run == {"init_from": "pretrain: runs/hdr has no checkpoints (init_from)", "stages": [
      {"name": "hdr", "start": 0, "steps": 2, "loss": "hdr"},
      {"name": "joint", "start": 2, "steps": 2, "loss": "joint"}]}
  # Resumed after runs/hdr appeared: run.json's decision stands (no init_from load, same plan).
  manager = checkpointing.create_manager(str(tmp_path / "runs" / "hdr"))
  checkpointing.save(manager, 1, {"step": np.int32(1)}, None)
  manager.close()
  result = subprocess.run([sys.executable, os.path.join(REPO, "train.py"), *flags],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.splitlines()[0].startswith("resuming "), result.stdout[:2000]
  with open(workdir / "run.json") as f:
    assert json.load(f) == run
