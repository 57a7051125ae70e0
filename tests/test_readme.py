"""README's quick start is the contract with newcomers and CI: keep it true."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _quick_start():
  text = (ROOT / "README.md").read_text()
  block = re.search(r"```[^\n]*\n(.*?)```", text, re.S).group(1)
  return [line for line in block.splitlines() if line.strip()]


def test_readme_quick_start_has_two_commands():
  assert len(_quick_start()) == 2


def test_ci_runs_exactly_the_readme_test_command():
  ci_lines = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()]
  assert _quick_start()[1].strip() in ci_lines


def test_ci_installs_from_requirements():
  assert "pip install -q -r requirements.txt" in (ROOT / ".ci/run").read_text()


def test_readme_main_job_uses_a_config_that_exists():
  config = re.search(r"--config=(\w+)", _quick_start()[0]).group(1)
  assert (ROOT / "configs" / f"{config}.py").exists()
