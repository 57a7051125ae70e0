"""Learned comparison methods: published low-light / exposure networks with shipped weights.

Each is a function `photo [H, W, 3] float in [0, 1] -> [H, W, 3] float32 in [0, 1]`, registered
(kind `LEARNED`) in `methods.METHODS` beside the classical methods of `baselines.py`.

**"zero_dce"**: the curve-estimation network of Zero-DCE (C. Li, C. Guo, W. Ren, R. Cong,
J. Hou, S. Kwong, R. Cong, "Zero-Reference Deep Curve Estimation for Low-Light Image
Enhancement", CVPR 2020; its journal version Zero-DCE++, C. Li, C. Guo, C. C. Loy, TPAMI 2021),
with the trained weights that the PyPI package `neuro-low-light` 0.1.0 (Parshva Shah, MIT
licence, "Professional low-light image enhancement using Zero-DCE++", trained zero-reference
on the LOL data set by its README) ships inside its wheel as `neuro_low_light/weights/
best_model.pth`. These are that package's weights, not the paper authors' (whose code and
snapshot are for non-commercial use only, and which no PyPI package ships). The architecture is
the package's `ZeroDCEPP`: DCE-Net of the Zero-DCE paper (seven 3x3 convolutions, 32 channels,
ReLU, skip concatenations 4+3, 5+2, 6+1, tanh head of 24 maps = 8 iterations x RGB), applied at
full resolution, each iteration `x <- clip(x - a_i * x * (1 - x), 0, 1)` (the package writes the
curve as `x - a x (1 - x)`, the paper as `x + a x (1 - x)`; the learned `a` absorbs the sign). The
MIT licence allows redistribution: the weights (79,416 float32, 0.32 MB) are converted once into
`zero_dce_weights.npz` beside this file, with the licence text and the source file's SHA-256
stored in it.

Inference is JAX (no torch at run time): `python -m drht_jax.learned_baselines
--convert=PATH/best_model.pth [--out=...]` re-creates the .npz from the package's file; it reads
the PyTorch zip/pickle format itself (only `collections.OrderedDict`, `torch.*Storage` and
`torch._utils._rebuild_tensor_v2` are resolved; any other global in the pickle becomes an inert
placeholder, so no code from the file runs), so the converter needs no torch either. The forward
was checked against the package's own torch forward (how, and how closely: docs/measure.md,
"Zero-DCE against its torch forward"); tests/test_learned_baselines.py stores reference values of
the fixed 8x8 case.

Photos above `_MAX_PIXELS` go through the network in row strips with a halo of `_HALO` rows:
DCE-Net's receptive field is 7 px (seven 3x3 convolutions) and the curve is per pixel, so the
strips give the same result as one pass.
"""

import argparse
import collections
import functools
import hashlib
import os
import pickle
import sys
import zipfile

import jax
import jax.numpy as jnp
import numpy as np

WEIGHTS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zero_dce_weights.npz")
NUM_ITERATIONS = 8
# (input channels, output channels) of conv1..conv7 of the package's DCENet.
_LAYERS = ((3, 32), (32, 32), (32, 32), (32, 32), (64, 32), (64, 32), (64, 3 * NUM_ITERATIONS))
_MAX_PIXELS = 1 << 21   # one pass up to ~2 MP; row strips above
_STRIP_ROWS = 256
_HALO = 8               # >= the receptive-field radius, 7

