"""The timed units the row families share: one training step and one eval-mode forward pass,
built as training and inference build them, and the configs, inputs and model state they
need.

Training steps are built as `train_lib.train_and_evaluate` builds them (`plan_stages` on a
one-stage config, `stage_optimizer`, `initial_state`, `flax.jax_utils.replicate`,
`make_p_train_step`) and fed synthetic `[1, B, H, W, 3]` batches; the step is lowered and
compiled once ahead of time and that executable is timed (the one `p_step(state, batch)` would
compile and run).

GFLOP/call is the model's: XLA's cost analysis of the same function in the plain formulation
(`reference_model`) when the backend gives one (CPU), otherwise (CUDA gives none for these
steps) the analytic count of the convolutions (bench/flops.py `forward_flops` /
`train_flops`, tested against XLA's CPU count), and the setting says `analytic FLOPs`. The
compiled executable's own count is a column of its own.
"""

import gc
import time

import flax
import flax.jax_utils
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from bench import flops
from bench import measure
from configs import default
from drht_jax import models
from drht_jax import train_lib


def bench_config(stage_name: str, settings, image_size, batch_size):
  """A run config whose only stage is `stage_name` (the stages of configs/default.py and
  configs/demo.py: `hdr` trains f1 alone, `joint` both nets under hierarchical supervision)."""
  config = default.get_config()
  config.model.width = settings["width"]
  config.image_size = tuple(image_size)
  config.batch_size = batch_size
  config.stage_order = (stage_name,)
  config.stages = ml_collections.ConfigDict({
      "hdr": default.stage("hdr", supervision=default.all_at_once(("f1",))),
      "joint": default.stage("joint", supervision=default.hierarchical_supervision()),
  })
  return config


def reference_model(model_config, axis_name=None):
  """The model in its plain formulation (transposed convs, XLA's own gradients): the same
  function and parameters; its FLOPs are the model's, without the structural zeros of the
  sub-pixel form, so changing the formulation cannot raise GFLOP/s by counting more."""
  reference = ml_collections.ConfigDict(model_config.to_dict())
  reference.deconv, reference.conv_grads = "transpose", "xla"
  return models.create_model(reference, axis_name=axis_name)


def synthetic_batches(batch_size, image_size, count=2, seed=0):
  """`count` different `{"ldr", "hdr", "ldr_gt"}` batches `[1, B, H, W, 3]` float32 (LDR in
  [0, 1], HDR radiance >= 0), on the device."""
  rng = np.random.default_rng(seed)
  shape = (1, batch_size, *image_size, 3)
  batches = []
  for _ in range(count):
    batch = {"ldr": rng.uniform(0, 1, shape), "hdr": rng.exponential(1.0, shape),
             "ldr_gt": rng.uniform(0, 1, shape)}
    batches.append(jax.device_put({k: v.astype(np.float32) for k, v in batch.items()}))
  return batches


class Models:
  """One model and its step-0 host state per width: `initial_state` compiles `init_variables`
  (tens of seconds for the paper-size model on a small CPU), so the state is made once and
  each stage gets a fresh optimizer state, as `train_and_evaluate` does at a stage change."""

  def __init__(self):
    self._cache = {}

  def get(self, config, table=None):
    """(model, host state, init seconds) of `config.model.width`; the first call per width
    adds a `setup` row to `table` (when given)."""
    key = config.model.width
    if key not in self._cache:
      model = models.create_model(config.model, axis_name=train_lib.AXIS)
      t0 = time.perf_counter()
      host_state = train_lib.initial_state(config, model, train_lib.plan_stages(config))
      jax.block_until_ready(host_state)
      init_s = time.perf_counter() - t0
      self._cache[key] = (model, host_state, init_s)
      if table is not None:
        table.add("setup", f"train_lib.initial_state, width {key} (init_variables compile + "
                  "run)", init_s, "s")
    return self._cache[key]


def source_note(source):
  """The setting's suffix when GFLOP/call is the analytic count."""
  return " (analytic FLOPs)" if source == "analytic" else ""


