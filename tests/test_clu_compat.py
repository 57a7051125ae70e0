"""Specifies drht_jax/clu_compat.py: `clu.metric_writers` imports without TensorFlow."""

import importlib.util
import os
import subprocess
import sys
import types

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is not None,
                                reason="with TensorFlow installed clu_compat replaces nothing")


def _python(code):
  """Runs `code` in a fresh interpreter (no module imported yet) from the repository root."""
  return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                        timeout=120, check=False)


def test_without_it_clu_metric_writers_needs_tensorflow():
  result = _python("from clu import metric_writers")
  assert result.returncode != 0 and "tensorflow" in result.stderr


def test_importing_it_first_lets_clu_metric_writers_import():
  result = _python("import drht_jax.clu_compat\n"
                   "from clu import metric_writers, periodic_actions\n"
                   "print(metric_writers.MultiWriter.__name__)")
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.split() == ["MultiWriter"]


def test_the_stand_in_summary_writer_raises_naming_the_replacement():
  from drht_jax import clu_compat  # pylint: disable=g-import-not-at-top,unused-import
  from clu.metric_writers import summary_writer  # pylint: disable=g-import-not-at-top
  with pytest.raises(ImportError, match="TensorBoardXWriter"):
    summary_writer.SummaryWriter("logdir")


def test_the_other_clu_writers_work_as_they_are(monkeypatch):
  from drht_jax import clu_compat  # pylint: disable=g-import-not-at-top,unused-import
  from clu import metric_writers  # pylint: disable=g-import-not-at-top
  from clu.metric_writers import logging_writer  # pylint: disable=g-import-not-at-top
  lines = []   # absl's handler may bypass pytest's log capture: record the calls themselves
  monkeypatch.setattr(logging_writer, "logging", types.SimpleNamespace(
      info=lambda fmt, *args: lines.append(fmt % args), flush=lambda: None))
  writer = metric_writers.MultiWriter([metric_writers.LoggingWriter()])
  writer.write_scalars(3, {"loss": 0.25})
  writer.flush()
  assert any("loss=0.25" in line for line in lines), lines
