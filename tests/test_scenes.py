"""Procedural scenes (datasets/rendered/scenes.py): kinds, purity, rendering, parallel rendering."""

import collections

import numpy as np
import pytest

from datasets.rendered import scenes


def _first_index_of_each_kind(seed=0):
  found = {}
  for index in range(500):
    found.setdefault(scenes.scene_kind(seed, index), index)
    if len(found) == len(scenes.KIND_NAMES):
      break
  return found


def test_kind_table_is_a_distribution_with_descriptions():
  names, probs, descriptions = zip(*scenes.SCENE_KINDS)
  assert len(set(names)) == len(names) and abs(sum(probs) - 1) < 1e-9
  assert all(p > 0 for p in probs) and all(descriptions)


def test_kinds_mix_covers_every_kind_near_its_probability():
  counts = collections.Counter(scenes.scene_kind(0, i) for i in range(2000))
  assert set(counts) == set(scenes.KIND_NAMES)
  for name, prob, _ in scenes.SCENE_KINDS:
    assert abs(counts[name] / 2000 - prob) < 0.04, (name, counts[name])


def test_scene_kind_is_a_pure_function_of_seed_and_index():
  kinds = [scenes.scene_kind(3, i) for i in range(50)]
  assert kinds == [scenes.scene_kind(3, i) for i in range(50)]
  assert kinds != [scenes.scene_kind(4, i) for i in range(50)]


def test_scene_dict_is_pure_and_its_content_does_not_depend_on_size():
  a, b = scenes.scene_dict(5, 3, 32, 64, 2), scenes.scene_dict(5, 3, 32, 64, 2)
  assert str(a) == str(b)
  big = scenes.scene_dict(5, 3, 64, 128, 2)
  assert sorted(big) == sorted(a)  # the same objects; only the film (and sampler count) differ
  assert str({k: v for k, v in big.items() if k != "sensor"}) == str(
      {k: v for k, v in a.items() if k != "sensor"})


@pytest.mark.parametrize("kind", scenes.KIND_NAMES)
def test_every_kind_renders_finite_nonnegative_radiance(kind):
  index = _first_index_of_each_kind()[kind]
  radiance = scenes.render(scenes.scene_dict(0, index, 32, 64, 1))
  assert radiance.shape == (32, 64, 3) and radiance.dtype == np.float32
  assert np.all(np.isfinite(radiance)) and radiance.min() >= 0 and radiance.max() > 0


def test_render_is_bit_identical_on_a_rerun():
  a = scenes.render(scenes.scene_dict(0, 2, 32, 64, 4))
  b = scenes.render(scenes.scene_dict(0, 2, 32, 64, 4))
  np.testing.assert_array_equal(a, b)


def test_render_scenes_yields_in_the_order_of_indices_serially():
  indices = [4, 1, 3]
  out = list(scenes.render_scenes(0, indices, 16, 32, 1, workers=1, progress=False))
  assert [i for i, _ in out] == indices
  np.testing.assert_array_equal(out[1][1], scenes.render(scenes.scene_dict(0, 1, 16, 32, 1)))


def test_render_scenes_in_parallel_equals_serial():
  indices = [2, 0, 5]
  serial = list(scenes.render_scenes(0, indices, 16, 32, 1, workers=1, progress=False))
  parallel = list(scenes.render_scenes(0, indices, 16, 32, 1, workers=2, progress=False))
  assert [i for i, _ in parallel] == indices
  for (_, a), (_, b) in zip(serial, parallel):
    np.testing.assert_array_equal(a, b)
