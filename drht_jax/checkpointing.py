"""Orbax checkpoints of a workdir: `workdir/checkpoints/<step>/{state,data}`.

`state` holds the unreplicated training state (step, rng, params, batch_stats, opt_state) as a
PyTree; `data` holds the Grain iterator state as JSON, so a resumed run reads the same batches.
Saves are synchronous and atomic (Orbax writes to a temporary folder and renames it when
complete): a run killed during a save leaves the previous checkpoint as the latest.
"""

import json
import logging
import os
from typing import Optional

import jax
import ml_collections
import orbax.checkpoint as ocp

from drht_jax import models

CONFIG_FILE = "config.json"


def checkpoint_dir(workdir: str) -> str:
  return os.path.join(os.path.abspath(workdir), "checkpoints")


class _ReadOnlyNoticeFilter(logging.Filter):
  """Drops the WARNINGs Orbax logs for every read-only manager (this module's way to read a
  checkpoint: eval.py, init_from), which tell nothing wrong. Other records pass."""
  NOTICES = ("Given directory is read only", "CheckpointManagerOptions.read_only=True")

  def filter(self, record):
    return not str(record.msg).startswith(self.NOTICES)


_READ_ONLY_FILTER = _ReadOnlyNoticeFilter()


def create_manager(workdir: str, max_to_keep: Optional[int] = 3,
                   read_only: bool = False) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(
      max_to_keep=None if read_only else max_to_keep, create=not read_only,
      read_only=read_only, save_interval_steps=0 if read_only else 1,
      enable_async_checkpointing=False)
  absl_logger = logging.getLogger("absl")
  absl_logger.addFilter(_READ_ONLY_FILTER)
  try:
    return ocp.CheckpointManager(checkpoint_dir(workdir), options=options,
                                 item_names=("state", "data"))
  finally:
    absl_logger.removeFilter(_READ_ONLY_FILTER)


def save(manager: ocp.CheckpointManager, step: int, state, data_state: Optional[bytes]):
  """Saves host `state` (a PyTree) and the data iterator state at `step` (blocking)."""
  data = {"iterator": data_state.decode() if data_state is not None else None}
  manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                             data=ocp.args.JsonSave(data)), force=True)
  manager.wait_until_finished()


def restore(manager: ocp.CheckpointManager, step: int, target):
  """-> (state shaped like `target`, data iterator state bytes or None)."""
  abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, target)
  restored = manager.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract), data=ocp.args.JsonRestore()))
  iterator = restored["data"]["iterator"]
  return restored["state"], (iterator.encode() if iterator is not None else None)


def restore_raw_state(workdir: str, step: Optional[int] = None):
  """The `state` item of `workdir`'s checkpoint `step` (latest if None) as nested dicts of
  host arrays, with no target needed. -> (state dict, step)."""
  manager = create_manager(workdir, max_to_keep=None, read_only=True)
  step = manager.latest_step() if step is None else step
  if step is None:
    raise FileNotFoundError(f"{checkpoint_dir(workdir)}: no checkpoint found")
  if step not in manager.all_steps():
    raise FileNotFoundError(f"{checkpoint_dir(workdir)}: no checkpoint at step {step}; "
                            f"available: {list(manager.all_steps())}")
  restored = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))
  return restored["state"], step


def write_config(workdir: str, config: ml_collections.ConfigDict):
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, CONFIG_FILE)
  with open(path + ".tmp", "w") as f:
    f.write(config.to_json_best_effort(indent=2, sort_keys=True))
  os.replace(path + ".tmp", path)


def read_config(workdir: str) -> ml_collections.ConfigDict:
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: not found; is {workdir} a training workdir?")
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def restore_for_inference(workdir: str, step: Optional[int] = None):
  """-> (config, model, {'params', 'batch_stats'}, step) from a training workdir."""
  config = read_config(workdir)
  state, step = restore_raw_state(workdir, step)
  model = models.create_model(config.model)
  return config, model, {"params": state["params"], "batch_stats": state["batch_stats"]}, step
