"""Parameter groups for hierarchical supervision (paper Sec. 3.3).

Every parameter gets exactly one label: `f1`, `f2/encoder`, or `f2/decoder/<j>` with j = 0 the
coarsest deconv (next to f2's bottleneck) up to j = 5, the full-resolution output layer.
`optax.multi_transform` (train_lib) gives each label its own learning-rate schedule.
"""

import re

import flax
import jax

from drht_jax import models

NUM_DECODER_GROUPS = models.NUM_LEVELS

# (regex over the '/'-joined parameter path, label template). Checked in order; each
# parameter must match exactly one rule.
LABEL_RULES = (
    (r"^f1/", "f1"),
    (r"^f2/body/encoder_\d+(_bn)?/", "f2/encoder"),
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
