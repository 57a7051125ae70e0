"""Optional perceptual metric: ColorVideoVDP (PyTorch), behind requirements-perceptual.txt."""

import importlib

import numpy as np

from drht_jax.metrics.fidelity import _check_pair

PERCEPTUAL_HINT = ("ColorVideoVDP (cvvdp) is not installed: "
                   "pip install -r requirements-perceptual.txt")


def perceptual_available():
  """True when ColorVideoVDP (`pycvvdp`, from the PyPI package `cvvdp`) and torch import."""
  try:
    importlib.import_module("torch")
    importlib.import_module("pycvvdp")
  except ImportError:
    return False
  return True


def cvvdp_jod(pred, ref, display_name="standard_4k"):
  """ColorVideoVDP quality in JOD (10 = no visible difference) per image, on the CPU.

  `pred`, `ref`: `[..., H, W, 3]` display-encoded (sRGB) in [0, 1], seen on `display_name`
  (see pycvvdp's display_models.json). Returns a NumPy array `[...]`. Raises ImportError with
  the install command when the optional dependency is missing. Not jit-able (PyTorch).
  """
  try:
    torch = importlib.import_module("torch")
    pycvvdp = importlib.import_module("pycvvdp")
  except ImportError as e:
    raise ImportError(f"drht_jax.metrics.cvvdp_jod: {PERCEPTUAL_HINT}") from e
  pred, ref = np.asarray(pred, np.float32), np.asarray(ref, np.float32)
  _check_pair(pred, ref, "cvvdp_jod", channels=3)
  metric = pycvvdp.cvvdp(display_name=display_name, quiet=True, device=torch.device("cpu"))
  flat_pred, flat_ref = pred.reshape((-1,) + pred.shape[-3:]), ref.reshape((-1,) + ref.shape[-3:])
  scores = []
  with torch.no_grad():
    for p, r in zip(flat_pred, flat_ref):
      jod, _ = metric.predict(torch.from_numpy(np.clip(p, 0, 1)),
                              torch.from_numpy(np.clip(r, 0, 1)), dim_order="HWC")
      scores.append(float(jod))
  return np.asarray(scores, np.float32).reshape(pred.shape[:-3])
