"""Specifies eval.py's logging: warnings only by default, `--verbosity=0` or `1` for the rest.

No Orbax INFO lines bury the results. Runs eval.py's photo mode on test_evaluate.py's tiny
workdir."""

import os
import re
import subprocess
import sys

from PIL import Image

from test_evaluate import _photo, workdir  # pylint: disable=unused-import  (a fixture)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# absl's INFO prefix (I + MMDD), or Python logging's INFO:absl: form.
INFO_LINE = re.compile(r"^(I\d{4} |INFO:)")


def _eval_py(workdir, tmp_path, *flags):
  Image.fromarray(_photo()).save(tmp_path / "photo.jpg", quality=90)
  return subprocess.run(
      [sys.executable, os.path.join(REPO, "eval.py"), f"--workdir={workdir}",
       f"--input={tmp_path / 'photo.jpg'}", f"--output={tmp_path / 'out'}", *flags],
      cwd=REPO, capture_output=True, text=True, timeout=300, check=False)


def test_eval_py_logs_no_info_lines_by_default(workdir, tmp_path):
  result = _eval_py(workdir, tmp_path)
  assert result.returncode == 0, result.stderr[-2000:]
  info = [l for l in result.stderr.splitlines() if INFO_LINE.match(l)]
  assert not info, info[:5]
  assert "orbax" not in result.stderr.lower() and "read only" not in result.stderr
  assert (tmp_path / "out" / "photo.jpg").exists()


def test_eval_py_verbosity_0_shows_the_info_lines(workdir, tmp_path):
  result = _eval_py(workdir, tmp_path, "--verbosity=0")
  assert result.returncode == 0, result.stderr[-2000:]
  assert any(INFO_LINE.match(l) for l in result.stderr.splitlines()), result.stderr[-2000:]
