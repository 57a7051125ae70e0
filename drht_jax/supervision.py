"""Parameter groups for hierarchical supervision (paper Sec. 3.3).

Every parameter gets exactly one label: `f1`, `f2/encoder`, or `f2/decoder/<j>` with j = 0 the
coarsest deconv (next to f2's bottleneck) up to j = 5, the full-resolution output layer.
`create_optimizer` below gives each label its own learning-rate schedule through
`optax.multi_transform`.
"""

import re
from typing import Any, NamedTuple

import flax
import jax
import jax.numpy as jnp
import optax

from drht_jax import models

NUM_DECODER_GROUPS = models.NUM_LEVELS

# (regex over the '/'-joined parameter path, label template). Checked in order; each
# parameter must match exactly one rule.
LABEL_RULES = (
    (r"^f1/", "f1"),
    (r"^f2/body/encoder_\d+(_bn|_global)?/", "f2/encoder"),
    (r"^f2/body/decoder_(\d+)(_bn|_fuse|_fuse_bn)?/", "f2/decoder/{0}"),
)


def group_names():
  """All labels, in training order: f1, f2's encoder, then f2's decoder coarse to fine."""
  return ("f1", "f2/encoder") + tuple(f"f2/decoder/{j}" for j in range(NUM_DECODER_GROUPS))


def label_of(path: str) -> str:
  """The group of one parameter path such as 'f2/body/decoder_3_bn/scale'."""
  found = [template.format(*m.groups()) for rule, template in LABEL_RULES
           for m in [re.match(rule, path)] if m]
  if len(found) != 1:
    raise ValueError(f"parameter {path!r} matches {len(found)} label rules (expected exactly 1)")
  return found[0]


def param_labels(params):
  """Same-structure pytree of group labels for a DRHT `params` tree (or a subtree of it with
  the same top-level keys, such as `batch_stats`)."""
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(params), sep="/")
  return flax.traverse_util.unflatten_dict(
      {tuple(path.split("/")): label_of(path) for path in flat})


def count_by_group(params):
  """{label: number of scalars} — for logs and the README's parameter table."""
  counts = {}
  for leaf, label in zip(jax.tree_util.tree_leaves(params),
                         jax.tree_util.tree_leaves(param_labels(params))):
    counts[label] = counts.get(label, 0) + leaf.size
  return counts


# --- Per-group optimizer: the hierarchical schedule of Sec. 3.3 as optax.multi_transform.
#
# Config fields (`config.supervision`, see configs/default.py):
#   trainable:      label prefixes that train in this stage, e.g. ('f1',) for `hdr`; the
#                   other groups get `optax.set_to_zero` (and no optimizer state).
#   encoder_start:  fraction of the stage's steps at which f2's encoder starts training.
#   decoder_starts: 6 fractions, f2/decoder/0 (coarsest) ... f2/decoder/5 (full resolution).
#   decay:          at each later decoder start, the learning rate of every f2 group already
#                   training is multiplied by `decay` (the paper's "lowering the learning rate
#                   of the layers already trained"); f1 is outside the hierarchy.
#   f1_lr_factor:   constant multiplier on f1's learning rate.
#   warmup:         fraction of the stage's steps over which each group's learning rate ramps
#                   up linearly from its start.
# A group is *frozen* before its start step: its updates are exact zeros (so its parameters
# stay bit-identical), its Adam moments and count do not move (so its Adam starts afresh, with
# a correct bias correction, when it switches on), and its gradients are left out of the
# global norm used for clipping. Its BatchNorm statistics keep following its input (see
# train_lib.train_step); groups outside `trainable` keep theirs.


def group_starts(supervision_config, total_steps):
  """{label: first training step, or None if the group never trains in this stage}."""
  sup = supervision_config
  fractions = {"f1": 0.0, "f2/encoder": sup.encoder_start}
  decoder_starts = tuple(sup.decoder_starts)
  if len(decoder_starts) != NUM_DECODER_GROUPS:
    raise ValueError(f"config.supervision.decoder_starts: expected {NUM_DECODER_GROUPS} "
                     f"fractions (coarse to fine), got {decoder_starts}")
  fractions.update({f"f2/decoder/{j}": f for j, f in enumerate(decoder_starts)})
  trainable = tuple(sup.trainable)
  unknown = [p for p in trainable if not any(g.startswith(p) for g in group_names())]
  if unknown:
    raise ValueError(f"config.supervision.trainable: {unknown} match no group of "
                     f"{group_names()}")
  starts = {}
  for label, fraction in fractions.items():
    if not 0.0 <= fraction <= 1.0:
      raise ValueError(f"config.supervision: start of {label} must be a fraction in [0, 1] of "
                       f"the stage's steps, got {fraction}")
    train = any(label.startswith(p) for p in trainable)
    starts[label] = int(round(fraction * total_steps)) if train else None
  return starts


