"""Flat regions, before and after (issue 17, item 0): what each model makes of an all-white
image, of a photo with a clipped (blown) band, and of a dark, nearly flat real wall.

    python experiments/flat_regions.py --workdirs pretrained/v2 pretrained \
        --manual_dir=/work/shared/data --output=docs/flat_regions.png

Prints each model's interior peak-to-peak range on constant inputs (white, mid-grey) and the
clipped band's texture and chroma (`metrics.flat_region_stats`, 8-bit levels), then draws one
row per model: the all-white output and the clipped-band output (128x256 corners, contrast stretched
x8 around their means, so a pattern of a few levels shows), and a 128x256 crop of a real frame's dark wall
(`exposure_stacks:test` forth_Colorcheckers/frame_00, as the model makes it).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))

from drht_jax import checkpointing, inference, input_pipeline, metrics, visualize  # noqa: E402
import test_flat  # noqa: E402  (the clipped-band photo the release test uses)

BORDER = 16
STRETCH = 8.0
REAL_FRAME = "test/forth_Colorcheckers/frame_00.jpg"
REAL_CROP = (slice(96, 224), slice(256, 512))
CELL = (slice(0, 128), slice(0, 256))


def stretched(image):
  """Contrast x STRETCH around the image's mean colour, clipped: a few levels become visible."""
  return np.clip(image.mean((0, 1)) + STRETCH * (image - image.mean((0, 1))), 0, 1)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--workdirs", nargs="+", default=["pretrained/v2", "pretrained"])
  parser.add_argument("--manual_dir", default=None)
  parser.add_argument("--output", default="docs/flat_regions.png")
  args = parser.parse_args(argv)
  rows, frame = [], None
  print("| model | white in: ptp (levels) | grey in: ptp | clipped band texture | chroma |")
  print("|---|---|---|---|---|")
  for workdir in args.workdirs:
    config, model, variables, _ = checkpointing.restore_for_inference(workdir)
    correct = lambda x: np.asarray(inference.correct(model, variables, x, mode="full")[0])
    constant = {}
    for value in (1.0, 0.5):
      y = correct(np.full((256, 512, 3), value, np.float32))
      inner = y[BORDER:-BORDER, BORDER:-BORDER].reshape(-1, 3)
      constant[value] = (y, 255 * float(np.ptp(inner, axis=0).max()))
    photo, mask = test_flat.clipped_band_photo()
    band_out = correct(photo)
    texture, chroma = metrics.flat_region_stats(band_out, mask)
    print(f"| {workdir} | {constant[1.0][1]:.2f} | {constant[0.5][1]:.2f} | "
          f"{255 * texture:.2f} | {255 * chroma:.2f} |")
    if frame is None:
      data = config.data.copy_and_resolve_references()
      with data.unlocked():
        data.dataset = "exposure_stacks"
        if args.manual_dir:
          data.manual_dir = args.manual_dir
      frame = next(e for e in input_pipeline.eval_examples(data, "test")
                   if e["id"] == REAL_FRAME)["ldr"]
    wall = correct(frame)[REAL_CROP]
    big_band, _ = test_flat.clipped_band_photo(512, 512)   # a band of 128 rows to show
    rows.append([stretched(constant[1.0][0][CELL]), stretched(correct(big_band)[CELL]),
                 stretched(wall)])
  visualize.save_grid(args.output, [np.stack(col) for col in zip(*rows)])
  print(f"wrote {args.output}: rows {', '.join(args.workdirs)}; columns all-white, clipped "
        f"band (both x{STRETCH:g} contrast), real dark wall (x{STRETCH:g})")


if __name__ == "__main__":
  main()
