"""What a run needs before anything slow: checked first, each missing thing said in one line.

`resolve(config, workdir)` runs before the data is built, the model initialised or a step
compiled (`train_lib.train_and_evaluate` calls it first; `train.py` prints a `SetupError` as one
line and exits 1, no traceback). It checks

* `config.init_from`: the run whose latest checkpoint initialises the model. Missing, it is an
  error naming the command that makes it (`config.init_from_missing = "error"`), or the run
  pre-trains f1 itself (`"pretrain"`, what `configs/joint.py` does): an `hdr` stage of
  `config.pretrain_fraction` of `total_steps` goes before the config's stages (theirs shrink to
  the rest), the first printed line says so and `config.json` records it in
  `config.init_from_status`. A resumed run (its workdir has a checkpoint) needs no `init_from`
  and keeps the plan its `config.json` recorded.
* `config.data`: a data set read from the user's files (`city_scene`, `sun360`) that is not
  built yet needs its files in `<manual_dir>/<name>/{train,test}/` (default manual_dir:
  `<data_dir>/downloads/manual`, as TFDS).
* `config.deterministic`: on a GPU, XLA's deterministic flags must be in `XLA_FLAGS` before
  the backend starts (`apply_xla_flags`, which train.py calls before any JAX computation).

`apply_xla_flags(config)` adds `DETERMINISTIC_XLA_FLAGS` to `XLA_FLAGS` when
`config.deterministic`: `--xla_gpu_deterministic_ops=true` (deterministic scatter, reductions,
GEMMs and convolutions; it also switches autotuning off) and `--xla_gpu_autotune_level=0`
(explicitly: timing-based autotuning can pick another kernel in another process). XLA:CPU
ignores both: CPU runs are already bit-reproducible on one machine.
"""

import json
import os
import sys
from typing import List, Optional, Tuple

import ml_collections

DETERMINISTIC_XLA_FLAGS = ("--xla_gpu_deterministic_ops=true", "--xla_gpu_autotune_level=0")
MANUAL_DATASETS = ("city_scene", "sun360")
PRETRAIN_STAGE = "hdr"


class SetupError(Exception):
  """Something a run needs is missing; the message is one line: what, and what to do."""


# --- Determinism ---------------------------------------------------------------------------


def xla_flags_with(flags: str, extra=DETERMINISTIC_XLA_FLAGS) -> str:
  """`flags` (an XLA_FLAGS value) plus each of `extra` whose flag name it does not set yet."""
  present = {f.split("=", 1)[0] for f in flags.split()}
  added = [f for f in extra if f.split("=", 1)[0] not in present]
  return " ".join([flags.strip()] + added if flags.strip() else added)


def apply_xla_flags(config, environ=None) -> Optional[str]:
  """With `config.deterministic`, adds the deterministic flags to `XLA_FLAGS` (in `environ`,
  default `os.environ`) and returns the new value; None when the knob is off. Must run before
  the first JAX computation (XLA reads the flags when the backend starts)."""
  environ = os.environ if environ is None else environ
  if not config.get("deterministic", False):
    return None
  environ["XLA_FLAGS"] = xla_flags_with(environ.get("XLA_FLAGS", ""))
  return environ["XLA_FLAGS"]


def missing_xla_flags(environ=None) -> list:
  environ = os.environ if environ is None else environ
  present = {f.split("=", 1)[0]: f for f in environ.get("XLA_FLAGS", "").split()}
  return [f for f in DETERMINISTIC_XLA_FLAGS if present.get(f.split("=", 1)[0]) != f]


def determinism_note(config, platform: str) -> str:
  """One line for the log; a SetupError if the knob is on, the device a GPU and the flags were
  not set before the backend started (too late to set them now)."""
  if not config.get("deterministic", False):
    return f"deterministic: off ({platform}; config.deterministic=True for bit-reproducible GPU runs)"
  missing = missing_xla_flags()
  if missing and platform == "gpu":
    raise SetupError(
        f"config.deterministic=True but XLA_FLAGS lacks {' '.join(missing)}, and the GPU backend "
        "has already started: run through train.py, or set XLA_FLAGS='"
        f"{' '.join(DETERMINISTIC_XLA_FLAGS)}' before the first JAX computation")
  effect = "" if platform == "gpu" else f"; no effect on {platform}, already deterministic"
  return f"deterministic: on (XLA_FLAGS={os.environ.get('XLA_FLAGS', '')}{effect})"


