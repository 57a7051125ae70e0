"""Orbax checkpoints of a workdir: `workdir/checkpoints/<step>/{state,data}`.

`state` holds the unreplicated `train_lib.TrainState` as Orbax saves the flax struct (its
fields step, rng, params, batch_stats, opt_state become the top-level keys); an exported
inference-only workdir (`export.py`, `pretrained/`) holds step, params and batch_stats only.
`restore_variables` reads `{'params', 'batch_stats'}` from either (the one place stored state
layouts are read: `variables_from_state`); `load_groups` copies some groups of them into a new
run (`config.init_from`). `data` holds the Grain iterator state as JSON, so a resumed run reads
the same batches. Beside them: `config.json` (the config as given) and `run.json` (what the run
decided); `read_workdir` reads both, old workdirs migrated (`migrate`). A run with a validation
set (`config.validation`) also writes `validation.jsonl` (`step` and `val_<metric>` per record,
one per checkpoint) and keeps the checkpoint with the best score beside the newest ones
(`prune`, which reads that file, so a resumed run keeps it too); `resolve_step(workdir,
"best")` names it.
Saves are synchronous and atomic (Orbax writes to a temporary folder and renames it when
complete): a run killed during a save leaves the previous checkpoint as the latest.
"""

import json
import logging
import os
import re
from typing import Optional, Tuple

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from drht_jax import models
from drht_jax import supervision
from drht_jax import widen

CONFIG_FILE = "config.json"
RUN_FILE = "run.json"
VALIDATION_FILE = "validation.jsonl"


def checkpoint_dir(workdir: str) -> str:
  """`workdir`'s Orbax checkpoint folder, `<absolute workdir>/checkpoints`."""
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
  """An Orbax `CheckpointManager` on `checkpoint_dir(workdir)`.

  Args:
    workdir: the training workdir.
    max_to_keep: newest checkpoints kept (None: all, and `prune` decides); ignored when
      `read_only`.
    read_only: read existing checkpoints only (eval.py, init_from): creates nothing.

  Returns:
    The manager, synchronous saves, one checkpoint per `save` call.
  """
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
  """Saves host `state` (a PyTree of NumPy arrays, e.g. a `TrainState` fetched from the
  devices) and the data iterator state at `step` (blocking)."""
  data = {"iterator": data_state.decode() if data_state is not None else None}
  manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                             data=ocp.args.JsonSave(data)), force=True)
  manager.wait_until_finished()


def restore(manager: ocp.CheckpointManager, step: int, target):
  """-> (state of the same PyTree type as `target`, e.g. a `TrainState`, with host arrays;
  data iterator state bytes or None). `target` gives the structure, shapes and dtypes."""
  abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, jax.device_get(target))
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


def _write_atomic(path: str, text: str):
  with open(path + ".tmp", "w") as f:
    f.write(text)
  os.replace(path + ".tmp", path)


def append_validation(workdir: str, step: int, scores: dict):
  """Adds `{"step": step, **scores}` as one line of `workdir/validation.jsonl` (flushed and
  synced, so a killed run loses no line it wrote)."""
  with open(os.path.join(workdir, VALIDATION_FILE), "a") as f:
    f.write(json.dumps({"step": int(step), **{k: float(v) for k, v in scores.items()}}) + "\n")
    f.flush()
    os.fsync(f.fileno())


def validation_key(config) -> str:
  """The validation.jsonl key that ranks checkpoints: `val_` + `config.validation.metric`
  ("val_psnr" when the config has no validation field)."""
  validation = config.get("validation", None)
  return "val_" + (validation.get("metric", "psnr") if validation is not None else "psnr")


