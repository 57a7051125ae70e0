"""Fail fast (drht_jax/preflight.py): every config says in one line what it is missing and what
to do before any slow work (data build, model init, compile); `joint` without its `hdr` run
pre-trains f1 itself. Cheap by construction: the checks run on the real config files with
empty temporary folders, and the subprocess runs stop before JAX computes anything."""

import json
import os
import subprocess
import sys

import ml_collections
import numpy as np
import pytest

from configs import default, demo, finetune, hdr, joint
from drht_jax import checkpointing
from drht_jax import preflight
from drht_jax import train_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def fresh_clone(tmp_path, monkeypatch):
  """A working directory with no runs/ and an empty TFDS data_dir: a new user's machine."""
  monkeypatch.chdir(tmp_path)
  return tmp_path


def _with_data_dir(config, path):
  config.data.data_dir = str(path / "tfds")
  return config


def _fake_run(path, step=1):
  """A workdir with one finished (tiny) Orbax checkpoint."""
  manager = checkpointing.create_manager(str(path))
  checkpointing.save(manager, step, {"step": np.int32(step), "x": np.zeros(2, np.float32)},
                     None)
  manager.close()
  return str(path)


def _one_line(error):
  message = str(error.value)
  assert "\n" not in message.strip(), message
  return message


def train_py(cwd, *flags):
  """train.py in a subprocess; cheap because every case stops before any slow work."""
  return subprocess.run([sys.executable, os.path.join(REPO, "train.py"), *flags],
                        cwd=str(cwd), capture_output=True, text=True, timeout=120)


def assert_one_line_failure(result, *needles):
  assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
  assert "Traceback" not in result.stderr, result.stderr[-2000:]
  lines = [l for l in result.stderr.splitlines() if l.strip()]
  assert lines and lines[-1].startswith("train.py: "), result.stderr[-2000:]
  for needle in needles:
    assert needle in lines[-1], (needle, lines[-1])
  return lines[-1]


# --- One test per config --------------------------------------------------------------------


def test_demo_needs_nothing(fresh_clone):
  config = _with_data_dir(demo.get_config(), fresh_clone)
  given = config.to_dict()
  run, lines = preflight.resolve(config, "runs/demo")
  assert lines == [] and run == {"init_from": ""} and config.to_dict() == given


def test_hdr_on_city_scene_without_its_files_fails_in_one_line(fresh_clone):
  config = _with_data_dir(hdr.get_config(), fresh_clone)
  config.data.dataset = "city_scene"
  with pytest.raises(preflight.SetupError) as error:
    preflight.resolve(config, "runs/hdr")
  message = _one_line(error)
  assert "config.data.manual_dir is not set" in message
  assert "city_scene/{train,test}/" in message and "*.exr" in message
  assert "--config.data.manual_dir=DIR" in message and "datasets/city_scene/README.md" in message


def test_hdr_on_city_scene_with_an_empty_manual_dir_names_the_empty_folders(fresh_clone):
  config = _with_data_dir(hdr.get_config(), fresh_clone)
  config.data.dataset = "city_scene"
  (fresh_clone / "manual" / "city_scene" / "train").mkdir(parents=True)
  (fresh_clone / "manual" / "city_scene" / "train" / "notes.txt").write_text("not an HDR")
  config.data.manual_dir = str(fresh_clone / "manual")
  with pytest.raises(preflight.SetupError) as error:
    preflight.resolve(config, "runs/hdr")
  message = _one_line(error)
  assert os.path.join("manual", "city_scene", "train") in message
  assert os.path.join("manual", "city_scene", "test") in message


def test_train_py_hdr_on_city_scene_exits_1_with_one_line(fresh_clone):
  result = train_py(fresh_clone, "--config=hdr", "--config.data.dataset=city_scene",
                    f"--config.data.data_dir={fresh_clone / 'tfds'}")
  assert_one_line_failure(result, "city_scene", "--config.data.manual_dir=DIR")
  assert not (fresh_clone / "tfds" / "city_scene").exists()  # nothing was built


def test_joint_without_an_hdr_run_pretrains_f1_itself(fresh_clone):
  config = _with_data_dir(joint.get_config(), fresh_clone)
  given = config.to_dict()
  run, lines = preflight.resolve(config, "runs/joint")
  assert config.to_dict() == given  # the config is never rewritten; the decision is `run`
  assert run == {"init_from": "pretrain: runs/hdr has no checkpoints (init_from)"}
  plan = train_lib.plan_stages(config, run["init_from"])
  assert [(s.name, s.num_steps) for s in plan] == [("hdr", 30_000), ("joint", 70_000)]
  assert plan[0].config.loss == "hdr"
  assert tuple(plan[0].config.supervision.trainable) == ("f1",)
  assert [s.name for s in train_lib.plan_stages(config)] == ["joint"]
  assert len(lines) == 1
  assert "runs/hdr has no checkpoints" in lines[0] and "pre-trains f1 itself" in lines[0]
  assert "python train.py --config=hdr" in lines[0] and "run.json" in lines[0]


