"""Specifies eval.py, the command line: it corrects a photo, `--save-hdr` spelled with a hyphen.

Its library, drht_jax/evaluate.py, is specified in tests/test_evaluate.py (whose fixtures this
file reuses).
"""

import os
import subprocess
import sys

from tests.test_evaluate import photos, workdir  # pylint: disable=unused-import  (fixtures)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_eval_script_corrects_a_photo_with_hyphenated_save_hdr(workdir, photos, tmp_path):
  result = subprocess.run(
      [sys.executable, os.path.join(REPO, "eval.py"), f"--workdir={workdir}",
       f"--input={photos / 'good.jpg'}", f"--output={tmp_path}", "--save-hdr"],
      cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  assert (tmp_path / "good.jpg").exists() and (tmp_path / "good.exr").exists()
