"""Where DRHT still loses, per image (issue 17, item 6): the real inputs on which DRHT's PSNR falls
furthest below the best other method's, with a picture of them.

    python experiments/worst_cases.py --workdir=pretrained --dataset=exposure_stacks \
        --split=test --manual_dir=/work/shared/data --output=docs/worst_real.png

Reads `<workdir>/eval/<dataset>-<split>/per_image.csv` (written by `eval.py --baselines=all`),
ranks the images by DRHT's PSNR minus the best other method's on that image (the input as is
counts as a method), prints the `--count` worst as a markdown table (DRHT's and that method's
PSNR / SSIM) and draws them: input | DRHT | the best other method | the reference, each fitted
into a `--cell` box.
"""

import argparse
import collections
import csv
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from drht_jax import checkpointing, evaluate, inference  # noqa: E402
from drht_jax import input_pipeline, visualize  # noqa: E402
from drht_jax import methods as methods_lib  # noqa: E402


def read_scores(path):
  """per_image.csv -> {image id: {method: (psnr, ssim)}}."""
  scores = collections.defaultdict(dict)
  with open(path, newline="") as f:
    for row in csv.DictReader(f):
      scores[row["id"]][row["method"]] = (float(row["psnr"]), float(row["ssim"]))
  return scores


def worst(scores, count):
  """The `count` ids with the lowest DRHT PSNR minus the best other method's:
  [(id, drht (psnr, ssim), best name, best (psnr, ssim))], worst first."""
  ranked = []
  for ident, methods in scores.items():
    others = {m: v for m, v in methods.items() if m != methods_lib.DRHT}
    if methods_lib.DRHT not in methods or not others:
      continue
    best = max(others, key=lambda m: others[m][0])
    ranked.append((methods[methods_lib.DRHT][0] - others[best][0], ident,
                   methods[methods_lib.DRHT], best, others[best]))
  ranked.sort()
  return [(ident, drht, best, score) for _, ident, drht, best, score in ranked[:count]]


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--workdir", default="pretrained")
  parser.add_argument("--dataset", default="exposure_stacks")
  parser.add_argument("--split", default="test")
  parser.add_argument("--manual_dir", default=None)
  parser.add_argument("--count", type=int, default=5)
  parser.add_argument("--cell", type=int, nargs=2, default=(192, 288), metavar=("H", "W"))
  parser.add_argument("--output", default="docs/worst_real.png")
  args = parser.parse_args(argv)
  csv_path = os.path.join(evaluate.report_dir(args.workdir, args.dataset, args.split),
                          "per_image.csv")
  if not os.path.isfile(csv_path):
    raise SystemExit(f"error: {csv_path} not found; run `python eval.py --workdir={args.workdir} "
                     f"--dataset={args.dataset} --split={args.split} --baselines=all` first")
  cases = worst(read_scores(csv_path), args.count)
  print("| image | DRHT PSNR / SSIM | best other method | its PSNR / SSIM |")
  print("|---|---|---|---|")
  for ident, drht, best, score in cases:
    print(f"| {ident} | {drht[0]:.2f} / {drht[1]:.3f} | {best} | {score[0]:.2f} / {score[1]:.3f} |")
  wanted = {ident: (best,) for ident, _, best, _ in cases}
  config, model, variables, _ = checkpointing.restore_for_inference(args.workdir)
  data = config.data.copy_and_resolve_references()
  with data.unlocked():
    data.dataset = args.dataset
    if args.manual_dir:
      data.manual_dir = args.manual_dir
  rows = {}
  for example in input_pipeline.eval_examples(data, args.split):
    if example["id"] not in wanted:
      continue
    ldr = example["ldr"]
    drht, radiance = inference.correct_batch(model, variables, [ldr])
    name = wanted[example["id"]][0]
    best = (drht[0] if name == methods_lib.DRHT
            else methods_lib.get(name).apply(ldr, radiance[0]))
    cells = (ldr, drht[0], best, example["ldr_gt"])
    rows[example["id"]] = [visualize.fit_box(x, *args.cell) for x in cells]
  columns = [np.stack([rows[ident][j] for ident, *_ in cases]) for j in range(4)]
  visualize.save_grid(args.output, columns)
  print(f"wrote {args.output}: rows worst first; columns input | DRHT | best other method | "
        f"reference")


if __name__ == "__main__":
  main()
