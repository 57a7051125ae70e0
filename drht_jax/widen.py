"""Function-preserving widening of trained variables (Net2WiderNet; Chen, Goodfellow and Shlens,
"Net2Net: Accelerating Learning via Knowledge Transfer", ICLR 2016).

A wider DRHT (`config.model.width` up, e.g. 0.25 -> 0.5) can start from a narrower trained one
and compute exactly the same function at step 0, so training spends its steps on what the extra
channels add instead of re-learning what the narrow net knew (`config.init_widen`,
`checkpointing.load_groups`; docs/ablations.md, "A wider model from a narrower one").

Each hidden channel space of width `old` widened to `new` gets one channel map
g: [new] -> [old], g(k) = k for k < old and a random old channel for the others (every new
channel is a replica of an old one). Then, for every array:
  * a conv kernel `[kh, kw, in, out]` (HWIO: convs, transposed convs, 1x1 convs):
    output axis `W'[..., k] = W[..., g(k)]`; input axis `W'[..., k, :] = W[..., g(k), :] * s`,
    with s > 0 splitting each old weight over the replicas of its channel (the splits of one
    old weight sum to 1, so the sum the next layer forms is unchanged);
  * a per-channel vector (bias, BatchNorm scale / bias / mean / var): `v'[k] = v[g(k)]`.
Replicas of a channel have the same inputs, so they take the same values everywhere: BatchNorm
(same statistics), ELU and the `add_mul` skip fusion (elementwise) keep them equal, and each
next layer sees the old sum. The splits are drawn per weight (not one per channel as in
Net2Net), so replicas get different gradients from the first step and do not stay copies. A
balanced deconvolution's projection (`models.balance_phases`) is linear in each (in, out)
kernel, so it commutes with the split.

Channel maps are keyed by the pair (old, new), so two spaces of the same widths share one map:
harmless, since any map per space preserves the function. Spaces are told apart by size only,
which holds for the models here with `fusion="add_mul"`: the image channels (3) and the output
(3) never change with `width`, every hidden width does. A `concat` fusion's 1x1 conv reads two
spaces joined on one axis, which one map cannot follow: `check_model` refuses it.
"""

import zlib
from typing import Dict, Tuple

import jax
import numpy as np

# Range of the random weights whose normalised values split an old weight over its replicas.
SPLIT_RANGE = (0.5, 1.5)


def check_model(model_config) -> None:
  """Raises a ValueError unless `widen_tree` preserves the function of models of `model_config`
  (`config.model`): skip fusion 'add_mul' (module doc)."""
  fusion = model_config.get("fusion", "add_mul")
  if fusion != "add_mul":
    raise ValueError(f"config.init_widen: widening needs model.fusion='add_mul' (a concat "
                     f"fusion joins two channel spaces), got {fusion!r}")


def channel_map(key, old: int, new: int) -> np.ndarray:
  """-> `[new]` int: the old channel each new channel copies; the identity on the first `old`."""
  if new < old:
    raise ValueError(f"cannot narrow a channel space from {old} to {new}")
  extra = np.asarray(jax.random.randint(key, (new - old,), 0, old))
  return np.concatenate([np.arange(old), extra]).astype(np.int64)


def _maps_for(key, pairs) -> Dict[Tuple[int, int], np.ndarray]:
  return {(o, n): channel_map(jax.random.fold_in(key, o * 1_000_003 + n), o, n)
          for o, n in sorted(pairs)}


def _split(key, g: np.ndarray, shape, axis: int) -> np.ndarray:
  """Positive factors of `shape` that sum to 1 over each group of replicas (same g) on `axis`."""
  lo, hi = SPLIT_RANGE
  u = np.asarray(jax.random.uniform(key, shape, minval=lo, maxval=hi), np.float64)
  u = np.moveaxis(u, axis, 0)
  totals = np.zeros((g.max() + 1,) + u.shape[1:])
  np.add.at(totals, g, u)
  return np.moveaxis(u / totals[g], 0, axis)


def widen_array(key, value, shape, maps, name: str = "array") -> np.ndarray:
  """`value` widened to `shape` with `maps` ({(old, new): channel map}): see the module doc.

  A 4-D value is a kernel `[kh, kw, in, out]`, a 1-D one a per-channel vector. Raises a
  ValueError naming `name` for any other change of shape."""
  value = np.asarray(value)
  shape = tuple(shape)
  if value.shape == shape:
    return value
  if value.ndim != len(shape) or value.ndim not in (1, 4) or (
      value.ndim == 4 and value.shape[:2] != shape[:2]):
    raise ValueError(f"{name}: cannot widen shape {value.shape} to {shape} (only the channel "
                     f"axes of a [kh, kw, in, out] kernel or a per-channel vector widen)")
  out = value.astype(np.float64)
  out_axis = value.ndim - 1
  if shape[out_axis] != value.shape[out_axis]:
    g = maps[(value.shape[out_axis], shape[out_axis])]
    out = np.take(out, g, axis=out_axis)
  if value.ndim == 4 and shape[2] != value.shape[2]:
    g = maps[(value.shape[2], shape[2])]
    out = np.take(out, g, axis=2) * _split(key, g, out.shape[:2] + (len(g),) + out.shape[3:], 2)
  return out.astype(value.dtype)


def widen_tree(key, source: dict, target_shapes: dict) -> dict:
  """Flat dicts {path tuple: array} -> `source` widened to `target_shapes` (same keys), one
  channel map per (old, new) width pair for the whole tree. Deterministic in `key`: call it
  with the same key for params and BatchNorm statistics so both use the same maps."""
  pairs = set()
  for path, shape in target_shapes.items():
    src = np.shape(source[path])
    if len(src) == len(shape):
      pairs.update((o, n) for o, n in zip(src, shape) if o != n)
  maps = _maps_for(jax.random.fold_in(key, 0), pairs)
  split_key = jax.random.fold_in(key, 1)
  return {path: widen_array(
      jax.random.fold_in(split_key, zlib.crc32("/".join(map(str, path)).encode())),
      source[path], shape, maps, "/".join(map(str, path)))
          for path, shape in target_shapes.items()}
