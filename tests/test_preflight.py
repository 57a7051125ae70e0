"""Fail fast (drht_jax/preflight.py): every config says in one line what it is missing and what
to do before any slow work (data build, model init, compile); `joint` without its `hdr` run
pre-trains f1 itself. Cheap by construction: the checks run on the real config files with
empty temporary folders, and the subprocess runs stop before JAX computes anything."""

import json
import os
import subprocess
import sys

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
  resolved, lines = preflight.resolve(config, "runs/demo")
  assert lines == [] and resolved.to_dict() == config.to_dict()


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
  resolved, lines = preflight.resolve(config, "runs/joint")
  assert tuple(resolved.stage_order) == ("hdr", "joint")
  assert resolved.stages.hdr.loss == "hdr"
  assert tuple(resolved.stages.hdr.supervision.trainable) == ("f1",)
  assert resolved.init_from == "" and resolved.init_from_status.startswith("pretrain: ")
  plan = train_lib.plan_stages(resolved)
  assert [(s.name, s.num_steps) for s in plan] == [("hdr", 30_000), ("joint", 70_000)]
  assert len(lines) == 1
  assert "runs/hdr has no checkpoints" in lines[0] and "pre-trains f1 itself" in lines[0]
  assert "python train.py --config=hdr" in lines[0]
  assert json.loads(resolved.to_json_best_effort())["init_from_status"].startswith("pretrain")


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
  resolved, lines = preflight.resolve(config, "runs/joint")
  assert lines == [] and tuple(resolved.stage_order) == ("joint",)
  assert resolved.init_from == "runs/hdr"
  assert resolved.init_from_status == "checkpoint runs/hdr step 3"


def test_resumed_pretraining_run_keeps_its_plan_when_the_hdr_run_appears(fresh_clone):
  config = _with_data_dir(joint.get_config(), fresh_clone)
  resolved, _ = preflight.resolve(config, "runs/joint")
  checkpointing.write_config("runs/joint", resolved)
  _fake_run(fresh_clone / "runs" / "joint", step=5)
  _fake_run(fresh_clone / "runs" / "hdr", step=3)  # made later: must not change the plan
  again, lines = preflight.resolve(config, "runs/joint")
  assert tuple(again.stage_order) == ("hdr", "joint") and again.init_from == ""
  assert "resuming" in lines[0]


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
  resolved, lines = preflight.resolve(config, "runs/finetune")
  assert lines == [] and resolved.data.dataset == "sun360"
  assert not (fresh_clone / "tfds").exists()


def test_unknown_init_from_missing_mode_is_rejected(fresh_clone):
  config = joint.get_config()
  config.init_from_missing = "ignore"
  with pytest.raises(preflight.SetupError, match="'error' or 'pretrain'"):
    preflight.resolve(config, "runs/joint")


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