def test_joint_with_init_from_missing_error_names_the_hdr_command(fresh_clone):
  config = _with_data_dir(joint.get_config(), fresh_clone)
  config.init_from_missing = "error"
  with pytest.raises(preflight.SetupError) as error:
    preflight.resolve(config, "runs/joint")
  message = _one_line(error)
  assert "init_from=runs/hdr" in message and "`python train.py --config=hdr`" in message


def test_joint_with_an_hdr_run_starts_from_it(fresh_clone):
  _fake_run(fresh_clone / "runs" / "hdr", step=3)
  config = _with_data_dir(joint.get_config(), fresh_clone)
  run, lines = preflight.resolve(config, "runs/joint")
  assert lines == [] and run == {"init_from": "checkpoint runs/hdr step 3"}
  assert [s.name for s in train_lib.plan_stages(config, run["init_from"])] == ["joint"]


def test_resumed_pretraining_run_keeps_its_plan_when_the_hdr_run_appears(fresh_clone):
  config = _with_data_dir(joint.get_config(), fresh_clone)
  run, _ = preflight.resolve(config, "runs/joint")
  checkpointing.write_config("runs/joint", config)
  checkpointing.write_run("runs/joint", run)
  _fake_run(fresh_clone / "runs" / "joint", step=5)
  _fake_run(fresh_clone / "runs" / "hdr", step=3)  # made later: must not change the plan
  again, lines = preflight.resolve(config, "runs/joint")
  assert again == run and "resuming" in lines[0]
  assert [s.name for s in train_lib.plan_stages(config, again["init_from"])] == ["hdr", "joint"]
  # and the other way round: a run that started from runs/hdr keeps doing so without it
  checkpointing.write_run("runs/joint", {"init_from": "checkpoint runs/hdr step 3"})
  os.rename(fresh_clone / "runs" / "hdr", fresh_clone / "hdr_moved")
  again, lines = preflight.resolve(config, "runs/joint")
  assert again == {"init_from": "checkpoint runs/hdr step 3"} and lines == []


def _old_style_workdir(path, config, status):
  """A workdir as runs before run.json left it: the decision in config.json's
  `init_from_status`, a pre-training run's stages rewritten (hdr first, init_from cleared)."""
  recorded = config.to_dict()
  if status.startswith("pretrain"):
    f = recorded["pretrain_fraction"]
    for name in recorded["stage_order"]:
      recorded["stages"][name]["fraction"] *= 1.0 - f
    recorded["stages"]["hdr"] = dict(recorded["pretrain_stage"], fraction=f)
    recorded["stage_order"] = ("hdr",) + tuple(recorded["stage_order"])
    recorded["init_from"] = ""
  recorded["init_from_status"] = status
  os.makedirs(path, exist_ok=True)
  with open(os.path.join(path, "config.json"), "w") as f:
    f.write(ml_collections.ConfigDict(recorded).to_json_best_effort(indent=2))
  return _fake_run(path, step=5)


def test_old_style_workdir_migrates_to_the_given_config_and_its_decision(fresh_clone):
  config = _with_data_dir(joint.get_config(), fresh_clone)
  status = "pretrain: runs/hdr has no checkpoints (init_from)"
  workdir = _old_style_workdir("runs/joint", config, status)
  migrated, run = checkpointing.read_workdir(workdir)
  assert "init_from_status" not in migrated and run == {"init_from": status}
  assert migrated.to_dict() == json.loads(config.to_json_best_effort())
  assert checkpointing.read_config(workdir).to_dict() == migrated.to_dict()
  _fake_run(fresh_clone / "runs" / "hdr", step=3)
  again, lines = preflight.resolve(config, workdir)  # resumed: keeps the recorded decision
  assert again == run and "resuming" in lines[0]
  plan = train_lib.plan_stages(migrated, run["init_from"])
  assert [(s.name, s.num_steps) for s in plan] == [("hdr", 30_000), ("joint", 70_000)]
  other = _old_style_workdir("runs/other", config, "checkpoint runs/hdr step 3")
  assert checkpointing.read_run(other) == {"init_from": "checkpoint runs/hdr step 3"}
  assert checkpointing.read_config(other).to_dict() == migrated.to_dict()


def test_finetune_without_a_joint_run_fails_in_one_line(fresh_clone):
  config = _with_data_dir(finetune.get_config(), fresh_clone)
  with pytest.raises(preflight.SetupError) as error:
    preflight.resolve(config, "runs/finetune")
  message = _one_line(error)
  assert "init_from=runs/joint" in message and "`python train.py --config=joint`" in message


