"""Training: TrainState, the pmapped train step, the stage loop, checkpoints and logging.

The loop (`train_and_evaluate`) follows google/flax's examples/imagenet: restore or
initialise, then per step the train step, `clu.periodic_actions.ReportProgress`, logging
through `clu.metric_writers` (`JsonlWriter` for metrics.jsonl + `TensorBoardXWriter`), the
config's evaluators (`evaluators.from_config`), image grids, stage switches and checkpoints
(`checkpointing`: the `TrainState` as it is).

`train_and_evaluate(config, workdir)` runs the stages of `plan_stages(config, decision)` one
after the other over `config.total_steps` global steps. Each stage has its loss (`hdr`: Eq. 2
on f1; `joint`: Eq. 4), its parameter groups and hierarchical schedule
(`supervision.create_optimizer`) and a fresh optimizer state; parameters and BatchNorm
statistics carry over. Steps are `jax.pmap`-ed over the local devices (gradients, losses and
BatchNorm statistics averaged over `AXIS`), the input pipeline shards by process, and every
random choice comes from `config.seed`: `fold_in(key, step)` then the device index, so a
resumed run needs no stored key stream.

Workdir: `config.json` (the config as given), `run.json` (what the run decided, `init_from`:
"checkpoint DIR step N" | "pretrain: <why>" | "", and its stage plan), `checkpoints/` (Orbax:
state + data iterator state), `metrics.jsonl` (one JSON object per logged step), `tensorboard/`
(event files), `images/step_XXXXXXX.png`. With `config.validation` (held-out scenes,
`evaluators.validation_from_config`), every checkpoint is scored on the validation set when it is saved
(`validation.jsonl`), and the best-scoring checkpoint is kept beside the `max_to_keep` newest
(`checkpointing.prune`): a checkpoint is then chosen on data the run never trained on, not on
the test split.
"""

import functools
import hashlib
import json
import os
import time
from typing import Any, NamedTuple, Optional

from absl import logging

from drht_jax import clu_compat  # pylint: disable=unused-import  (before clu, see there)
from clu import metric_writers  # pylint: disable=wrong-import-order
from clu import periodic_actions  # pylint: disable=wrong-import-order
import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from drht_jax import checkpointing
from drht_jax import evaluators
from drht_jax import input_pipeline
from drht_jax import losses
from drht_jax import models
from drht_jax import preflight
from drht_jax import supervision
from drht_jax import widen

AXIS = "batch"  # the pmap axis: gradients, losses and BatchNorm statistics are averaged over it


class NonFiniteLossError(FloatingPointError):
  """The loss became NaN/Inf; the last good checkpoint is kept."""


@flax.struct.dataclass
class TrainState:
  """Everything a checkpoint holds: step, base PRNG key, parameters, BatchNorm statistics
  and optimizer state (host arrays when saved; replicated over devices in the loop)."""
  step: jax.Array         # int32, global step (over all stages)
  rng: jax.Array          # base PRNG key of the run; per-step keys are folded from it
  params: Any
  batch_stats: Any
  opt_state: Any


class Stage(NamedTuple):
  """One training stage of `plan_stages`: its index, name (`hdr`, `joint`, ...), the stage's
  config, first global step and length in steps."""
  index: int
  name: str
  config: ml_collections.ConfigDict
  start: int              # first global step of the stage
  num_steps: int


# --- Stages -------------------------------------------------------------------------------


