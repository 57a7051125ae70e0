"""Training: TrainState, the pmapped train step, the stage loop, checkpoints and logging.

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
(event files), `images/step_XXXXXXX.png`.
"""

import functools
import hashlib
import json
import os
import time
from typing import Any, NamedTuple, Optional

from absl import logging
import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from drht_jax import checkpointing
from drht_jax import hdr
from drht_jax import input_pipeline
from drht_jax import losses
from drht_jax import metrics
from drht_jax import models
from drht_jax import preflight
from drht_jax import supervision
from drht_jax import visualize

AXIS = "batch"  # the pmap axis: gradients, losses and BatchNorm statistics are averaged over it


class NonFiniteLossError(FloatingPointError):
  """The loss became NaN/Inf; the last good checkpoint is kept."""


@flax.struct.dataclass
class TrainState:
  step: jax.Array         # int32, global step (over all stages)
  rng: jax.Array          # base PRNG key of the run; per-step keys are folded from it
  params: Any
  batch_stats: Any
  opt_state: Any


class Stage(NamedTuple):
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

  def loss_fn(params):
    return compute_loss(model, params, state.batch_stats, batch, stage.config, rngs=key)

  (loss, (terms, new_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  grads = jax.lax.pmean(grads, AXIS)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  # BatchNorm statistics follow every layer that runs in this stage, started or not: a layer
  # waiting for its start still sees its input drift as earlier layers learn, and stale
  # statistics would make eval mode disagree with train mode when it switches on (measured:
  # f2 with init statistics clipped 62% of its eval-mode pixels). Groups outside the stage's
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
  `pmean` over it), which XLA:CPU runs several times faster than a one-device pmap (0.68 s vs
  3.5 s for the demo's step, measured here)."""
  if num_devices > 1 or jax.process_count() > 1:
    return jax.pmap(fn, axis_name=AXIS, donate_argnums=donate_argnums)
  return jax.jit(jax.vmap(fn, axis_name=AXIS), donate_argnums=donate_argnums)


def make_p_train_step(model, tx, stage: Stage, num_devices: Optional[int] = None):
  """The stage's train step over all local devices; the state argument is donated."""
  starts = supervision.group_starts(stage.config.supervision, stage.num_steps)
  step = functools.partial(train_step, model=model, tx=tx, stage=stage, starts=starts)
  num_devices = jax.local_device_count() if num_devices is None else num_devices
  return parallelize(step, num_devices, donate_argnums=(0,))


@functools.partial(jax.jit, static_argnums=(0,))
def predict(model, variables, ldr):
  """Eval-mode forward: `[B, H, W, 3]` -> {"s_hat", "i_hat"} (running BatchNorm statistics)."""
  return model.apply(variables, ldr, train=False)


# --- State --------------------------------------------------------------------------------


def initial_state(config, model, plan, load_init_from: bool = True) -> TrainState:
  """Step 0 state from `config.seed` (host arrays, unreplicated); `config.init_from`'s groups
  copied in unless `load_init_from` is False (a resumed run restores everything anyway)."""
  init_key, train_key = jax.random.split(jax.random.PRNGKey(config.seed))
  variables = models.init_variables(model, init_key, tuple(config.image_size))
  params, batch_stats = variables["params"], variables["batch_stats"]
  if config.init_from and load_init_from:
    params, batch_stats = load_groups(config.init_from, config.init_from_groups, params,
                                      batch_stats)
  tx = stage_optimizer(config, plan[0], params)
  return TrainState(step=jnp.zeros([], jnp.int32), rng=train_key, params=params,
                    batch_stats=batch_stats, opt_state=tx.init(params))


def load_groups(workdir, groups, params, batch_stats):
  """Copies the parameters and BatchNorm statistics of `groups` (label prefixes such as
  'f1') from `workdir`'s latest checkpoint into `params`/`batch_stats`."""
  source, step = checkpointing.restore_raw_state(workdir)
  logging.info("init_from %s (step %d): groups %s", workdir, step, list(groups))

  def copy(target, src, kind):
    flat_t = flax.traverse_util.flatten_dict(flax.core.unfreeze(target))
    flat_s = flax.traverse_util.flatten_dict(src)
    labels = flax.traverse_util.flatten_dict(
        flax.core.unfreeze(supervision.param_labels(target)))
    copied = 0
    for key, value in flat_t.items():
      if any(labels[key].startswith(g) for g in groups):
        if key not in flat_s or np.shape(flat_s[key]) != np.shape(value):
          raise ValueError(f"init_from {workdir}: {kind} {'/'.join(key)} missing or of "
                           f"another shape (model configs differ?)")
        flat_t[key] = jnp.asarray(flat_s[key], value.dtype)
        copied += 1
    if not copied and kind == "params":
      raise ValueError(f"init_from {workdir}: no parameter matches groups {list(groups)}")
    return flax.traverse_util.unflatten_dict(flat_t)

  return (copy(params, source["params"], "params"),
          copy(batch_stats, source["batch_stats"], "batch_stats"))


def state_dict(state: TrainState) -> dict:
  """An unreplicated state as the plain dict of host arrays that checkpoints hold."""
  state = jax.tree_util.tree_map(np.asarray, state)
  return {"step": state.step, "rng": state.rng, "params": state.params,
          "batch_stats": state.batch_stats, "opt_state": state.opt_state}


def state_to_host(state: TrainState) -> dict:
  """First replica of a replicated state, as a `state_dict`."""
  return state_dict(jax.tree_util.tree_map(lambda x: x[0], state))


def state_from_host(tree: dict) -> TrainState:
  return TrainState(step=jnp.asarray(tree["step"], jnp.int32), rng=jnp.asarray(tree["rng"]),
                    params=tree["params"], batch_stats=tree["batch_stats"],
                    opt_state=tree["opt_state"])


# --- Logging ------------------------------------------------------------------------------


class MetricsLog:
  """`workdir/metrics.jsonl` (one JSON object per logged step) + TensorBoard event files.

  On resume, lines past the restored step (written by the killed run) are dropped, so the
  file always describes the run that produced the latest checkpoint."""

  def __init__(self, workdir, resume_step: int, enabled: bool = True):
    self.path = os.path.join(workdir, "metrics.jsonl")
    self.enabled = enabled
    self.tb = None
    if not enabled:
      return
    if os.path.exists(self.path):
      with open(self.path) as f:
        kept = [line for line in f if line.strip() and json.loads(line)["step"] <= resume_step]
      with open(self.path + ".tmp", "w") as f:
        f.writelines(kept)
      os.replace(self.path + ".tmp", self.path)
    try:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self.tb = SummaryWriter(os.path.join(workdir, "tensorboard"))
    except ImportError:  # event files are a convenience; metrics.jsonl is the record
      logging.warning("tensorboardX not installed: no TensorBoard event files")

  def write(self, record: dict):
    if not self.enabled:
      return
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    if self.tb is not None:
      for key, value in record.items():
        if key != "step" and isinstance(value, (int, float)):
          self.tb.add_scalar(key, value, record["step"])
      self.tb.flush()

  def close(self):
    if self.tb is not None:
      self.tb.close()


def _format_eta(seconds):
  seconds = int(max(0, seconds))
  return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def evaluate(model, variables, data_config, split, num_images):
  """Mean PSNR/SSIM of DRHT and of the uncorrected input on the first `num_images` of
  `split` (whole images, eval mode). -> dict of floats."""
  scores = {"psnr": [], "ssim": [], "input_psnr": [], "input_ssim": []}
  for example in input_pipeline.eval_examples(data_config, split, num_images):
    ldr, gt = example["ldr"][None], example["ldr_gt"][None]
    i_hat = jnp.clip(predict(model, variables, ldr)["i_hat"], 0.0, 1.0)
    scores["psnr"].append(float(metrics.psnr(i_hat, gt)[0]))
    scores["ssim"].append(float(metrics.ssim(i_hat, gt)[0]))
    scores["input_psnr"].append(float(metrics.psnr(ldr, gt)[0]))
    scores["input_ssim"].append(float(metrics.ssim(ldr, gt)[0]))
  return {f"eval_{k}": float(np.mean(v)) for k, v in scores.items()}


def save_image_grid(path, model, variables, batch, count=4):
  """Columns: input / estimated HDR (tone-mapped) / output / ground truth."""
  ldr = batch["ldr"][:count]
  out = predict(model, variables, ldr)
  radiance = hdr.inverse_gamma(out["s_hat"])
  visualize.save_grid(path, [ldr, visualize.display_hdr(radiance),
                             np.clip(np.asarray(out["i_hat"]), 0, 1), batch["ldr_gt"][:count]])


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


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       stop_after: Optional[int] = None) -> dict:
  """Trains (resuming from `workdir`'s latest checkpoint if any) and returns the final
  summary `{"step", "loss", eval metrics...}`. `stop_after`: return after that many steps of
  this call (tests use it to emulate an interrupted run). What the run needs (init_from, the
  user's data files) is checked first, `preflight.SetupError` if missing (preflight.py)."""
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
  manager = checkpointing.create_manager(workdir, config.max_to_keep)

  latest = manager.latest_step()
  train_iter = input_pipeline.create_train_iterator(config)
  host_state = initial_state(config, model, plan, load_init_from=(
      latest is None and run["init_from"].startswith("checkpoint")))
  if latest is not None:
    stage = stage_at(plan, latest)
    tx = stage_optimizer(config, stage, host_state.params)
    target = state_dict(host_state.replace(opt_state=tx.init(host_state.params)))
    tree, data_state = checkpointing.restore(manager, latest, target)
    host_state = state_from_host(tree)
    if data_state is not None:
      train_iter.set_state(data_state)
    logging.info("resumed from %s at step %d", checkpointing.checkpoint_dir(workdir), latest)
  start_step = int(host_state.step)
  log = MetricsLog(workdir, start_step, enabled=is_chief)

  stage = stage_at(plan, start_step)
  if is_chief:
    print(f"{config.total_steps} steps from step {start_step} on {jax.device_count()} devices "
          f"({jax.process_count()} processes), global batch {config.batch_size}; stages "
          + ", ".join(f"{s.name} {s.start}-{s.start + s.num_steps}" for s in plan), flush=True)
    print(train_iter.description, flush=True)
  tx = stage_optimizer(config, stage, host_state.params)
  p_step = make_p_train_step(model, tx, stage)
  state = flax.jax_utils.replicate(host_state)
  last_checked = None  # (step, metrics) of the previous step, checked one step late

  def check_finite(step, step_metrics):
    loss = float(step_metrics["loss"][0])
    if not np.isfinite(loss):
      raise NonFiniteLossError(
          f"loss is {loss} at step {step} (stage {stage.name}); stopping. The last "
          f"good checkpoint is {manager.latest_step()} in {checkpointing.checkpoint_dir(workdir)}")

  def save(state):
    host = state_to_host(state)
    checkpointing.save(manager, int(host["step"]), host, train_iter.get_state())

  summary, t_log, steps_since_log = {}, time.time(), 0
  end = config.total_steps if stop_after is None else min(config.total_steps,
                                                          start_step + stop_after)
  step = start_step
  while step < end:
    batch = next(train_iter)
    state, step_metrics = p_step(state, batch)
    if last_checked is not None:
      check_finite(*last_checked)
    last_checked = (step, step_metrics)
    step += 1
    steps_since_log += 1

    if step % config.log_every == 0 or step == config.total_steps:
      check_finite(*last_checked)
      host_metrics = {k: float(v[0]) for k, v in jax.device_get(step_metrics).items()}
      elapsed = time.time() - t_log
      rate = steps_since_log * config.batch_size / elapsed
      record = {"step": step, "stage": stage.name, **host_metrics,
                "images_per_sec": rate}
      if (config.eval_every and config.num_eval_images and step % config.eval_every == 0
          and is_chief):
        variables = host_variables(state)
        record.update(evaluate(eval_model, variables, config.data, config.data.eval_split,
                               config.num_eval_images), eval_step=step)
      log.write(record)
      summary = record
      eta = (config.total_steps - step) * config.batch_size / max(rate, 1e-9)
      terms = " ".join(f"{k[5:]} {v:.5f}" for k, v in host_metrics.items()
                       if k.startswith("loss_"))
      extra = (f" | eval psnr {record['eval_psnr']:.2f} (input {record['eval_input_psnr']:.2f})"
               if "eval_psnr" in record else "")
      if is_chief:
        print(f"[{stage.name}] step {step}/{config.total_steps} loss "
              f"{host_metrics['loss']:.5f} ({terms}) | {rate:.1f} img/s | "
              f"ETA {_format_eta(eta)}{extra}", flush=True)
      t_log, steps_since_log = time.time(), 0

    if config.image_every and step % config.image_every == 0 and is_chief:
      save_image_grid(os.path.join(workdir, "images", f"step_{step:07d}.png"), eval_model,
                      host_variables(state),
                      jax.tree_util.tree_map(lambda x: x.reshape((-1,) + x.shape[2:]), batch))

    next_stage = stage_at(plan, step)
    if next_stage.index != stage.index and step < config.total_steps:
      # New stage: new groups and schedule, fresh optimizer state; params/statistics carry on.
      stage = next_stage
      host_state = jax.tree_util.tree_map(lambda x: x[0], state)
      tx = stage_optimizer(config, stage, host_state.params)
      state = flax.jax_utils.replicate(host_state.replace(
          opt_state=tx.init(host_state.params)))
      p_step = make_p_train_step(model, tx, stage)
      if is_chief:
        print(f"stage {stage.index}: {stage.name} from step {step} "
              f"({stage.num_steps} steps)", flush=True)

    if step % config.checkpoint_every == 0 or step == config.total_steps:
      check_finite(*last_checked)
      save(state)

  if last_checked is not None:
    check_finite(*last_checked)
  summary = {**summary, "step": step, "digest": state_digest(host_variables(state))}
  if step == config.total_steps and is_chief and config.num_eval_images:
    if "eval_psnr" not in summary or summary.get("eval_step") != step:
      summary.update(evaluate(eval_model, host_variables(state), config.data,
                              config.data.eval_split, config.num_eval_images))
  log.close()
  manager.close()
  return summary


def state_digest(variables) -> str:
  """SHA-256 of every parameter and BatchNorm statistic, in tree order: equal digests mean
  bit-identical models (what the reproducibility tests and `train.py`'s last line compare)."""
  digest = hashlib.sha256()
  for leaf in jax.tree_util.tree_leaves(variables):
    digest.update(np.ascontiguousarray(leaf).tobytes())
  return digest.hexdigest()[:16]


def host_variables(state: TrainState) -> dict:
  """`{'params', 'batch_stats'}` of the first replica, on the host."""
  return jax.device_get(jax.tree_util.tree_map(
      lambda x: x[0], {"params": state.params, "batch_stats": state.batch_stats}))
