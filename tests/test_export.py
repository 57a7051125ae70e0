"""Specifies drht_jax/export.py: an inference-only workdir (what pretrained/ holds) for eval.py."""

import json
import os
import shutil

import jax
import numpy as np
import pytest

from configs import default
from drht_jax import checkpointing, export, inference, models
from tests.test_evaluate import fast_variables

STEP = 11


@pytest.fixture(scope="module")
def training_workdir(tmp_path_factory):
  """A workdir whose checkpoint also holds an optimizer state, as training writes it."""
  path = str(tmp_path_factory.mktemp("train"))
  config = default.get_config()
  config.model.width = 0.125
  checkpointing.write_config(path, config)
  variables = fast_variables(models.create_model(config.model), seed=3)
  state = {"step": np.int32(STEP), "rng": np.zeros(2, np.uint32), **variables,
           "opt_state": {"mu": variables["params"], "nu": variables["params"]}}
  checkpointing.save(checkpointing.create_manager(path), STEP, state, b"{}")
  return path


def _outputs(workdir):
  _, model, variables, step = checkpointing.restore_for_inference(workdir)
  image = np.linspace(0, 1, 64 * 96 * 3, dtype=np.float32).reshape(64, 96, 3)
  return inference.correct(model, variables, image)[0], step


def _size(folder):
  return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs)


def test_exported_model_gives_the_same_outputs(training_workdir, tmp_path):
  out = str(tmp_path / "pretrained")
  export.export(training_workdir, out)
  expected, _ = _outputs(training_workdir)
  got, step = _outputs(out)
  assert step == STEP
  np.testing.assert_array_equal(got, expected)


def test_export_drops_the_optimizer_state(training_workdir, tmp_path):
  out = str(tmp_path / "pretrained")
  export.export(training_workdir, out)
  state, _ = checkpointing.restore_raw_state(out)
  assert sorted(state) == ["batch_stats", "params", "step"]
  assert _size(out) < 0.6 * _size(training_workdir)


def test_export_keeps_other_files_of_the_output(training_workdir, tmp_path):
  out = tmp_path / "pretrained"
  out.mkdir()
  (out / "report.md").write_text("measured")
  export.export(training_workdir, str(out))
  assert (out / "report.md").read_text() == "measured"
  assert not os.path.exists(str(out) + ".tmp-export")


def test_npz_round_trip_then_export(training_workdir, tmp_path):
  config, variables, step = export.load(training_workdir)
  export.save_npz(str(tmp_path / "npz"), config, export.to_host(variables), step)
  export.export(str(tmp_path / "npz"), str(tmp_path / "out"))
  expected, _ = _outputs(training_workdir)
  got, got_step = _outputs(str(tmp_path / "out"))
  assert got_step == STEP
  np.testing.assert_array_equal(got, expected)


def test_export_copies_the_runs_decisions(training_workdir, tmp_path):
  source = str(tmp_path / "train")
  shutil.copytree(training_workdir, source)
  run = {"init_from": "checkpoint pretrained step 9", "stages": []}
  checkpointing.write_run(source, run)
  out = str(tmp_path / "exported")
  export.export(source, out)
  with open(os.path.join(out, checkpointing.RUN_FILE)) as f:
    assert json.load(f) == run


def test_export_of_a_workdir_without_run_json_writes_none(training_workdir, tmp_path):
  out = str(tmp_path / "exported")
  export.export(training_workdir, out)
  assert not os.path.exists(os.path.join(out, checkpointing.RUN_FILE))



def test_write_workdir_exports_computed_variables_that_eval_restores(training_workdir,
                                                                     tmp_path):
  config, variables, _ = export.load(training_workdir)
  host = export.to_host(variables)
  out = str(tmp_path / "computed")
  export.write_workdir(out, config, host, 7)
  _, restored, step = export.load(out)
  assert step == 7
  for got, want in zip(jax.tree_util.tree_leaves(export.to_host(restored)),
                       jax.tree_util.tree_leaves(host)):
    np.testing.assert_array_equal(got, want)
  assert not os.path.exists(out + ".npz-tmp")
