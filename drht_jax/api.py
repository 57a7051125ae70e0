"""Python API: `drht_jax.load("pretrained").correct(image)`.

    import drht_jax
    model = drht_jax.load("pretrained")          # the released model, or any workdir path
    corrected = model.correct(photo)             # [H, W, 3] uint8 -> uint8, float -> float32
    radiance = model.hdr(photo)                  # f1's linear HDR estimate, float32 >= 0

`"pretrained"` names the released weights: a folder `pretrained` in the current directory if
there is one, else the copy shipped inside the installed package (`drht_jax/pretrained/`,
copied from the repository's `pretrained/` when the wheel is built, see setup.py), else the
repository's `pretrained/` next to this package (a clone). Any other string is a workdir path
(a training run's `runs/NAME`, or an export of `python -m drht_jax.export`).
"""

import os
from typing import Optional

import numpy as np

from drht_jax import inference

PRETRAINED = "pretrained"
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def pretrained_candidates() -> list:
  """Where `"pretrained"` is looked for, in order: ./pretrained, the packaged copy, the
  clone's pretrained/ (the folder above this package)."""
  return [os.path.abspath(PRETRAINED), os.path.join(_PACKAGE_DIR, PRETRAINED),
          os.path.join(os.path.dirname(_PACKAGE_DIR), PRETRAINED)]


def _is_workdir(path: str) -> bool:
  return os.path.isdir(os.path.join(path, "checkpoints"))


def resolve_workdir(workdir: str = PRETRAINED) -> str:
  """A workdir argument -> an existing folder holding `checkpoints/` (see module docstring).
  Raises FileNotFoundError naming what was tried."""
  workdir = os.fspath(workdir)
  if workdir == PRETRAINED:
    for candidate in pretrained_candidates():
      if _is_workdir(candidate):
        return candidate
    raise FileNotFoundError(
        "pretrained: the released model was not found in " + ", ".join(pretrained_candidates()))
  if not os.path.isdir(workdir):
    raise FileNotFoundError(f"{workdir}: no such folder (a training workdir or an export)")
  if not _is_workdir(workdir):
    raise FileNotFoundError(f"{workdir}: no checkpoints/ folder; is it a training workdir?")
  return workdir


def _to_float(image, name="image"):
  """`[H, W, 3]` uint8 (/255), uint16 (/65535) or float in [0, 1] -> float32, and a function
  converting a float32 result back to the input's dtype convention."""
  image = np.asarray(image)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f"{name}: expected one [H, W, 3] image, got shape {image.shape}")
  if image.dtype == np.uint8 or image.dtype == np.uint16:
    peak = float(np.iinfo(image.dtype).max)
    dtype = image.dtype

    def back(x):
      return np.round(np.clip(x, 0.0, 1.0) * peak).astype(dtype)
    return image.astype(np.float32) / np.float32(peak), back
  if not np.issubdtype(image.dtype, np.floating):
    raise ValueError(f"{name}: expected uint8, uint16 or float pixels, got {image.dtype}")
  return image.astype(np.float32), lambda x: x


class Corrector:
  """A restored DRHT ready to correct images (`load` makes one).

  `mode`, `working_size`: see `inference.correct` (default: guided upsampling from a working
  resolution of `inference.DEFAULT_WORKING_SIZE` long side).
  """

  def __init__(self, workdir: str = PRETRAINED, step: Optional[int] = None,
               mode: str = inference.DEFAULT_MODE,
               working_size: int = inference.DEFAULT_WORKING_SIZE):
    from drht_jax import checkpointing  # pylint: disable=g-import-not-at-top
    import jax  # pylint: disable=g-import-not-at-top
    if mode not in inference.MODES:
      raise ValueError(f"mode must be one of {inference.MODES}, got {mode!r}")
    self.workdir = resolve_workdir(workdir)
    self.config, self.model, variables, self.step = checkpointing.restore_for_inference(
        self.workdir, step)
    self.variables = jax.device_put(variables)
    self.mode = mode
    self.working_size = working_size

  def __repr__(self):
    return (f"Corrector(workdir={self.workdir!r}, step={self.step}, mode={self.mode!r}, "
            f"working_size={self.working_size})")

  def _run(self, image, want_hdr):
    return inference.correct(self.model, self.variables, image, mode=self.mode,
                             working_size=self.working_size, want_hdr=want_hdr)

  def correct(self, image) -> np.ndarray:
    """`[H, W, 3]` photo (uint8, uint16, or float in [0, 1], display-encoded) -> DRHT's
    corrected photo `[H, W, 3]`, same dtype (uint8 in, uint8 out; float in, float32 in [0, 1]
    out)."""
    pixels, back = _to_float(image)
    corrected, _ = self._run(pixels, want_hdr=False)
    return back(corrected)

  def hdr(self, image) -> np.ndarray:
    """`[H, W, 3]` photo (as for `correct`) -> f1's HDR estimate `S_full`, `[H, W, 3]`
    float32 linear radiance >= 0 (relative scale)."""
    pixels, _ = _to_float(image)
    _, radiance = self._run(pixels, want_hdr=True)
    return radiance

  def correct_and_hdr(self, image):
    """Both at once (one network run): `(corrected as in correct, radiance as in hdr)`."""
    pixels, back = _to_float(image)
    corrected, radiance = self._run(pixels, want_hdr=True)
    return back(corrected), radiance


def load(workdir: str = PRETRAINED, step: Optional[int] = None,
         mode: str = inference.DEFAULT_MODE,
         working_size: int = inference.DEFAULT_WORKING_SIZE) -> Corrector:
  """Restores a DRHT for inference: `"pretrained"` (the released model) or a workdir path.
  Raises FileNotFoundError if there is no checkpoint there."""
  return Corrector(workdir, step=step, mode=mode, working_size=working_size)
