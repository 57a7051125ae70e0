"""Speed benchmarks (docs/measure.md, "Speed"): one table, appended to bench/RESULTS.md.

    python bench/run.py                      # full: paper-size model, ~20-30 min on 2 CPU cores
    python bench/run.py --quick              # same code paths, tiny settings, < ~90 s (CI)
    python bench/run.py --only=matmul,infer  # a subset: matmul, train, infer, loader, pipeline
    python bench/run.py --quick --no-append  # print only, RESULTS.md untouched
    python bench/run.py --gpu-only           # GPU-sized rows only, within --budget_s (GPU)
    python bench/run.py --gpu-only --quick   # the same code paths at tiny sizes (any device)

Rows:
  matmul  float32 `jnp.dot` of two n x n matrices (jitted), GFLOP/s = 2 n^3 / median time: the
          machine's reference rate that the model rows are compared with (`% matmul`).
  train   one training step of stage `hdr` / `joint`, built as `train_lib.train_and_evaluate`
          builds it (plan_stages, stage_optimizer, initial_state, replicate, make_p_train_step)
          on synthetic `[1, B, H, W, 3]` batches; images/s from the median of timed steps after
          warm-up; compile time separately; GFLOP/step from XLA's cost analysis of the step
          in the plain formulation (`reference_model`; the compiled step's own count is a
          column of its own). The step is lowered and compiled once ahead of time and that
          executable is timed (the one `p_step(state, batch)` would compile and run).
  infer   eval-mode `model.apply` on one 256x512 image (ms, GFLOP/s, % matmul); full mode adds
          `inference.correct` on a 1-megapixel (1024x1024) and a 12-megapixel (3000x4000)
          photo (seconds per photo, compile time measured separately and excluded).
  pipeline the device-side data recipe (`drht_jax/recipe.py` via `create_train_iterator`,
          data.placement=device): ms per example of a batch made on the device; the joint
          step alone on batches made beforehand (step-only img/s) vs `train.py`'s loop, a
          fresh batch from the iterator then the step, blocking only at the end (end-to-end
          img/s), and their ratio (goal >= 0.95); 3 alternating rounds, medians.
  loader  examples/s from `input_pipeline.create_train_iterator` (Grain over the TFDS
          array_record files) per worker count, and its ratio to the joint step's images/s.
  memory  peak host RSS of this process (`ru_maxrss`) and of its largest finished child
          (Grain workers); peak device memory where the device reports it (GPUs).
  gpu     (`--gpu-only`, or `--only=gpu` on a GPU) GPU-sized rows in priority order, each
          skipped once the `--budget_s` would be overrun: `joint` training at 64x128 batch 128
          and 256x512 batch 16, `model.apply` inference at 256x512 batch 8, each in float32 and
          bfloat16 (`model.dtype`: float32 parameters, bfloat16 compute); the 64x128 float32
          step again with `config.deterministic` (a child process: XLA reads its flags at
          start-up) and with `conv_grads=im2col`; a bfloat16 matmul row for `% matmul` of the
          bfloat16 rows. Memory per row: XLA's `memory_analysis()` of the executable
          (arguments + outputs + temporaries) and the device's `peak_bytes_in_use` so far.

GFLOP/call: XLA's cost analysis of the plain formulation when the backend gives one (CPU);
otherwise (CUDA gives none for these steps) the analytic count of the convolutions
(bench/flops.py `forward_flops` / `train_flops`, within 2% of XLA's CPU count, tested), and
the setting says `analytic FLOPs`.

The last stdout line is one JSON object of headline figures (keys listed in bench/README.md).
Full mode turns JAX's persistent compilation cache off so compile times are real; quick mode
uses it when `JAX_COMPILATION_CACHE_DIR` is set (the tests set it).
"""

import argparse
import contextlib
import datetime
import gc
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

import flax  # pylint: disable=g-import-not-at-top,wrong-import-position
import flax.jax_utils  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top,wrong-import-position
import jaxlib  # pylint: disable=g-import-not-at-top,wrong-import-position
import ml_collections  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from bench import flops  # pylint: disable=g-import-not-at-top,wrong-import-position
from configs import default  # pylint: disable=g-import-not-at-top,wrong-import-position
from drht_jax import allocator  # pylint: disable=g-import-not-at-top,wrong-import-position
from drht_jax import inference  # pylint: disable=g-import-not-at-top,wrong-import-position
from drht_jax import input_pipeline  # pylint: disable=g-import-not-at-top,wrong-import-position
from drht_jax import models  # pylint: disable=g-import-not-at-top,wrong-import-position
from drht_jax import preflight  # pylint: disable=g-import-not-at-top,wrong-import-position
from drht_jax import train_lib  # pylint: disable=g-import-not-at-top,wrong-import-position

RESULTS = os.path.join(REPO, "bench", "RESULTS.md")
SECTIONS = ("matmul", "train", "infer", "loader", "pipeline", "gpu")

