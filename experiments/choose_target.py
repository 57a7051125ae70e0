"""Chooses the photographic target by measurement (issue 17 item 2).

Tone-maps each TRAIN stack's merged HDR (drht_jax.stacks.load_stack: Debevec-Malik merge) with
each candidate of drht_jax/tonemap.py and compares it with the stack's Mertens fusion (the fused
reference) and its middle frame (the camera's own exposure): mean PSNR / SSIM over the stacks,
printed as a markdown table. Only the train split is used (the test split stays unseen).

    python experiments/choose_target.py [--root=/work/shared/data/brackets] [--max_stacks=N]

The stacks' radiance is in the middle frame's exposure scale; every candidate sets its own
exposure, so the scale does not matter. A stack that cannot be loaded is skipped by name.
"""

import argparse
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from datasets.exposure_stacks import exposure_stacks  # noqa: E402
from drht_jax import metrics, stacks, tonemap  # noqa: E402

DEFAULT_ROOT = os.path.join(exposure_stacks.DEV_SET, "brackets")


def train_scenes(root):
  """Scene folders of the fixed train split: `root/train/*` if it exists, else every folder
  of `root` not in the builder's TEST_SCENES."""
  if os.path.isdir(os.path.join(root, "train")):
    base = os.path.join(root, "train")
    return [os.path.join(base, s) for s in sorted(os.listdir(base))]
  return [os.path.join(root, s) for s in sorted(os.listdir(root))
          if os.path.isdir(os.path.join(root, s)) and s not in exposure_stacks.TEST_SCENES]


def score_stack(stack, operators):
  """{(operator, reference): (psnr, ssim)} for one loaded stack."""
  refs = {"fused": stack.fused, "middle": stack.frames[stack.middle]}
  out = {}
  for name, op in operators.items():
    mapped = np.asarray(op(stack.hdr[None]))[0]
    for ref_name, ref in refs.items():
      ref = np.asarray(ref, np.float32)
      out[(name, ref_name)] = (float(metrics.psnr(mapped, ref)), float(metrics.ssim(mapped, ref)))
  return out


def render_table(scores, operators, n):
  lines = [f"Candidates on {n} train stacks (mean over stacks):", "",
           "| target | PSNR vs fused (dB) | SSIM vs fused | PSNR vs middle frame (dB) | "
           "SSIM vs middle frame |", "|---|---|---|---|---|"]
  for name in operators:
    cells = []
    for ref in ("fused", "middle"):
      values = np.array([s[(name, ref)] for s in scores])
      cells += [f"{values[:, 0].mean():.2f}", f"{values[:, 1].mean():.4f}"]
    lines.append(f"| {name} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--root", default=DEFAULT_ROOT, help="the brackets folder")
  parser.add_argument("--max_stacks", type=int, default=0, help="> 0: the first N stacks")
  args = parser.parse_args(argv)
  folders = train_scenes(args.root)
  if args.max_stacks > 0:
    folders = folders[:args.max_stacks]
  operators = {n: jax.jit(op) for n, op in tonemap.OPERATORS.items()}
  scores, skipped, start = [], [], time.time()
  for folder in folders:
    try:
      stack = stacks.load_stack(folder)
    except stacks.StackError as e:
      skipped.append(str(e))
      continue
    scores.append(score_stack(stack, operators))
  for reason in skipped:
    print(f"skipped: {reason}", file=sys.stderr)
  if not scores:
    print(f"{args.root}: no usable train stack ({len(skipped)} skipped)", file=sys.stderr)
    return 1
  print(render_table(scores, operators, len(scores)))
  wins = {ref: max(operators, key=lambda n: np.mean([s[(n, ref)][1] for s in scores]))
          for ref in ("fused", "middle")}
  print(f"\nbest SSIM: vs fused {wins['fused']}, vs middle frame {wins['middle']}; "
        f"{len(skipped)} skipped; {time.time() - start:.0f} s")
  return 0


if __name__ == "__main__":
  sys.exit(main())
