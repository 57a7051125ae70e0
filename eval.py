"""Evaluates a trained DRHT, or corrects your photos with it.

    python eval.py --workdir=runs/demo [--dataset=rendered/small --split=test]
        [--baselines=all|none|input,lime,...] [--step=N|best] [--max_images=N]
  writes runs/demo/eval/<dataset>-<split>/{report.md, metrics.json, per_image.csv, grid.png}
  and prints the table (DRHT vs the baselines of docs/measure.md on the same images).

    python eval.py --workdir=runs/demo --input='photos/*.jpg' --output=corrected [--save-hdr]
        [--mode=guided|full] [--working_size=256] [--tile=1024]
  corrects photos of any size (guided: DRHT at a working size, the correction carried to full
  resolution by guided upsampling; full: the whole photo through the nets, tiled above ~4 MP;
  JPEG in -> JPEG out, PNG in -> 8-bit PNG out, same base name; --save-hdr adds f1's HDR
  estimate as <name>.exr). Exit code 0 if every image succeeded, 1 if any failed (named on
  stderr), 2 if --input matched nothing.

Logs warnings only; `--verbosity=0` adds INFO (Orbax's checkpoint reads), `--verbosity=1` DEBUG.
"""

from absl import app, flags, logging

flags.DEFINE_string("workdir", None, "Training workdir (checkpoints/ and config.json).")
flags.DEFINE_string("step", None, "Checkpoint step N, or best: the run's best validation "
                    "checkpoint (config.validation; default: the latest).")
flags.DEFINE_string("dataset", None, "TFDS name[/config] (default: the training config's).")
flags.DEFINE_string("split", None, "Split to evaluate (default: config.data.eval_split).")
flags.DEFINE_string("data_dir", None, "TFDS data_dir (default: the training config's).")
flags.DEFINE_string("manual_dir", None, "Where a manual_dir data set (e.g. exposure_stacks) "
                    "reads its files when it is not built yet (exposure_stacks default: the "
                    "development set, datasets/exposure_stacks/README.md).")
flags.DEFINE_string("baselines", "all", "all | none | comma list of baseline names.")
flags.DEFINE_integer("max_images", None, "Evaluate at most this many images.")
flags.DEFINE_integer("grid_rows", 4, "Images (rows) in grid.png.")
flags.DEFINE_integer("batch_size", 4, "Same-size images per network call in evaluation.")
flags.DEFINE_string("input", None, "Photo mode: an image file, a folder or a glob.")
flags.DEFINE_string("output", None, "Photo mode: folder for the corrected images.")
flags.DEFINE_bool("save_hdr", False, "Photo mode: also write f1's HDR as OpenEXR "
                  "(--save-hdr works too).")
flags.DEFINE_integer("tile", None, "Photo mode: force tiles of this size (a multiple of 32); "
                     "default: tiles only above ~4 MP.")
flags.DEFINE_enum("mode", None, ["guided", "full"], "Photo mode: guided = the nets at a "
                  "working size + guided upsampling of the correction (default); full = the "
                  "whole photo through the nets (default when --tile is given).")
flags.DEFINE_integer("working_size", 256, "Photo mode, guided: long side of the working "
                     "resolution in pixels (--working-size works too).")
flags.DEFINE_enum("corruption", None, ["parametric", "camera"], "Scene data sets (rendered): "
                  "the test inputs' corruption (default: the training config's "
                  "data.corruption); the report folder gets the name as a suffix.")
flags.mark_flag_as_required("workdir")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not flags.FLAGS["verbosity"].present:  # warnings only; --verbosity=0 (INFO) or 1 for more
    logging.set_verbosity(logging.WARNING)  # (Orbax logs its handlers and reads at INFO)
  from drht_jax import allocator  # pylint: disable=g-import-not-at-top
  allocator.keep_freed_memory()   # before the first JAX computation; see allocator.py
  from drht_jax import evaluate  # pylint: disable=g-import-not-at-top
  f = flags.FLAGS
  if f.input is not None:
    if not f.output:
      raise app.UsageError("--input needs --output=FOLDER")
    from drht_jax import inference  # pylint: disable=g-import-not-at-top
    inference.enable_compilation_cache()   # a second run skips the nets' compilation
    return evaluate.correct_photos(f.workdir, f.input, f.output, save_hdr=f.save_hdr,
                                   tile=f.tile, step=f.step, mode=f.mode,
                                   working_size=f.working_size)
  evaluate.evaluate_dataset(f.workdir, dataset=f.dataset, split=f.split,
                            baselines=f.baselines, step=f.step, max_images=f.max_images,
                            grid_rows=f.grid_rows, batch_size=f.batch_size,
                            data_dir=f.data_dir, manual_dir=f.manual_dir,
                            corruption=f.corruption)
  return 0


def _hyphenated_flags(argv):
  """Accepts `--save-hdr` / `--no-save-hdr` (and any other flag) spelled with hyphens."""
  out = []
  for arg in argv:
    if arg.startswith("--") and "-" in arg.split("=", 1)[0][2:]:
      name, sep, value = arg[2:].partition("=")
      prefix = "no" if name.startswith("no-") else ""
      name = name[3:] if prefix else name
      arg = "--" + prefix + name.replace("-", "_") + sep + value
    out.append(arg)
  return out


if __name__ == "__main__":
  import sys  # pylint: disable=g-import-not-at-top
  app.run(main, argv=_hyphenated_flags(sys.argv))
