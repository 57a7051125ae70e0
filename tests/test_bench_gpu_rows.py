"""bench/gpu_rows.py: the GPU rows' sizes, their time budget, and (slow) their tiny form run
end to end on a CPU through bench/run.py, the deterministic child process included."""

import json
import math
import os
import subprocess
import sys

import pytest

from bench import gpu_rows
from bench import report
from bench import rows
from bench import run
from bench import steps

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(REPO, "bench", "run.py")


def test_gpu_rows_stop_at_the_time_budget(monkeypatch):
  ran = []
  monkeypatch.setattr(gpu_rows, "run_gpu_row", lambda *a, **k: ran.append(a[3]))
  monkeypatch.setattr(rows, "bench_matmul", lambda *a, **k: None)
  table = report.Table()
  args = run.parse_args(["--gpu-only", "--quick", "--budget_s=0"])
  gpu_rows.bench_gpu(table, steps.Models(), args)
  assert ran == [gpu_rows.GPU_ROWS[0]]  # the first row always runs
  skipped = [r for r in table.rows if r[0] == "skipped"]
  assert len(skipped) == len(gpu_rows.GPU_ROWS) - 1


def test_gpu_rows_have_the_issue_sizes():
  ids = [gpu_rows.gpu_row_id(r) for r in gpu_rows.GPU_ROWS]
  for needed in ("train_joint_64x128_b128_float32", "train_joint_64x128_b128_bfloat16",
                 "train_joint_256x512_b16_float32", "train_joint_256x512_b16_bfloat16",
                 "infer_joint_256x512_b8_float32", "infer_joint_256x512_b8_bfloat16",
                 "train_joint_64x128_b128_float32_deterministic"):
    assert needed in ids


GPU_QUICK_ROWS = ("train_joint_64x128_b128_float32",
                  "train_joint_64x128_b128_float32_deterministic",
                  "infer_joint_256x512_b8_bfloat16")


@pytest.mark.slow
def test_gpu_rows_run_in_their_tiny_form_on_a_cpu():
  """`--gpu-only --quick`: the GPU rows' code paths (bf16, the deterministic child process,
  memory columns) at tiny sizes."""
  result = subprocess.run(
      [sys.executable, RUN, "--gpu-only", "--quick", "--no-append",
       "--gpu_rows=" + ",".join(GPU_QUICK_ROWS)],
      cwd=REPO, capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, result.stderr[-3000:]
  headline = json.loads(result.stdout.strip().splitlines()[-1])
  for key in ("gpu_train_joint_64x128_b128_float32_img_s",
              "gpu_train_joint_64x128_b128_float32_gib",
              "gpu_train_joint_64x128_b128_float32_pct_matmul",
              "gpu_train_joint_64x128_b128_float32_deterministic_img_s",
              "gpu_train_joint_64x128_b128_float32_deterministic_cost",
              "gpu_infer_joint_256x512_b8_bfloat16_ms", "matmul_bfloat16_gflops"):
    assert key in headline and math.isfinite(headline[key]) and headline[key] > 0, key
  assert "| device GiB |" in result.stdout and "--xla_gpu_deterministic_ops=true" in result.stdout
