"""bench/run.py: the quick benchmark runs end to end (CI runs it once here), its last stdout
line is the headline JSON, and `--no-append` leaves bench/RESULTS.md alone; plus the two
measuring helpers it builds on (XLA FLOP counts, compile timing)."""

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
              "loader_64x128_ex_s", "loader_64x128_vs_joint", "peak_rss_gib")


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
                 "| infer apply |", "| loader |", "| matmul |"):
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
    run.parse_args(["--only=matmul,gpu"])
  assert run.parse_args(["--only=infer, loader"]).only == ["infer", "loader"]