# --- init_from -------------------------------------------------------------------------------


def latest_checkpoint(workdir: str) -> Optional[int]:
  """Latest finished checkpoint step of a workdir, None if it has none (cheap: no restore)."""
  # Orbax writes a step to a temporary folder and renames it to the step number when
  # complete (checkpointing.py), so finished steps are the all-digit folder names. (A
  # read-only CheckpointManager would tell the same, logging two warnings.)
  folder = os.path.join(workdir, "checkpoints") if workdir else ""
  if not folder or not os.path.isdir(folder):
    return None
  steps = [int(name) for name in os.listdir(folder)
           if name.isdigit() and os.path.isdir(os.path.join(folder, name))]
  return max(steps) if steps else None


def command_for(run_dir: str) -> str:
  """The command that makes `run_dir` (`runs/hdr` -> `python train.py --config=hdr`)."""
  name = os.path.basename(os.path.normpath(run_dir))
  repo_configs = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "configs")
  config = name if os.path.exists(os.path.join(repo_configs, name + ".py")) else "hdr"
  command = f"python train.py --config={config}"
  if os.path.normpath(run_dir) != os.path.join("runs", config):
    command += f" --workdir={run_dir}"
  return command


def with_pretraining(config, reason: str):
  """`config` with an `hdr` stage (f1 alone, Eq. 2) of `pretrain_fraction` prepended and no
  `init_from`; the other stages keep their proportions in the rest of `total_steps`."""
  fraction = float(config.pretrain_fraction)
  if not 0.0 < fraction < 1.0:
    raise SetupError(f"config.pretrain_fraction must be in (0, 1), got {fraction}")
  if PRETRAIN_STAGE in config.stage_order:
    raise SetupError(f"config.init_from_missing='pretrain': the config already has a "
                     f"{PRETRAIN_STAGE!r} stage; set config.init_from='' instead")
  from configs import default  # pylint: disable=g-import-not-at-top
  config = ml_collections.ConfigDict(config.to_dict())  # an unlocked copy
  for name in config.stage_order:
    config.stages[name].fraction = config.stages[name].fraction * (1.0 - fraction)
  config.stages[PRETRAIN_STAGE] = default.stage(
      "hdr", fraction=fraction, supervision=default.all_at_once(("f1",)))
  config.stage_order = (PRETRAIN_STAGE,) + tuple(config.stage_order)
  config.init_from_status = f"pretrain: {reason}"
  config.init_from = ""
  return config


def _recorded_config(workdir: str) -> Optional[dict]:
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def resolve_init_from(config, workdir: str) -> Tuple[ml_collections.ConfigDict, List[str]]:
  """-> (config to run, lines to print first). See the module doc."""
  source = config.init_from
  if not source:
    return config, []
  mode = config.get("init_from_missing", "error")
  if mode not in ("error", "pretrain"):
    raise SetupError(f"config.init_from_missing must be 'error' or 'pretrain', got {mode!r}")
  resuming = latest_checkpoint(workdir) is not None
  if resuming:
    recorded = _recorded_config(workdir) or {}
    status = str(recorded.get("init_from_status", ""))
    if status.startswith("pretrain"):
      return with_pretraining(config, status.split(": ", 1)[-1]), [
          f"resuming {workdir}, which pre-trains f1 itself (stage {PRETRAIN_STAGE} first)"]
    config = ml_collections.ConfigDict(config.to_dict())
    config.init_from_status = status  # the checkpoint holds the whole state; keep the record
    return config, []
  step = latest_checkpoint(config.init_from)
  if step is not None:
    config = ml_collections.ConfigDict(config.to_dict())
    config.init_from_status = f"checkpoint {config.init_from} step {step}"
    return config, []
  what = (f"{config.init_from}/checkpoints has no checkpoint"
          if os.path.isdir(os.path.join(config.init_from, "checkpoints"))
          else f"{config.init_from} has no checkpoints")
  if mode == "error":
    raise SetupError(
        f"this config starts from the checkpoint of init_from={config.init_from}, but {what}: "
        f"make it first with `{command_for(config.init_from)}` (or point "
        f"--config.init_from=DIR at a finished run)")
  fraction = float(config.pretrain_fraction)
  config = with_pretraining(config, f"{what} (init_from)")
  steps = int(round(fraction * config.total_steps))
  return config, [
      f"init_from: {what}, so this run pre-trains f1 itself first: stage {PRETRAIN_STAGE} "
      f"(Eq. 2 on f1) for {steps} of its {config.total_steps} steps, then "
      f"{', '.join(config.stage_order[1:])} (recorded in config.json as init_from_status). "
      f"To use a separate run instead: `{command_for(source)}`"
      f" first, or --config.init_from_missing=error to stop here"]


