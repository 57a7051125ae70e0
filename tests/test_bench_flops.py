"""bench/flops.py: the analytic convolution FLOPs the benchmark reports where XLA's cost
analysis is empty (CUDA), checked against XLA's CPU count."""

import jax
import jax.numpy as jnp
import pytest

from bench import flops
from bench import measure
from bench import steps
from configs import default
from drht_jax import train_lib


def tiny_config(**overrides):
  cfg = default.model_config()
  cfg.width = 1 / 16
  cfg.update(overrides)
  return cfg


# forward_flops / train_flops (the convolutions, valid taps only) against XLA's CPU cost
# analysis of the plain formulation, which also counts BatchNorm, ELU, losses and Adam.
# Measured ratios analytic / XLA: width 1.0 at 64x128: forward 0.991, hdr step 0.978, joint
# step 0.979; width 0.25 released + concat: 0.975 / 0.965 / 0.962.
@pytest.mark.parametrize("width,variant,fusion,tolerance", [
    (1.0, "paper", "add_mul", 0.03), (0.25, "released", "concat", 0.05)])
def test_analytic_flops_match_xla_cpu_cost_analysis(width, variant, fusion, tolerance):
  size, batch = (64, 128), 2
  settings = {"width": width}
  counts = {}
  for stage in ("hdr", "joint"):
    config = steps.bench_config(stage, settings, size, batch)
    config.model.variant, config.model.fusion = variant, fusion
    reference = steps.reference_model(config.model, train_lib.AXIS)
    variables = jax.eval_shape(
        lambda k, m=reference: m.init(k, jnp.zeros((1, *size, 3)), train=False),
        jax.random.PRNGKey(0))
    plan = train_lib.plan_stages(config)
    tx = train_lib.stage_optimizer(config, plan[0], variables["params"])
    state = train_lib.TrainState(
        step=jnp.zeros([], jnp.int32), rng=jax.random.PRNGKey(0),
        params=variables["params"], batch_stats=variables["batch_stats"],
        opt_state=jax.eval_shape(tx.init, variables["params"]))
    state = jax.tree_util.tree_map(
        lambda s: jax.ShapeDtypeStruct((1,) + tuple(s.shape), s.dtype), state)
    data = {k: jax.ShapeDtypeStruct((1, batch, *size, 3), jnp.float32)
            for k in ("ldr", "hdr", "ldr_gt")}
    step = train_lib.make_p_train_step(reference, tx, plan[0], 1)
    counts[stage] = (measure.cost_flops(step.lower(state, data)),
                     flops.train_flops(config.model, size, batch, stage))
  plain = steps.reference_model(config.model)
  x = jax.ShapeDtypeStruct((batch, *size, 3), jnp.float32)
  forward = jax.jit(lambda v, ldr: plain.apply(v, ldr, train=False)).lower(variables, x)
  counts["forward"] = (measure.cost_flops(forward), flops.forward_flops(config.model, size, batch))
  for name, (xla, analytic) in counts.items():
    assert analytic == pytest.approx(xla, rel=tolerance), (name, analytic / xla)
    assert analytic <= xla  # the convolutions are part of what XLA counts


def test_analytic_forward_is_about_2_hw_kk_cin_cout_per_conv():
  config = default.model_config()
  layer = ("f1/encoder_1", (64, 128), 5, 2, 64, 64, False)  # 5x5 stride 2: 32x64 outputs
  approx = 2.0 * 32 * 64 * 5 * 5 * 64 * 64
  assert flops.conv_flops(layer) == pytest.approx(approx, rel=0.1)
  assert flops.conv_flops(layer) < approx  # taps on the padding are not counted
  assert (flops.train_flops(config, (64, 128), 1, "joint")
          == pytest.approx(3 * flops.forward_flops(config, (64, 128)), rel=0.03))


@pytest.mark.parametrize("overrides", [dict(upsample="resize_conv"), dict(arch="single"),
                                       dict(arch="f2_only")])
def test_analytic_flops_follow_the_upsampling_and_the_arch(overrides):
  base = flops.forward_flops(tiny_config(width=0.25), (64, 128))
  count = flops.forward_flops(tiny_config(width=0.25, **overrides), (64, 128))
  if "upsample" in overrides:
    assert count > base          # decoder convs at the output resolution
  elif overrides["arch"] == "f2_only":
    assert count == pytest.approx(base / 2, rel=0.01)
  else:  # same parameters, but one net's shallow (costly) layers instead of two: 0.84x
    assert 0.7 * base < count < base
