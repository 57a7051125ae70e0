"""The one registry of correction methods that DRHT is compared with (docs/measure.md).

`METHODS` lists every comparison method in the report's row order (the paper's peers first);
eval.py's report (`evaluate`, `evaluators`), the photo app (`app`) and the experiments read it.
To add a method, write its function (classical: `baselines.py`, learned: `learned_baselines.py`)
and add one `Method` line below; `baselines.BASELINES` (classical name -> function) is derived
from this list.

Each method maps one photo `[H, W, 3]` float in [0, 1] (display-encoded) to a corrected image
`[H, W, 3]` float32 in [0, 1], except `f1_reinhard`, which tone-maps DRHT's own f1 radiance
(`kind == F1_TMO`) and so needs the network's output; `apply` hides that difference.
"""

from typing import Callable, List, NamedTuple, Optional

import numpy as np

from drht_jax import baselines, hdr, learned_baselines

CLASSICAL = "classical"   # NumPy / SciPy on the host (baselines.py)
LEARNED = "learned"       # a published network with shipped weights (learned_baselines.py)
F1_TMO = "f1_tmo"         # the recipe's TMO applied to DRHT's f1 radiance
KINDS = (CLASSICAL, LEARNED, F1_TMO)

DRHT = "drht"
DRHT_LABEL = "DRHT (ours)"


class Method(NamedTuple):
  """One comparison method: its table name, row label, kind (`KINDS`) and function.

  `fn`: `photo [H, W, 3] in [0, 1] -> [H, W, 3] float32 in [0, 1]`, or for `F1_TMO`
  `radiance [H, W, 3] >= 0 (linear) -> [H, W, 3] in [0, 1]`.
  """
  name: str
  label: str
  kind: str
  fn: Callable

  def apply(self, ldr, radiance=None) -> np.ndarray:
    """This method's output.

    Args:
      ldr: the input photo, `[H, W, 3]` float in [0, 1].
      radiance: f1's linear HDR of that photo, `[H, W, 3]` >= 0; used only by `F1_TMO`.

    Returns:
      The corrected image, `[H, W, 3]` in [0, 1].
    """
    if self.kind == F1_TMO:
      return np.asarray(self.fn(radiance))
    return self.fn(ldr)


METHODS = (
    Method("input", "Input (as is)", CLASSICAL, baselines.input_as_is),
    Method("auto_exposure", "Auto exposure / gamma", CLASSICAL, baselines.auto_exposure),
    Method("histeq", "Histogram equalisation", CLASSICAL, baselines.histeq),
    Method("clahe", "CLAHE", CLASSICAL, baselines.clahe),
    Method("lime", "LIME [10]", CLASSICAL, baselines.lime),
    Method("wvm", "WVM [8]", CLASSICAL, baselines.wvm),
    Method("l0_enhance", "L0 smoothing + detail [46]", CLASSICAL, baselines.l0_enhance),
    Method("f1_reinhard", "f1 + Reinhard TMO (HDRCNN-style [6])", F1_TMO,
           hdr.ground_truth_ldr),
    Method("zero_dce", "Zero-DCE (learned, neuro-low-light 0.1.0 weights)", LEARNED,
           learned_baselines.zero_dce),
)
BY_NAME = {m.name: m for m in METHODS}


def of_kind(kind: str) -> List[Method]:
  """The methods of `kind` (one of `KINDS`), in table order."""
  if kind not in KINDS:
    raise ValueError(f"methods.of_kind: unknown kind {kind!r}; expected one of {KINDS}")
  return [m for m in METHODS if m.kind == kind]


def get(name: str) -> Method:
  """The registered method called `name`; ValueError listing the names if there is none."""
  if name not in BY_NAME:
    raise ValueError(f"unknown method {name!r}; available: {list(BY_NAME)}")
  return BY_NAME[name]


def label(name: str) -> str:
  """The table's row label of `name` (a registered method or `DRHT`); `name` itself if none."""
  if name == DRHT:
    return DRHT_LABEL
  return BY_NAME[name].label if name in BY_NAME else name


def parse(spec: Optional[str]) -> List[str]:
  """Method names from a command-line list.

  Args:
    spec: 'all', 'none' (or empty / None) or a comma list of names of `METHODS`.

  Returns:
    The names, in table order (not the order given).

  Raises:
    ValueError: for an unknown name, listing the available ones.
  """
  available = list(BY_NAME)
  spec = (spec or "none").strip()
  if spec == "all":
    return available
  if spec == "none":
    return []
  names = [s.strip() for s in spec.split(",") if s.strip()]
  unknown = [n for n in names if n not in available]
  if unknown:
    raise ValueError(f"--baselines: unknown {unknown}; available: {available}, or all/none")
  return [n for n in available if n in names]
