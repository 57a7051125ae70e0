"""Specifies drht_jax/widen.py: a narrow trained DRHT widened into a wider one computes the
same function, and `init_from` uses it only when asked (`config.init_widen`)."""

import jax
import numpy as np
import pytest

from configs import default
from drht_jax import checkpointing
from drht_jax import models
from drht_jax import widen


def _model_and_variables(width, seed):
  config = default.model_config()
  config.width = width
  config.global_context = True
  config.upsample = "balanced_deconv"
  model = models.create_model(config)
  return model, models.init_variables(model, jax.random.PRNGKey(seed), (32, 64))


def _save(workdir, variables):
  state = {"step": np.asarray(3, np.int32), "params": jax.device_get(variables["params"]),
           "batch_stats": jax.device_get(variables["batch_stats"])}
  checkpointing.save(checkpointing.create_manager(workdir), 3, state, b"{}")


def _perturbed_stats(variables, key):
  """Trained-looking BatchNorm statistics (init's are 0 / 1), so the test checks they widen."""
  leaves, tree = jax.tree_util.tree_flatten(variables["batch_stats"])
  keys = jax.random.split(key, len(leaves))
  leaves = [x + 0.3 * jax.random.uniform(k, x.shape) for x, k in zip(leaves, keys)]
  return {"params": variables["params"],
          "batch_stats": jax.tree_util.tree_unflatten(tree, leaves)}


def test_replicas_of_a_channel_split_its_outgoing_weights_unevenly():
  """The splits over a channel's replicas sum to the old weight but differ per weight, so the
  replicas get different gradients and do not stay copies."""
  maps = {(2, 4): widen.channel_map(jax.random.PRNGKey(0), 2, 4)}
  kernel = np.arange(1, 1 + 3 * 3 * 2 * 2, dtype=np.float32).reshape(3, 3, 2, 2)
  wide = widen.widen_array(jax.random.PRNGKey(1), kernel, (3, 3, 4, 4), maps)
  g = maps[(2, 4)]
  for c in range(2):
    summed = wide[:, :, g == c, :].sum(axis=2)
    np.testing.assert_allclose(summed[..., :2], kernel[:, :, c, :], rtol=1e-5)
  replica = int(np.nonzero(g[2:] == g[2])[0][0]) + 2
  assert not np.allclose(wide[:, :, g[2], :2], wide[:, :, replica, :2])


def test_channel_maps_keep_the_old_channels_first_and_cannot_narrow():
  g = widen.channel_map(jax.random.PRNGKey(0), 3, 7)
  assert list(g[:3]) == [0, 1, 2] and g.shape == (7,) and set(g[3:]) <= {0, 1, 2}
  with pytest.raises(ValueError, match="cannot narrow"):
    widen.channel_map(jax.random.PRNGKey(0), 4, 2)


def test_widening_is_a_function_of_its_key():
  maps = {(2, 5): widen.channel_map(jax.random.PRNGKey(4), 2, 5)}
  kernel = np.ones((1, 1, 2, 3), np.float32)
  a = widen.widen_array(jax.random.PRNGKey(1), kernel, (1, 1, 5, 3), maps)
  b = widen.widen_array(jax.random.PRNGKey(1), kernel, (1, 1, 5, 3), maps)
  c = widen.widen_array(jax.random.PRNGKey(2), kernel, (1, 1, 5, 3), maps)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)


def test_a_spatial_change_is_refused_with_the_arrays_name():
  with pytest.raises(ValueError, match="f1/encoder_0/kernel: cannot widen"):
    widen.widen_array(jax.random.PRNGKey(0), np.ones((3, 3, 2, 2)), (5, 5, 2, 2), {},
                      "f1/encoder_0/kernel")


def test_init_from_a_narrower_model_without_init_widen_names_the_array_and_the_fix(tmp_path):
  _, small = _model_and_variables(0.0625, seed=1)
  _save(str(tmp_path), small)
  _, fresh = _model_and_variables(0.125, seed=5)
  with pytest.raises(ValueError, match=r"params f1/\S+ of shape .*init_widen=True"):
    checkpointing.load_groups(str(tmp_path), ("f1",), fresh["params"], fresh["batch_stats"])


def test_a_concat_fusion_model_is_refused_before_widening():
  """A concat fusion's 1x1 conv reads two channel spaces on one axis, which one channel map
  cannot follow: init_widen says so instead of changing the function."""
  config = default.model_config()
  widen.check_model(config)   # add_mul, the default: fine
  config.fusion = "concat"
  with pytest.raises(ValueError, match="model.fusion='add_mul'"):
    widen.check_model(config)


def test_a_widened_model_computes_what_the_narrow_one_computes(tmp_path):
  """`config.init_widen`: a run of twice the width starts from a narrower checkpoint (trained-
  looking BatchNorm statistics included) with the same outputs."""
  from tests.test_train import tiny_config  # pylint: disable=g-import-not-at-top
  from drht_jax import train_lib  # pylint: disable=g-import-not-at-top
  v3_layers = {"model.global_context": True, "model.upsample": "balanced_deconv"}
  narrow_config = tiny_config("unused", **{"model.width": 0.0625}, **v3_layers)
  narrow = models.create_model(narrow_config.model)
  small = _perturbed_stats(models.init_variables(narrow, jax.random.PRNGKey(1), (32, 64)),
                           jax.random.PRNGKey(2))
  _save(str(tmp_path), small)
  config = tiny_config("unused", init_from=str(tmp_path), init_from_groups=("f1", "f2"),
                       init_widen=True, **v3_layers)
  wide = models.create_model(config.model)
  state = train_lib.initial_state(config, wide, train_lib.plan_stages(config))
  x = jax.random.uniform(jax.random.PRNGKey(3), (2, 32, 64, 3))
  want = narrow.apply(small, x, train=False)["i_hat"]
  got = wide.apply({"params": state.params, "batch_stats": state.batch_stats}, x,
                   train=False)["i_hat"]
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)
  kernel = state.params["f1"]["body"]["encoder_1"]["kernel"]
  assert kernel.shape[2:] == tuple(2 * n for n in small["params"]["f1"]["body"]["encoder_1"][
      "kernel"].shape[2:])