def plan_stages(config, decision: str = "") -> list:
  """Splits `config.total_steps` over the stages named in `config.stage_order` by their
  `fraction`s (the last takes the remainder). A pure function of the config and the run's
  decision (`preflight.resolve`, run.json's `init_from`): when that is "pretrain: ...",
  `config.pretrain_stage` of `pretrain_fraction` goes first as stage `preflight.PRETRAIN_STAGE`
  and the others keep their proportions in the rest. Raises on unknown names or fractions not
  summing to 1."""
  order = list(config.stage_order)
  if not order:
    raise ValueError("config.stage_order is empty")
  unknown = [name for name in order if name not in config.stages]
  if unknown:
    raise ValueError(f"config.stage_order names {unknown}, not in config.stages "
                     f"({sorted(config.stages.keys())})")
  entries = [(name, config.stages[name], config.stages[name].fraction) for name in order]
  if preflight.pretrains(decision):
    preflight.check_pretraining(config)
    fraction = float(config.pretrain_fraction)
    entries = [(preflight.PRETRAIN_STAGE, config.pretrain_stage, fraction)] + [
        (name, stage_config, f * (1.0 - fraction)) for name, stage_config, f in entries]
  total = sum(f for _, _, f in entries)
  if abs(total - 1.0) > 1e-6:
    raise ValueError(f"config.stages: fractions of {order} sum to {total}, expected 1")
  plan, start = [], 0
  for k, (name, stage_config, fraction) in enumerate(entries):
    if stage_config.loss not in ("hdr", "joint"):
      raise ValueError(f"config.stages.{name}.loss: expected 'hdr' or 'joint', got "
                       f"{stage_config.loss!r}")
    if batch_norm_mode(stage_config) not in BATCH_NORM_MODES:
      raise ValueError(f"config.stages.{name}.batch_norm: expected one of {BATCH_NORM_MODES}, "
                       f"got {batch_norm_mode(stage_config)!r}")
    n = (config.total_steps - start if k == len(entries) - 1
         else int(round(fraction * config.total_steps)))
    plan.append(Stage(k, name, stage_config, start, n))
    start += n
  return plan


def run_record(run: dict, plan) -> dict:
  """run.json: the run's decision (`preflight.resolve`) and the stage plan it runs."""
  return {**run, "stages": [{"name": s.name, "start": s.start, "steps": s.num_steps,
                             "loss": s.config.loss} for s in plan]}


def stage_at(plan, step: int) -> Stage:
  """The stage that runs global step `step` (the last stage for `step >= total_steps`)."""
  for stage in plan:
    if step < stage.start + stage.num_steps:
      return stage
  return plan[-1]


def stage_optimizer(config, stage: Stage, params):
  """Optimizer of one stage: `supervision.create_optimizer` over the stage's steps."""
  stage_config = ml_collections.ConfigDict({
      "optimizer": config.optimizer, "supervision": stage.config.supervision,
      "total_steps": stage.num_steps})
  return supervision.create_optimizer(stage_config, params)


# --- Steps --------------------------------------------------------------------------------

BATCH_NORM_MODES = ("batch", "frozen")  # configs/default.py stage()


def batch_norm_mode(stage_config) -> str:
  """The stage's `batch_norm`; stages saved before the key existed trained with 'batch'."""
  return stage_config.get("batch_norm", "batch")


def merge_batch_stats(old, new, active):
  """BatchNorm statistics after a step: `new` where `active`, `old` elsewhere (bit for bit).
  `new` may cover only a subtree of `old` (the `hdr` stage runs f1 alone)."""
  old = flax.core.unfreeze(old)
  new = flax.traverse_util.flatten_dict(flax.core.unfreeze(new))
  flat_old = flax.traverse_util.flatten_dict(old)
  flat_active = flax.traverse_util.flatten_dict(flax.core.unfreeze(active))
  merged = {k: (jnp.where(flat_active[k], new[k], v) if k in new else v)
            for k, v in flat_old.items()}
  return flax.traverse_util.unflatten_dict(merged)


def compute_loss(model, params, batch_stats, batch, stage_config, train=True, rngs=None):
  """The stage's loss on `batch`. -> (loss, ({term: value}, new batch_stats))."""
  variables = {"params": params, "batch_stats": batch_stats}
  rngs = {"dropout": rngs} if rngs is not None else None
  mutable = ["batch_stats"] if train else False
  if stage_config.loss == "hdr":
    out = model.apply(variables, batch["ldr"], train=train, mutable=mutable, rngs=rngs,
                      method=models.DRHT.estimate_hdr)
    s_hat, updates = out if train else (out, {"batch_stats": batch_stats})
    loss = losses.hdr_loss(s_hat, batch["hdr"])
    return loss, ({"hdr": loss}, updates["batch_stats"])
  out = model.apply(variables, batch["ldr"], train=train, mutable=mutable, rngs=rngs)
  outputs, updates = out if train else (out, {"batch_stats": batch_stats})
  loss, terms = losses.joint_loss(outputs["i_hat"], batch["ldr_gt"], outputs["s_hat"],
                                  batch["hdr"], stage_config.eps,
                                  ssim_weight=stage_config.get("ssim_weight", 0.0))
  return loss, (terms, updates["batch_stats"])


