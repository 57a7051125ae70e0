"""Recompute a trained model's BatchNorm statistics over many training batches ("precise BN").

The models' BatchNorm keeps running statistics with momentum 0.9, so a checkpoint's statistics
are an average over its last ~10 batches: at batch 4, ~40 training images. This script runs the
model in training mode (every BatchNorm normalising with its batch's own statistics, as in
training) over `--batches` batches of the run's own training mixture, drawn with a seed the run
did not use, recovers each batch's mean and variance from the momentum update, averages them
(Wu & Johnson's PreciseBN, "Rethinking 'Batch' in BatchNorm", 2021) and writes an exported
workdir with the same parameters and the averaged statistics. No test image is read.
`--stats_from=WORKDIR[@STEP]` instead takes another checkpoint's statistics as they are.

    python experiments/precise_bn.py --workdir=runs/v3_long --output=runs/v3_long_pbn \
        [--batches=200] [--seed_offset=1000] [--only_source=exposure_stacks] [--step=N]
    python experiments/precise_bn.py --workdir=runs/v3_long --output=runs/swap \
        --stats_from=runs/v3_long@1250

Measured: docs/ablations.md, "BatchNorm statistics".
"""

import argparse
import os
import sys

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from drht_jax import export  # pylint: disable=g-import-not-at-top,wrong-import-position
from drht_jax import input_pipeline  # pylint: disable=g-import-not-at-top,wrong-import-position
from drht_jax import models  # pylint: disable=g-import-not-at-top,wrong-import-position

MOMENTUM = 0.9  # drht_jax/models.py's BatchNorm momentum


def batch_statistics(model, variables, ldr):
  """-> the batch's own per-layer {'mean', 'var'} tree for `ldr` `[B, H, W, 3]` in [0, 1]."""
  _, updates = model.apply(variables, ldr, train=True, mutable=["batch_stats"])
  return jax.tree_util.tree_map(lambda new, old: (new - MOMENTUM * old) / (1.0 - MOMENTUM),
                                updates["batch_stats"], variables["batch_stats"])


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--output", required=True)
  parser.add_argument("--step", type=int, default=None)
  parser.add_argument("--batches", type=int, default=200)
  parser.add_argument("--seed_offset", type=int, default=1000)
  parser.add_argument("--only_source", default="",
                      help="draw every batch from this one source of the mixture (e.g. "
                           "exposure_stacks) instead of the run's mixture")
  parser.add_argument("--stats_from", default="",
                      help="WORKDIR[@STEP]: copy that checkpoint's statistics, compute none")
  args = parser.parse_args(argv)

  config, variables, step = export.load(args.workdir, args.step)
  if args.stats_from:
    path, _, other_step = args.stats_from.partition("@")
    _, other, _ = export.load(path, int(other_step) if other_step else None)
    new = export.to_host({"params": variables["params"], "batch_stats": other["batch_stats"]})
    return _write(args.output, config, new, step, f"statistics of {args.stats_from}")
  model, variables = models.create_model(config.model), jax.device_put(variables)
  draw = config.copy_and_resolve_references()
  with draw.unlocked():
    draw.seed = config.seed + args.seed_offset
    if args.only_source:
      source = draw.data.mixture[args.only_source]
      for key, value in source.items():
        if key != "share":
          draw.data[key] = value
      draw.data.mixture = {}
  batches = input_pipeline.create_train_iterator(draw)
  stats_fn = jax.jit(lambda v, x: batch_statistics(model, v, x))
  total = None
  for i in range(args.batches):
    batch = next(batches)
    ldr = jnp.reshape(batch["ldr"], (-1,) + tuple(batch["ldr"].shape[-3:]))
    stats = stats_fn(variables, ldr)
    total = stats if total is None else jax.tree_util.tree_map(jnp.add, total, stats)
    if (i + 1) % 50 == 0:
      print(f"{i + 1}/{args.batches} batches", flush=True)
  mean_stats = jax.tree_util.tree_map(lambda t, old: (t / args.batches).astype(old.dtype),
                                      total, variables["batch_stats"])
  new = export.to_host({"params": variables["params"], "batch_stats": mean_stats})
  return _write(args.output, config, new, step, f"BatchNorm statistics over {args.batches} "
                f"batches of {draw.batch_size} (seed {draw.seed})")


def _write(output, config, variables, step, what):
  """Exports `variables` (host arrays) with `config` as the inference-only workdir `output`."""
  export.write_workdir(output, config, variables, step)
  print(f"wrote {output}: step {step}, {what}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
