"""Exports a training workdir's model for inference only: what `pretrained/` holds.

    python -m drht_jax.export --workdir=runs/release_ft --output=pretrained [--step=N|best]

Writes `<output>/config.json` (the run's config), its `run.json` when the workdir has one, and
`<output>/checkpoints/<step>/state` with
only `step`, `params` and `batch_stats` (no optimizer state, no data iterator: about a third
of a training checkpoint), which `eval.py --workdir=<output>` restores like any workdir.
Accepts a workdir or a folder of `.npz` arrays written by `save_npz` (how a model trained on
another machine with other library versions travels).
"""

import os
import shutil
from typing import Optional

import flax
import jax
import numpy as np

from drht_jax import checkpointing

NPZ_FILE = "variables.npz"


def save_npz(folder: str, config, variables: dict, step: int):
  """`{'params', 'batch_stats'}` as flat `.npz` arrays plus `config.json`, library-neutral."""
  os.makedirs(folder, exist_ok=True)
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(variables), sep="/")
  path = os.path.join(folder, NPZ_FILE)
  with open(path + ".tmp", "wb") as f:
    np.savez(f, __step__=np.int64(step), **{k: np.asarray(v) for k, v in flat.items()})
  os.replace(path + ".tmp", path)
  checkpointing.write_config(folder, config)


def load_npz(folder: str):
  """-> (config, {'params', 'batch_stats'}, step) from a `save_npz` folder."""
  config = checkpointing.read_config(folder)
  with np.load(os.path.join(folder, NPZ_FILE)) as data:
    step = int(data["__step__"])
    flat = {k: data[k] for k in data.files if k != "__step__"}
  return config, flax.traverse_util.unflatten_dict(flat, sep="/"), step


def load(source: str, step: Optional[int] = None):
  """-> (config, {'params', 'batch_stats'}, step) from a workdir or a `save_npz` folder."""
  if os.path.exists(os.path.join(source, NPZ_FILE)):
    return load_npz(source)
  config = checkpointing.read_config(source)
  variables, step = checkpointing.restore_variables(source, step)
  return config, variables, step


def to_host(variables: dict) -> dict:
  """`{'params', 'batch_stats'}` as NumPy arrays (device arrays are fetched)."""
  return jax.tree_util.tree_map(np.asarray, {"params": variables["params"],
                                             "batch_stats": variables["batch_stats"]})


def write_workdir(output: str, config, variables: dict, step: int,
                  run_record: Optional[str] = None) -> str:
  """Writes host `variables` `{'params', 'batch_stats'}` with `config` (and the run record file
  `run_record`, when given) as the inference-only workdir `output`; returns its checkpoint
  path. How `export` and experiments/ write a model. `output` is replaced as a whole only once
  the new one is complete; files of an old `output` other than what is written here
  (report.md, example images, ...) are kept."""
  tmp = output.rstrip("/") + ".tmp-export"
  shutil.rmtree(tmp, ignore_errors=True)
  checkpointing.write_config(tmp, config)
  if run_record and os.path.exists(run_record):   # what the run decided (its stages)
    shutil.copyfile(run_record, os.path.join(tmp, checkpointing.RUN_FILE))
  manager = checkpointing.create_manager(tmp, max_to_keep=1)
  state = {"step": np.int32(step), **to_host(variables)}
  checkpointing.save(manager, step, state, None)
  manager.close()
  written = ("checkpoints", checkpointing.CONFIG_FILE, checkpointing.RUN_FILE)
  keep = [f for f in os.listdir(output) if f not in written] if os.path.isdir(output) else []
  for name in keep:
    shutil.move(os.path.join(output, name), os.path.join(tmp, name))
  shutil.rmtree(output, ignore_errors=True)
  os.replace(tmp, output)
  return checkpointing.checkpoint_dir(output)


def export(source: str, output: str, step: Optional[int] = None) -> str:
  """Writes the inference-only workdir `output` from `source` (a training workdir or an npz
  folder) at `step`; returns its checkpoint path (`write_workdir`)."""
  config, variables, step = load(source, step)
  return write_workdir(output, config, variables, step,
                       run_record=os.path.join(source, checkpointing.RUN_FILE))


def main():
  """`python -m drht_jax.export --workdir=W --output=O [--step=N|best] [--npz]` (module
  docstring); arguments from sys.argv."""
  import argparse  # pylint: disable=g-import-not-at-top
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True, help="training workdir or npz folder")
  parser.add_argument("--output", required=True)
  parser.add_argument("--step", default=None,
                      help="checkpoint step, or best (the best validation checkpoint)")
  parser.add_argument("--npz", action="store_true",
                      help="write a save_npz folder instead of an Orbax workdir")
  args = parser.parse_args()
  if args.npz:
    config, variables, step = load(args.workdir, args.step)
    save_npz(args.output, config, to_host(variables), step)
    print(f"wrote {args.output}/{NPZ_FILE} (step {step})")
    return
  path = export(args.workdir, args.output, args.step)
  size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(args.output)
             for f in fs)
  print(f"wrote {path} ({size / 1e6:.1f} MB in {args.output})")


if __name__ == "__main__":
  main()
