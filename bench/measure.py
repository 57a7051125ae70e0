"""Measuring for the benchmark rows: wall and compile time, XLA's FLOP and memory counts, peak
host and device memory.

Every row of bench/run.py is built from these: a median of timed calls (`timed`), the compile
phase counted apart (`CompileTimer`, or an ahead-of-time `lower(...).compile()`), the model's
FLOPs (`model_gflop`: XLA's cost analysis, else bench/flops.py's analytic count) and the
executable's device memory (`executable_gib`).
"""

import resource
import statistics
import time

import jax
import numpy as np

GIB = 1024.0 ** 3


class CompileTimer:
  """Sums JAX's compile-phase durations (tracing, lowering, XLA compile or persistent-cache
  load) reported through `jax.monitoring` while active: `with CompileTimer() as c: ...;
  c.seconds`, `c.count` (XLA compilations)."""

  PREFIX = "/jax/core/compile/"
  BACKEND = "/jax/core/compile/backend_compile_duration"

  def __init__(self):
    self.seconds, self.count = 0.0, 0

  def _listener(self, event, duration, **_):
    if event.startswith(self.PREFIX):
      self.seconds += duration
      self.count += event == self.BACKEND

  def __enter__(self):
    jax.monitoring.register_event_duration_secs_listener(self._listener)
    return self

  def __exit__(self, *exc):
    jax.monitoring.unregister_event_duration_listener(self._listener)


def timed(fn, reps: int, warmup: int = 1):
  """Median wall time (s) of `fn()` (which must block until its result is ready) over `reps`
  runs after `warmup` runs; also returns the list of times."""
  for _ in range(warmup):
    fn()
  times = []
  for _ in range(reps):
    t0 = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t0)
  return statistics.median(times), times


def cost_flops(compiled) -> float:
  """FLOPs of one call of an AOT-compiled (or lowered) function from XLA's cost analysis (a
  dict, or a list of dicts, one per partition/computation, depending on the JAX version)."""
  analysis = compiled.cost_analysis()
  if analysis is None:
    return float("nan")
  if isinstance(analysis, dict):
    analysis = [analysis]
  return float(sum(a.get("flops", 0.0) for a in analysis if a))


def model_gflop(lowered, analytic_flops):
  """(GFLOP, source): XLA's cost analysis of `lowered` when it gives one, else the analytic
  count of the convolutions (CUDA's cost analysis of these steps comes back empty)."""
  xla_flops = cost_flops(lowered)
  if np.isfinite(xla_flops) and xla_flops > 0:
    return xla_flops / 1e9, "xla"
  return analytic_flops / 1e9, "analytic"


def peak_rss_gib():
  """(this process, largest finished child) peak resident set size in GiB (Linux: KiB)."""
  own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB
  children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / GIB
  return own, children


def device_peak_gib():
  """The device's `peak_bytes_in_use` so far in this process, GiB; None where the device does
  not report it (CPUs)."""
  stats = jax.devices()[0].memory_stats()
  if not stats or "peak_bytes_in_use" not in stats:
    return None
  return stats["peak_bytes_in_use"] / GIB


def executable_gib(compiled):
  """Device memory one call of an AOT-compiled function needs (XLA's `memory_analysis()`:
  arguments + outputs - donated aliases + temporaries), GiB; None where not reported."""
  try:
    m = compiled.memory_analysis()
  except Exception:  # pylint: disable=broad-except  (backends without it raise)
    return None
  if m is None:
    return None
  total = (m.argument_size_in_bytes + m.output_size_in_bytes - m.alias_size_in_bytes
           + m.temp_size_in_bytes)
  return total / GIB
