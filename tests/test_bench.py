"""bench/run.py: the quick benchmark runs end to end (CI runs it once here), its last stdout
line is the headline JSON, and `--no-append` leaves bench/RESULTS.md alone; plus the two
measuring helpers it builds on (XLA FLOP counts, compile timing). bench/flops.py's analytic
counts: tests/test_bench_flops.py."""

import importlib.util
import json
import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
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


def test_cost_flops_counts_a_matmul_as_2n_cubed():
  run = load_run_module()
  n = 64
  x = jnp.ones((n, n), jnp.float32)
  compiled = jax.jit(jnp.dot).lower(x, x).compile()
  assert run.cost_flops(compiled) == pytest.approx(2 * n ** 3, rel=0.01)


def test_compile_timer_counts_only_new_compilations():
  run = load_run_module()
  fn = jax.jit(lambda x: jnp.sin(x) * 3.0 + 1.0)
  x, y = jnp.ones((7, 5)), jnp.zeros((7, 5))
  with run.CompileTimer() as first:
    fn(x).block_until_ready()
  with run.CompileTimer() as again:
    fn(y).block_until_ready()
  assert first.count == 1 and first.seconds > 0
  assert again.count == 0


def test_only_rejects_unknown_sections():
  run = load_run_module()
  with pytest.raises(SystemExit):
    run.parse_args(["--only=matmul,tpu"])
  assert run.parse_args(["--only=infer, loader"]).only == ["infer", "loader"]
  assert run.parse_args(["--gpu-only"]).only == ["gpu"]


class _EmptyCostAnalysis:
  """What CUDA's lowered steps gave: no cost analysis."""

  def __init__(self, value):
    self.value = value

  def cost_analysis(self):
    return self.value


@pytest.mark.parametrize("empty", [None, {}, [{}], [None]])
def test_model_gflop_uses_the_analytic_count_when_cost_analysis_is_empty(empty):
  run = load_run_module()
  gflop, source = run.model_gflop(_EmptyCostAnalysis(empty), 3.5e9)
  assert (gflop, source) == (3.5, "analytic")
  gflop, source = run.model_gflop(_EmptyCostAnalysis({"flops": 2e9}), 3.5e9)
  assert (gflop, source) == (2.0, "xla")


# --- GPU rows ---------------------------------------------------------------------------------


def test_gpu_only_without_a_gpu_says_so_and_exits(tmp_path):
  result = subprocess.run([sys.executable, RUN, "--gpu-only", "--no-append"], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=120)
  assert result.returncode != 0 and "--gpu-only needs a GPU" in result.stderr


def test_gpu_rows_stop_at_the_time_budget(monkeypatch):
  run = load_run_module()
  ran = []
  monkeypatch.setattr(run, "run_gpu_row", lambda *a, **k: ran.append(a[3]))
  monkeypatch.setattr(run, "bench_matmul", lambda *a, **k: None)
  table = run.Table()
  args = run.parse_args(["--gpu-only", "--quick", "--budget_s=0"])
  run.bench_gpu(table, run.Models(), args)
  assert ran == [run.GPU_ROWS[0]]  # the first row always runs
  skipped = [r for r in table.rows if r[0] == "skipped"]
  assert len(skipped) == len(run.GPU_ROWS) - 1


def test_gpu_rows_have_the_issue_sizes():
  run = load_run_module()
  ids = [run.gpu_row_id(r) for r in run.GPU_ROWS]
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