# Benchmark settings. train / loader: ((H, W), global batch); loader adds the split to crop
# from (rendered/small's `train` patches are 64x128; its `test` images are 256x512 whole).
FULL = dict(
    width=1.0, matmul_n=4096, matmul_reps=5,
    train=(((64, 128), 32), ((256, 512), 4)), warmup_steps=2, timed_steps=3,
    infer_size=(256, 512), infer_reps=5, photos=(("1mp", (1024, 1024)), ("12mp", (3000, 4000))),
    photo_reps=2,
    dataset="rendered/small",
    loader=(((64, 128), 32, "train"), ((256, 512), 4, "test")), loader_workers=(0, 2),
    loader_examples=256,
    # pipeline: the step comparison at 64x128 (a full-width 256x512 step next to the recipe
    # was killed for memory on the 2-core machine); the recipe alone at both sizes.
    pipeline=(((64, 128), 32),), pipeline_recipe=(((64, 128), 32), ((256, 512), 4)),
    pipeline_steps=2,
)
QUICK = dict(
    width=0.125, matmul_n=1024, matmul_reps=3,
    train=(((64, 128), 2),), warmup_steps=1, timed_steps=2,
    infer_size=(256, 512), infer_reps=2, photos=(), photo_reps=0,
    dataset="rendered/tiny",
    loader=(((64, 128), 2, "train"),), loader_workers=(0,),
    loader_examples=16,
    pipeline=(((64, 128), 2),), pipeline_recipe=(((64, 128), 2),), pipeline_steps=2,
)
# GPU rows: (kind, stage, (H, W), batch, dtype, variant) in priority order; `variant`:
# None (the config's conv_grads from `gpu_conv_grads`), "deterministic" (a child process with
# config.deterministic) or "im2col" (conv_grads=im2col).
GPU_ROWS = (
    ("train", "joint", (64, 128), 128, "float32", None),
    ("train", "joint", (64, 128), 128, "bfloat16", None),
    ("train", "joint", (64, 128), 128, "float32", "deterministic"),
    ("infer", "joint", (256, 512), 8, "float32", None),
    ("infer", "joint", (256, 512), 8, "bfloat16", None),
    ("train", "joint", (256, 512), 16, "float32", None),
    ("train", "joint", (256, 512), 16, "bfloat16", None),
    ("train", "joint", (64, 128), 128, "bfloat16", "deterministic"),
    ("train", "joint", (64, 128), 128, "float32", "im2col"),
)
# budget_s: no row starts once the elapsed time plus 1.25x the longest row so far would pass
# it (the first rows always run); ~130 s of rows + start-up fit an H200 in under 3 minutes.
GPU_FULL = dict(width=1.0, warmup_steps=3, timed_steps=10, infer_reps=10, matmul_n=8192,
                matmul_reps=10, tiny=False, budget_s=130.0)
# The same rows at tiny sizes (sides / 4 but at least 32x64, batches / 16, width 0.125): what
# the tests run on a CPU.
GPU_QUICK = dict(width=0.125, warmup_steps=1, timed_steps=2, infer_reps=2, matmul_n=256,
                 matmul_reps=2, tiny=True, budget_s=600.0)
GIB = 1024.0 ** 3


# --- Measurement helpers ------------------------------------------------------------------


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


def peak_rss_gib():
  """(this process, largest finished child) peak resident set size in GiB (Linux: KiB)."""
  own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB
  children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / GIB
  return own, children


def device_peak_gib():
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


def model_gflop(lowered, analytic_flops):
  """(GFLOP, source): XLA's cost analysis of `lowered` when it gives one, else the analytic
  count of the convolutions (CUDA's cost analysis of these steps comes back empty)."""
  xla_flops = cost_flops(lowered)
  if np.isfinite(xla_flops) and xla_flops > 0:
    return xla_flops / 1e9, "xla"
  return analytic_flops / 1e9, "analytic"


# --- Rows -----------------------------------------------------------------------------------