def best_step(workdir: str, metric: str, steps=None) -> int:
  """The step of `workdir/validation.jsonl` with the highest `metric` (e.g. "val_psnr") among
  the checkpoints on disk (`steps`, when the caller has listed them); the later record of a
  step validated twice (a resumed run) counts, and a tie goes to the earlier step."""
  path = os.path.join(workdir, VALIDATION_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: no validation record (the run had no config.validation)")
  scores = {}
  with open(path) as f:
    for number, line in enumerate(f, 1):
      if line.strip():
        record = json.loads(line)
        if metric not in record:
          raise ValueError(f"{path}, line {number}: no {metric!r} in {sorted(record)}")
        scores[int(record["step"])] = float(record[metric])
  if steps is None:
    steps = create_manager(workdir, max_to_keep=None, read_only=True).all_steps()
  on_disk = set(steps)
  ranked = sorted((-v, s) for s, v in scores.items() if s in on_disk)
  if not ranked:
    raise FileNotFoundError(f"{path}: none of the validated steps {sorted(scores)} has a "
                            f"checkpoint in {checkpoint_dir(workdir)}")
  return ranked[0][1]


def prune(manager: ocp.CheckpointManager, workdir: str, max_to_keep: int, metric: str):
  """Deletes every checkpoint but the `max_to_keep` newest and `best_step(workdir, metric)` (for
  a manager made with `max_to_keep=None`). -> the steps kept."""
  steps = sorted(manager.all_steps())
  keep = set(steps[-max_to_keep:]) | {best_step(workdir, metric, steps)}
  for step in steps:
    if step not in keep:
      manager.delete(step)
  return sorted(keep)


def resolve_step(workdir: str, step) -> Optional[int]:
  """A `--step` value: None (the latest), an int or its text, or "best" (`best_step` on the
  run's `config.validation.metric`)."""
  if step is None or isinstance(step, int):
    return step
  if str(step).strip().lower() != "best":
    try:
      return int(step)
    except ValueError:
      raise ValueError(f"--step={step!r}: expected a step number or 'best'") from None
  return best_step(workdir, validation_key(read_config(workdir)))


def write_config(workdir: str, config: ml_collections.ConfigDict):
  """`workdir/config.json`: the config as the user gave it (never rewritten by the run)."""
  os.makedirs(workdir, exist_ok=True)
  _write_atomic(os.path.join(workdir, CONFIG_FILE),
                config.to_json_best_effort(indent=2, sort_keys=True))


def write_run(workdir: str, run: dict):
  """`workdir/run.json`: what the run decided (preflight.resolve: `init_from`) and the stage
  plan it runs (`stages`: name, start, steps, loss)."""
  os.makedirs(workdir, exist_ok=True)
  _write_atomic(os.path.join(workdir, RUN_FILE), json.dumps(run, indent=2, sort_keys=True))


_OLD_PRETRAIN_REASON = re.compile(
    r"^(.*?)(?:/checkpoints has no checkpoint| has no checkpoints) \(init_from\)$")


def migrate(recorded: dict, run: Optional[dict]) -> Tuple[dict, dict]:
  """(config.json, run.json or None) as any version wrote them -> (config dict, run dict) as
  written today. The one place old workdirs are read.

  Before run.json, a run wrote its decision into its config: `init_from_status` ("checkpoint
  DIR step N" or "pretrain: <why>"), and a run that pre-trained f1 itself had its stages
  rewritten (stage `hdr` first with `pretrain_fraction`, the others' fractions times
  1 - pretrain_fraction, `init_from` cleared). That becomes run.json's `init_from`, and the
  config the user gave back (`init_from` from the recorded reason)."""
  config = json.loads(json.dumps(recorded))  # a deep copy
  status = config.pop("init_from_status", None)
  if run is not None:
    return config, dict(run)
  status = str(status or "")
  order = list(config.get("stage_order", ()))
  stages = config.get("stages", {})
  if status.startswith("pretrain") and order[:1] == ["hdr"] and "hdr" in stages:
    fraction = float(config["pretrain_fraction"])
    del stages["hdr"]
    config["stage_order"] = order[1:]
    for name in order[1:]:
      stages[name]["fraction"] = round(stages[name]["fraction"] / (1.0 - fraction), 12)
    match = _OLD_PRETRAIN_REASON.match(status.split(": ", 1)[-1])
    if match and not config.get("init_from"):
      config["init_from"] = match.group(1)
  return config, {"init_from": status}


def read_workdir(workdir: str) -> Tuple[ml_collections.ConfigDict, Optional[dict]]:
  """-> (config, run) of a workdir, old ones migrated (`migrate`); run is None when the
  workdir has neither run.json nor a recorded decision in config.json."""
  path = os.path.join(workdir, CONFIG_FILE)
  run_path = os.path.join(workdir, RUN_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: not found; is {workdir} a training workdir?")
  with open(path) as f:
    recorded = json.load(f)
  run = None
  if os.path.exists(run_path):
    with open(run_path) as f:
      run = json.load(f)
  recorded_nothing = run is None and "init_from_status" not in recorded
  config, run = migrate(recorded, run)
  return ml_collections.ConfigDict(config), None if recorded_nothing else run


def read_config(workdir: str) -> ml_collections.ConfigDict:
  """The config `workdir`'s run was given (old workdirs migrated: `migrate`)."""
  return read_workdir(workdir)[0]


def read_run(workdir: str) -> Optional[dict]:
  """What `workdir`'s run decided (run.json; old workdirs: from config.json), None if
  nothing was recorded."""
  if not os.path.exists(os.path.join(workdir, CONFIG_FILE)):
    return None
  return read_workdir(workdir)[1]


def variables_from_state(state: dict, source: str = "checkpoint") -> dict:
  """`{'params', 'batch_stats'}` of a restored `state` item (nested dicts): a training
  checkpoint (TrainState fields, optimizer state ignored) or an exported one (step, params,
  batch_stats). Every reader of model variables goes through here."""
  missing = [k for k in ("params", "batch_stats") if k not in state]
  if missing:
    raise ValueError(f"{source}: the checkpoint holds {sorted(state)}, no {missing}")
  return {"params": state["params"], "batch_stats": state["batch_stats"]}


def restore_variables(workdir: str, step=None):
  """-> (`{'params', 'batch_stats'}` as host arrays, step) of `workdir`'s checkpoint `step`
  (latest if None; a number or "best", `resolve_step`), training or exported
  (`variables_from_state`)."""
  state, step = restore_raw_state(workdir, resolve_step(workdir, step))
  return variables_from_state(state, checkpoint_dir(workdir)), step


def load_groups(workdir: str, groups, params, batch_stats, widen_key=None):
  """Copies the parameters and BatchNorm statistics of `groups` (label prefixes of
  `supervision.param_labels`, e.g. 'f1') from `workdir`'s latest checkpoint into `params` /
  `batch_stats` (a new run's `config.init_from`). -> (params, batch_stats). Raises if a copied
  array is missing or of another shape, or if no parameter matches `groups`; with `widen_key`
  (`config.init_widen`), arrays of a narrower model are widened instead, computing the same
  function (`widen.widen_tree`)."""
  source, step = restore_variables(workdir)
  logging.getLogger("absl").info("init_from %s (step %d): groups %s", workdir, step,
                                 list(groups))

  def copy(target, src, kind):
    flat_t = flax.traverse_util.flatten_dict(flax.core.unfreeze(target))
    flat_s = flax.traverse_util.flatten_dict(src)
    labels = flax.traverse_util.flatten_dict(
        flax.core.unfreeze(supervision.param_labels(target)))
    chosen = [key for key in flat_t if any(labels[key].startswith(g) for g in groups)]
    for key in chosen:
      if key not in flat_s:
        raise ValueError(f"init_from {workdir}: {kind} {'/'.join(key)} missing (model configs "
                         f"differ?)")
      if np.shape(flat_s[key]) != np.shape(flat_t[key]) and widen_key is None:
        raise ValueError(f"init_from {workdir}: {kind} {'/'.join(key)} of shape "
                         f"{np.shape(flat_s[key])}, the model's is {np.shape(flat_t[key])} "
                         f"(model configs differ? config.init_widen=True widens a narrower "
                         f"model)")
    source_arrays = {key: flat_s[key] for key in chosen}
    if widen_key is not None:
      try:
        source_arrays = widen.widen_tree(
            widen_key, source_arrays, {key: np.shape(flat_t[key]) for key in chosen})
      except ValueError as e:
        raise ValueError(f"init_from {workdir}: {kind}: {e}") from None
    for key in chosen:
      flat_t[key] = jnp.asarray(source_arrays[key], flat_t[key].dtype)
    if not chosen and kind == "params":
      raise ValueError(f"init_from {workdir}: no parameter matches groups {list(groups)}")
    return flax.traverse_util.unflatten_dict(flat_t)

  return (copy(params, source["params"], "params"),
          copy(batch_stats, source["batch_stats"], "batch_stats"))


def restore_for_inference(workdir: str, step=None):
  """-> (config, model, {'params', 'batch_stats'}, step) from a training or exported workdir."""
  config = read_config(workdir)
  variables, step = restore_variables(workdir, step)
  return config, models.create_model(config.model), variables, step
