"""Specifies experiments/average_checkpoints.py: the uniform mean of checkpoints' variables."""

import numpy as np
import pytest

from experiments import average_checkpoints


def test_average_is_the_leafwise_mean_in_each_leafs_dtype():
  trees = [{"params": {"w": np.full((2, 2), v, np.float32)}, "count": np.int32(v)}
           for v in (1.0, 2.0, 6.0)]
  mean = average_checkpoints.average(trees)
  np.testing.assert_array_equal(mean["params"]["w"], np.full((2, 2), 3.0, np.float32))
  assert mean["params"]["w"].dtype == np.float32 and mean["count"] == 3


def test_fewer_than_two_steps_is_refused():
  with pytest.raises(SystemExit):
    average_checkpoints.main(["--workdir=w", "--steps=5", "--output=o"])
