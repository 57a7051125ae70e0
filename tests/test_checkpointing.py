"""Specifies drht_jax/checkpointing.py: the Orbax layout of training checkpoints."""

import jax
import numpy as np
import optax

from drht_jax import checkpointing
from drht_jax import train_lib
from tests.test_train import assert_trees_equal


def test_checkpoints_hold_the_train_state_as_it_is_and_read_old_dict_checkpoints(tmp_path):
  """Orbax saves the flax struct with its fields as top-level keys: the layout that runs
  before it wrote as a plain dict, so old training checkpoints restore into a TrainState."""
  params = {"f1": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}}
  tx = optax.adam(1e-3)
  state = jax.device_get(train_lib.TrainState(
      step=np.asarray(4, np.int32), rng=np.asarray([0, 7], np.uint32), params=params,
      batch_stats={"f1": {"mean": np.ones(3, np.float32)}}, opt_state=tx.init(params)))
  new, old = str(tmp_path / "new"), str(tmp_path / "old")
  checkpointing.save(checkpointing.create_manager(new), 4, state, b"{}")
  old_dict = {f: getattr(state, f) for f in ("step", "rng", "params", "batch_stats",
                                             "opt_state")}
  checkpointing.save(checkpointing.create_manager(old), 4, old_dict, b"{}")
  for workdir in (new, old):
    raw, _ = checkpointing.restore_raw_state(workdir)
    assert sorted(raw) == ["batch_stats", "opt_state", "params", "rng", "step"]
    restored, data = checkpointing.restore(
        checkpointing.create_manager(workdir, read_only=True), 4, state)
    assert isinstance(restored, train_lib.TrainState) and data == b"{}"
    assert_trees_equal(restored, state)
    variables, step = checkpointing.restore_variables(workdir)
    assert step == 4 and sorted(variables) == ["batch_stats", "params"]