class Table:
  """Rows of the result table, plus the headline figures of the final JSON line."""

  COLUMNS = ("benchmark", "setting", "median", "unit", "compile s", "GFLOP/call", "GFLOP/s",
             "% matmul", "compiled GFLOP", "runs", "spread %", "device GiB")

  def __init__(self):
    self.rows, self.headline, self.notes = [], {}, []
    self.matmul = {}  # dtype name -> the matmul row's GFLOP/s

  @property
  def matmul_gflops(self):
    return self.matmul.get("float32")

  @matmul_gflops.setter
  def matmul_gflops(self, value):
    self.matmul["float32"] = value

  def add(self, benchmark, setting, value, unit, compile_s=None, gflop=None, seconds=None,
          times=None, runs=None, compiled_gflop=None, memory_gib=None, dtype="float32"):
    """One row. `gflop`: the model's FLOPs per call (of `reference_model`), the basis of GFLOP/s
    and % matmul (of the matmul row of `dtype`); `compiled_gflop`: what the executable that
    ran counts (sub-pixel deconvs add structural zeros); `seconds`: the median time of one
    call; `times`: the timed runs (their count and spread (max - min) / median go in the
    table); `runs`: a count without a spread; `memory_gib`: device memory of the
    executable (`executable_gib`)."""
    gflops = gflop / seconds if gflop is not None and seconds else None
    reference = self.matmul.get(dtype)
    pct = 100.0 * gflops / reference if gflops is not None and reference else None
    runs = len(times) if times else runs
    spread = (100.0 * (max(times) - min(times)) / statistics.median(times)
              if times and len(times) > 1 else None)
    self.rows.append((benchmark, setting, value, unit, compile_s, gflop, gflops, pct,
                      compiled_gflop, runs, spread, memory_gib))
    print(f"  {benchmark} {setting}: {_fmt(value)} {unit}"
          + (f" (compile {compile_s:.1f} s)" if compile_s is not None else "")
          + (f", {gflops:.2f} GFLOP/s" if gflops is not None else "")
          + (f" = {pct:.1f}% of matmul" if pct is not None else ""), file=sys.stderr,
          flush=True)
    return gflops, pct

  def markdown(self) -> str:
    lines = ["| " + " | ".join(self.COLUMNS) + " |",
             "|" + "|".join("---" for _ in self.COLUMNS) + "|"]
    for row in self.rows:
      runs = row[9]
      cells = [row[0], row[1], _fmt(row[2]), row[3], _fmt(row[4], 1), _fmt(row[5]),
               _fmt(row[6]), _fmt(row[7], 1), _fmt(row[8]), "" if runs is None else str(runs),
               _fmt(row[10], 0), _fmt(row[11])]
      lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value, digits=None):
  if value is None:
    return ""
  if isinstance(value, str):
    return value
  if digits is not None:
    return f"{value:.{digits}f}"
  magnitude = abs(value)
  if magnitude >= 100:
    return f"{value:.0f}"
  if magnitude >= 10:
    return f"{value:.1f}"
  if magnitude >= 1:
    return f"{value:.2f}"
  return f"{value:.3g}"


def bench_matmul(table: Table, settings, dtype="float32"):
  """`% matmul` reference of `dtype`'s rows (float32: the default precision of `jnp.dot`)."""
  n, reps = settings["matmul_n"], settings["matmul_reps"]
  rng = np.random.default_rng(0)
  a = jnp.asarray(rng.standard_normal((n, n), np.float32), dtype)
  b = jnp.asarray(rng.standard_normal((n, n), np.float32), dtype)
  t0 = time.perf_counter()
  dot = jax.jit(jnp.dot).lower(a, b).compile()
  compile_s = time.perf_counter() - t0
  seconds, times = timed(lambda: dot(a, b).block_until_ready(), reps)
  gflop = 2.0 * n ** 3 / 1e9
  table.matmul[dtype] = gflop / seconds
  table.add("matmul", f"{dtype} {n}x{n}", gflop / seconds, "GFLOP/s", compile_s, gflop,
            seconds, times, dtype=dtype)
  table.headline["matmul_gflops" if dtype == "float32" else f"matmul_{dtype}_gflops"] = (
      gflop / seconds)


def bench_config(stage_name: str, settings, image_size, batch_size):
  """A run config whose only stage is `stage_name` (the stages of configs/default.py and
  configs/demo.py: `hdr` trains f1 alone, `joint` both nets under hierarchical supervision)."""
  config = default.get_config()
  config.model.width = settings["width"]
  config.image_size = tuple(image_size)
  config.batch_size = batch_size
  config.stage_order = (stage_name,)
  config.stages = ml_collections.ConfigDict({
      "hdr": default.stage("hdr", supervision=default.all_at_once(("f1",))),
      "joint": default.stage("joint", supervision=default.hierarchical_supervision()),
  })
  return config


def reference_model(model_config, axis_name=None):
  """The model in its plain formulation (transposed convs, XLA's own gradients): the same
  function and parameters; its FLOPs are the model's, without the structural zeros of the
  sub-pixel form, so changing the formulation cannot raise GFLOP/s by counting more."""
  reference = ml_collections.ConfigDict(model_config.to_dict())
  reference.deconv, reference.conv_grads = "transpose", "xla"
  return models.create_model(reference, axis_name=axis_name)


def synthetic_batches(batch_size, image_size, count=2, seed=0):
  """`count` different `{"ldr", "hdr", "ldr_gt"}` batches `[1, B, H, W, 3]` float32 (LDR in
  [0, 1], HDR radiance >= 0), on the device."""
  rng = np.random.default_rng(seed)
  shape = (1, batch_size, *image_size, 3)
  batches = []
  for _ in range(count):
    batch = {"ldr": rng.uniform(0, 1, shape), "hdr": rng.exponential(1.0, shape),
             "ldr_gt": rng.uniform(0, 1, shape)}
    batches.append(jax.device_put({k: v.astype(np.float32) for k, v in batch.items()}))
  return batches


class Models:
  """One model and its step-0 host state per width: `initial_state` compiles `init_variables`
  (~25 s for the paper-size model on 2 CPU cores), so the state is made once and each stage
  gets a fresh optimizer state, as `train_and_evaluate` does at a stage change."""

  def __init__(self):
    self._cache = {}

  def get(self, config, table=None):
    key = config.model.width
    if key not in self._cache:
      model = models.create_model(config.model, axis_name=train_lib.AXIS)
      t0 = time.perf_counter()
      host_state = train_lib.initial_state(config, model, train_lib.plan_stages(config))
      jax.block_until_ready(host_state)
      init_s = time.perf_counter() - t0
      self._cache[key] = (model, host_state, init_s)
      if table is not None:
        table.add("setup", f"train_lib.initial_state, width {key} (init_variables compile + "
                  "run)", init_s, "s")
    return self._cache[key]