def group_lr_factor(label, starts, decay, f1_lr_factor=1.0, warmup_steps=0):
  """Schedule `step -> multiplier` of one group's learning rate: 0 before the group starts,
  then a linear ramp over `warmup_steps` (Adam's first steps move every weight by about the
  learning rate whatever its gradient: on a wide layer switched on mid-stage that jolts the
  output, docs/model.md, "Hierarchical supervision: two measurements"); for f2
  groups, times `decay ** k` with k the number of later f2 starts already passed."""
  start = starts[label]
  if start is None:
    return lambda step: jnp.zeros([], jnp.float32)

  def ramp(step):
    if not warmup_steps:
      return jnp.where(step >= start, 1.0, 0.0).astype(jnp.float32)
    return jnp.clip((step - start + 1) / warmup_steps, 0.0, 1.0).astype(jnp.float32)

  if label == "f1":
    return lambda step: ramp(step) * f1_lr_factor
  later = sorted({s for g, s in starts.items()
                  if g.startswith("f2/") and s is not None and s > start})

  def factor(step):
    passed = sum((step >= s).astype(jnp.int32) for s in later) if later else 0
    return ramp(step) * jnp.power(jnp.float32(decay), passed)
  return factor


def learning_rate_schedule(optimizer_config, total_steps):
  """The paper's two phases (Sec. 3.4): `learning_rate` until `phase2_start` (a fraction of
  the stage's steps), then `phase2_learning_rate`."""
  opt = optimizer_config
  boundary = int(round(opt.phase2_start * total_steps))
  return optax.piecewise_constant_schedule(
      opt.learning_rate, {boundary: opt.phase2_learning_rate / opt.learning_rate})


class DelayedState(NamedTuple):
  """Optimizer state of `delayed`: the step counter and the wrapped transform's state."""
  count: jax.Array   # int32 step counter of this transform
  inner: Any         # the wrapped transform's state, unchanged while frozen


def delayed(inner: optax.GradientTransformation, start: int) -> optax.GradientTransformation:
  """`inner` switched on at step `start`: before it, updates are exact zeros and `inner`'s
  state is held still (Adam's moments and bias-correction count start at the switch-on)."""

  def init_fn(params):
    return DelayedState(jnp.zeros([], jnp.int32), inner.init(params))

  def update_fn(updates, state, params=None):
    new_updates, new_inner = inner.update(updates, state.inner, params)
    active = state.count >= start
    new_updates = jax.tree_util.tree_map(
        lambda u: jnp.where(active, u, jnp.zeros_like(u)), new_updates)
    new_inner = jax.tree_util.tree_map(
        lambda n, o: jnp.where(active, n, o), new_inner, state.inner)
    return new_updates, DelayedState(optax.safe_int32_increment(state.count), new_inner)

  return optax.GradientTransformation(init_fn, update_fn)


def create_optimizer(config, params):
  """Adam per group with the hierarchical schedule, global-norm clipping over the groups that
  train. `config` needs `supervision`, `optimizer` and `total_steps`; `params` gives the
  labels. Returns an `optax.GradientTransformation` whose step 0 is the stage's first step."""
  opt, total = config.optimizer, config.total_steps
  starts = group_starts(config.supervision, total)
  base_lr = learning_rate_schedule(opt, total)
  gates, adams = {}, {}
  for label, start in starts.items():
    if start is None:
      gates[label] = adams[label] = optax.set_to_zero()
      continue
    factor = group_lr_factor(
        label, starts, config.supervision.decay, config.supervision.f1_lr_factor,
        int(round(config.supervision.get("warmup", 0.0) * total)))
    gates[label] = delayed(optax.identity(), start)
    adams[label] = optax.chain(
        delayed(optax.scale_by_adam(b1=opt.b1, b2=opt.b2, eps=opt.eps), start),
        optax.scale_by_schedule(lambda step, f=factor: -base_lr(step) * f(step)))
  labels = param_labels(params)
  clip = optax.clip_by_global_norm(opt.clip_norm) if opt.clip_norm else optax.identity()
  return optax.chain(optax.multi_transform(gates, labels), clip,
                     optax.multi_transform(adams, labels))


def active_mask(tree, starts, step):
  """Same-structure pytree of booleans: does each leaf's group train at `step`? `tree` is a
  `params` or `batch_stats` tree; `step` may be traced."""
  def is_active(label):
    start = starts[label]
    return jnp.asarray(False) if start is None else step >= start
  return jax.tree_util.tree_map(is_active, param_labels(tree))
