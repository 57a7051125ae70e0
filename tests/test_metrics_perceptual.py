"""Specifies drht_jax/metrics/perceptual.py: the optional ColorVideoVDP (JOD) metric."""

import sys

import numpy as np
import pytest

from drht_jax import metrics


def test_cvvdp_jod_without_the_package_raises_with_the_install_command(monkeypatch):
  monkeypatch.setitem(sys.modules, "pycvvdp", None)  # makes `import pycvvdp` fail
  assert not metrics.perceptual_available()
  x = np.zeros((16, 16, 3), np.float32)
  with pytest.raises(ImportError, match="pip install -r requirements-perceptual.txt"):
    metrics.cvvdp_jod(x, x)


def test_cvvdp_jod_of_identical_images_is_ten_when_installed(photos):
  pytest.importorskip("pycvvdp")
  x = photos["coffee"][:64, :64].astype(np.float32)
  assert float(metrics.cvvdp_jod(x, x)) == pytest.approx(10.0, abs=1e-2)