SOURCE = "neuro-low-light 0.1.0 (PyPI), neuro_low_light/weights/best_model.pth"
LICENSE = """MIT License

Copyright (c) 2025 Parshva Shah

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


# --- Reading a PyTorch checkpoint without torch.

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _Inert:
  """Stands for any global of the pickle that is not a tensor or a dict: absorbs calls/state."""

  def __init__(self, *args, **kwargs):
    del args, kwargs

  def __call__(self, *args, **kwargs):
    return _Inert()

  def __setstate__(self, state):
    del state


class _StorageType:

  def __init__(self, name):
    self.dtype = _STORAGE_DTYPES[name]


def _rebuild_tensor_v2(storage, offset, size, stride, *unused):
  del unused
  itemsize = storage.dtype.itemsize
  if not size:
    return np.array(storage[offset], copy=True)
  return np.lib.stride_tricks.as_strided(
      storage[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride)).copy()


class _TorchUnpickler(pickle.Unpickler):

  def __init__(self, file, archive, prefix):
    super().__init__(file)
    self._archive, self._prefix = archive, prefix

  def find_class(self, module, name):
    if module == "collections" and name == "OrderedDict":
      return collections.OrderedDict
    if module == "torch._utils" and name == "_rebuild_tensor_v2":
      return _rebuild_tensor_v2
    if module == "torch" and name in _STORAGE_DTYPES:
      return _StorageType(name)
    return _Inert

  def persistent_load(self, pid):
    kind, storage_type, key, _, _ = pid
    if kind != "storage" or not isinstance(storage_type, _StorageType):
      raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
    data = self._archive.read(f"{self._prefix}/data/{key}")
    return np.frombuffer(data, dtype=np.dtype(storage_type.dtype).newbyteorder("<"))


def read_torch_checkpoint(path):
  """The object a (zip-format, PyTorch >= 1.6) `torch.save` file holds, tensors as NumPy."""
  try:
    with zipfile.ZipFile(path) as archive:
      names = archive.namelist()
      pkl = [n for n in names if n.endswith("/data.pkl")]
      if len(pkl) != 1:
        raise ValueError(f"expected one */data.pkl, found {pkl}")
      prefix = pkl[0][:-len("/data.pkl")]
      order = f"{prefix}/byteorder"
      if order in names and archive.read(order).strip() != b"little":
        raise ValueError("only little-endian checkpoints are supported")
      with archive.open(pkl[0]) as f:
        return _TorchUnpickler(f, archive, prefix).load()
  except (zipfile.BadZipFile, pickle.UnpicklingError, KeyError, ValueError, EOFError) as e:
    raise ValueError(f"{path}: not a readable PyTorch checkpoint ({e})") from e


def convert(pth_path, out_path=WEIGHTS_PATH):
  """neuro-low-light's best_model.pth -> the .npz `load_weights` reads (HWIO kernels)."""
  checkpoint = read_torch_checkpoint(pth_path)
  state = checkpoint.get("model_state_dict", checkpoint) if isinstance(checkpoint, dict) else None
  if not isinstance(state, dict):
    raise ValueError(f"{pth_path}: no model_state_dict in the checkpoint")
  arrays = {}
  for i, (cin, cout) in enumerate(_LAYERS, start=1):
    w = np.asarray(state[f"dce_net.conv{i}.weight"], np.float32)   # [out, in, kh, kw]
    b = np.asarray(state[f"dce_net.conv{i}.bias"], np.float32)
    if w.shape != (cout, cin, 3, 3) or b.shape != (cout,):
      raise ValueError(f"{pth_path}: conv{i} has shape {w.shape}/{b.shape}, "
                       f"expected {(cout, cin, 3, 3)}/{(cout,)}")
    arrays[f"conv{i}_w"] = np.ascontiguousarray(w.transpose(2, 3, 1, 0))   # HWIO
    arrays[f"conv{i}_b"] = b
  with open(pth_path, "rb") as f:
    sha = hashlib.sha256(f.read()).hexdigest()
  np.savez_compressed(out_path, **arrays, source=np.array(SOURCE), source_sha256=np.array(sha),
                      epoch=np.array(str(checkpoint.get("epoch", "unknown"))),
                      license=np.array(LICENSE))
  return out_path


# --- Inference.


