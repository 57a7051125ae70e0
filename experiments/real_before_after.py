"""README's before/after figure on real exposures: real stacks the model never saw.

    python experiments/real_before_after.py --workdir=pretrained --manual_dir=/work/shared/data \
        --output=docs/real_before_after.png

One row per test stack of the `exposure_stacks` split (`--scenes`, default: the first `--count`
stacks that have both an under- and an over-exposed frame): the most under-exposed frame |
DRHT of it | the most over-exposed frame | DRHT of it | the stack's fused reference, each fitted
into a `--cell` box. DRHT runs as the photo tool does (`inference.correct`, `--mode`). PSNR /
SSIM against the fused reference are printed per image.
"""

import argparse
import collections
import os
import sys

import ml_collections
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from drht_jax import checkpointing, inference, input_pipeline, metrics, visualize  # noqa: E402


def stacks(data_config, split):
  """{scene: {"under": example, "over": example}}: each stack's frame furthest from its middle
  frame in each direction (examples of `input_pipeline.eval_examples`, ids
  `<split>/<scene>/<frame>`)."""
  out = collections.defaultdict(dict)
  for example in input_pipeline.eval_examples(data_config, split):
    scene = example["id"].split("/")[1]
    direction = example["direction"]
    brightness = float(np.mean(example["ldr"]))
    kept = out[scene].get(direction)
    darker = brightness < float(np.mean(kept["ldr"])) if kept is not None else True
    if kept is None or darker == (direction == "under"):
      out[scene][direction] = example
  return out


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--workdir", default="pretrained")
  parser.add_argument("--manual_dir", default=None)
  parser.add_argument("--split", default="test")
  parser.add_argument("--scenes", default="", help="comma list of stack names")
  parser.add_argument("--count", type=int, default=3)
  parser.add_argument("--mode", default=inference.DEFAULT_MODE, choices=inference.MODES)
  parser.add_argument("--cell", type=int, nargs=2, default=(160, 240), metavar=("H", "W"))
  parser.add_argument("--output", default="docs/real_before_after.png")
  args = parser.parse_args(argv)
  _, model, variables, step = checkpointing.restore_for_inference(args.workdir)
  data = ml_collections.ConfigDict(dict(dataset="exposure_stacks", data_dir=None,
                                        manual_dir=args.manual_dir))
  found = stacks(data, args.split)
  both = [s for s in sorted(found) if set(found[s]) == {"under", "over"}]
  names = [s for s in args.scenes.split(",") if s] or both[:args.count]
  missing = [s for s in names if s not in both]
  if missing:
    raise SystemExit(f"error: {missing}: not test stacks with both an under- and an over-exposed "
                     f"frame; those are {both}")
  rows = []
  print(f"{args.workdir} step {step}, mode {args.mode}; PSNR / SSIM against the fused reference")
  for scene in names:
    cells = []
    for direction in ("under", "over"):
      example = found[scene][direction]
      corrected, _ = inference.correct(model, variables, example["ldr"], mode=args.mode)
      ref = example["ldr_gt"]
      print(f"  {example['id']} ({direction}): input {float(metrics.psnr(example['ldr'], ref)):.2f}"
            f" / {float(metrics.ssim(example['ldr'], ref)):.3f}, DRHT "
            f"{float(metrics.psnr(corrected, ref)):.2f} / {float(metrics.ssim(corrected, ref)):.3f}")
      cells += [example["ldr"], corrected]
    cells.append(found[scene]["under"]["ldr_gt"])
    rows.append([visualize.fit_box(c, *args.cell) for c in cells])
  visualize.save_grid(args.output, [np.stack([r[j] for r in rows]) for j in range(5)])
  print(f"wrote {args.output}: columns under-exposed | DRHT | over-exposed | DRHT | fused reference")


if __name__ == "__main__":
  main()
