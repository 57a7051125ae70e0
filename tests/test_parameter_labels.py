"""Every parameter of DRHT belongs to exactly one hierarchical-supervision group."""

import jax
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
