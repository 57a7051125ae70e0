"""Shared fixtures: a persistent XLA compilation cache (the suite compiles the same tiny steps
in several processes), the `rendered/tiny` data set, built once per session, and the photographs
of the metric test files (tests/metric_inputs.py).

The suite compiles many small XLA programs and runs each only a few times, so on a CPU most of
its time is LLVM optimising code it then barely runs: tests compile at
`--xla_backend_optimization_level=0` (in `XLA_FLAGS`, which subprocesses inherit; a level
already set there wins). The level changes how fast the code runs, not what it computes: the tiny
training run ends with the same digest at either level (docs/measure.md, "The test suite's
time"), and the determinism tests compare runs made at the same level.
"""

import os
import sys

TEST_XLA_FLAGS = "--xla_backend_optimization_level=0"
if "--xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = f"{TEST_XLA_FLAGS} {os.environ.get('XLA_FLAGS', '')}".strip()

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

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
