"""bench/measure.py: the measuring helpers every benchmark row builds on (XLA FLOP counts,
compile timing, the analytic fallback where the cost analysis is empty)."""

import jax
import jax.numpy as jnp
import pytest

from bench import measure


def test_cost_flops_counts_a_matmul_as_2n_cubed():
  n = 64
  x = jnp.ones((n, n), jnp.float32)
  compiled = jax.jit(jnp.dot).lower(x, x).compile()
  assert measure.cost_flops(compiled) == pytest.approx(2 * n ** 3, rel=0.01)


def test_compile_timer_counts_only_new_compilations():
  fn = jax.jit(lambda x: jnp.sin(x) * 3.0 + 1.0)
  x, y = jnp.ones((7, 5)), jnp.zeros((7, 5))
  with measure.CompileTimer() as first:
    fn(x).block_until_ready()
  with measure.CompileTimer() as again:
    fn(y).block_until_ready()
  assert first.count == 1 and first.seconds > 0
  assert again.count == 0


class _EmptyCostAnalysis:
  """What CUDA's lowered steps gave: no cost analysis."""

  def __init__(self, value):
    self.value = value

  def cost_analysis(self):
    return self.value


@pytest.mark.parametrize("empty", [None, {}, [{}], [None]])
def test_model_gflop_uses_the_analytic_count_when_cost_analysis_is_empty(empty):
  gflop, source = measure.model_gflop(_EmptyCostAnalysis(empty), 3.5e9)
  assert (gflop, source) == (3.5, "analytic")
  gflop, source = measure.model_gflop(_EmptyCostAnalysis({"flops": 2e9}), 3.5e9)
  assert (gflop, source) == (2.0, "xla")
