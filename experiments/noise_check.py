"""Does a method amplify the noise of dark real frames? (issue 17, item 1)

    python experiments/noise_check.py --workdirs pretrained/v1 pretrained \
        --manual_dir=/work/shared/data

For each under-exposed frame of `exposure_stacks:test`, `metrics.noise_excess` of each method's
output against the stack's fused reference: the pixel-scale grain the output has where the
reference is smooth (flat skies, walls, shadows), in 8-bit levels. Brightening a dark frame
brightens its sensor noise too; the fused reference is nearly clean (it takes each region from
the frame exposed best for it). Prints one markdown table: mean and median over the frames, and
the share of frames on which each method adds less grain than auto exposure (a global gamma:
all the frame's noise, brightened). The middle frame of the stack is a row too: what a real
camera's normal exposure has.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from drht_jax import baselines, checkpointing, inference, input_pipeline  # noqa: E402
from drht_jax import metrics  # noqa: E402

CLASSICAL = ("input", "auto_exposure", "histeq", "clahe", "lime", "wvm")


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--workdirs", nargs="+", default=["pretrained"])
  parser.add_argument("--manual_dir", default=None)
  parser.add_argument("--split", default="test")
  parser.add_argument("--baselines", nargs="*", default=list(CLASSICAL))
  parser.add_argument("--max_images", type=int, default=None)
  args = parser.parse_args(argv)
  models = {}
  for workdir in args.workdirs:
    config, model, variables, _ = checkpointing.restore_for_inference(workdir)
    models[workdir] = (model, variables)
  data = config.data.copy_and_resolve_references()
  with data.unlocked():
    data.dataset = "exposure_stacks"
    if args.manual_dir:
      data.manual_dir = args.manual_dir
  scores = {name: [] for name in ["middle frame", *args.baselines, *args.workdirs]}
  for example in input_pipeline.eval_examples(data, args.split, args.max_images):
    if example["direction"] != "under":
      continue
    ldr, ref = example["ldr"], example["ldr_gt"]
    mask = metrics.smooth_mask(ref)
    if not mask.any():
      continue
    outputs = {"middle frame": example["ldr_mid"]}
    outputs.update({name: baselines.BASELINES[name](ldr) for name in args.baselines})
    for workdir, (model, variables) in models.items():
      outputs[workdir] = inference.correct(model, variables, ldr, mode="full")[0]
    for name, out in outputs.items():
      scores[name].append(255 * metrics.noise_excess(np.asarray(out), ref, mask))
    print(f"{example['id']}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in scores.items()),
          file=sys.stderr, flush=True)
  auto = np.asarray(scores.get("auto_exposure", []))
  print(f"Noise excess on the {len(auto) or len(next(iter(scores.values())))} under-exposed "
        f"frames of exposure_stacks:{args.split} (8-bit levels, RMS of the pixel-scale "
        "high-pass of output - fused reference where the reference is smooth)\n")
  print("| Method | mean | median | frames with less than auto exposure |")
  print("|---|---|---|---|")
  for name, values in scores.items():
    values = np.asarray(values)
    less = f"{np.mean(values < auto):.0%}" if len(auto) and name != "auto_exposure" else "-"
    print(f"| {name} | {np.mean(values):.2f} | {np.median(values):.2f} | {less} |")


if __name__ == "__main__":
  main()