def train_row(table: Table, settings, cache: Models, config, label: str):
  """Times one training step of `config` (its only stage), adds the row `label`.
  -> dict(img_s, pct_matmul, compile_s, gib)."""
  stage_name = config.stage_order[0]
  image_size, batch_size = tuple(config.image_size), config.batch_size
  plan = train_lib.plan_stages(config)
  _, host_state, _ = cache.get(config, table)
  model = models.create_model(config.model, axis_name=train_lib.AXIS)
  tx = train_lib.stage_optimizer(config, plan[0], host_state.params)
  state = flax.jax_utils.replicate(host_state.replace(opt_state=tx.init(host_state.params)))
  batches = synthetic_batches(batch_size, image_size)
  p_step = train_lib.make_p_train_step(model, tx, plan[0])
  t0 = time.perf_counter()
  step = p_step.lower(state, batches[0]).compile()
  compile_s = time.perf_counter() - t0
  compiled_gflop = cost_flops(step) / 1e9
  reference_step = train_lib.make_p_train_step(
      reference_model(config.model, train_lib.AXIS), tx, plan[0])
  gflop, source = model_gflop(
      reference_step.lower(state, batches[0]),
      flops.train_flops(config.model, image_size, batch_size, stage_name))
  holder = {"state": state, "i": 0}

  def run_step():
    holder["state"], out = step(holder["state"], batches[holder["i"] % len(batches)])
    holder["i"] += 1
    jax.block_until_ready((holder["state"], out))
    if not np.isfinite(float(out["loss"][0])):
      raise FloatingPointError(f"bench/run.py: {stage_name} step loss is not finite")

  seconds, times = timed(run_step, settings["timed_steps"], settings["warmup_steps"])
  del holder, state
  images_s = batch_size / seconds
  gib = executable_gib(step)
  _, pct = table.add(f"train {stage_name}", label + _source_note(source), images_s, "img/s",
                     compile_s, gflop, seconds, times, compiled_gflop=compiled_gflop,
                     memory_gib=gib, dtype=config.model.dtype)
  gc.collect()
  return {"img_s": images_s, "pct_matmul": pct, "compile_s": compile_s, "gib": gib}


def bench_train(table: Table, settings, cache: Models):
  for image_size, batch_size in settings["train"]:
    for stage_name in ("hdr", "joint"):
      config = bench_config(stage_name, settings, image_size, batch_size)
      name = f"{image_size[0]}x{image_size[1]}"
      row = train_row(table, settings, cache, config,
                      f"{name} batch {batch_size} width {settings['width']}")
      table.headline[f"train_{stage_name}_{name}_img_s"] = row["img_s"]
      table.headline[f"train_{stage_name}_{name}_compile_s"] = row["compile_s"]
      if row["pct_matmul"] is not None:
        table.headline[f"train_{stage_name}_{name}_pct_matmul"] = row["pct_matmul"]


def infer_row(table: Table, settings, cache: Models, config, batch: int, reps: int,
              label: str):
  """Times eval-mode `model.apply` on `batch` images of `config.image_size`, adds the row
  `label` (ms per image). -> dict(ms, pct_matmul, compile_s, gib)."""
  _, host_state, _ = cache.get(config, table)
  model = models.create_model(config.model)
  variables = {"params": host_state.params, "batch_stats": host_state.batch_stats}
  height, width = config.image_size
  x = jnp.asarray(np.random.default_rng(1).uniform(0, 1, (batch, height, width, 3)),
                  jnp.float32)
  forward = jax.jit(lambda v, ldr: model.apply(v, ldr, train=False))
  t0 = time.perf_counter()
  compiled = forward.lower(variables, x).compile()
  compile_s = time.perf_counter() - t0
  compiled_gflop = cost_flops(compiled) / 1e9
  reference = reference_model(config.model)
  gflop, source = model_gflop(
      jax.jit(lambda v, ldr: reference.apply(v, ldr, train=False)).lower(variables, x),
      flops.forward_flops(config.model, (height, width), batch))
  seconds, times = timed(lambda: jax.block_until_ready(compiled(variables, x)), reps)
  gib = executable_gib(compiled)
  _, pct = table.add("infer apply", label + _source_note(source), seconds * 1e3 / batch,
                     "ms/img", compile_s, gflop, seconds, times,
                     compiled_gflop=compiled_gflop, memory_gib=gib, dtype=config.model.dtype)
  return {"ms": seconds * 1e3 / batch, "pct_matmul": pct, "compile_s": compile_s, "gib": gib,
          "model": model, "variables": variables}


