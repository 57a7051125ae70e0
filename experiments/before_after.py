"""README's before/after picture: photos with an exposure error, corrected by a trained model.

    python experiments/before_after.py --workdir=pretrained --output=docs/before_after.png

One row per (photo, exposure error) of scikit-image's photos (the `photos` data set's
corruption): input | DRHT | original, each scaled to `--height` pixels, PSNR / SSIM against the
original printed per row. The photos were never seen in training.
"""

import argparse
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pylint: disable=wrong-import-position
from datasets.photos import photos
from drht_jax import checkpointing, imageio_utils, inference, metrics

DEFAULT_ROWS = "coffee:-2,chelsea:1.5,astronaut:-3"


def _small(image: np.ndarray, height: int) -> np.ndarray:
  pil = Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))
  width = round(pil.width * height / pil.height)
  return np.asarray(pil.resize((width, height), Image.LANCZOS))


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", default="pretrained")
  parser.add_argument("--output", default="docs/before_after.png")
  parser.add_argument("--rows", default=DEFAULT_ROWS, help="photo:ev,... of photos.PHOTOS")
  parser.add_argument("--height", type=int, default=160)
  args = parser.parse_args(argv)
  _, model, variables, step = checkpointing.restore_for_inference(args.workdir)
  rows = []
  for item in args.rows.split(","):
    name, ev = item.split(":")
    original, _ = photos.load_photo(name)
    corrupted = photos.corrupt(original, float(ev)).astype(np.float32) / 255.0
    reference = original.astype(np.float32) / 255.0
    corrected = np.clip(inference.correct(model, variables, corrupted)[0], 0.0, 1.0)
    scores = [(float(metrics.psnr(x, reference)), float(metrics.ssim(x, reference)))
              for x in (corrupted, corrected)]
    print(f"{name} EV {float(ev):+.1f}: input {scores[0][0]:.2f} dB / {scores[0][1]:.3f}, "
          f"DRHT {scores[1][0]:.2f} dB / {scores[1][1]:.3f}")
    gap = np.full((args.height, 4, 3), 255, np.uint8)
    panels = [_small(x, args.height) for x in (corrupted, corrected, reference)]
    rows.append(np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=1))
  width = max(r.shape[1] for r in rows)
  rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255)
          for r in rows]
  imageio_utils.write_ldr(args.output, np.concatenate(rows, axis=0)[:-4])
  print(f"step {step} of {args.workdir} -> {args.output} (input | DRHT | original)")
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
