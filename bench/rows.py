"""The model rows of bench/run.py: matmul (the reference rate), train, infer, and memory.

  matmul  `jnp.dot` of two n x n matrices (jitted), GFLOP/s = 2 n^3 / median time: the
          machine's reference rate that the model rows are compared with (`% matmul`).
  train   one training step of stage `hdr` / `joint` (bench/steps.py `train_row`) on
          synthetic batches; images/s from the median of timed steps after warm-up; compile
          time separately; GFLOP/step of the plain formulation.
  infer   eval-mode `model.apply` on one 256x512 image (ms, GFLOP/s, % matmul); full mode adds
          `inference.correct` on a 1-megapixel (1024x1024) and a 12-megapixel (3000x4000)
          photo (seconds per photo, compile time measured separately and excluded).
  memory  peak host RSS of this process (`ru_maxrss`) and of its largest finished child
          (Grain workers); peak device memory where the device reports it (GPUs).
"""

import gc
import time

import jax
import jax.numpy as jnp
import numpy as np

from bench import measure
from bench import steps
from drht_jax import inference


def bench_matmul(table, settings, dtype="float32"):
  """`% matmul` reference of `dtype`'s rows (float32: the default precision of `jnp.dot`)."""
  n, reps = settings["matmul_n"], settings["matmul_reps"]
  rng = np.random.default_rng(0)
  a = jnp.asarray(rng.standard_normal((n, n), np.float32), dtype)
  b = jnp.asarray(rng.standard_normal((n, n), np.float32), dtype)
  t0 = time.perf_counter()
  dot = jax.jit(jnp.dot).lower(a, b).compile()
  compile_s = time.perf_counter() - t0
  seconds, times = measure.timed(lambda: dot(a, b).block_until_ready(), reps)
  gflop = 2.0 * n ** 3 / 1e9
  table.matmul[dtype] = gflop / seconds
  table.add("matmul", f"{dtype} {n}x{n}", gflop / seconds, "GFLOP/s", compile_s, gflop,
            seconds, times, dtype=dtype)
  table.headline["matmul_gflops" if dtype == "float32" else f"matmul_{dtype}_gflops"] = (
      gflop / seconds)


def bench_train(table, settings, cache: steps.Models):
  """`hdr` and `joint` steps at each of `settings["train"]`'s (size, batch)."""
  for image_size, batch_size in settings["train"]:
    for stage_name in ("hdr", "joint"):
      config = steps.bench_config(stage_name, settings, image_size, batch_size)
      name = f"{image_size[0]}x{image_size[1]}"
      row = steps.train_row(table, settings, cache, config,
                            f"{name} batch {batch_size} width {settings['width']}")
      table.headline[f"train_{stage_name}_{name}_img_s"] = row["img_s"]
      table.headline[f"train_{stage_name}_{name}_compile_s"] = row["compile_s"]
      if row["pct_matmul"] is not None:
        table.headline[f"train_{stage_name}_{name}_pct_matmul"] = row["pct_matmul"]


def bench_infer(table, settings, cache: steps.Models):
  """`model.apply` on one image, then `inference.correct` on each of `settings["photos"]`."""
  config = steps.bench_config("joint", settings, settings["infer_size"], 1)
  height, width = settings["infer_size"]
  name = f"{height}x{width}"
  row = steps.infer_row(table, settings, cache, config, 1, settings["infer_reps"],
                        f"{name} batch 1 width {settings['width']}")
  model, variables = row["model"], row["variables"]
  table.headline[f"infer_{name}_ms"] = row["ms"]
  if row["pct_matmul"] is not None:
    table.headline[f"infer_{name}_pct_matmul"] = row["pct_matmul"]

  for label, (h, w) in settings["photos"]:
    photo = np.random.default_rng(2).uniform(0, 1, (h, w, 3)).astype(np.float32)
    inference.clear_cache()
    with measure.CompileTimer() as compile_timer:
      t0 = time.perf_counter()
      inference.correct(model, variables, photo, mode="full")   # the whole photo through the
      first_s = time.perf_counter() - t0                        # nets; guided: bench/photo.py
    reps = settings["photo_reps"] if label != "12mp" else 0
    if reps:
      seconds, times = measure.timed(
          lambda: inference.correct(model, variables, photo, mode="full"), reps, 0)
    else:  # minutes a call on a small CPU: one cold call, compile time subtracted
      seconds, times = first_s - compile_timer.seconds, [first_s]
    table.add("infer correct", f"{h}x{w} ({h * w / 1e6:.1f} MP) width {settings['width']}",
              seconds, "s/photo", compile_timer.seconds, None, None, times)
    table.headline[f"infer_{label}_s"] = seconds
    inference.clear_cache()
    gc.collect()


def bench_memory(table, loader_workers: bool):
  """Peak memory rows, at the end of the run; `loader_workers`: the loader rows started
  worker processes (their peak is the largest child's)."""
  own, children = measure.peak_rss_gib()
  table.add("memory", "peak host RSS, this process", own, "GiB")
  table.headline["peak_rss_gib"] = own
  if loader_workers:
    table.add("memory", "peak host RSS, largest loader worker", children, "GiB")
    table.headline["peak_rss_children_gib"] = children
  device_peak = measure.device_peak_gib()
  if device_peak is not None:
    table.add("memory", "peak device memory", device_peak, "GiB")
    table.headline["device_peak_gib"] = device_peak
