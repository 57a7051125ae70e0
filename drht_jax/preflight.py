"""What a run needs before anything slow: checked first, each missing thing said in one line.

`resolve(config, workdir)` runs before the data is built, the model initialised or a step
compiled (`train_lib.train_and_evaluate` calls it first; `train.py` prints a `SetupError` as one
line and exits 1, no traceback). It checks

* `config.init_from`: the run whose latest checkpoint initialises the model. Missing, it is an
  error naming the command that makes it (`config.init_from_missing = "error"`), or the run
  pre-trains f1 itself (`"pretrain"`, what `configs/joint.py` does): `config.pretrain_stage`
  (an `hdr` stage) of `config.pretrain_fraction` of `total_steps` goes before the config's
  stages (theirs shrink to the rest: `train_lib.plan_stages(config, decision)`), and
  the first printed line says so. The decision ("checkpoint DIR step N" or "pretrain: <why>")
  goes into `<workdir>/run.json` with the stage plan; `config.json` keeps the config as given.
  A resumed run (its workdir has a checkpoint) needs no `init_from` and keeps the decision its
  run.json recorded (old workdirs: `checkpointing.migrate`), whatever appeared meanwhile.
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

import os
import sys
from typing import List, Optional, Tuple

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
  """The `DETERMINISTIC_XLA_FLAGS` that `environ['XLA_FLAGS']` (None: os.environ) lacks or
  sets to another value -> list of `--flag=value` strings, empty when all are set."""
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


def pretrains(decision: str) -> bool:
  """Whether a run's decision (run.json's `init_from`) is to pre-train f1 itself."""
  return str(decision).startswith("pretrain")


def check_pretraining(config):
  """A SetupError unless `config` can pre-train f1 itself (`train_lib.plan_stages` then puts
  `config.pretrain_stage`, an `hdr` stage of `pretrain_fraction`, first)."""
  fraction = float(config.pretrain_fraction)
  if not 0.0 < fraction < 1.0:
    raise SetupError(f"config.pretrain_fraction must be in (0, 1), got {fraction}")
  if PRETRAIN_STAGE in config.stage_order:
    raise SetupError(f"config.init_from_missing='pretrain': the config already has a "
                     f"{PRETRAIN_STAGE!r} stage; set config.init_from='' instead")
  if "pretrain_stage" not in config:
    raise SetupError("config.init_from_missing='pretrain' needs config.pretrain_stage, the "
                     "stage to pre-train f1 with (configs/default.py has it)")


def resolve_init_from(config, workdir: str) -> Tuple[dict, List[str]]:
  """-> ({"init_from": status}, lines to print first). See the module doc."""
  if latest_checkpoint(workdir) is not None:  # resuming: the decision run.json recorded
    from drht_jax import checkpointing  # pylint: disable=g-import-not-at-top
    status = str((checkpointing.read_run(workdir) or {}).get("init_from", ""))
    if pretrains(status):
      check_pretraining(config)
      return {"init_from": status}, [
          f"resuming {workdir}, which pre-trains f1 itself (stage {PRETRAIN_STAGE} first)"]
    return {"init_from": status}, []  # the checkpoint holds the whole state
  source = config.init_from
  if not source:
    return {"init_from": ""}, []
  mode = config.get("init_from_missing", "error")
  if mode not in ("error", "pretrain"):
    raise SetupError(f"config.init_from_missing must be 'error' or 'pretrain', got {mode!r}")
  step = latest_checkpoint(source)
  if step is not None:
    return {"init_from": f"checkpoint {source} step {step}"}, []
  what = (f"{source}/checkpoints has no checkpoint"
          if os.path.isdir(os.path.join(source, "checkpoints"))
          else f"{source} has no checkpoints")
  if mode == "error":
    raise SetupError(
        f"this config starts from the checkpoint of init_from={source}, but {what}: "
        f"make it first with `{command_for(source)}` (or point "
        f"--config.init_from=DIR at a finished run)")
  check_pretraining(config)
  steps = int(round(float(config.pretrain_fraction) * config.total_steps))
  return {"init_from": f"pretrain: {what} (init_from)"}, [
      f"init_from: {what}, so this run pre-trains f1 itself first: stage {PRETRAIN_STAGE} "
      f"(Eq. 2 on f1) for {steps} of its {config.total_steps} steps, then "
      f"{', '.join(config.stage_order)} (recorded in run.json). "
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
  """`data_dir`, or TFDS's default `~/tensorflow_datasets` when it is None or empty."""
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


def resolve(config, workdir: str) -> Tuple[dict, List[str]]:
  """Every check of the module doc, cheapest first. -> (what the run decided, for run.json:
  `{"init_from": "checkpoint DIR step N" | "pretrain: <why>" | ""}`, lines to print). The
  config is only read, never changed."""
  run, lines = resolve_init_from(config, workdir)
  check_manual_data(config.data)
  return run, lines


def fail(error: SetupError, prog: str = "train.py"):
  """Exits 1 printing the error as one line on stderr."""
  message = " ".join(str(error).split())
  sys.exit(f"{prog}: {message}")