def train_step(state: TrainState, batch, *, model, tx, stage: Stage, starts):
  """One step on one device's share of the batch (run under `pmap(axis_name=AXIS)`).

  `batch`: `{"ldr", "hdr", "ldr_gt"}` `[B/D, H, W, 3]`. Returns (new state, metrics) with
  metrics averaged over devices: `loss`, `loss_<term>`, `grad_norm`, `lr_scale`.
  """
  local_step = state.step - stage.start
  # Reserved for stochastic layers (none in DRHT today): one key per step and per device.
  key = jax.random.fold_in(jax.random.fold_in(state.rng, state.step),
                           jax.lax.axis_index(AXIS))

  # 'frozen': BatchNorm normalises with the running statistics, as at inference, and
  # compute_loss hands them back unchanged.
  batch_train = batch_norm_mode(stage.config) == "batch"

  def loss_fn(params):
    return compute_loss(model, params, state.batch_stats, batch, stage.config,
                        train=batch_train, rngs=key)

  (loss, (terms, new_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  grads = jax.lax.pmean(grads, AXIS)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  # BatchNorm statistics follow every layer that runs in this stage, started or not: a layer
  # waiting for its start still sees its input drift as earlier layers learn, and stale
  # statistics would make eval mode disagree with train mode when it switches on (by how much:
  # docs/model.md, "Hierarchical supervision: two measurements"). Groups outside the stage's
  # `trainable` keep theirs bit for bit.
  runs = supervision.active_mask(state.batch_stats, starts, jnp.iinfo(jnp.int32).max)
  batch_stats = merge_batch_stats(state.batch_stats, new_stats, runs)
  out = {"loss": loss, **{f"loss_{k}": v for k, v in terms.items()},
         "grad_norm": optax.global_norm(grads)}
  out = jax.lax.pmean(out, AXIS)
  new_state = state.replace(step=state.step + 1, params=params, batch_stats=batch_stats,
                            opt_state=opt_state)
  return new_state, out


def parallelize(fn, num_devices: int, donate_argnums=()):
  """`fn` mapped over the leading (device) axis of its arguments, with collectives over AXIS.

  Several devices (over all processes): `jax.pmap`. A single device in a single process:
  `jax.jit(jax.vmap(fn, axis_name=AXIS))`, the same function (a device axis of size 1,
  `pmean` over it), which XLA:CPU runs several times faster than a one-device pmap
  (bench/README.md, "One device: vmap, not pmap")."""
  if num_devices > 1 or jax.process_count() > 1:
    return jax.pmap(fn, axis_name=AXIS, donate_argnums=donate_argnums)
  return jax.jit(jax.vmap(fn, axis_name=AXIS), donate_argnums=donate_argnums)


def make_p_train_step(model, tx, stage: Stage, num_devices: Optional[int] = None):
  """The stage's train step over all local devices; the state argument is donated."""
  starts = supervision.group_starts(stage.config.supervision, stage.num_steps)
  step = functools.partial(train_step, model=model, tx=tx, stage=stage, starts=starts)
  num_devices = jax.local_device_count() if num_devices is None else num_devices
  return parallelize(step, num_devices, donate_argnums=(0,))


# --- State --------------------------------------------------------------------------------


def initial_state(config, model, plan, load_init_from: bool = True) -> TrainState:
  """Step 0 state from `config.seed` (host arrays, unreplicated); `config.init_from`'s groups
  copied in unless `load_init_from` is False (a resumed run restores everything anyway)."""
  init_key, train_key = jax.random.split(jax.random.PRNGKey(config.seed))
  variables = models.init_variables(model, init_key, tuple(config.image_size))
  params, batch_stats = variables["params"], variables["batch_stats"]
  if config.init_from and load_init_from:
    widen_key = None
    if config.get("init_widen", False):
      widen.check_model(config.model)
      widen_key = jax.random.fold_in(init_key, 1)
    params, batch_stats = checkpointing.load_groups(
        config.init_from, config.init_from_groups, params, batch_stats, widen_key)
  tx = stage_optimizer(config, plan[0], params)
  return TrainState(step=jnp.zeros([], jnp.int32), rng=train_key, params=params,
                    batch_stats=batch_stats, opt_state=tx.init(params))


def to_host(tree):
  """The first replica of a replicated PyTree (e.g. the training state), as NumPy arrays on
  the host: what checkpoints, evaluation and digests read."""
  return jax.device_get(jax.tree_util.tree_map(lambda x: x[0], tree))


def host_variables(state: TrainState) -> dict:
  """`{'params', 'batch_stats'}` of a replicated state's first replica, on the host."""
  return to_host({"params": state.params, "batch_stats": state.batch_stats})


def restore_or_initialize(config, model, plan, manager, train_iter, init_from: str):
  """The state the run starts from: `manager`'s latest checkpoint (with `train_iter` moved to
  where it was), else step 0 (`initial_state`, `config.init_from`'s groups copied in when the
  run's decision `init_from` says "checkpoint ..."). -> unreplicated `TrainState`."""
  latest = manager.latest_step()
  state = initial_state(config, model, plan, load_init_from=(
      latest is None and init_from.startswith("checkpoint")))
  if latest is None:
    return state
  tx = stage_optimizer(config, stage_at(plan, latest), state.params)
  state, data_state = checkpointing.restore(manager, latest,
                                            state.replace(opt_state=tx.init(state.params)))
  if data_state is not None:
    train_iter.set_state(data_state)
  logging.info("resumed from %s at step %d", manager.directory, latest)
  return state


def replicate_for_stage(config, model, stage: Stage, host_state: TrainState,
                        fresh_optimizer: bool):
  """-> (replicated state, the stage's train step). `fresh_optimizer`: a new optimizer state
  for the stage (a stage starts with one; parameters and statistics carry on)."""
  tx = stage_optimizer(config, stage, host_state.params)
  if fresh_optimizer:
    host_state = host_state.replace(opt_state=tx.init(host_state.params))
  return flax.jax_utils.replicate(host_state), make_p_train_step(model, tx, stage)


def check_finite(step_metrics, step: int, stage_name: str, manager):
  """Raises `NonFiniteLossError` naming the step and the last good checkpoint if the loss of
  step `step` (0-based; `step_metrics["loss"]` `[devices]`) is NaN/Inf."""
  loss = float(step_metrics["loss"][0])
  if not np.isfinite(loss):
    raise NonFiniteLossError(
        f"loss is {loss} at step {step} (stage {stage_name}); stopping. The last good "
        f"checkpoint is {manager.latest_step()} in {manager.directory}")


def progress_line(stage_name: str, step: int, total_steps: int, scalars: dict,
                  eta_seconds: float) -> str:
  """The line printed at each logged step: losses, speed, ETA, eval PSNR when evaluated."""
  seconds = int(max(0, eta_seconds))
  eta = f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
  terms = " ".join(f"{k[5:]} {v:.5f}" for k, v in scalars.items() if k.startswith("loss_"))
  extra = (f" | eval psnr {scalars['eval_psnr']:.2f} (input {scalars['eval_input_psnr']:.2f})"
           if "eval_psnr" in scalars else "")
  return (f"[{stage_name}] step {step}/{total_steps} loss {scalars['loss']:.5f} ({terms}) | "
          f"{scalars['images_per_sec']:.1f} img/s | ETA {eta}{extra}")


# --- Metric writers -----------------------------------------------------------------------


class JsonlWriter(metric_writers.MetricWriter):
  """`path` (metrics.jsonl): one JSON object per `write_scalars` call,
  `{"step": step, **texts written for that step (e.g. "stage"), **scalars}`.

  Constructed with `resume_step`, it first drops the lines past that step (written by a killed
  run after its last checkpoint), so the file always describes the run that produced the
  latest checkpoint. Images, videos, audio, histograms, hparams and summaries are not kept."""

  def __init__(self, path: str, resume_step: int):
    self.path = path
    self._texts = {}
    if os.path.exists(path):
      with open(path) as f:
        kept = [line for line in f if line.strip() and json.loads(line)["step"] <= resume_step]
      with open(path + ".tmp", "w") as f:
        f.writelines(kept)
      os.replace(path + ".tmp", path)

  def write_texts(self, step, texts):
    """Keeps `texts` ({name: str}) for the record of `step`'s next `write_scalars`."""
    self._texts.setdefault(int(step), {}).update(texts)

  def write_scalars(self, step, scalars):
    """Appends `{"step", **texts of step, **scalars}` ({name: number or 0-d array}) as one
    line of metrics.jsonl."""
    record = {"step": int(step), **self._texts.pop(int(step), {}),
              **{k: (v.item() if hasattr(v, "item") else v) for k, v in scalars.items()}}
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")

  def write_summaries(self, step, values, metadata=None):
    """Not kept in metrics.jsonl (class docstring)."""

  def write_images(self, step, images):
    """Not kept in metrics.jsonl (class docstring)."""

  def write_videos(self, step, videos):
    """Not kept in metrics.jsonl (class docstring)."""

  def write_audios(self, step, audios, *, sample_rate):
    """Not kept in metrics.jsonl (class docstring)."""

  def write_histograms(self, step, arrays, num_buckets=None):
    """Not kept in metrics.jsonl (class docstring)."""

  def write_hparams(self, hparams):
    """Not kept in metrics.jsonl (class docstring)."""

  def flush(self):
    """Nothing to do: every record is written (and the file closed) when it arrives."""

  def close(self):
    """Nothing to do: the file is closed after each record."""


class TensorBoardXWriter(metric_writers.MetricWriter):
  """TensorBoard event files in `logdir` through tensorboardX (clu's own SummaryWriter needs
  TensorFlow, which this project does not install): scalars, texts, images
  (`[H, W, C]` or `[N, H, W, C]`), histograms; other kinds are not written."""

  def __init__(self, logdir: str):
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
    self._tb = SummaryWriter(logdir)

  def write_scalars(self, step, scalars):
    """One TensorBoard scalar per item of `scalars` ({name: number}) at `step`."""
    for key, value in scalars.items():
      self._tb.add_scalar(key, value, step)

  def write_texts(self, step, texts):
    """One TensorBoard text per item of `texts` ({name: str}) at `step`."""
    for key, value in texts.items():
      self._tb.add_text(key, value, step)

  def write_images(self, step, images):
    """`images`: {name: `[H, W, C]` or `[N, H, W, C]` array (uint8, or float in [0, 1])}."""
    for key, value in images.items():
      self._tb.add_images(key, value if np.ndim(value) == 4 else value[None], step,
                          dataformats="NHWC")

  def write_histograms(self, step, arrays, num_buckets=None):
    """One histogram per item of `arrays` ({name: array}), `num_buckets` bins (None: TF's)."""
    for key, value in arrays.items():
      self._tb.add_histogram(key, np.asarray(value), step, bins=num_buckets or "tensorflow")

  def write_summaries(self, step, values, metadata=None):
    """Not written (class docstring)."""

  def write_videos(self, step, videos):
    """Not written (class docstring)."""

  def write_audios(self, step, audios, *, sample_rate):
    """Not written (class docstring)."""

  def write_hparams(self, hparams):
    """`hparams` ({name: value}) as one JSON text named "hparams"."""
    self._tb.add_text("hparams", json.dumps(hparams, default=str, sort_keys=True))

  def flush(self):
    """Flushes the event file."""
    self._tb.flush()

  def close(self):
    """Closes the event file."""
    self._tb.close()


def create_writers(workdir: str, resume_step: int, is_chief: bool):
  """-> (writer, tensorboard): on the chief process a `MultiWriter` of `metrics.jsonl`
  (`JsonlWriter`) and `tensorboard/` event files (`TensorBoardXWriter`; left out with a warning
  if tensorboardX is missing: metrics.jsonl is the record), and the TensorBoard writer alone
  (for `ReportProgress`'s speed scalars, kept out of metrics.jsonl) or None. Other processes
  write nothing."""
  if not is_chief:
    return metric_writers.MultiWriter([]), None
  try:
    tensorboard = TensorBoardXWriter(os.path.join(workdir, "tensorboard"))
  except ImportError:
    logging.warning("tensorboardX not installed: no TensorBoard event files")
    tensorboard = None
  jsonl = JsonlWriter(os.path.join(workdir, "metrics.jsonl"), resume_step)
  return metric_writers.MultiWriter([jsonl] + ([tensorboard] if tensorboard else [])), tensorboard


# --- The loop -----------------------------------------------------------------------------


def initialize_distributed(config):
  """`jax.distributed.initialize` when `config.distributed.initialize` (multi-host); CPU
  processes talk through gloo collectives."""
  dist = config.distributed
  if not dist.initialize:
    return
  # CPU processes need a collectives backend; harmless on GPUs. (Asking jax which backend it
  # has would initialise it, which must come after `initialize`.)
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(coordinator_address=dist.coordinator_address,
                             num_processes=dist.num_processes, process_id=dist.process_id)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains (resuming from `workdir`'s latest checkpoint if any) and returns the final
  summary `{"step", "stage", "loss", ..., "digest", eval metrics}`. What the run needs
  (init_from, the user's data files) is checked first, `preflight.SetupError` if missing
  (preflight.py); a NaN/Inf loss raises `NonFiniteLossError` before the next checkpoint."""
  models.check_image_shape(np.zeros((1, *config.image_size, 3)), "config.image_size")
  run, notes = preflight.resolve(config, workdir)  # before JAX starts or data is built
  is_chief = jax.process_index() == 0
  if config.get("deterministic", False):
    notes.append(preflight.determinism_note(config, jax.default_backend()))
  if is_chief:
    for line in notes:
      print(line, flush=True)
  plan = plan_stages(config, run["init_from"])
  os.makedirs(workdir, exist_ok=True)
  if is_chief:
    checkpointing.write_config(workdir, config)  # as given; what the run decided: run.json
    checkpointing.write_run(workdir, run_record(run, plan))
  model = models.create_model(config.model, axis_name=AXIS)
  eval_model = models.create_model(config.model)
  evals = evaluators.from_config(config)
  validation = evaluators.validation_from_config(config)
  best_metric = checkpointing.validation_key(config)
  if validation is not None and jax.process_count() > 1:
    raise ValueError("config.validation scores and prunes checkpoints in one process; run "
                     "multi-host training without it (--config.validation.split=)")
  manager = checkpointing.create_manager(
      workdir, None if validation is not None else config.max_to_keep)
  train_iter = input_pipeline.create_train_iterator(config)
  host_state = restore_or_initialize(config, model, plan, manager, train_iter,
                                     run["init_from"])
  start_step = int(host_state.step)
  writer, tensorboard = create_writers(workdir, start_step, is_chief)
  report_progress = periodic_actions.ReportProgress(num_train_steps=config.total_steps,
                                                    writer=tensorboard)
  stage = stage_at(plan, start_step)
  if is_chief:
    print(f"{config.total_steps} steps from step {start_step} on {jax.device_count()} devices "
          f"({jax.process_count()} processes), global batch {config.batch_size}; stages "
          + ", ".join(f"{s.name} {s.start}-{s.start + s.num_steps}" for s in plan), flush=True)
    print(train_iter.description, flush=True)
  state, p_train_step = replicate_for_stage(config, model, stage, host_state,
                                            fresh_optimizer=False)

  summary, t_log, steps_since_log, done = {}, time.time(), 0, start_step
  pending = None  # (metrics, step, stage name) of the previous step: its loss is checked a
  # step late, so that reading it never waits for the step in flight.
  for step in range(start_step, config.total_steps):
    batch = next(train_iter)
    state, step_metrics = p_train_step(state, batch)
    if pending is not None:
      check_finite(*pending, manager)
    pending = (step_metrics, step, stage.name)
    done = step + 1  # steps completed, the global step of `state`
    steps_since_log += 1
    report_progress(done)

    if done % config.log_every == 0 or done == config.total_steps:
      check_finite(*pending, manager)
      scalars = {k: float(v[0]) for k, v in jax.device_get(step_metrics).items()}
      scalars["images_per_sec"] = steps_since_log * config.batch_size / (time.time() - t_log)
      due = [e for e in evals if e.every and done % e.every == 0]
      if due and is_chief:
        with report_progress.timed("eval"):
          scalars.update(evaluators.run_all(due, eval_model, host_variables(state)),
                         eval_step=done)
      writer.write_texts(done, {"stage": stage.name})
      writer.write_scalars(done, scalars)
      writer.flush()
      summary = {"step": done, "stage": stage.name, **scalars}
      if is_chief:
        eta = ((config.total_steps - done) * config.batch_size
               / max(scalars["images_per_sec"], 1e-9))
        print(progress_line(stage.name, done, config.total_steps, scalars, eta), flush=True)
      t_log, steps_since_log = time.time(), 0

    if config.image_every and done % config.image_every == 0 and is_chief:
      flat_batch = jax.tree_util.tree_map(lambda x: x.reshape((-1,) + x.shape[2:]), batch)
      evaluators.save_image_grid(os.path.join(workdir, "images", f"step_{done:07d}.png"),
                                 eval_model, host_variables(state), flat_batch)

    if stage_at(plan, done).index != stage.index and done < config.total_steps:
      stage = stage_at(plan, done)  # new groups, schedule and optimizer state
      state, p_train_step = replicate_for_stage(config, model, stage, to_host(state),
                                                fresh_optimizer=True)
      if is_chief:
        print(f"stage {stage.index}: {stage.name} from step {done} "
              f"({stage.num_steps} steps)", flush=True)

    if done % config.checkpoint_every == 0 or done == config.total_steps:
      check_finite(*pending, manager)
      with report_progress.timed("checkpoint"):
        checkpointing.save(manager, done, to_host(state), train_iter.get_state())
      if validation is not None:  # one process (checked above)
        with report_progress.timed("validation"):
          scores = {"val_" + k: v for k, v in
                    validation.run(eval_model, host_variables(state)).items()}
        checkpointing.append_validation(workdir, done, scores)
        checkpointing.prune(manager, workdir, config.max_to_keep, best_metric)
        summary.update(scores, best_step=checkpointing.best_step(workdir, best_metric,
                                                                 manager.all_steps()))
        print(f"validation at step {done}: " + ", ".join(
            f"{k} {v:.3f}" for k, v in sorted(scores.items()))
            + f"; best step {summary['best_step']}", flush=True)

  if pending is not None:
    check_finite(*pending, manager)
  variables = host_variables(state)
  summary = {**summary, "step": done, "digest": state_digest(variables)}
  if done == config.total_steps and is_chief and evals and summary.get("eval_step") != done:
    summary.update(evaluators.run_all(evals, eval_model, variables))
  writer.close()
  manager.close()
  return summary


def state_digest(variables) -> str:
  """SHA-256 of every parameter and BatchNorm statistic, in tree order: equal digests mean
  bit-identical models (what the reproducibility tests and `train.py`'s last line compare)."""
  digest = hashlib.sha256()
  for leaf in jax.tree_util.tree_leaves(variables):
    digest.update(np.ascontiguousarray(leaf).tobytes())
  return digest.hexdigest()[:16]