def bench_infer(table: Table, settings, cache: Models):
  config = bench_config("joint", settings, settings["infer_size"], 1)
  height, width = settings["infer_size"]
  name = f"{height}x{width}"
  row = infer_row(table, settings, cache, config, 1, settings["infer_reps"],
                  f"{name} batch 1 width {settings['width']}")
  model, variables = row["model"], row["variables"]
  table.headline[f"infer_{name}_ms"] = row["ms"]
  if row["pct_matmul"] is not None:
    table.headline[f"infer_{name}_pct_matmul"] = row["pct_matmul"]

  for label, (h, w) in settings["photos"]:
    photo = np.random.default_rng(2).uniform(0, 1, (h, w, 3)).astype(np.float32)
    inference.clear_cache()
    with CompileTimer() as compile_timer:
      t0 = time.perf_counter()
      inference.correct(model, variables, photo, mode="full")   # the whole photo through the
      first_s = time.perf_counter() - t0                        # nets; guided: bench/photo.py
    reps = settings["photo_reps"] if label != "12mp" else 0
    if reps:
      seconds, times = timed(lambda: inference.correct(model, variables, photo, mode="full"),
                             reps, 0)
    else:  # ~2.5 min a call here: one cold call, compile time subtracted
      seconds, times = first_s - compile_timer.seconds, [first_s]
    table.add("infer correct", f"{h}x{w} ({h * w / 1e6:.1f} MP) width {settings['width']}",
              seconds, "s/photo", compile_timer.seconds, None, None, times)
    table.headline[f"infer_{label}_s"] = seconds
    inference.clear_cache()
    gc.collect()


def gpu_row_id(row) -> str:
  kind, stage, (h, w), batch, dtype, variant = row
  return f"{kind}_{stage}_{h}x{w}_b{batch}_{dtype}" + (f"_{variant}" if variant else "")


