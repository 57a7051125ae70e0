"""One compilation per shape: the training steps of both stages and `inference.correct` do not
retrace or recompile after their first call (a recompile per step would cost seconds of every
step).

Traces and compilations are counted through `jax.monitoring` (JAX reports one jaxpr-trace event
per trace and one backend-compile event per XLA compilation or persistent-cache load); the tiny
1/8-width model on 32x64 crops keeps the first compilations short.

On one device the step is `jit(vmap)`, and its dispatch cache (`_cache_size()`) holds two
entries after the second call: `flax.jax_utils.replicate` gives every state leaf the sharding
`P('_device_put_sharded')` while the step returns some leaves as `P()`, the same placement on
a one-device mesh but another cache key. The second entry reuses the first executable (no
trace, no compilation: what the counts below check); from the second call on the cache is
stable.
"""

import flax.jax_utils
import jax
import ml_collections
import numpy as np
import pytest

from configs import default
from drht_jax import inference
from drht_jax import models
from drht_jax import train_lib

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
TRACE_EVENT = "/jax/core/compile/jaxpr_trace_duration"


class CompileCounter:
  """`with CompileCounter() as c: ...` -> `c.count` XLA compilations (or persistent-cache
  loads) and `c.traces` jaxpr traces inside the block."""

  def __init__(self):
    self.count = 0
    self.traces = 0

  def _listener(self, event, duration, **_):
    del duration
    self.count += event == BACKEND_COMPILE_EVENT
    self.traces += event == TRACE_EVENT

  def __enter__(self):
    jax.monitoring.register_event_duration_secs_listener(self._listener)
    return self

  def __exit__(self, *exc):
    jax.monitoring.unregister_event_duration_listener(self._listener)


def tiny_config(stage_name):
  """A one-stage run config (`hdr` or `joint`): 1/8-width model, 32x64 crops, batch 2."""
  config = default.get_config()
  config.total_steps = 10
  config.batch_size = 2
  config.image_size = (32, 64)
  config.model.width = 0.125
  config.stage_order = (stage_name,)
  config.stages = ml_collections.ConfigDict({
      "hdr": default.stage("hdr", supervision=default.all_at_once(("f1",))),
      "joint": default.stage("joint", supervision=default.hierarchical_supervision()),
  })
  return config


@pytest.fixture(scope="module")
def host_state():
  """Step-0 state of the tiny model (the same parameters for both stages)."""
  config = tiny_config("hdr")
  model = models.create_model(config.model, axis_name=train_lib.AXIS)
  return train_lib.initial_state(config, model, train_lib.plan_stages(config))


@pytest.fixture(scope="module")
def eval_setup(host_state):
  model = models.create_model(tiny_config("joint").model)
  return model, {"params": host_state.params, "batch_stats": host_state.batch_stats}


def random_batch(seed, batch_size=2, image_size=(32, 64)):
  """`{"ldr", "hdr", "ldr_gt"}` `[1, B, H, W, 3]` float32 host arrays, values from `seed`."""
  rng = np.random.default_rng(seed)
  shape = (1, batch_size, *image_size, 3)
  return {"ldr": rng.uniform(0, 1, shape).astype(np.float32),
          "hdr": rng.exponential(1.0, shape).astype(np.float32),
          "ldr_gt": rng.uniform(0, 1, shape).astype(np.float32)}


@pytest.mark.parametrize("stage_name", ["hdr", "joint"])
def test_train_step_compiles_once_over_three_steps(stage_name, host_state):
  config = tiny_config(stage_name)
  plan = train_lib.plan_stages(config)
  model = models.create_model(config.model, axis_name=train_lib.AXIS)
  tx = train_lib.stage_optimizer(config, plan[0], host_state.params)
  state = flax.jax_utils.replicate(host_state.replace(opt_state=tx.init(host_state.params)))
  p_step = train_lib.make_p_train_step(model, tx, plan[0])
  batches = [random_batch(seed) for seed in range(3)]

  counters, cache_sizes = [], []
  for batch in batches:  # the state each step returns goes into the next
    with CompileCounter() as counter:
      state, out = p_step(state, batch)
      jax.block_until_ready((state, out))
    counters.append(counter)
    cache_sizes.append(p_step._cache_size())  # pylint: disable=protected-access

  assert [c.count for c in counters] == [1, 0, 0]
  assert [c.traces for c in counters][1:] == [0, 0]
  assert cache_sizes[2] == cache_sizes[1]  # see the module docstring for the 2nd entry
  assert int(state.step[0]) == 3
  assert np.isfinite(float(out["loss"][0]))


def test_correct_compiles_one_shape_for_two_images(eval_setup):
  model, variables = eval_setup
  inference.clear_cache()
  rng = np.random.default_rng(0)
  first, second = (rng.uniform(0, 1, (40, 70, 3)).astype(np.float32) for _ in range(2))
  inference.correct(model, variables, first)
  with CompileCounter() as counter:
    corrected, _ = inference.correct(model, variables, second)
  assert counter.count == 0 and counter.traces == 0
  assert inference.compiled_shapes(model) == [(1, 64, 96, 3)]  # padded to multiples of 32
  assert corrected.shape == (40, 70, 3)


def test_tiled_correct_compiles_one_tile_shape(eval_setup):
  model, variables = eval_setup
  inference.clear_cache()
  rng = np.random.default_rng(1)
  first, second = (rng.uniform(0, 1, (96, 160, 3)).astype(np.float32) for _ in range(2))
  inference.correct(model, variables, first, tile=64, overlap=32)  # 3 x 4 tiles of 64x64
  with CompileCounter() as counter:
    inference.correct(model, variables, second, tile=64, overlap=32)
  assert counter.count == 0
  assert inference.compiled_shapes(model) == [(1, 64, 64, 3)]


def test_compile_counter_sees_a_new_shape(eval_setup):
  """The counter the tests above rely on does count compilations."""
  model, variables = eval_setup
  inference.clear_cache()
  with CompileCounter() as counter:
    inference.correct(model, variables, np.zeros((32, 32, 3), np.float32))
  assert counter.count >= 1