@functools.lru_cache(maxsize=4)
def load_weights(path=WEIGHTS_PATH):
  """{'conv1_w': [3,3,in,out], 'conv1_b': [out], ...} from the .npz; clear errors naming it."""
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"Zero-DCE weights not found: {path} (re-create it with `python -m "
        f"drht_jax.learned_baselines --convert=.../neuro_low_light/weights/best_model.pth`)")
  try:
    with np.load(path, allow_pickle=False) as data:
      params = {}
      for i, (cin, cout) in enumerate(_LAYERS, start=1):
        w, b = data[f"conv{i}_w"], data[f"conv{i}_b"]
        if w.shape != (3, 3, cin, cout) or b.shape != (cout,):
          raise ValueError(f"conv{i} has shape {w.shape}/{b.shape}")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
          raise ValueError(f"conv{i} has non-finite values")
        params[f"conv{i}_w"] = jnp.asarray(w, jnp.float32)
        params[f"conv{i}_b"] = jnp.asarray(b, jnp.float32)
  except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
    raise ValueError(f"Zero-DCE weights file {path} is corrupt or incomplete: {e}") from e
  return params


def _conv(params, i, x):
  y = jax.lax.conv_general_dilated(x, params[f"conv{i}_w"], (1, 1), "SAME",
                                   dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                   precision=jax.lax.Precision.HIGHEST)
  return y + params[f"conv{i}_b"]


@jax.jit
def curve_maps(params, x):
  """DCE-Net: `[N, H, W, 3]` in [0, 1] -> the 8 RGB curve maps `[N, H, W, 24]` in [-1, 1]."""
  relu = jax.nn.relu
  x1 = relu(_conv(params, 1, x))
  x2 = relu(_conv(params, 2, x1))
  x3 = relu(_conv(params, 3, x2))
  x4 = relu(_conv(params, 4, x3))
  x5 = relu(_conv(params, 5, jnp.concatenate([x4, x3], -1)))
  x6 = relu(_conv(params, 6, jnp.concatenate([x5, x2], -1)))
  return jnp.tanh(_conv(params, 7, jnp.concatenate([x6, x1], -1)))


@jax.jit
def enhance(params, x):
  """The package's ZeroDCEPP forward: `[N, H, W, 3]` -> enhanced `[N, H, W, 3]`."""
  a = curve_maps(params, x)
  for i in range(NUM_ITERATIONS):
    ai = a[..., 3 * i:3 * i + 3]
    x = jnp.clip(x - ai * (x * (1.0 - x)), 0.0, 1.0)
  return x


def zero_dce(photo, weights_path=WEIGHTS_PATH, max_pixels=_MAX_PIXELS, strip_rows=_STRIP_ROWS):
  """Zero-DCE(++) low-light enhancement of one photo `[H, W, 3]` float in [0, 1] -> float32."""
  img = np.asarray(photo)
  if img.ndim != 3 or img.shape[-1] != 3:
    raise ValueError(f"zero_dce: expected one [H, W, 3] image, got shape {img.shape}")
  if not np.issubdtype(img.dtype, np.floating):
    raise ValueError(f"zero_dce: expected float values in [0, 1], got {img.dtype}")
  img = np.clip(img.astype(np.float32), 0.0, 1.0)
  params = load_weights(weights_path)
  h = img.shape[0]
  if h * img.shape[1] <= max_pixels or h <= strip_rows:
    return np.asarray(enhance(params, img[None]))[0]
  out = np.empty_like(img)
  for top in range(0, h, strip_rows):
    bottom = min(top + strip_rows, h)
    lo, hi = max(top - _HALO, 0), min(bottom + _HALO, h)
    strip = np.asarray(enhance(params, img[None, lo:hi]))[0]
    out[top:bottom] = strip[top - lo:top - lo + bottom - top]
  return out


def main(argv=None):
  """`python -m drht_jax.learned_baselines --convert=best_model.pth [--out=...]`: writes the
  weights .npz (module docstring). `argv`: the arguments (None: sys.argv). Returns 0."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--convert", required=True,
                      help="neuro-low-light's best_model.pth to convert")
  parser.add_argument("--out", default=WEIGHTS_PATH, help="the .npz to write")
  args = parser.parse_args(argv)
  out = convert(args.convert, args.out)
  print(f"wrote {out} ({os.path.getsize(out)} bytes)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