def gpu_row_settings(row, settings):
  """(image size, batch) of a GPU row under `settings` (tiny ones in quick mode)."""
  _, _, (h, w), batch, _, _ = row
  if settings["tiny"]:
    h, w = max(32, h // 4 // 32 * 32), max(64, w // 4 // 32 * 32)
    batch = max(1, batch // 16)
  return (h, w), batch


def run_gpu_row(table: Table, settings, cache: Models, row, conv_grads: str, quick: bool):
  """One GPU row; headline keys `gpu_<row id>_*`. The deterministic variant runs in a child
  process (XLA reads XLA_FLAGS once, when the backend starts)."""
  kind, stage, _, _, dtype, variant = row
  size, batch = gpu_row_settings(row, settings)
  key = "gpu_" + gpu_row_id(row)
  label = (f"{size[0]}x{size[1]} batch {batch} width {settings['width']} {dtype}"
           + (f" {variant}" if variant else "")
           + f" conv_grads={'im2col' if variant == 'im2col' else conv_grads}")
  if variant == "deterministic":
    child = [sys.executable, os.path.abspath(__file__), "--gpu-only", "--no-append",
             f"--child_row={gpu_row_id(row)}", "--deterministic", f"--gpu_conv_grads={conv_grads}"]
    # This process holds JAX's default GPU preallocation (75% of the memory): the child
    # allocates as it goes, in what is left.
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    result = subprocess.run(child + (["--quick"] if quick else []), capture_output=True,
                            text=True, timeout=600, check=False, env=env)
    if result.returncode != 0:
      table.add(f"{kind} {stage}", label + " (child process failed: "
                + " ".join(result.stderr.strip().splitlines()[-1:])[:200] + ")", "failed", "")
      return
    child_headline = json.loads(result.stdout.strip().splitlines()[-1])
    img_s = child_headline[key + "_img_s"]
    table.add(f"{kind} {stage}", label + " (child process, config.deterministic: XLA_FLAGS "
              + " ".join(preflight.DETERMINISTIC_XLA_FLAGS) + ")", img_s, "img/s",
              child_headline.get(key + "_compile_s"), runs=settings["timed_steps"],
              memory_gib=child_headline.get(key + "_gib"))
    table.headline[key + "_img_s"] = img_s
    plain = table.headline.get("gpu_" + gpu_row_id(row[:5] + (None,)) + "_img_s")
    if plain:
      table.headline[key + "_cost"] = plain / img_s  # > 1: slower by this factor
    return
  config = bench_config(stage, settings, size, batch)
  config.model.dtype = dtype
  config.model.conv_grads = "im2col" if variant == "im2col" else conv_grads
  if kind == "train":
    out = train_row(table, settings, cache, config, label)
    table.headline[key + "_img_s"] = out["img_s"]
  else:
    out = infer_row(table, settings, cache, config, batch, settings["infer_reps"], label)
    table.headline[key + "_ms"] = out["ms"]
  table.headline[key + "_compile_s"] = out["compile_s"]
  if out["pct_matmul"] is not None:
    table.headline[key + "_pct_matmul"] = out["pct_matmul"]
  if out["gib"] is not None:
    table.headline[key + "_gib"] = out["gib"]
  peak = device_peak_gib()
  if peak is not None:
    table.headline[key + "_device_peak_gib"] = peak  # the process's peak so far
  gc.collect()


def bench_gpu(table: Table, cache: Models, args):
  """GPU_ROWS (those named by --gpu_rows, default all) in order within the time budget
  (module doc), counted from this call."""
  t_start = time.perf_counter()
  settings = dict(GPU_QUICK if args.quick else GPU_FULL)
  if args.steps is not None:
    settings["timed_steps"] = max(1, args.steps)
  if args.child_row:
    rows = [r for r in GPU_ROWS if gpu_row_id(r) == args.child_row]
    if not rows:
      raise SystemExit(f"bench/run.py: unknown --child_row {args.child_row}")
    run_gpu_row(table, settings, cache, rows[0][:5] + (None,), args.gpu_conv_grads,
                args.quick)
    key = "gpu_" + gpu_row_id(rows[0][:5] + (None,))
    for k in [k for k in table.headline if k.startswith(key)]:  # report under the row's id
      table.headline["gpu_" + args.child_row + k[len(key):]] = table.headline.pop(k)
    return
  budget = args.budget_s if args.budget_s is not None else settings["budget_s"]
  for dtype in ("float32", "bfloat16"):
    bench_matmul(table, settings, dtype)
  longest = 0.0
  rows = GPU_ROWS
  if args.gpu_rows:
    wanted = [r.strip() for r in args.gpu_rows.split(",") if r.strip()]
    unknown = set(wanted) - {gpu_row_id(r) for r in GPU_ROWS}
    if unknown:
      raise SystemExit(f"bench/run.py: --gpu_rows: unknown {sorted(unknown)}; rows: "
                       + ", ".join(gpu_row_id(r) for r in GPU_ROWS))
    rows = [r for r in GPU_ROWS if gpu_row_id(r) in wanted]
  for row in rows:
    elapsed = time.perf_counter() - t_start
    if longest and elapsed + 1.25 * longest > budget:
      table.add("skipped", f"{gpu_row_id(row)}: --budget_s={budget:.0f} (elapsed "
                f"{elapsed:.0f} s, longest row {longest:.0f} s)", "skipped", "")
      continue
    t0 = time.perf_counter()
    run_gpu_row(table, settings, cache, row, args.gpu_conv_grads, args.quick)
    longest = max(longest, time.perf_counter() - t0)


def _source_note(source):
  return " (analytic FLOPs)" if source == "analytic" else ""


def loader_config(settings, image_size, batch_size, split, workers, data_dir):
  return ml_collections.ConfigDict({
      "seed": 0, "batch_size": batch_size, "image_size": tuple(image_size),
      "data": {"dataset": settings["dataset"], "train_split": split, "data_dir": data_dir,
               "manual_dir": None, "num_workers": workers, "worker_buffer_size": 2,
               "flip": True, "placement": "host"}})  # the Grain path


def _parse_absl_flags():
  """Grain's worker processes read absl flags, which this argparse script does not parse."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  if not flags.FLAGS.is_parsed():
    flags.FLAGS([sys.argv[0]])


def bench_loader(table: Table, settings, data_dir):
  _parse_absl_flags()
  for image_size, batch_size, split in settings["loader"]:
    name = f"{image_size[0]}x{image_size[1]}"
    best = 0.0
    for workers in settings["loader_workers"]:
      config = loader_config(settings, image_size, batch_size, split, workers, data_dir)
      iterator = input_pipeline.create_train_iterator(config, 0, 1, 1)
      t0 = time.perf_counter()
      next(iterator)  # worker start-up and first reads
      startup_s = time.perf_counter() - t0
      num_batches = max(2, settings["loader_examples"] // batch_size)
      t0 = time.perf_counter()  # one interval: Grain prefetches, per-batch times are not iid
      for _ in range(num_batches):
        batch = next(iterator)
      seconds = time.perf_counter() - t0
      assert batch["ldr"].shape == (1, batch_size, *image_size, 3), batch["ldr"].shape
      del iterator, batch
      gc.collect()
      rate = num_batches * batch_size / seconds
      best = max(best, rate)
      table.add("loader", f"{settings['dataset']}:{split} {name} batch {batch_size} "
                f"workers {workers} (first batch {startup_s:.1f} s)", rate, "ex/s",
                runs=num_batches)
      table.headline[f"loader_{name}_w{workers}_ex_s"] = rate
    table.headline[f"loader_{name}_ex_s"] = best
    consumption = table.headline.get(f"train_joint_{name}_img_s")
    if consumption:
      ratio = best / consumption
      table.add("loader / joint step", f"{name}: best loader ex/s over joint img/s", ratio,
                "x")
      table.headline[f"loader_{name}_vs_joint"] = ratio


def _pipeline_iterator(settings, config, data_dir):
  config.data.dataset, config.data.data_dir = settings["dataset"], data_dir
  config.data.placement, config.data.num_workers = "device", 0
  return input_pipeline.create_train_iterator(config, 0, 1, 1)


def bench_pipeline(table: Table, settings, cache: Models, data_dir):
  """The `pipeline` rows (module docstring): recipe ms/example, step-only vs end to end."""
  steps = settings["pipeline_steps"]
  for image_size, batch_size in settings["pipeline_recipe"]:
    name = f"{image_size[0]}x{image_size[1]}"
    iterator = _pipeline_iterator(settings, bench_config("joint", settings, image_size,
                                                         batch_size), data_dir)
    jax.block_until_ready(next(iterator))  # compiles the recipe
    reps = max(steps, 4)
    t0 = time.perf_counter()
    for _ in range(reps):
      jax.block_until_ready(next(iterator))
    ms = (time.perf_counter() - t0) / (reps * batch_size) * 1e3
    table.add("pipeline recipe", f"{settings['dataset']} {name} batch {batch_size}, on the "
              f"{jax.default_backend()}", ms, "ms/example", runs=reps)
    table.headline[f"recipe_{name}_ms_per_ex"] = ms
    del iterator

  for image_size, batch_size in settings["pipeline"]:
    name = f"{image_size[0]}x{image_size[1]}"
    config = bench_config("joint", settings, image_size, batch_size)
    iterator = _pipeline_iterator(settings, config, data_dir)
    plan = train_lib.plan_stages(config)
    _, host_state, _ = cache.get(config, table)
    model = models.create_model(config.model, axis_name=train_lib.AXIS)
    tx = train_lib.stage_optimizer(config, plan[0], host_state.params)
    state = flax.jax_utils.replicate(host_state.replace(opt_state=tx.init(host_state.params)))
    p_step = train_lib.make_p_train_step(model, tx, plan[0])
    batches = [next(iterator) for _ in range(steps)]  # step-only input: made beforehand
    state, out = p_step(state, batches[0])  # compiles the step
    jax.block_until_ready((state, out, batches))
    rates = {"step": [], "e2e": []}
    for _ in range(3):  # alternating rounds, medians: a shared machine's load drifts
      t0 = time.perf_counter()
      for batch in batches:
        state, out = p_step(state, batch)
      jax.block_until_ready((state, out))
      rates["step"].append(steps * batch_size / (time.perf_counter() - t0))
      t0 = time.perf_counter()
      for _ in range(steps):  # train_lib.train_and_evaluate's loop body
        state, out = p_step(state, next(iterator))
      jax.block_until_ready((state, out))
      rates["e2e"].append(steps * batch_size / (time.perf_counter() - t0))
    step_only, end_to_end = (statistics.median(rates[k]) for k in ("step", "e2e"))
    if not np.isfinite(float(out["loss"][0])):
      raise FloatingPointError("bench/run.py: pipeline step loss is not finite")
    label = f"joint {name} batch {batch_size} width {settings['width']}"
    table.add("pipeline step only", label + f", {steps} batches made beforehand, median of 3 "
              f"rounds", step_only, "img/s", runs=3)
    table.add("pipeline end to end", label + f", next(iterator) + step, median of 3 rounds",
              end_to_end, "img/s", runs=3)
    table.add("pipeline e2e / step", f"{name}: end to end over step-only",
              end_to_end / step_only, "x")
    table.headline[f"pipeline_{name}_step_img_s"] = step_only
    table.headline[f"pipeline_{name}_e2e_img_s"] = end_to_end
    table.headline[f"pipeline_{name}_e2e_vs_step"] = end_to_end / step_only
    del iterator, state, batches
    gc.collect()


# --- Report ---------------------------------------------------------------------------------


def cpu_model() -> str:
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  import platform  # pylint: disable=g-import-not-at-top
  return platform.processor() or "unknown"


def git_revision() -> str:
  try:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                          capture_output=True, timeout=10).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                           text=True, capture_output=True, timeout=10).stdout.strip()
    return (head or "unknown") + (" (uncommitted changes)" if dirty else "")
  except (OSError, subprocess.SubprocessError):
    return "unknown"


def machine_header(date: str, mode: str, load_start: float) -> list:
  """Markdown bullet lines: date, command, CPU, cores, device, versions, git, load. The
  machine counts as busy if the 1-minute load average before the run exceeded half the
  usable cores."""
  cores = len(os.sched_getaffinity(0))
  cache_dir = jax.config.jax_compilation_cache_dir
  cache = (f"on ({cache_dir})" if jax.config.jax_enable_compilation_cache and cache_dir
           else "off")
  return [
      f"- date: {date}",
      f"- command: `{shlex.join(['python'] + sys.argv)}` ({mode} mode)",
      f"- CPU: {cpu_model()}; os.cpu_count() = {os.cpu_count()}, usable cores "
      f"(sched_getaffinity) = {cores}",
      f"- device: {jax.devices()[0].platform} / {jax.devices()[0].device_kind} "
      f"x {jax.device_count()}",
      f"- JAX {jax.__version__}, jaxlib {jaxlib.__version__}; persistent compilation cache: "
      f"{cache}",
      f"- git: {git_revision()}",
      f"- load average (1 min) at start: {load_start:.2f}, at end: {os.getloadavg()[0]:.2f}"
      + (" -- BUSY MACHINE: other processes were running, times are pessimistic"
         if load_start > 0.5 * cores else ""),
  ]


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--quick", action="store_true",
                      help="tiny settings (width 0.125, batch 2, 64x128, no 12 MP): < ~90 s")
  parser.add_argument("--only", default=",".join(SECTIONS),
                      help=f"comma-separated subset of {','.join(SECTIONS)}")
  parser.add_argument("--no-append", action="store_true",
                      help=f"do not append to {os.path.relpath(RESULTS, REPO)}")
  parser.add_argument("--data_dir", default=None,
                      help="TFDS data_dir for the loader rows (default: ~/tensorflow_datasets "
                           "in full mode; quick mode renders rendered/tiny into a temp dir)")
  parser.add_argument("--steps", type=int, default=None,
                      help="timed training steps (default 3 full, 2 quick)")
  parser.add_argument("--gpu-only", "--gpu_only", dest="gpu_only", action="store_true",
                      help="only the GPU rows (needs a GPU, or --quick for their tiny form)")
  parser.add_argument("--budget_s", type=float, default=None,
                      help="GPU rows: start no row that would end past this many seconds "
                           "(default 130; quick 600)")
  parser.add_argument("--gpu_conv_grads", default="xla", choices=("xla", "im2col"),
                      help="model.conv_grads of the GPU rows (one im2col row runs anyway)")
  parser.add_argument("--gpu_rows", default=None,
                      help="GPU rows to run, comma-separated ids (default: all, in order): "
                           + ", ".join(gpu_row_id(r) for r in GPU_ROWS))
  parser.add_argument("--child_row", default=None, help=argparse.SUPPRESS)
  parser.add_argument("--deterministic", action="store_true", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.gpu_only:
    args.only = "gpu"
  args.only = [s.strip() for s in args.only.split(",") if s.strip()]
  unknown = [s for s in args.only if s not in SECTIONS]
  if unknown or not args.only:
    parser.error(f"--only: unknown section(s) {unknown}; choose from {','.join(SECTIONS)}")
  return args


def main(argv=None):
  args = parse_args(sys.argv[1:] if argv is None else argv)
  if args.deterministic:  # before the first JAX computation (XLA reads it at start-up)
    preflight.apply_xla_flags(ml_collections.ConfigDict({"deterministic": True}))
  allocator.keep_freed_memory()  # before the first JAX computation, as train.py does
  settings = dict(QUICK if args.quick else FULL)
  if args.gpu_only:
    if not args.quick and jax.default_backend() != "gpu":
      sys.exit(f"bench/run.py: --gpu-only needs a GPU (the device is "
               f"{jax.default_backend()}); --gpu-only --quick runs the same rows at tiny "
               "sizes anywhere")
  if args.steps is not None:
    settings["timed_steps"] = max(1, args.steps)
  mode = ("gpu-quick" if args.quick else "gpu") if args.gpu_only else (
      "quick" if args.quick else "full")
  if not args.quick:  # real compile times, not persistent-cache loads
    jax.config.update("jax_enable_compilation_cache", False)
  load_start = os.getloadavg()[0]
  date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
  print(f"bench/run.py ({mode}): {', '.join(args.only)}", file=sys.stderr, flush=True)

  table, cache = Table(), Models()
  t_start = time.perf_counter()
  if "matmul" in args.only:
    bench_matmul(table, settings)
  if "train" in args.only:
    bench_train(table, settings, cache)
  if "infer" in args.only:
    bench_infer(table, settings, cache)
  if "gpu" in args.only and (args.gpu_only or jax.default_backend() == "gpu"):
    bench_gpu(table, cache, args)
  if "loader" in args.only or "pipeline" in args.only:
    with tempfile.TemporaryDirectory(prefix="bench_tfds_") as tmp:
      data_dir = args.data_dir or (tmp if args.quick else None)
      with contextlib.redirect_stdout(sys.stderr):  # TFDS prints progress to stdout
        input_pipeline.prepare(settings["dataset"], data_dir)  # (built only if missing)
        if "loader" in args.only:
          bench_loader(table, settings, data_dir)
        if "pipeline" in args.only:
          bench_pipeline(table, settings, cache, data_dir)

  own, children = peak_rss_gib()
  table.add("memory", "peak host RSS, this process", own, "GiB")
  table.headline["peak_rss_gib"] = own
  if "loader" in args.only and max(settings["loader_workers"]) > 0:
    table.add("memory", "peak host RSS, largest loader worker", children, "GiB")
    table.headline["peak_rss_children_gib"] = children
  device_peak = device_peak_gib()
  if device_peak is not None:
    table.add("memory", "peak device memory", device_peak, "GiB")
    table.headline["device_peak_gib"] = device_peak
  table.headline["total_s"] = time.perf_counter() - t_start

  report = "\n".join(
      [f"## {date}, {mode} mode", ""] + machine_header(date, mode, load_start)
      + ["", table.markdown(), "",
         "Headline: `" + json.dumps(_rounded(table.headline)) + "`", ""])
  print(report)
  if not args.no_append:
    new = not os.path.exists(RESULTS)
    with open(RESULTS, "a") as f:
      if new:
        f.write("# Benchmark results\n\nAppended by `python bench/run.py` (see bench/README.md); "
                "do not edit numbers by hand.\n\n")
      f.write(report + "\n")
    print(f"appended to {RESULTS}", file=sys.stderr)
  print(json.dumps(_rounded(table.headline)), flush=True)
  return 0


def _rounded(headline: dict) -> dict:
  return {k: float(f"{v:.4g}") for k, v in headline.items()}


if __name__ == "__main__":
  sys.exit(main())
