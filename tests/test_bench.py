"""bench/run.py, the command line: the quick benchmark runs end to end as a script (CI runs it
once here), its last stdout line is the headline JSON, `--no-append` leaves bench/RESULTS.md
alone, and its flags are checked. The modules it calls: tests/test_bench_measure.py (timers,
XLA counts), test_bench_report.py, test_bench_gpu_rows.py, test_bench_flops.py (analytic
FLOPs)."""

import importlib.util
import json
import math
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(REPO, "bench", "run.py")
RESULTS = os.path.join(REPO, "bench", "RESULTS.md")

QUICK_KEYS = ("matmul_gflops", "train_hdr_64x128_img_s", "train_joint_64x128_img_s",
              "train_hdr_64x128_pct_matmul", "train_joint_64x128_pct_matmul",
              "train_joint_64x128_compile_s", "infer_256x512_ms", "infer_256x512_pct_matmul",
              "loader_64x128_ex_s", "loader_64x128_vs_joint", "peak_rss_gib",
              "recipe_64x128_ms_per_ex", "pipeline_64x128_step_img_s",
              "pipeline_64x128_e2e_img_s", "pipeline_64x128_e2e_vs_step")


def load_run_module():
  spec = importlib.util.spec_from_file_location("bench_run", RUN)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _results_snapshot():
  if not os.path.exists(RESULTS):
    return None
  with open(RESULTS, "rb") as f:
    return f.read()


@pytest.fixture(scope="module")
def quick_run(tiny_data_dir):
  before = _results_snapshot()
  result = subprocess.run(
      [sys.executable, RUN, "--quick", "--no-append", f"--data_dir={tiny_data_dir}"],
      cwd=REPO, capture_output=True, text=True, timeout=400)
  return result, before


@pytest.mark.slow
def test_quick_benchmark_exits_cleanly(quick_run):
  result, _ = quick_run
  assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_quick_benchmark_last_line_is_headline_json_of_positive_numbers(quick_run):
  result, _ = quick_run
  headline = json.loads(result.stdout.strip().splitlines()[-1])
  missing = [k for k in QUICK_KEYS if k not in headline]
  assert not missing, f"headline lacks {missing}: {headline}"
  for key, value in headline.items():
    assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, (key, value)


@pytest.mark.slow
def test_quick_benchmark_table_names_machine_and_rows(quick_run):
  result, _ = quick_run
  out = result.stdout
  for needle in ("- CPU:", "os.cpu_count()", "sched_getaffinity", "- device:", "JAX ",
                 "jaxlib", "- command: `python", "--quick", "| train hdr |", "| train joint |",
                 "| infer apply |", "| loader |", "| matmul |",
                 "| pipeline recipe |", "| pipeline end to end |"):
    assert needle in out, needle


@pytest.mark.slow
def test_no_append_leaves_results_file_unchanged(quick_run):
  _, before = quick_run
  assert _results_snapshot() == before


def test_only_rejects_unknown_sections():
  run = load_run_module()
  with pytest.raises(SystemExit):
    run.parse_args(["--only=matmul,tpu"])
  assert run.parse_args(["--only=infer, loader"]).only == ["infer", "loader"]
  assert run.parse_args(["--gpu-only"]).only == ["gpu"]


def test_gpu_only_without_a_gpu_says_so_and_exits(tmp_path):
  result = subprocess.run([sys.executable, RUN, "--gpu-only", "--no-append"], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=120)
  assert result.returncode != 0 and "--gpu-only needs a GPU" in result.stderr
