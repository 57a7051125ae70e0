"""Console scripts of the installed package (pyproject.toml `[project.scripts]`).

  drht-train ...            = python train.py ...   (same flags)
  drht-eval ...             = python eval.py ...    (same flags)
  drht-correct IN... -o OUT = python eval.py --input=IN --output=OUT, for many inputs at once
  drht-correct --serve      = python -m drht_jax.app (the local before/after page)

`drht-train` / `drht-eval` run the repository's train.py / eval.py: the copies bundled in the
package (`drht_jax/_scripts/`, written by setup.py's build step) or, in a clone, the files
next to this package. `drht-correct` defaults to `--workdir=pretrained`, the released model
(see `api.resolve_workdir`: ./pretrained, else the weights shipped in the package).
"""

import argparse
import os
import runpy
import sys
from typing import Optional, Sequence

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def script_path(name: str) -> str:
  """train.py / eval.py: bundled in the package, else the clone's (the folder above)."""
  for folder in (os.path.join(_PACKAGE_DIR, "_scripts"), os.path.dirname(_PACKAGE_DIR)):
    path = os.path.join(folder, name)
    if os.path.isfile(path):
      return path
  raise FileNotFoundError(f"{name}: not bundled in {_PACKAGE_DIR}/_scripts and not in a clone")


def _run_script(name: str) -> None:
  path = script_path(name)
  sys.argv = [path] + sys.argv[1:]
  runpy.run_path(path, run_name="__main__")


def train() -> None:
  """`drht-train`: train.py's command line."""
  _run_script("train.py")


def evaluate() -> None:
  """`drht-eval`: eval.py's command line."""
  _run_script("eval.py")


def correct_parser() -> argparse.ArgumentParser:
  """The argument parser of `drht-correct IN... --output=DIR [--workdir=...] [--save-hdr] ..."""
  from drht_jax import inference  # pylint: disable=g-import-not-at-top
  p = argparse.ArgumentParser(
      prog="drht-correct",
      description="Corrects photos with DRHT (JPEG in -> JPEG out, PNG in -> 8-bit PNG out, "
                  "same base name). Exit code 0 if every image succeeded, 1 if any failed "
                  "(named on stderr), 2 if an input matched nothing.")
  p.add_argument("inputs", nargs="*", metavar="IN",
                 help="image files, folders or globs (quote globs for '**')")
  p.add_argument("-o", "--output", help="folder for the corrected images")
  p.add_argument("--workdir", default="pretrained",
                 help="'pretrained' (the released model; default) or a training workdir")
  p.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
  p.add_argument("--save-hdr", "--save_hdr", dest="save_hdr", action="store_true",
                 help="also write f1's HDR estimate as <name>.exr")
  p.add_argument("--mode", choices=inference.MODES, default=None,
                 help=f"guided: the nets at a working size + guided upsampling (default); "
                      f"full: the whole photo through the nets (tiles above ~4 MP)")
  p.add_argument("--working-size", "--working_size", dest="working_size", type=int,
                 default=inference.DEFAULT_WORKING_SIZE,
                 help="guided mode: long side of the working resolution in pixels "
                      f"(default {inference.DEFAULT_WORKING_SIZE})")
  p.add_argument("--tile", type=int, default=None,
                 help="full mode: force tiles of this size (a multiple of 32)")
  p.add_argument("--serve", action="store_true",
                 help="start the local before/after web page instead (127.0.0.1)")
  p.add_argument("--port", type=int, default=8019, help="--serve: port (default 8019)")
  return p


def correct(argv: Optional[Sequence[str]] = None) -> int:
  """`drht-correct`: returns (and exits with) the exit code of `evaluate.correct_photos`."""
  args = correct_parser().parse_args(argv)
  from drht_jax import allocator  # pylint: disable=g-import-not-at-top
  allocator.keep_freed_memory()   # before the first JAX computation; see allocator.py
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.WARNING)  # as eval.py: no Orbax INFO lines
  from drht_jax import api, inference  # pylint: disable=g-import-not-at-top
  inference.enable_compilation_cache()   # a second run skips the nets' compilation
  if args.serve:
    from drht_jax import app  # pylint: disable=g-import-not-at-top
    return app.serve(workdir=args.workdir, port=args.port, step=args.step,
                     working_size=args.working_size, mode=args.mode or "guided")
  if not args.inputs or not args.output:
    correct_parser().error("needs IN... and -o OUT (or --serve)")
  from drht_jax import evaluate  # pylint: disable=g-import-not-at-top
  try:
    workdir = api.resolve_workdir(args.workdir)
  except FileNotFoundError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  return evaluate.correct_photos(workdir, args.inputs, args.output, save_hdr=args.save_hdr,
                                 tile=args.tile, step=args.step, mode=args.mode,
                                 working_size=args.working_size)


def correct_main() -> None:
  """Console-script entry point of `drht-correct`: exits with `correct()`'s code (0, 1 or 2)."""
  sys.exit(correct())
