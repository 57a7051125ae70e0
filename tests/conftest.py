"""Shared fixtures: a persistent XLA compilation cache (the suite compiles the same tiny steps
in several processes), the `rendered/tiny` data set, built once per session, and the photographs
of the metric test files (tests/metric_inputs.py)."""

import os
import sys

import jax
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

# Subprocesses inherit these through the environment.
CACHE_DIR = os.path.join(REPO, ".pytest_cache", "xla")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", CACHE_DIR)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)

from drht_jax import allocator  # pylint: disable=g-import-not-at-top,wrong-import-position
allocator.keep_freed_memory()  # as train.py does: test steps then run as they do there


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory):
  """TFDS data_dir holding `rendered/tiny` (whole scenes: 3 train, 2 test at 128x256; examples are
  made online by drht_jax/recipe.py)."""
  from drht_jax import input_pipeline  # pylint: disable=g-import-not-at-top
  data_dir = str(tmp_path_factory.mktemp("tfds"))
  input_pipeline.prepare("rendered/tiny", data_dir)
  return data_dir


@pytest.fixture(scope="module")
def photos():
  """The skimage.data photographs of tests/metric_inputs.py by name, as float64 in [0, 1]
  (tests/test_evaluate.py's own `photos`, a folder of files, overrides it there)."""
  from tests.metric_inputs import PHOTOS, _photo  # pylint: disable=g-import-not-at-top
  return {name: _photo(name) for name in PHOTOS}
