"""Speed benchmarks (docs/measure.md, "Speed"): one table, appended to bench/RESULTS.md.

    python bench/run.py                      # full: paper-size model, ~20-30 min on 2 CPU cores
    python bench/run.py --quick              # same code paths, tiny settings, < ~90 s (CI)
    python bench/run.py --only=matmul,infer  # a subset: matmul, train, infer, loader, pipeline
    python bench/run.py --quick --no-append  # print only, RESULTS.md untouched
    python bench/run.py --gpu-only           # GPU-sized rows only, within --budget_s (GPU)
    python bench/run.py --gpu-only --quick   # the same code paths at tiny sizes (any device)

This file is the command line: flags, then the row families in order. The rows live in
  bench/rows.py       matmul (the `% matmul` reference), train, infer, memory;
  bench/data_rows.py  loader (Grain examples/s), pipeline (device recipe, step vs end to end);
  bench/gpu_rows.py   gpu: GPU-sized rows within a time budget;
built on bench/steps.py (the timed training step and forward pass), bench/measure.py (timers,
XLA's FLOP and memory counts) and bench/flops.py (analytic FLOPs), with the sizes of each mode
in bench/settings.py; bench/report.py renders the table and bench/machine.py its header.

The last stdout line is one JSON object of headline figures (keys listed in bench/README.md).
Full mode turns JAX's persistent compilation cache off so compile times are real; quick mode
uses it when `JAX_COMPILATION_CACHE_DIR` is set (the tests set it).
"""

import argparse
import contextlib
import datetime
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import ml_collections  # pylint: disable=g-import-not-at-top,wrong-import-position

from bench import data_rows  # pylint: disable=g-import-not-at-top,wrong-import-position
from bench import gpu_rows  # pylint: disable=g-import-not-at-top,wrong-import-position
from bench import machine  # pylint: disable=g-import-not-at-top,wrong-import-position
from bench import report  # pylint: disable=g-import-not-at-top,wrong-import-position
from bench import rows  # pylint: disable=g-import-not-at-top,wrong-import-position
from bench import settings as bench_settings  # pylint: disable=g-import-not-at-top,wrong-import-position
from bench import steps  # pylint: disable=g-import-not-at-top,wrong-import-position
from drht_jax import allocator  # pylint: disable=g-import-not-at-top,wrong-import-position
from drht_jax import input_pipeline  # pylint: disable=g-import-not-at-top,wrong-import-position
from drht_jax import preflight  # pylint: disable=g-import-not-at-top,wrong-import-position

SECTIONS = ("matmul", "train", "infer", "loader", "pipeline", "gpu")


def parse_args(argv):
  """bench/run.py's flags; `--gpu-only` means `--only=gpu`, `.only` becomes a list."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--quick", action="store_true",
                      help="tiny settings (width 0.125, batch 2, 64x128, no 12 MP): < ~90 s")
  parser.add_argument("--only", default=",".join(SECTIONS),
                      help=f"comma-separated subset of {','.join(SECTIONS)}")
  parser.add_argument("--no-append", action="store_true",
                      help=f"do not append to {os.path.relpath(report.RESULTS, REPO)}")
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
                           + ", ".join(gpu_rows.gpu_row_id(r) for r in gpu_rows.GPU_ROWS))
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
  settings = dict(bench_settings.QUICK if args.quick else bench_settings.FULL)
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

  table, cache = report.Table(), steps.Models()
  t_start = time.perf_counter()
  if "matmul" in args.only:
    rows.bench_matmul(table, settings)
  if "train" in args.only:
    rows.bench_train(table, settings, cache)
  if "infer" in args.only:
    rows.bench_infer(table, settings, cache)
  if "gpu" in args.only and (args.gpu_only or jax.default_backend() == "gpu"):
    gpu_rows.bench_gpu(table, cache, args)
  if "loader" in args.only or "pipeline" in args.only:
    with tempfile.TemporaryDirectory(prefix="bench_tfds_") as tmp:
      data_dir = args.data_dir or (tmp if args.quick else None)
      with contextlib.redirect_stdout(sys.stderr):  # TFDS prints progress to stdout
        input_pipeline.prepare(settings["dataset"], data_dir)  # (built only if missing)
        if "loader" in args.only:
          data_rows.bench_loader(table, settings, data_dir)
        if "pipeline" in args.only:
          data_rows.bench_pipeline(table, settings, cache, data_dir)
  rows.bench_memory(table, "loader" in args.only and max(settings["loader_workers"]) > 0)
  table.headline["total_s"] = time.perf_counter() - t_start

  text = report.section(date, mode, machine.machine_header(date, mode, load_start), table)
  print(text)
  if not args.no_append:
    report.append_results(text)
    print(f"appended to {report.RESULTS}", file=sys.stderr)
  print(report.headline_json(table), flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
