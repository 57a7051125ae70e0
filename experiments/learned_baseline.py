"""A learned method a user might pick instead: Zero-DCE (`methods.of_kind(methods.LEARNED)`) on
the real exposure stacks' test split, against the fused reference, next to the uncorrected input.

    python experiments/learned_baseline.py [--drht=pretrained] [--max_examples=N]

Reads the built TFDS data set `exposure_stacks` (`ldr` input frame, `ldr_gt` the stack's fused
reference, `direction` under/over), runs every method of kind `methods.LEARNED` (and, with
`--drht`, the released DRHT model through `drht_jax.load(...).correct`, default mode) on each
frame and prints one markdown table: mean PSNR / SSIM (`drht_jax.metrics.psnr`/`ssim`) over all
frames, the under-exposed and the over-exposed ones, and seconds per frame (warm, on whatever
the CPU is shared with).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app, flags
import ml_collections
import numpy as np

from drht_jax import input_pipeline, methods as methods_lib, metrics

flags.DEFINE_string("manual_dir", "/work/shared/data", "The data set's manual_dir.")
flags.DEFINE_string("data_dir", None, "TFDS data_dir (default: ~/tensorflow_datasets).")
flags.DEFINE_string("split", "test", "Split of exposure_stacks.")
flags.DEFINE_integer("max_examples", None, "Use at most this many frames.")
flags.DEFINE_string("drht", "", "Also measure this DRHT workdir/export (e.g. 'pretrained').")
FLAGS = flags.FLAGS


def measure(methods, examples):
  """methods: {name: fn}; examples: list of dicts. -> {name: {"psnr", "ssim", "sec", "dir"}}."""
  results = {}
  for name, fn in methods.items():
    fn(examples[0]["ldr"])   # compile / warm up outside the timing
    psnrs, ssims, seconds = [], [], 0.0
    for ex in examples:
      start = time.perf_counter()
      out = np.asarray(fn(ex["ldr"]), np.float32)
      seconds += time.perf_counter() - start
      psnrs.append(float(metrics.psnr(out, ex["ldr_gt"])))
      ssims.append(float(metrics.ssim(out, ex["ldr_gt"])))
    results[name] = dict(psnr=np.array(psnrs), ssim=np.array(ssims),
                         sec=seconds / len(examples),
                         dir=np.array([str(ex["direction"]) for ex in examples]))
  return results


def table(results, count):
  dirs = next(iter(results.values()))["dir"]
  n_under, n_over = int(np.sum(dirs == "under")), int(np.sum(dirs == "over"))
  lines = [f"| method | all ({count}): PSNR / SSIM | under ({n_under}) | over ({n_over}) | s/frame |",
           "|---|---|---|---|---|"]
  for name, r in results.items():
    cells = []
    for sel in (np.ones_like(dirs, bool), dirs == "under", dirs == "over"):
      cells.append(f"{r['psnr'][sel].mean():.2f} / {r['ssim'][sel].mean():.3f}"
                   if sel.any() else "-")
    lines.append(f"| {name} | " + " | ".join(cells) + f" | {r['sec']:.3f} |")
  return "\n".join(lines)


def main(argv):
  del argv
  cfg = ml_collections.ConfigDict(dict(dataset="exposure_stacks", manual_dir=FLAGS.manual_dir,
                                       data_dir=FLAGS.data_dir))
  examples = list(input_pipeline.eval_examples(cfg, FLAGS.split, FLAGS.max_examples))
  methods = {"input (uncorrected)": lambda x: x}
  if FLAGS.drht:
    import drht_jax  # pylint: disable=import-outside-toplevel
    model = drht_jax.load(FLAGS.drht)
    methods[f"DRHT ({FLAGS.drht}, default mode)"] = model.correct
  for method in methods_lib.of_kind(methods_lib.LEARNED):
    methods[f"{method.name} (neuro-low-light 0.1.0 weights)"] = method.fn
  results = measure(methods, examples)
  print(f"exposure_stacks:{FLAGS.split}, {len(examples)} frames, reference = fused stack (ldr_gt)\n")
  print(table(results, len(examples)))


if __name__ == "__main__":
  app.run(main)
