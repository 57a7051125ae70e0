"""The GPU rows of bench/run.py (`--gpu-only`, or `--only=gpu` on a GPU).

GPU-sized rows in priority order (`GPU_ROWS`), each skipped once `--budget_s` would be
overrun: `joint` training at 64x128 batch 128 and 256x512 batch 16, `model.apply` inference at
256x512 batch 8, each in float32 and bfloat16 (`model.dtype`: float32 parameters, bfloat16
compute); the 64x128 float32 step again with `config.deterministic` (a child process: XLA reads
its flags at start-up) and with `conv_grads=im2col`; a bfloat16 matmul row for `% matmul` of
the bfloat16 rows. Memory per row: XLA's `memory_analysis()` of the executable (arguments +
outputs + temporaries) and the device's `peak_bytes_in_use` so far. `--quick` runs the same
rows at tiny sizes (bench/settings.py `GPU_QUICK`) on any device.
"""

import gc
import json
import os
import subprocess
import sys
import time

from bench import measure
from bench import rows
from bench import settings as bench_settings
from bench import steps
from drht_jax import preflight

RUN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run.py")

# (kind, stage, (H, W), batch, dtype, variant) in priority order; `variant`: None (the
# config's conv_grads from `--gpu_conv_grads`), "deterministic" (a child process with
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


def gpu_row_id(row) -> str:
  """The row's name in `--gpu_rows` and in its headline keys `gpu_<id>_*`."""
  kind, stage, (h, w), batch, dtype, variant = row
  return f"{kind}_{stage}_{h}x{w}_b{batch}_{dtype}" + (f"_{variant}" if variant else "")


def gpu_row_settings(row, settings):
  """(image size, batch) of a GPU row under `settings` (tiny ones in quick mode)."""
  _, _, (h, w), batch, _, _ = row
  if settings["tiny"]:
    h, w = max(32, h // 4 // 32 * 32), max(64, w // 4 // 32 * 32)
    batch = max(1, batch // 16)
  return (h, w), batch


def run_gpu_row(table, settings, cache: steps.Models, row, conv_grads: str, quick: bool):
  """One GPU row; headline keys `gpu_<row id>_*`. The deterministic variant runs in a child
  process (XLA reads XLA_FLAGS once, when the backend starts)."""
  kind, stage, _, _, dtype, variant = row
  size, batch = gpu_row_settings(row, settings)
  key = "gpu_" + gpu_row_id(row)
  label = (f"{size[0]}x{size[1]} batch {batch} width {settings['width']} {dtype}"
           + (f" {variant}" if variant else "")
           + f" conv_grads={'im2col' if variant == 'im2col' else conv_grads}")
  if variant == "deterministic":
    child = [sys.executable, RUN, "--gpu-only", "--no-append",
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
  config = steps.bench_config(stage, settings, size, batch)
  config.model.dtype = dtype
  config.model.conv_grads = "im2col" if variant == "im2col" else conv_grads
  if kind == "train":
    out = steps.train_row(table, settings, cache, config, label)
    table.headline[key + "_img_s"] = out["img_s"]
  else:
    out = steps.infer_row(table, settings, cache, config, batch, settings["infer_reps"], label)
    table.headline[key + "_ms"] = out["ms"]
  table.headline[key + "_compile_s"] = out["compile_s"]
  if out["pct_matmul"] is not None:
    table.headline[key + "_pct_matmul"] = out["pct_matmul"]
  if out["gib"] is not None:
    table.headline[key + "_gib"] = out["gib"]
  peak = measure.device_peak_gib()
  if peak is not None:
    table.headline[key + "_device_peak_gib"] = peak  # the process's peak so far
  gc.collect()


def bench_gpu(table, cache: steps.Models, args):
  """GPU_ROWS (those named by --gpu_rows, default all) in order within the time budget
  (module doc), counted from this call. `args`: bench/run.py's parsed flags."""
  t_start = time.perf_counter()
  settings = dict(bench_settings.GPU_QUICK if args.quick else bench_settings.GPU_FULL)
  if args.steps is not None:
    settings["timed_steps"] = max(1, args.steps)
  if args.child_row:
    selected = [r for r in GPU_ROWS if gpu_row_id(r) == args.child_row]
    if not selected:
      raise SystemExit(f"bench/run.py: unknown --child_row {args.child_row}")
    run_gpu_row(table, settings, cache, selected[0][:5] + (None,), args.gpu_conv_grads,
                args.quick)
    key = "gpu_" + gpu_row_id(selected[0][:5] + (None,))
    for k in [k for k in table.headline if k.startswith(key)]:  # report under the row's id
      table.headline["gpu_" + args.child_row + k[len(key):]] = table.headline.pop(k)
    return
  budget = args.budget_s if args.budget_s is not None else settings["budget_s"]
  for dtype in ("float32", "bfloat16"):
    rows.bench_matmul(table, settings, dtype)
  longest = 0.0
  selected = GPU_ROWS
  if args.gpu_rows:
    wanted = [r.strip() for r in args.gpu_rows.split(",") if r.strip()]
    unknown = set(wanted) - {gpu_row_id(r) for r in GPU_ROWS}
    if unknown:
      raise SystemExit(f"bench/run.py: --gpu_rows: unknown {sorted(unknown)}; rows: "
                       + ", ".join(gpu_row_id(r) for r in GPU_ROWS))
    selected = [r for r in GPU_ROWS if gpu_row_id(r) in wanted]
  for row in selected:
    elapsed = time.perf_counter() - t_start
    if longest and elapsed + 1.25 * longest > budget:
      table.add("skipped", f"{gpu_row_id(row)}: --budget_s={budget:.0f} (elapsed "
                f"{elapsed:.0f} s, longest row {longest:.0f} s)", "skipped", "")
      continue
    t0 = time.perf_counter()
    run_gpu_row(table, settings, cache, row, args.gpu_conv_grads, args.quick)
    longest = max(longest, time.perf_counter() - t0)
