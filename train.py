"""Trains DRHT: `python train.py --config=NAME|PATH [--workdir=DIR] [--config.FIELD=VALUE]`.

NAME is a file of configs/ (hdr, joint, finetune, demo, default); `--workdir` defaults to
runs/NAME. All logic lives in drht_jax/train_lib.py.
"""

import os
import sys

from absl import app
from absl import logging
from absl import flags
from ml_collections import config_flags

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
if not os.path.isdir(CONFIG_DIR):  # `drht-train`: this file bundled in the installed package
  import configs  # pylint: disable=g-import-not-at-top
  CONFIG_DIR = os.path.dirname(os.path.abspath(configs.__file__))


def resolve_config_arg(argv):
  """Rewrites `--config=NAME` (a bare name) to `--config=<repo>/configs/NAME.py`; an unknown
  name exits listing the available ones. Returns (argv, name)."""
  argv, name = list(argv), None
  for i, arg in enumerate(argv):
    if arg.startswith("--config="):
      value = arg.split("=", 1)[1]
      spec, _, override = value.partition(":")
      name = os.path.splitext(os.path.basename(spec))[0]
      if os.sep not in spec and not spec.endswith(".py"):
        path = os.path.join(CONFIG_DIR, spec + ".py")
        if not os.path.exists(path):
          names = sorted(f[:-3] for f in os.listdir(CONFIG_DIR)
                         if f.endswith(".py") and not f.startswith("_"))
          sys.exit(f"train.py: unknown config {spec!r}; available: {', '.join(names)} "
                   "(or a path to a config file)")
        argv[i] = "--config=" + path + (":" + override if override else "")
  return argv, name


_ARGV, _NAME = resolve_config_arg(sys.argv)
_CONFIG = config_flags.DEFINE_config_file("config", None, "Training config (name or path).",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (default: runs/<config name>).")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  config = _CONFIG.value
  from drht_jax import preflight  # pylint: disable=g-import-not-at-top
  preflight.apply_xla_flags(config)  # config.deterministic: XLA reads them when it starts
  from drht_jax import allocator  # pylint: disable=g-import-not-at-top
  allocator.keep_freed_memory()   # before the first JAX computation; see allocator.py
  from drht_jax import train_lib  # pylint: disable=g-import-not-at-top
  if not flags.FLAGS["verbosity"].present:  # Orbax logs every file it writes at INFO
    logging.set_verbosity(logging.WARNING)
  train_lib.initialize_distributed(config)
  workdir = _WORKDIR.value or os.path.join("runs", _NAME or "default")
  try:
    summary = train_lib.train_and_evaluate(config, workdir)
  except preflight.SetupError as e:  # something the run needs is missing: one line, exit 1
    preflight.fail(e)
  except train_lib.NonFiniteLossError as e:
    sys.exit(f"train.py: {e}")
  if summary:
    print("final:", " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                             for k, v in summary.items()))


if __name__ == "__main__":
  sys.argv = _ARGV
  flags.mark_flag_as_required("config")
  app.run(main)
