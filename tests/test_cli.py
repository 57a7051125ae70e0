"""Specifies drht_jax/cli.py: the console scripts drht-train, drht-eval and drht-correct.

In-process, from the clone; tests/test_package.py runs them installed from the wheel.
"""

import os
import runpy
import sys

import pytest

from drht_jax import cli, evaluate, inference

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_script_path_finds_the_scripts_of_the_clone_next_to_the_package():
  assert cli.script_path("train.py") == os.path.join(REPO, "train.py")
  assert cli.script_path("eval.py") == os.path.join(REPO, "eval.py")


def test_script_path_of_a_missing_script_names_it():
  with pytest.raises(FileNotFoundError, match="nope.py"):
    cli.script_path("nope.py")


@pytest.mark.parametrize("entry, script", [("train", "train.py"), ("evaluate", "eval.py")])
def test_train_and_eval_run_their_script_as_main_with_the_same_flags(monkeypatch, entry, script):
  calls = []
  monkeypatch.setattr(runpy, "run_path",
                      lambda path, run_name: calls.append((path, list(sys.argv), run_name)))
  monkeypatch.setattr(sys, "argv", ["drht-x", "--workdir=runs/a", "--step=3"])
  getattr(cli, entry)()
  path = os.path.join(REPO, script)
  assert calls == [(path, [path, "--workdir=runs/a", "--step=3"], "__main__")]


def test_correct_parser_takes_many_inputs_and_both_flag_spellings():
  args = cli.correct_parser().parse_args(
      ["a.jpg", "photos/", "-o", "out", "--save_hdr", "--working-size=512"])
  assert args.inputs == ["a.jpg", "photos/"] and args.output == "out"
  assert args.save_hdr and args.working_size == 512
  assert args.workdir == "pretrained" and args.step is None and not args.serve


def test_correct_without_an_output_folder_is_a_usage_error(capsys):
  with pytest.raises(SystemExit) as info:
    cli.correct(["a.jpg"])
  assert info.value.code == 2
  assert "needs IN... and -o OUT" in capsys.readouterr().err


def test_correct_returns_2_naming_a_workdir_that_does_not_exist(tmp_path, capsys):
  missing = str(tmp_path / "missing")
  assert cli.correct(["a.jpg", "-o", str(tmp_path / "out"), f"--workdir={missing}"]) == 2
  assert f"error: {missing}: no such folder" in capsys.readouterr().err


def test_correct_passes_its_flags_to_evaluate_correct_photos(monkeypatch, tmp_path):
  (tmp_path / "run" / "checkpoints").mkdir(parents=True)
  calls = []
  monkeypatch.setattr(evaluate, "correct_photos",
                      lambda *args, **kwargs: calls.append((args, kwargs)) or 1)
  code = cli.correct(["a.jpg", "b.png", "-o", "out", f"--workdir={tmp_path / 'run'}",
                      "--save-hdr", "--mode=full", "--tile=64", "--step=5"])
  assert code == 1
  assert calls == [((str(tmp_path / "run"), ["a.jpg", "b.png"], "out"),
                    {"save_hdr": True, "tile": 64, "step": 5, "mode": "full",
                     "working_size": inference.DEFAULT_WORKING_SIZE})]


def test_correct_main_exits_with_the_code_of_correct(monkeypatch):
  monkeypatch.setattr(cli, "correct", lambda argv=None: 1)
  with pytest.raises(SystemExit) as info:
    cli.correct_main()
  assert info.value.code == 1
