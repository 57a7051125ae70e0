"""Measures `inference.correct`'s modes: the whole photo through the nets (`full`) vs a working
resolution + guided upsampling (`guided`, several working sizes and guided-filter settings).

    python experiments/working_size.py --workdir=pretrained [--dataset=rendered/small]
        [--split=test_256x512] [--stacks=/work/shared/data/brackets] [--max_stacks=N]

Rendered protocol: each test scene, corrupted and rendered as `eval.py` does, against its
ground truth (PSNR, SSIM as in the eval report). Real exposure stacks (`--stacks`, frames of
<= 512 px): the darkest and the brightest frame of each stack as inputs, the Mertens fusion of
the whole stack (`drht_jax.stacks`) as the reference. Time: seconds per image of
`inference.correct` (LDR and HDR, warm: compilation excluded), on whatever the CPU is shared
with. Prints one markdown table per data set; the stacks are read from their folder, never
copied.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app, flags
import numpy as np

from drht_jax import checkpointing, inference, input_pipeline, metrics

flags.DEFINE_string("workdir", "pretrained", "Training workdir or exported model.")
flags.DEFINE_string("dataset", "rendered/small", "TFDS data set of the rendered protocol.")
flags.DEFINE_string("split", "test_256x512", "Split of the rendered protocol ('' to skip).")
flags.DEFINE_string("stacks", "", "Folder of real exposure stacks ('' to skip).")
flags.DEFINE_integer("max_stacks", None, "Use at most this many stacks.")
flags.DEFINE_string("settings", "full;guided:128:2:1e-4;guided:256:1:1e-4;guided:256:2:1e-4;"
                    "guided:256:2:1e-3;guided:256:4:1e-4;guided:256:2:1e-2",
                    "';'-separated `full` or `guided:WORKING_SIZE:RADIUS:EPS`.")


def parse_settings(spec):
  out = []
  for item in spec.split(";"):
    parts = item.strip().split(":")
    if parts[0] == "full":
      out.append(("full", dict(mode="full")))
    else:
      size, radius, eps = int(parts[1]), int(parts[2]), float(parts[3])
      out.append((f"guided {size} r={radius} eps={eps:g}",
                  dict(mode="guided", working_size=size, radius=radius, eps=eps)))
  return out


def measure(model, variables, pairs, settings):
  """pairs: list of (input [H,W,3], reference [H,W,3]). -> rows (name, psnr, ssim, s/img)."""
  rows = []
  for name, kwargs in settings:
    inference.correct(model, variables, pairs[0][0], **kwargs)   # compile outside the timing
    psnrs, ssims, seconds = [], [], 0.0
    for image, ref in pairs:
      if image.shape != pairs[0][0].shape:   # a new shape: compile it outside the timing
        inference.correct(model, variables, image, **kwargs)
      start = time.perf_counter()
      corrected, _ = inference.correct(model, variables, image, **kwargs)
      seconds += time.perf_counter() - start
      psnrs.append(float(metrics.psnr(corrected, ref)))
      ssims.append(float(metrics.ssim(corrected, ref)))
    rows.append((name, np.mean(psnrs), np.mean(ssims), seconds / len(pairs)))
  return rows


def table(title, rows, n):
  lines = [f"\n{title} ({n} images)\n", "| setting | PSNR (dB) | SSIM | s / image |",
           "| --- | --- | --- | --- |"]
  lines += [f"| {r[0]} | {r[1]:.2f} | {r[2]:.4f} | {r[3]:.3f} |" for r in rows]
  return "\n".join(lines)


def stack_pairs(folder, max_stacks):
  from drht_jax import stacks
  names = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
  pairs = []
  for name in names[:max_stacks]:
    stack = stacks.load_stack(os.path.join(folder, name))
    frames = np.asarray(stack.frames, np.float32)
    frames = frames / 255.0 if frames.max() > 1.0 else frames
    ref = np.clip(np.asarray(stack.fused, np.float32), 0.0, 1.0)
    pairs += [(frames[0], ref), (frames[-1], ref)]
  return pairs


def main(argv):
  del argv
  f = flags.FLAGS
  _, model, variables, step = checkpointing.restore_for_inference(f.workdir)
  settings = parse_settings(f.settings)
  print(f"checkpoint step {step} of {f.workdir}")
  if f.split:
    config = checkpointing.read_config(f.workdir)
    data_config = config.data.copy_and_resolve_references()
    with data_config.unlocked():
      data_config.dataset = f.dataset
    pairs = [(e["ldr"], e["ldr_gt"])
             for e in input_pipeline.eval_examples(data_config, f.split)]
    rows = measure(model, variables, pairs, settings)
    print(table(f"{f.dataset}:{f.split}", rows, len(pairs)), flush=True)
  if f.stacks:
    pairs = stack_pairs(f.stacks, f.max_stacks)
    rows = measure(model, variables, pairs, settings)
    print(table(f"exposure stacks {f.stacks} (darkest + brightest frame vs Mertens fusion)",
                rows, len(pairs)), flush=True)


if __name__ == "__main__":
  app.run(main)