def test_train_py_finetune_without_a_joint_run_exits_1_with_one_line(fresh_clone):
  result = train_py(fresh_clone, "--config=finetune",
                    f"--config.data.data_dir={fresh_clone / 'tfds'}")
  assert_one_line_failure(result, "runs/joint", "python train.py --config=joint")
  assert not (fresh_clone / "tfds").exists() and not (fresh_clone / "runs" / "finetune").exists()


def test_finetune_defaults_to_rendered_full_at_256x512_with_eps_0():
  config = finetune.get_config()
  assert config.data.dataset == "rendered/full" and tuple(config.image_size) == (256, 512)
  assert config.stages.finetune.eps == 0.0 and config.init_from == "runs/joint"
  assert config.init_from_missing == "error"


def test_finetune_on_sun360_without_its_files_fails_in_one_line(fresh_clone):
  _fake_run(fresh_clone / "runs" / "joint")
  config = _with_data_dir(finetune.get_config(), fresh_clone)
  config.data.dataset = "sun360"
  with pytest.raises(preflight.SetupError) as error:
    preflight.resolve(config, "runs/finetune")
  message = _one_line(error)
  assert "sun360/{train,test}/" in message and "manual_dir is not set" in message
  config.data.manual_dir = str(fresh_clone / "nowhere")
  with pytest.raises(preflight.SetupError, match="nowhere does not exist"):
    preflight.resolve(config, "runs/finetune")


def test_finetune_on_sun360_with_its_files_passes_without_building(fresh_clone):
  _fake_run(fresh_clone / "runs" / "joint")
  for split in ("train", "test"):
    folder = fresh_clone / "manual" / "sun360" / split / "sub"
    folder.mkdir(parents=True)
    (folder / "pano.JPG").write_bytes(b"not read by the check")
  config = _with_data_dir(finetune.get_config(), fresh_clone)
  config.data.dataset, config.data.manual_dir = "sun360", str(fresh_clone / "manual")
  run, lines = preflight.resolve(config, "runs/finetune")
  assert lines == [] and run == {"init_from": "checkpoint runs/joint step 1"}
  assert not (fresh_clone / "tfds").exists()


def test_unknown_init_from_missing_mode_is_rejected(fresh_clone):
  config = joint.get_config()
  config.init_from_missing = "ignore"
  with pytest.raises(preflight.SetupError, match="'error' or 'pretrain'"):
    preflight.resolve(config, "runs/joint")


def test_pretraining_uses_the_configs_pretrain_stage(fresh_clone):
  config = _with_data_dir(joint.get_config(), fresh_clone)
  config.pretrain_fraction = 0.2
  config.pretrain_stage.supervision.warmup = 0.0
  run, _ = preflight.resolve(config, "runs/joint")
  first = train_lib.plan_stages(config, run["init_from"])[0]
  assert first.name == "hdr" and first.num_steps == 20_000
  assert first.config.to_dict() == config.pretrain_stage.to_dict()
  assert first.config.supervision.warmup == 0.0
  without = ml_collections.ConfigDict(config.to_dict())
  del without["pretrain_stage"]
  with pytest.raises(preflight.SetupError, match="needs config.pretrain_stage"):
    preflight.resolve(without, "runs/joint")


# --- The deterministic knob -----------------------------------------------------------------


def test_deterministic_flags_are_added_only_when_the_knob_is_on():
  config = default.get_config()
  environ = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
  assert config.deterministic is False
  assert preflight.apply_xla_flags(config, environ) is None
  assert environ == {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
  config.deterministic = True
  value = preflight.apply_xla_flags(config, environ)
  assert value.split() == ["--xla_force_host_platform_device_count=2",
                           "--xla_gpu_deterministic_ops=true", "--xla_gpu_autotune_level=0"]
  assert preflight.apply_xla_flags(config, environ) == value  # idempotent
  assert preflight.missing_xla_flags(environ) == []
  assert preflight.missing_xla_flags({}) == list(preflight.DETERMINISTIC_XLA_FLAGS)


def test_deterministic_on_a_gpu_without_the_flags_is_a_setup_error(monkeypatch):
  config = default.get_config()
  config.deterministic = True
  monkeypatch.setenv("XLA_FLAGS", "")
  with pytest.raises(preflight.SetupError, match="before the first JAX computation"):
    preflight.determinism_note(config, "gpu")
  assert "no effect on cpu" in preflight.determinism_note(config, "cpu")


def test_a_built_manual_data_set_needs_no_files(fresh_clone):
  config = _with_data_dir(hdr.get_config(), fresh_clone)
  config.data.dataset = "city_scene"
  built = fresh_clone / "tfds" / "city_scene" / "1.0.0"
  built.mkdir(parents=True)
  (built / "dataset_info.json").write_text("{}")
  preflight.resolve(config, "runs/hdr")
  config.data.dataset = "city_scene:1.0.0"
  preflight.resolve(config, "runs/hdr")
