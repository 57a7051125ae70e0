"""The rendered data set: scenes as pure functions of (seed, index), patches, built examples."""

import numpy as np
import pytest

from datasets import common
from datasets.rendered import rendered
from datasets.rendered import scenes
from drht_jax import input_pipeline


def test_scene_is_a_pure_function_of_seed_and_index():
  a, b = scenes.scene_dict(0, 7, 64, 128, 4), scenes.scene_dict(0, 7, 64, 128, 4)
  assert str(a) == str(b)
  assert str(a) != str(scenes.scene_dict(0, 8, 64, 128, 4))
  assert str(a) != str(scenes.scene_dict(1, 7, 64, 128, 4))


def test_render_gives_finite_nonnegative_radiance_with_a_sky():
  radiance = scenes.render(scenes.scene_dict(0, 0, 32, 64, 2))
  assert radiance.shape == (32, 64, 3) and radiance.dtype == np.float32
  assert np.all(np.isfinite(radiance)) and radiance.min() >= 0 and radiance.max() > 0


def test_patches_cover_each_scale_at_the_config_strides():
  names = [n for n, _ in rendered.patches(np.zeros((256, 512, 3), np.float32),
                                          ((64, 128), (64, 128), (64, 128)))]
  assert len(names) == 16 + 4 + 1 and len(set(names)) == len(names)
  full = [c for c in rendered.Rendered.BUILDER_CONFIGS if c.name == "full"][0]
  assert len(list(rendered.patches(np.zeros((256, 512, 3)), full.strides))) == 169 + 25 + 1


def test_downsample_averages_blocks():
  image = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
  np.testing.assert_array_equal(rendered.downsample(image, 2)[..., 0],
                                [[2.5, 4.5], [10.5, 12.5]])


def test_tiny_build_has_disjoint_splits_and_valid_examples(tiny_data_dir):
  builder = input_pipeline.get_builder("rendered/tiny", tiny_data_dir)
  train, test = builder.as_data_source("train"), builder.as_data_source("test")
  assert len(train) == 15 and len(test) == 1
  train_scenes = {train[i]["id"].decode().split("-")[0] for i in range(len(train))}
  assert test[0]["id"].decode() not in train_scenes
  example = train[0]
  assert example["hdr"].shape == (64, 128, 3) and example["ldr"].dtype == np.uint8
  assert np.all(np.isfinite(example["hdr"]))
  assert -6.0 <= example["ev"] <= 3.0 and 0.7 <= example["contrast"] <= 1.4


def test_example_corruption_is_a_function_of_seed_and_id():
  radiance = np.random.default_rng(0).gamma(1.0, 0.2, size=(8, 16, 3)).astype(np.float32)
  a = common.make_hdr_example(radiance, 0, "scene1-s0-y0-x0")
  b = common.make_hdr_example(radiance, 0, "scene1-s0-y0-x0")
  c = common.make_hdr_example(radiance, 0, "scene1-s0-y0-x128")
  np.testing.assert_array_equal(a["ldr"], b["ldr"])
  assert a["ev"] != c["ev"]
  np.testing.assert_allclose(np.exp(np.mean(np.log(
      a["hdr"] @ np.array([0.2126, 0.7152, 0.0722], np.float32) + 1e-6))), 0.18, rtol=1e-3)


def test_hdr_example_with_nan_is_refused():
  radiance = np.ones((4, 4, 3), np.float32)
  radiance[0, 0, 0] = np.nan
  with pytest.raises(ValueError, match="NaN"):
    common.make_hdr_example(radiance, 0, "bad")