# --- Data ------------------------------------------------------------------------------------


def _first_file(folder: str, extensions) -> Optional[str]:
  """Some file under `folder` (recursively, hidden ones left out) with one of `extensions`."""
  for root, dirs, names in os.walk(folder):
    dirs[:] = [d for d in dirs if not d.startswith(".")]
    for name in names:
      if not name.startswith(".") and name.lower().endswith(tuple(extensions)):
        return os.path.join(root, name)
  return None


def default_data_dir(data_dir: Optional[str]) -> str:
  return data_dir or os.path.join(os.path.expanduser("~"), "tensorflow_datasets")


def check_manual_data(data_config, splits=("train", "test")):
  """A SetupError unless a `city_scene`/`sun360` data set is built or its files are there."""
  dataset = data_config.dataset
  path, _, version = dataset.partition(":")  # TFDS also takes `name[/config][:version]`
  name = path.split("/")[0]
  if name not in MANUAL_DATASETS:
    return
  import importlib  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from drht_jax import input_pipeline  # pylint: disable=g-import-not-at-top
  importlib.import_module(input_pipeline.BUILDER_MODULES[name])  # registers the builder
  builder_cls = tfds.builder_cls(name)
  data_dir = data_config.get("data_dir")
  # Built already (TFDS's layout): the files are not needed. (Not `tfds.builder(...)
  # .is_prepared()`, which logs a warning about the folder it looks for.)
  if os.path.exists(os.path.join(default_data_dir(data_dir), path,
                                 version or str(builder_cls.VERSION), "dataset_info.json")):
    return
  folder, extensions = builder_cls.FOLDER, builder_cls.EXTENSIONS
  manual_dir = data_config.get("manual_dir")
  given = bool(manual_dir)
  manual_dir = manual_dir or os.path.join(default_data_dir(data_dir), "downloads", "manual")
  layout = (f"{os.path.join(manual_dir, folder)}/{{{','.join(splits)}}}/ "
            f"({'|'.join('*' + e for e in extensions)})")
  readme = f"datasets/{name}/README.md"
  fix = (f"put your copy there ({readme} says where to get it), then rerun" if given else
         f"put your copy in DIR/{folder}/{{{','.join(splits)}}}/ ({readme} says where to get "
         f"it) and add --config.data.manual_dir=DIR")
  if given and not os.path.isdir(manual_dir):
    problem = f"manual_dir {manual_dir} does not exist"
  else:
    empty = [os.path.join(manual_dir, folder, s) for s in splits
             if _first_file(os.path.join(manual_dir, folder, s), extensions) is None]
    if not empty:
      return
    problem = (f"no {'|'.join(extensions)} files in {', '.join(empty)}" if given else
               f"config.data.manual_dir is not set (and the default {manual_dir} has none)")
  raise SetupError(f"data set {dataset} (not built yet in {default_data_dir(data_dir)}) is "
                   f"built from your files in {layout}; {problem}: {fix}")


# --- All of it -------------------------------------------------------------------------------


def resolve(config, workdir: str) -> Tuple[ml_collections.ConfigDict, List[str]]:
  """Every check of the module doc, cheapest first. -> (config to run, lines to print)."""
  config, lines = resolve_init_from(config, workdir)
  check_manual_data(config.data)
  return config, lines


def fail(error: SetupError, prog: str = "train.py"):
  """Exits 1 printing the error as one line on stderr."""
  message = " ".join(str(error).split())
  sys.exit(f"{prog}: {message}")
