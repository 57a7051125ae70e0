"""Specifies drht_jax/supervision.py: parameter groups, their schedule and the optimizer.

Every parameter of DRHT belongs to exactly one hierarchical-supervision group.
"""

import jax
import jax.numpy as jnp
import ml_collections
import optax
import pytest

from configs import default
from drht_jax import models, supervision


@pytest.mark.parametrize("global_context", [False, True])
@pytest.mark.parametrize("fusion", ["add_mul", "concat"])
@pytest.mark.parametrize("variant", ["paper", "released"])
def test_every_parameter_gets_one_known_label(variant, fusion, global_context):
  cfg = default.model_config()
  cfg.update(width=1 / 16, variant=variant, fusion=fusion, global_context=global_context)
  variables = jax.eval_shape(
      lambda: models.init_variables(models.create_model(cfg), jax.random.PRNGKey(0)))
  labels = jax.tree_util.tree_leaves(supervision.param_labels(variables["params"]))
  assert len(labels) == len(jax.tree_util.tree_leaves(variables["params"]))
  assert set(labels) == set(supervision.group_names())


def test_decoder_groups_run_coarse_to_fine():
  assert supervision.label_of("f2/body/decoder_0/kernel") == "f2/decoder/0"
  assert supervision.label_of("f2/body/decoder_5/bias") == "f2/decoder/5"
  assert supervision.label_of("f2/body/decoder_2_fuse_bn/scale") == "f2/decoder/2"
  assert supervision.label_of("f2/body/encoder_4_bn/bias") == "f2/encoder"
  assert supervision.label_of("f2/body/encoder_5_global/kernel") == "f2/encoder"
  assert supervision.label_of("f1/body/decoder_0/kernel") == "f1"


def test_unknown_parameter_path_is_an_error():
  with pytest.raises(ValueError, match="matches 0 label rules"):
    supervision.label_of("f3/body/conv/kernel")


# --- The hierarchical schedule (constant gradients on a 1/8-width DRHT) ------------------


@pytest.fixture(scope="module")
def tiny_params():
  config = default.model_config()
  config.width = 0.125
  return models.init_variables(models.create_model(config), jax.random.PRNGKey(0),
                               (32, 64))["params"]


def _moving_groups(config, params, steps):
  """For each step: the set of groups whose parameters change under constant gradients."""
  tx = supervision.create_optimizer(config, params)
  grads = jax.tree_util.tree_map(jnp.ones_like, params)
  labels = supervision.param_labels(params)
  opt_state, moved = tx.init(params), []
  update = jax.jit(tx.update)
  for _ in range(steps):
    updates, opt_state = update(grads, opt_state, params)
    new = optax.apply_updates(params, updates)
    changed = jax.tree_util.tree_map(lambda a, b: bool(jnp.any(a != b)), params, new)
    moved.append({l for l, c in zip(jax.tree_util.tree_leaves(labels),
                                    jax.tree_util.tree_leaves(changed)) if c})
    params = new
  return moved


def _schedule_config(total_steps=10):
  config = ml_collections.ConfigDict({
      "total_steps": total_steps, "optimizer": default.get_config().optimizer,
      "supervision": default.hierarchical_supervision()})
  config.supervision.decoder_starts = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9)
  return config


def test_schedule_switches_decoder_groups_on_coarse_to_fine(tiny_params):
  moved = _moving_groups(_schedule_config(), tiny_params, 10)
  decoder_start = {0: 0, 1: 2, 2: 4, 3: 6, 4: 8, 5: 9}
  for step, groups in enumerate(moved):
    expected = {"f1", "f2/encoder"} | {f"f2/decoder/{j}" for j, s in decoder_start.items()
                                        if step >= s}
    assert groups == expected, f"step {step}"


def test_schedule_decays_earlier_groups_at_each_later_start(tiny_params):
  config = _schedule_config()
  starts = supervision.group_starts(config.supervision, config.total_steps)
  factor = supervision.group_lr_factor("f2/encoder", starts, config.supervision.decay)
  assert [float(factor(jnp.int32(s))) for s in (0, 1, 2, 4, 9)] == [1.0, 1.0, 0.5, 0.25,
                                                                    0.5 ** 5]
  f1 = supervision.group_lr_factor("f1", starts, config.supervision.decay)
  assert float(f1(jnp.int32(9))) == 1.0  # f1 is outside the hierarchy


def test_groups_outside_trainable_never_move(tiny_params):
  config = _schedule_config()
  config.supervision = default.all_at_once(("f1",))
  for groups in _moving_groups(config, tiny_params, 3):
    assert groups == {"f1"}