def train_row(table, settings, cache: Models, config, label: str):
  """Times one training step of `config` (its only stage), adds the row `label`.
  -> dict(img_s, pct_matmul, compile_s, gib)."""
  stage_name = config.stage_order[0]
  image_size, batch_size = tuple(config.image_size), config.batch_size
  plan = train_lib.plan_stages(config)
  _, host_state, _ = cache.get(config, table)
  model = models.create_model(config.model, axis_name=train_lib.AXIS)
  tx = train_lib.stage_optimizer(config, plan[0], host_state.params)
  state = flax.jax_utils.replicate(host_state.replace(opt_state=tx.init(host_state.params)))
  batches = synthetic_batches(batch_size, image_size)
  p_step = train_lib.make_p_train_step(model, tx, plan[0])
  t0 = time.perf_counter()
  step = p_step.lower(state, batches[0]).compile()
  compile_s = time.perf_counter() - t0
  compiled_gflop = measure.cost_flops(step) / 1e9
  reference_step = train_lib.make_p_train_step(
      reference_model(config.model, train_lib.AXIS), tx, plan[0])
  gflop, source = measure.model_gflop(
      reference_step.lower(state, batches[0]),
      flops.train_flops(config.model, image_size, batch_size, stage_name))
  holder = {"state": state, "i": 0}

  def run_step():
    holder["state"], out = step(holder["state"], batches[holder["i"] % len(batches)])
    holder["i"] += 1
    jax.block_until_ready((holder["state"], out))
    if not np.isfinite(float(out["loss"][0])):
      raise FloatingPointError(f"bench/run.py: {stage_name} step loss is not finite")

  seconds, times = measure.timed(run_step, settings["timed_steps"], settings["warmup_steps"])
  del holder, state
  images_s = batch_size / seconds
  gib = measure.executable_gib(step)
  _, pct = table.add(f"train {stage_name}", label + source_note(source), images_s, "img/s",
                     compile_s, gflop, seconds, times, compiled_gflop=compiled_gflop,
                     memory_gib=gib, dtype=config.model.dtype)
  gc.collect()
  return {"img_s": images_s, "pct_matmul": pct, "compile_s": compile_s, "gib": gib}


def infer_row(table, settings, cache: Models, config, batch: int, reps: int, label: str):
  """Times eval-mode `model.apply` on `batch` images of `config.image_size`, adds the row
  `label` (ms per image). -> dict(ms, pct_matmul, compile_s, gib, model, variables)."""
  del settings  # unused: the sizes are in `config` (the same arguments as train_row)
  _, host_state, _ = cache.get(config, table)
  model = models.create_model(config.model)
  variables = {"params": host_state.params, "batch_stats": host_state.batch_stats}
  height, width = config.image_size
  x = jnp.asarray(np.random.default_rng(1).uniform(0, 1, (batch, height, width, 3)),
                  jnp.float32)
  forward = jax.jit(lambda v, ldr: model.apply(v, ldr, train=False))
  t0 = time.perf_counter()
  compiled = forward.lower(variables, x).compile()
  compile_s = time.perf_counter() - t0
  compiled_gflop = measure.cost_flops(compiled) / 1e9
  reference = reference_model(config.model)
  gflop, source = measure.model_gflop(
      jax.jit(lambda v, ldr: reference.apply(v, ldr, train=False)).lower(variables, x),
      flops.forward_flops(config.model, (height, width), batch))
  seconds, times = measure.timed(lambda: jax.block_until_ready(compiled(variables, x)), reps)
  gib = measure.executable_gib(compiled)
  _, pct = table.add("infer apply", label + source_note(source), seconds * 1e3 / batch,
                     "ms/img", compile_s, gflop, seconds, times,
                     compiled_gflop=compiled_gflop, memory_gib=gib, dtype=config.model.dtype)
  return {"ms": seconds * 1e3 / batch, "pct_matmul": pct, "compile_s": compile_s, "gib": gib,
          "model": model, "variables": variables}
