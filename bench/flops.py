"""Analytic FLOPs of DRHT's convolutions, for the benchmark (bench/run.py): its GFLOP/call
where the backend's cost analysis gives none (CUDA), and the check of that analysis on a CPU.

`conv_layers(model_config, image_size)` lists every convolution of drht_jax/models.py's nets in
the plain formulation; `forward_flops` / `train_flops` count 2 x Cin x Cout per valid (output
pixel, kernel tap) pair, within 2-4% of XLA's CPU count (tests/test_bench_flops.py).
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

from drht_jax import models  # pylint: disable=g-import-not-at-top,wrong-import-position


def _valid_taps(n: int, k: int, stride: int, transposed: bool) -> int:
  """(output, tap) pairs of one axis of a SAME conv (or stride-s transposed conv) over `n`
  inputs whose tap reads a real input: XLA counts no multiplies by padding or by the holes of
  a transposed conv's dilated input, which on 64x128 images are ~7% of a 9x9 layer's taps."""
  if not transposed:
    m = -(-n // stride)
    lo = max((m - 1) * stride + k - n, 0) // 2
    return sum(1 for o in range(m) for t in range(k) if 0 <= o * stride + t - lo < n)
  before = models.transpose_padding(k, stride)[0]
  last = (n - 1) * stride
  return sum(1 for o in range(n * stride) for t in range(k)
             if 0 <= o + t - before <= last and (o + t - before) % stride == 0)


def conv_layers(model_config, image_size, nets=("f1", "f2")):
  """Every convolution of the nets in `nets` for one `image_size` (H, W) image, in the plain
  formulation (transposed convs, no sub-pixel zeros): a list of
  `(name, (in_h, in_w), k, stride, cin, cout, transposed)`. `global_context`'s 1x1 conv on
  one pooled vector is left out (C^2 FLOPs per image, under 1e-5 of the total).
  `upsample='resize_conv'`: each decoder conv runs at stride 1 on the resized map. `arch`
  'single' / 'f2_only' have no f1 (its entries are skipped); 'single' runs f2's layout at
  `models.single_widths`."""
  h, w = image_size
  arch = model_config.get("arch", "drht")
  resize = model_config.get("upsample", "deconv") == "resize_conv"
  widths = models.scaled_widths(model_config.width)
  if arch == "single":
    widths = models.single_widths(model_config.width, model_config.variant,
                                  model_config.fusion, model_config.get("global_context", False))
  kernel_sets = {"f1": models.PAPER_KERNELS, "f2": models.f2_kernels(model_config.variant)}
  size = lambda level: (h >> level, w >> level)  # noqa: E731
  layers = []
  for net in nets:
    if net == "f1" and arch != "drht":
      continue
    kernels = kernel_sets[net]
    cin = 3
    for i, (width, k) in enumerate(zip(widths, kernels)):
      layers.append((f"{net}/encoder_{i}", size(max(i - 1, 0)), k, 1 if i == 0 else 2, cin,
                     width, False))
      cin = width
    for j in range(models.NUM_LEVELS - 1):
      i = models.NUM_LEVELS - 1 - j
      if resize:
        layers.append((f"{net}/decoder_{j}", size(i - 1), kernels[i], 1, widths[i],
                       widths[i - 1], False))
      else:
        layers.append((f"{net}/decoder_{j}", size(i), kernels[i], 2, widths[i],
                       widths[i - 1], True))
      if model_config.fusion == "concat":
        layers.append((f"{net}/decoder_{j}_fuse", size(i - 1), 1, 1, 2 * widths[i - 1],
                       widths[i - 1], False))
    layers.append((f"{net}/decoder_{models.NUM_LEVELS - 1}", size(0), kernels[0], 1, widths[0],
                   3, False))
  return layers


def conv_flops(layer) -> float:
  """2 x the multiply-adds of one layer of `conv_layers`: about 2*H*W*k*k*Cin*Cout at its
  output resolution H x W (a stride-2 transposed conv: at its input's), exactly
  2 * (valid (output, tap) pairs) * Cin * Cout."""
  _, (h, w), k, stride, cin, cout, transposed = layer
  taps = _valid_taps(h, k, stride, transposed) * _valid_taps(w, k, stride, transposed)
  return 2.0 * taps * cin * cout


def forward_flops(model_config, image_size, batch=1, nets=("f1", "f2")) -> float:
  """FLOPs of the convolutions of one forward pass (eval or train) over `batch` images."""
  return batch * sum(conv_flops(l) for l in conv_layers(model_config, image_size, nets))


def train_flops(model_config, image_size, batch=1, loss="joint") -> float:
  """Convolution FLOPs of one training step: the forward pass, then the input and weight
  gradients of every layer (each costs what its forward does), less the input gradient of
  f1's first layer (its input is the photo): ~3x the forward. `loss`: 'hdr' (f1 alone) |
  'joint' (f1 and f2)."""
  nets = ("f1",) if loss == "hdr" else ("f1", "f2")
  layers = conv_layers(model_config, image_size, nets)
  return batch * (3.0 * sum(conv_flops(l) for l in layers) - conv_flops(layers[0]))
