"""configs/ is data: each config imports only ml_collections and other configs, builds from
configs/default.py directly (one level of inheritance), and loads."""

import ast
import glob
import importlib
import os

import pytest

from configs import default

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")
NAMES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(CONFIGS, "*.py"))
               if not p.endswith("__init__.py"))


def _imports(name):
  with open(os.path.join(CONFIGS, name + ".py")) as f:
    tree = ast.parse(f.read())
  found = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      found += [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      found += [f"{node.module}.{alias.name}" for alias in node.names]
  return found


@pytest.mark.parametrize("name", NAMES)
def test_config_imports_only_ml_collections_and_default(name):
  for module in _imports(name):
    top = module.split(".")[0]
    assert top in ("ml_collections", "configs"), (name, module)
    if top == "configs":
      assert module == "configs.default", (name, module)  # one level of inheritance at most
  assert name != "default" or not any(m.startswith("configs") for m in _imports(name))


@pytest.mark.parametrize("name", NAMES)
def test_config_loads(name):
  module = importlib.import_module(f"configs.{name}")
  stages = ("joint", "finetune") if name == "release" else (None,)
  for stage in stages:
    config = module.get_config() if stage is None else module.get_config(stage)
    assert set(config.stage_order) <= set(config.stages.keys())
    assert "init_from_status" not in config  # what a run decides goes to run.json, not here
    assert config.model.keys() == default.model_config().keys()


def test_pretrain_stage_follows_pretrain_fraction():
  config = default.get_config()
  assert config.pretrain_stage.loss == "hdr"
  assert tuple(config.pretrain_stage.supervision.trainable) == ("f1",)
  assert config.pretrain_stage.fraction == config.pretrain_fraction == 0.3
  config.pretrain_fraction = 0.2
  assert config.to_dict()["pretrain_stage"]["fraction"] == 0.2


def test_release_and_ablation_keep_the_demos_recipe():
  """Both write the demo's recipe out (one level of inheritance): optimizer and stages as
  configs/demo.py's, but for the fields each docstring names."""
  from configs import ablation, demo, release  # pylint: disable=g-import-not-at-top
  recipe = demo.get_config()
  released = release.get_config()
  assert released.optimizer.to_dict() == recipe.optimizer.to_dict()
  assert released.model.conv_grads == recipe.model.conv_grads == "xla"
  assert released.model.width == recipe.model.width
  recipe.stages.joint.ssim_weight = release.SSIM_WEIGHT
  assert released.stages.to_dict() == recipe.stages.to_dict()
  ablated = ablation.get_config()
  assert ablated.optimizer.to_dict() == demo.get_config().optimizer.to_dict()
  recipe = demo.get_config()
  recipe.stages.hdr.fraction, recipe.stages.joint.fraction = 1 / 3, 2 / 3
  assert ablated.stages.to_dict() == recipe.stages.to_dict()


def test_ablation_real_adds_the_real_stacks_to_every_batch_and_changes_nothing_else():
  from configs import ablation  # pylint: disable=g-import-not-at-top
  plain, real = ablation.get_config(), ablation.get_config("real")
  assert not plain.data.get("mixture") and real.data.mixture.exposure_stacks.share == 0.5
  plain, real = plain.to_dict(), real.to_dict()
  plain["data"].pop("mixture", None)
  real["data"].pop("mixture")
  assert real == plain


def test_ablation_refuses_an_unknown_argument():
  from configs import ablation  # pylint: disable=g-import-not-at-top
  with pytest.raises(ValueError, match="unknown argument"):
    ablation.get_config("rea")


def test_release_v3_starts_from_v2_with_flat_region_fixes():
  from configs import release_v3  # pylint: disable=g-import-not-at-top
  config = release_v3.get_config()
  assert config.init_from == "pretrained/v2"
  assert (config.model.upsample, config.model.padding, config.model.clip_neutral) == (
      "balanced_deconv", "edge", True)


def test_release_v6_freezes_v3s_statistics_and_validates_on_held_out_stacks():
  from configs import release_v6  # pylint: disable=g-import-not-at-top
  first, more = release_v6.get_config(), release_v6.get_config("continue")
  assert first.init_from == "pretrained/v3" and more.init_from == "runs/release_v6_best"
  for config in (first, more):
    assert config.stages.finetune.batch_norm == "frozen"
    assert config.data.mixture.exposure_stacks.train_split == "train[kept/6]"
    assert config.validation.split == "train[held/6]"
  assert more.optimizer.learning_rate == more.optimizer.phase2_learning_rate == 1e-5
  with pytest.raises(ValueError, match="unknown argument"):
    release_v6.get_config("again")


def test_release_v7_adds_the_papers_two_protocols_to_v6s_mixture():
  from configs import release_v7  # pylint: disable=g-import-not-at-top
  from drht_jax import input_pipeline  # pylint: disable=g-import-not-at-top
  config = release_v7.get_config()
  assert config.init_from == "pretrained/v6"
  assert config.stages.finetune.batch_norm == "frozen"
  assert config.validation.split == "train[held/6]"
  sources = {name: (s.dataset, s.train_split, s.corruption, s.get("reexpose") or "", n)
             for name, s, n in input_pipeline.mixture_counts(config.data, 6, 1)}
  assert sources == {
      "data": ("rendered/full", "train", "camera", "", 1),
      "rendered_parametric": ("rendered/full", "train", "parametric", "", 1),
      "exposure_stacks": ("exposure_stacks", "train[kept/6]", "camera", "", 3),
      "reexposed_parametric": ("exposure_stacks", "train[kept/6]", "parametric", "ldr_gt", 1)}


def test_release_v8_continues_v7_with_more_rendered_and_reexposed_examples():
  from configs import release_v8  # pylint: disable=g-import-not-at-top
  from drht_jax import input_pipeline  # pylint: disable=g-import-not-at-top
  config = release_v8.get_config()
  assert config.init_from == "pretrained"
  assert config.stages.finetune.batch_norm == "frozen"
  assert config.validation.split == "train[held/6]"
  counts = {name: n for name, _, n in
            input_pipeline.mixture_counts(config.data, config.batch_size, 1)}
  assert counts == {"data": 2, "rendered_parametric": 1, "exposure_stacks": 3,
                    "reexposed_parametric": 2}
