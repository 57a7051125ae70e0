"""Average the parameters and BatchNorm statistics of several checkpoints of one run.

Checkpoints of one run a few hundred steps apart lie in one basin, and their uniform average
(Polyak averaging after the fact; Izmailov et al.'s SWA, 2018) often scores above each of
them. With a stage trained with `batch_norm='frozen'` every checkpoint holds the same
statistics, so only the weights are averaged; with the paper's 'batch' mode the statistics
are averaged too, which is not the statistics of the averaged weights (precise_bn.py can
recompute them). Writes an exported workdir that eval.py reads. No test image is read: choose
the steps by validation.jsonl, not by the test split.

    python experiments/average_checkpoints.py --workdir=runs/v3_frozen --steps=1500,1750,2000 \
        --output=runs/v3_frozen_avg

Measured: docs/ablations.md, "Frozen BatchNorm statistics".
"""

import argparse
import os
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from drht_jax import export  # pylint: disable=g-import-not-at-top,wrong-import-position


def average(trees):
  """Uniform mean of pytrees of the same structure, each leaf in its own dtype."""
  return jax.tree_util.tree_map(
      lambda *leaves: np.mean(np.stack([np.asarray(l, np.float64) for l in leaves]), axis=0)
      .astype(np.asarray(leaves[0]).dtype), *trees)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--steps", required=True, help="comma-separated checkpoint steps")
  parser.add_argument("--output", required=True)
  args = parser.parse_args(argv)
  steps = [int(s) for s in args.steps.split(",") if s]
  if len(steps) < 2:
    parser.error(f"--steps={args.steps!r}: name at least two checkpoints to average")
  loaded = [export.load(args.workdir, step) for step in steps]
  config = loaded[0][0]
  mean = average([export.to_host(variables) for _, variables, _ in loaded])
  export.write_workdir(args.output, config, mean, max(steps))
  print(f"wrote {args.output}: mean of steps {steps} of {args.workdir}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
