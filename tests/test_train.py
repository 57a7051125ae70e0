"""Specifies train.py: reproducible runs, resume, init_from, devices, processes, --config=joint.

train_lib's stage plan and in-process loop (frozen groups, NaN stop, periodic evaluation) are in
tests/test_train_lib.py, the hierarchical schedule in tests/test_supervision.py.

Runs use tests/tiny_config.py (8 steps of a 1/8-width DRHT on 32x64 crops of rendered/tiny);
subprocess runs go through train.py itself.
"""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from drht_jax import checkpointing
from drht_jax import models
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


@pytest.fixture(scope="module")
def deterministic_run(tiny_data_dir, tmp_path_factory):
  """The reference run again, same seed, with `config.deterministic`: its XLA flags change the
  compilation cache's key, so this run compiles afresh instead of loading the reference's
  programs."""
  workdir = str(tmp_path_factory.mktemp("deterministic"))
  result = run_train_py(workdir, tiny_data_dir, "--config.deterministic=True")
  assert result.returncode == 0, result.stderr[-3000:]
  return workdir, result


def test_same_seed_gives_bit_identical_runs(tiny_run, deterministic_run):
  reference_dir, reference = tiny_run
  workdir, result = deterministic_run
  assert final_digest(result) == final_digest(reference)
  assert losses(workdir) == losses(reference_dir)


def test_different_seed_gives_different_run(tiny_run, tiny_data_dir, tmp_path):
  _, reference = tiny_run
  result = run_train_py(str(tmp_path), tiny_data_dir, "--config.seed=1")
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
  flags = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
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


def test_deterministic_knob_sets_xla_flags_before_jax_starts(deterministic_run):
  """train.py put the flags in XLA_FLAGS itself (the line prints the process's own XLA_FLAGS);
  on a CPU they change nothing (the digest: test_same_seed_gives_bit_identical_runs)."""
  workdir, result = deterministic_run
  line = [l for l in result.stdout.splitlines() if l.startswith("deterministic: on")]
  assert line, result.stdout[:2000]
  assert "--xla_gpu_deterministic_ops=true" in line[0]
  assert "--xla_gpu_autotune_level=0" in line[0] and "no effect on cpu" in line[0]
  with open(os.path.join(workdir, "config.json")) as f:
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
