"""DRHT networks (paper Sec. 3.2-3.4): f1 (HDR estimation) and f2 (LDR correction).

Both nets are the same fully convolutional encoder-decoder: 6 encoder levels (stride 1, then
five stride-2 convs), 6 decoder levels mirroring them with transposed convs, a skip from each
encoder level into its decoder counterpart, BatchNorm + ELU after every conv and deconv, and
a residual skip from the net's input to its output (the learned branch predicts a difference).

  I [B,H,W,3] in [0,1] -> f1 -> S_hat (Eq. 2 domain) -> inverse gamma -> S_full (radiance)
    -> log(S_full + delta) -> f2 -> I_hat [B,H,W,3], ~[0,1] (Eq. 3)

H and W must be multiples of 32 (five stride-2 levels).

In code: one `EncoderDecoder` whose conv, upsampling and BatchNorm layers come in as
ModuleDefs (`functools.partial`s of `Conv`, `Deconv` / `ResizeConv` and `nn.BatchNorm`, built
from the model config by `_Net.layers`); f1, f2 and the `single` net are thin `_Net`s around it
that add their residual skips, and DRHT chains them. `_Net` declares the config's fields once.

Selectable (`config.model`, defaults in configs/default.py `model_config`):
- upsampling of the decoder (`upsample`): 'deconv', the paper's stride-2 transposed conv
  (`deconv` = 'subpixel' | 'transpose' picks its implementation), or 'resize_conv', a 2x
  nearest / bilinear resize followed by a stride-1 conv of the same kernel and parameter
  shapes (Odena, Dumoulin & Olah, "Deconvolution and checkerboard artifacts", Distill 2016).
  A stride-2 transposed conv gives its 4 output phases different kernel taps, so even a
  constant input comes out as a 2-pixel periodic pattern, compounded over five levels into
  the 16-32 px tiles seen on flat regions (docs/ablations.md, issue 17); a resized constant map
  stays constant and so does every conv of it away from the border (and up to it with
  `padding` = 'edge': repeated border pixels instead of zeros). 'balanced_deconv' keeps the
  transposed conv and its parameters but uses the nearest kernel whose phases have equal tap
  sums (`balance_phases`): a constant map stays constant, and a trained 'deconv' checkpoint
  loads into it unchanged (docs/ablations.md measures both fixes).
- architecture (`arch`, the central-claim ablation of docs/ablations.md): 'drht' (above),
  'single' (one encoder-decoder from the LDR input straight to the target, widths scaled to
  DRHT's parameter count) or 'f2_only' (f2 alone on `log(display_decode(I) + delta)`, the
  linearised input). Both return the same {'s_hat', 'i_hat'} dict as DRHT with 's_hat' the
  linearised input in Eq. 2's domain (`f1_residual`, no parameters): Eq. 4's HDR term then
  has no gradient; train them with `eps = 0` (losses.joint_loss skips the term) and a joint
  stage only (their `estimate_hdr` raises). Their single net is named `f2`, so hierarchical
  supervision's groups (supervision.py) apply unchanged.
"""

import dataclasses
import functools
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from drht_jax import conv
from drht_jax import hdr

# Per-level (width, kernel) of the encoder; the decoder mirrors them. Paper Sec. 3.4: 9x9 and
# 5x5 for the first two convs (and their deconv counterparts), 3x3 elsewhere.
WIDTHS = (64, 64, 128, 256, 256, 512)
PAPER_KERNELS = (9, 5, 3, 3, 3, 3)
# The authors' released f2: 1x1 (3->64), 7x7 s2, 5x5 s2, then 3x3 s2.
RELEASED_KERNELS = (1, 7, 5, 3, 3, 3)
NUM_LEVELS = len(WIDTHS)
SIZE_MULTIPLE = 2 ** (NUM_LEVELS - 1)

# A Module class or a functools.partial of one (flax examples' convention): the layers an
# EncoderDecoder is built from.
ModuleDef = Any

# He-style truncated normal (the paper: "truncated normal initializer"), scaled by fan-in so
# that 6-level nets start with unit-variance activations at any width.
kernel_init = nn.initializers.variance_scaling(2.0, "fan_in", "truncated_normal")
# The output layer starts small so each net starts close to its residual skip (its
# documented input-derived output) while still passing gradients to the layers below.
output_init = nn.initializers.variance_scaling(1e-3, "fan_in", "truncated_normal")


def check_image_shape(x, name="input"):
  """Raises a ValueError unless `x` is `[B, H, W, 3]` with H and W multiples of 32."""
  if x.ndim != 4:
    raise ValueError(f"{name}: expected a batch [B, H, W, 3], got shape {tuple(x.shape)}")
  _, h, w, c = x.shape
  if c != 3:
    raise ValueError(f"{name}: expected 3 channels (RGB), got {c} (shape {tuple(x.shape)})")
  if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE:
    raise ValueError(
        f"{name}: H and W must be multiples of {SIZE_MULTIPLE}, got {h}x{w}; pad the image "
        f"(drht_jax.inference pads and crops back)")


def transpose_padding(kernel: int, stride: int):
  """(before, after) padding of `lax.conv_transpose(..., padding='SAME')` for one axis."""
  pad_len = kernel + stride - 2
  before = kernel - 1 if stride > kernel - 1 else int(np.ceil(pad_len / 2))
  return before, pad_len - before


def subpixel_kernel(kernel, stride: int):
  """Rewrites a transposed-conv kernel as an ordinary conv kernel for the sub-pixel form.

  `kernel` `[k, k, Cin, Cout]` (ConvTranspose layout, SAME padding) -> `(big, (lo, hi))`
  with `big` `[K, K, Cin, s*s*Cout]`: output phase (rh, rw) at channel block rh*s + rw.
  A stride-s transposed conv equals this conv (input padded by -lo/hi) followed by a
  depth-to-space shuffle; `Deconv` uses it because XLA's CPU transposed convs are slow.
  """
  k = kernel.shape[0]
  pad = transpose_padding(k, stride)[0]
  # Output o = s*m + r reads input m + q through tap t where r + t - pad = s*q.
  offsets = {(r, t): (r + t - pad) // stride
             for r in range(stride) for t in range(k) if (r + t - pad) % stride == 0}
  lo, hi = min(offsets.values()), max(offsets.values())
  size = hi - lo + 1
  taps = np.full((stride, size), k, dtype=np.int32)   # index k selects a zero tap
  for (r, t), q in offsets.items():
    taps[r, q - lo] = t
  padded = jnp.pad(kernel, ((0, 1), (0, 1), (0, 0), (0, 0)))
  # [rh, qh, rw, qw, Cin, Cout] -> [qh, qw, Cin, rh, rw, Cout]
  blocks = padded[taps[:, :, None, None], taps[None, None, :, :]]
  big = blocks.transpose(1, 3, 4, 0, 2, 5)
  cin, cout = kernel.shape[2], kernel.shape[3]
  return big.reshape(size, size, cin, stride * stride * cout), (lo, hi)


PADDINGS = ("zeros", "edge")


def phase_masks(kernel_size: int, stride: int):
  """`[s*s, k, k]` 0/1 masks of a SAME stride-s transposed conv's kernel taps by the output
  phase (rh, rw) they feed (`subpixel_kernel`'s bookkeeping): every tap feeds exactly one."""
  pad = transpose_padding(kernel_size, stride)[0]
  phase = [(pad - t) % stride for t in range(kernel_size)]   # r + t - pad = 0 (mod s)
  masks = np.zeros((stride, stride, kernel_size, kernel_size), np.float32)
  for th in range(kernel_size):
    for tw in range(kernel_size):
      masks[phase[th], phase[tw], th, tw] = 1.0
  return masks.reshape(stride * stride, kernel_size, kernel_size)


def balance_phases(kernel, stride: int):
  """The transposed-conv kernel `[k, k, Cin, Cout]` nearest (least squares) to `kernel` whose
  s*s output phases have equal tap sums for every (Cin, Cout): a constant input then gives
  every phase the same output, so no stride-s checkerboard (issue 17) can appear on flat
  regions, whatever the weights are trained to. Each phase's excess over the mean phase sum
  is taken off its own taps in equal parts (the orthogonal projection onto that subspace)."""
  masks = jnp.asarray(phase_masks(kernel.shape[0], stride))[..., None, None]  # [P,k,k,1,1]
  sums = jnp.sum(masks * kernel, axis=(1, 2), keepdims=True)                   # [P,1,1,I,O]
  counts = jnp.sum(masks, axis=(1, 2), keepdims=True)
  excess = (sums - jnp.mean(sums, axis=0, keepdims=True)) / counts
  return kernel - jnp.sum(masks * excess, axis=0)


def _same_conv(x, kernel, stride, padding, conv_grads, dtype):
  """SAME conv of `x` `[B,H,W,Cin]`: 'zeros' pads with zeros (the paper's, XLA's SAME);
  'edge' repeats the border pixels into the same margins, so a constant map stays exactly
  constant up to the border (no zero-padding edge that spreads inward layer by layer)."""
  strides = (stride, stride)
  if padding == "zeros":
    return conv.conv2d(x, kernel, strides, grads=conv_grads, compute_dtype=dtype)
  if padding != "edge":
    raise ValueError(f"unknown padding {padding!r}; expected one of {PADDINGS}")
  pads = conv.explicit_padding(x.shape, kernel.shape, strides, "SAME")
  x = jnp.pad(x, ((0, 0), *pads, (0, 0)), mode="edge")
  return conv.conv2d(x, kernel, strides, ((0, 0), (0, 0)), grads=conv_grads,
                     compute_dtype=dtype)


class Conv(nn.Module):
  """`nn.Conv` (SAME padding, params `kernel` `[k, k, Cin, Cout]` and `bias`, so checkpoints
  are interchangeable) running `conv.conv2d`: same forward, faster gradients on CPU."""
  features: int
  kernel_size: int
  stride: int = 1
  dtype: Any = jnp.float32
  kernel_init: Any = kernel_init
  conv_grads: str = "xla"
  padding: str = "zeros"   # 'zeros' | 'edge', see _same_conv

  @nn.compact
  def __call__(self, x):
    k = self.kernel_size
    kernel = self.param("kernel", self.kernel_init, (k, k, x.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    # The float32 kernel is cast inside conv2d: its gradient comes back float32 (conv.py).
    y = _same_conv(x.astype(self.dtype), kernel, self.stride, self.padding, self.conv_grads,
                   self.dtype)
    return y + bias.astype(self.dtype)


class Deconv(nn.Module):
  """Stride-s transposed conv, SAME padding (output = s x input), as `nn.ConvTranspose`.

  Parameters `kernel` `[k, k, Cin, Cout]` and `bias` `[Cout]` are the same whichever `impl`
  runs: 'transpose' calls `lax.conv_transpose`; 'subpixel' runs one ordinary conv with s*s*Cout
  outputs and a depth-to-space shuffle (equal to float32 rounding, much faster on XLA CPU).
  `balanced`: the kernel used is `balance_phases(kernel)` (same parameters, a constant in
  gives a constant out). `padding` 'edge' (subpixel form only) repeats the input's border
  instead of the transposed conv's implicit zeros.
  """
  features: int
  kernel_size: int
  stride: int = 2
  impl: str = "subpixel"
  dtype: Any = jnp.float32
  conv_grads: str = "xla"
  balanced: bool = False
  padding: str = "zeros"

  @nn.compact
  def __call__(self, x):
    k, s = self.kernel_size, self.stride
    kernel = self.param("kernel", kernel_init, (k, k, x.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    if self.balanced:
      kernel = balance_phases(kernel, s)
    x, bias = x.astype(self.dtype), bias.astype(self.dtype)
    if self.padding not in PADDINGS:
      raise ValueError(f"unknown padding {self.padding!r}; expected one of {PADDINGS}")
    if self.padding == "edge" and self.impl != "subpixel":
      raise ValueError("Deconv: padding='edge' needs impl='subpixel' (the same function)")
    if self.impl == "transpose":
      y = jax.lax.conv_transpose(x, kernel.astype(self.dtype), (s, s), "SAME",
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    elif self.impl == "subpixel":
      big, (lo, hi) = subpixel_kernel(kernel, s)  # float32, cast inside conv2d
      pads = ((-lo, hi), (-lo, hi))
      if self.padding == "edge":
        x = jnp.pad(x, ((0, 0), *pads, (0, 0)), mode="edge")
        pads = ((0, 0), (0, 0))
      y = conv.conv2d(x, big, (1, 1), pads, grads=self.conv_grads, compute_dtype=self.dtype)
      b, h, w, _ = y.shape
      y = y.reshape(b, h, w, s, s, self.features).transpose(0, 1, 3, 2, 4, 5)
      y = y.reshape(b, h * s, w * s, self.features)
    else:
      raise ValueError(f"unknown deconv impl {self.impl!r}; expected 'subpixel' or 'transpose'")
    return y + bias


class ResizeConv(nn.Module):
  """2x (`stride`) resize then a stride-1 SAME conv: `[B, h, w, Cin] -> [B, s*h, s*w, features]`.

  Parameters `kernel` `[k, k, Cin, features]` and `bias` have Deconv's names and shapes (same
  parameter count). `method`: 'nearest' (each input pixel repeated s x s) | 'bilinear'
  (`jax.image.resize`, half-pixel centres, edge samples clamped). A constant input gives a
  constant output away from the zero-padded border (no phase-dependent taps). The conv runs
  at the output resolution: s*s x the multiply-adds of the transposed conv it replaces.
  """
  features: int
  kernel_size: int
  stride: int = 2
  method: str = "nearest"
  dtype: Any = jnp.float32
  conv_grads: str = "xla"
  padding: str = "zeros"   # 'zeros' | 'edge', see _same_conv

  @nn.compact
  def __call__(self, x):
    k, s = self.kernel_size, self.stride
    kernel = self.param("kernel", kernel_init, (k, k, x.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    x = x.astype(self.dtype)
    b, h, w, c = x.shape
    if self.method == "nearest":
      x = jnp.repeat(jnp.repeat(x, s, axis=1), s, axis=2)
    elif self.method == "bilinear":
      x = jax.image.resize(x, (b, h * s, w * s, c), "bilinear").astype(self.dtype)
    else:
      raise ValueError(f"unknown resize_method {self.method!r}; expected 'nearest' or "
                       f"'bilinear'")
    y = _same_conv(x, kernel, 1, self.padding, self.conv_grads, self.dtype)
    return y + bias.astype(self.dtype)


UPSAMPLES = ("deconv", "balanced_deconv", "resize_conv")
FUSIONS = ("add_mul", "concat")


class EncoderDecoder(nn.Module):
  """The one encoder-decoder of every net (f1, f2, the `single` net): `[B, H, W, Cin] ->
  [B, H, W, out_features]` float32, H and W multiples of 2 ** (len(widths) - 1).

  Encoder level i (i = 0 finest): `conv` of `widths[i]` x `kernels[i]`, stride 1 at i = 0 and
  2 below, then `norm` + ELU. Decoder level j mirrors encoder level i = levels - 1 - j:
  `upsample` back to level i - 1's width and resolution with level i's kernel, `norm` + ELU,
  then fused with encoder level i - 1's output e (`fusion`): 'add_mul' d + e + d * e (the
  released code's), 'concat' [d, e] through a 1x1 `conv` + `norm` + ELU. A last stride-1 `conv`
  (the counterpart of encoder_0: a transposed conv at stride 1 is a conv) maps to
  `out_features`, with no norm or ELU so the branch can take any sign.

  The layers come in as ModuleDefs (`_Net.layers` builds them from the model config):
  `conv(features, kernel_size, stride, kernel_init=...)` and `upsample(features, kernel_size)`
  (2x), both casting to their compute dtype, and `norm()`, a BatchNorm taking
  `use_running_average` at call.

  Returns the learned branch only (the caller adds its residual skip). Layer names give the
  parameter groups of hierarchical supervision: `encoder_<i>`, and `decoder_<j>` with j = 0
  the coarsest upsampling (next to the bottleneck) up to j = levels - 1, the full-resolution
  output conv; `decoder_<j>` also holds its skip fusion (`decoder_<j>_fuse`).
  """
  widths: Sequence[int]
  kernels: Sequence[int]
  conv: ModuleDef
  upsample: ModuleDef
  norm: ModuleDef
  fusion: str = "add_mul"
  global_context: bool = False     # see configs/default.py model_config
  out_features: int = 3

  @nn.compact
  def __call__(self, x, train: bool):
    if self.fusion not in FUSIONS:
      raise ValueError(f"unknown fusion {self.fusion!r}; expected 'add_mul' or 'concat'")

    def norm_elu(h, name):
      return nn.elu(self.norm(name=name)(h, use_running_average=not train))

    levels = len(self.widths)
    skips = []
    h = x
    for i, (width, k) in enumerate(zip(self.widths, self.kernels)):
      h = self.conv(width, k, 1 if i == 0 else 2, name=f"encoder_{i}")(h)
      h = norm_elu(h, f"encoder_{i}_bn")
      skips.append(h)
    if self.global_context:
      # The bottleneck's spatial mean (taken in float32) through a 1x1 conv + ELU, `[B,1,1,C]`,
      # broadcast back over the bottleneck's positions.
      g = jnp.mean(h.astype(jnp.float32), axis=(1, 2), keepdims=True)
      g = self.conv(self.widths[-1], 1, 1, kernel_init=output_init,
                    name=f"encoder_{levels - 1}_global")(g)
      h = h + nn.elu(g)
    for j in range(levels - 1):
      i = levels - 1 - j
      h = self.upsample(self.widths[i - 1], self.kernels[i], name=f"decoder_{j}")(h)
      h = norm_elu(h, f"decoder_{j}_bn")
      e = skips[i - 1]
      if self.fusion == "add_mul":
        h = h + e + h * e
      else:
        h = jnp.concatenate([h, e], axis=-1)
        h = self.conv(self.widths[i - 1], 1, 1, name=f"decoder_{j}_fuse")(h)
        h = norm_elu(h, f"decoder_{j}_fuse_bn")
    h = self.conv(self.out_features, self.kernels[0], 1, kernel_init=output_init,
                  name=f"decoder_{levels - 1}")(h)
    return h.astype(jnp.float32)


def scaled_widths(width: float, base=WIDTHS):
  """Channel widths `base` (one per level) times `width`, rounded, at least 1 -> tuple of int."""
  return tuple(max(1, int(round(c * width))) for c in base)


def encoder_decoder_param_count(widths, kernels, fusion="add_mul", global_context=False,
                                in_features=3, out_features=3) -> int:
  """Parameters (weights, biases, BatchNorm scale and bias) of one `EncoderDecoder`: the same
  for 'deconv' and 'resize_conv' (their layers have the same shapes). Exact (tested)."""
  count, cin = 0, in_features
  for width, k in zip(widths, kernels):
    count += k * k * cin * width + width + 2 * width
    cin = width
  if global_context:
    count += widths[-1] ** 2 + widths[-1]
  for j in range(len(widths) - 1):
    i = len(widths) - 1 - j
    count += kernels[i] ** 2 * widths[i] * widths[i - 1] + 3 * widths[i - 1]
    if fusion == "concat":
      count += 2 * widths[i - 1] ** 2 + 3 * widths[i - 1]
  return count + kernels[0] ** 2 * widths[0] * out_features + out_features


def f2_kernels(variant):
  """Kernel sizes per level of f2 for `variant` ('paper' | 'released'); ValueError otherwise."""
  kernels = {"paper": PAPER_KERNELS, "released": RELEASED_KERNELS}.get(variant)
  if kernels is None:
    raise ValueError(f"unknown variant {variant!r}; expected 'paper' or 'released'")
  return kernels


def single_widths(width=1.0, variant="paper", fusion="add_mul", global_context=False):
  """Widths of the `single` ablation net: WIDTHS times the multiplier m in [width, 2 width]
  (steps of width / 1000) whose parameter count is closest to DRHT's (f1 + f2) at `width`;
  m ~ sqrt(2) width, since the count grows as the square of the widths."""
  target = (encoder_decoder_param_count(scaled_widths(width), PAPER_KERNELS, fusion,
                                        global_context)
            + encoder_decoder_param_count(scaled_widths(width), f2_kernels(variant), fusion,
                                          global_context))
  kernels = f2_kernels(variant)
  candidates = [scaled_widths(width * (1 + t / 1000)) for t in range(1001)]
  return min(candidates, key=lambda w: abs(
      encoder_decoder_param_count(w, kernels, fusion, global_context) - target))


def f1_residual(ldr):
  """f1's input-derived output: the LDR linearised (display gamma) and put in Eq. 2's domain.

  `[B,H,W,3]` in [0,1] -> `alpha * (I ** 2.2) ** gamma` in [0, alpha].
  """
  return hdr.gamma_compress(hdr.display_decode(ldr))


def f2_residual(log_radiance, variant="paper"):
  """f2's input-derived output from its input `x = log(S_full + delta)`.

  'paper': `display_encode(S_full)` (gamma 2.2, clipped): a zeroed f2 after a zeroed f1 gives
  back the input photo. 'released': the authors' `S_full ** (1 / 2.2) / 30`.
  """
  radiance = jnp.exp(log_radiance) - hdr.DELTA
  if variant == "released":
    return jnp.power(jnp.maximum(radiance, hdr.S_HAT_FLOOR), 1.0 / 2.2) / 30.0
  # Clip away from 0: d/dx x**(1/2.2) is infinite there.
  return hdr.display_encode(jnp.maximum(radiance, hdr.S_HAT_FLOOR))


CLIP_RAMP = (0.92, 0.98)


def neutralize_clipped(image, ldr, ramp=CLIP_RAMP):
  """`image` `[B,H,W,3]` with its chroma taken away where the input `ldr` (same shape, in
  [0,1]) is clipped in all three channels: such a pixel holds no colour, so any colour the
  net gives it is invented (the cream blown skies of issue 17). The weight ramps linearly
  from 0 at `min(ldr rgb) = ramp[0]` to 1 at `ramp[1]`; the pixel keeps its mean of RGB."""
  weight = jnp.clip((jnp.min(ldr, axis=-1, keepdims=True) - ramp[0]) / (ramp[1] - ramp[0]),
                    0.0, 1.0)
  grey = jnp.mean(image, axis=-1, keepdims=True)
  return image + weight * (grey - image)


class _Net(nn.Module):
  """The model config's fields (configs/default.py model_config), declared once: f1, f2, the
  `single` net and DRHT all take them, and DRHT hands its own on to its nets."""
  width: float = 1.0               # multiplier on WIDTHS
  variant: str = "paper"           # f2's layout, 'paper' | 'released' (f1 is always the paper's)
  fusion: str = "add_mul"          # skip fusion, see EncoderDecoder
  deconv: str = "subpixel"         # Deconv's impl, 'subpixel' | 'transpose'
  dtype: Any = jnp.float32         # compute dtype; parameters and outputs stay float32
  axis_name: Optional[str] = None  # BatchNorm statistics averaged over this pmap axis
  conv_grads: str = "xla"          # conv gradients, see conv.conv2d
  global_context: bool = False
  upsample: str = "deconv"         # 'deconv' | 'balanced_deconv' | 'resize_conv', module doc
  resize_method: str = "nearest"   # ResizeConv's method
  padding: str = "zeros"           # 'zeros' | 'edge' for every conv but a paper 'deconv'

  def shared_fields(self):
    """This net's `_Net` fields, as keywords for another net."""
    return {name: getattr(self, name) for name in _NET_FIELDS}

  def layers(self):
    """-> (conv, upsample, norm), the ModuleDefs of `EncoderDecoder` for this config.

    `conv`: `Conv` in `dtype`, padded per `padding`. `upsample`: `Deconv` (`deconv` impl) for
    'deconv' and 'balanced_deconv', `ResizeConv` (`resize_method`) for 'resize_conv'; the
    paper's 'deconv' keeps its implicit zero padding whatever `padding` says (the layout v1 /
    v2 were trained in), the other two follow `padding`. `norm`: BatchNorm (momentum 0.9,
    epsilon 1e-5) in `dtype`, statistics averaged over `axis_name` when training.
    """
    if self.padding not in PADDINGS:
      raise ValueError(f"unknown padding {self.padding!r}; expected one of {PADDINGS}")
    if self.upsample not in UPSAMPLES:
      raise ValueError(f"unknown upsample {self.upsample!r}; expected one of {UPSAMPLES}")
    compute = dict(dtype=self.dtype, conv_grads=self.conv_grads)
    conv_def = functools.partial(Conv, padding=self.padding, **compute)
    if self.upsample == "resize_conv":
      upsample_def = functools.partial(ResizeConv, method=self.resize_method,
                                       padding=self.padding, **compute)
    else:
      balanced = self.upsample == "balanced_deconv"
      upsample_def = functools.partial(Deconv, impl=self.deconv, balanced=balanced,
                                       padding=self.padding if balanced else "zeros", **compute)
    norm_def = functools.partial(nn.BatchNorm, momentum=0.9, epsilon=1e-5, dtype=self.dtype,
                                 axis_name=self.axis_name)
    return conv_def, upsample_def, norm_def

  def encoder_decoder(self, widths, kernels):
    """This net's `EncoderDecoder` (named `body`, the parameter path every checkpoint has)."""
    conv_def, upsample_def, norm_def = self.layers()
    return EncoderDecoder(widths=widths, kernels=kernels, conv=conv_def, upsample=upsample_def,
                          norm=norm_def, fusion=self.fusion, global_context=self.global_context,
                          name="body")


_NET_FIELDS = tuple(f.name for f in dataclasses.fields(_Net) if f.name not in ("parent", "name"))


class HDREstimationNet(_Net):
  """f1 (Sec. 3.2): LDR `[B,H,W,3]` in [0,1] -> S_hat `[B,H,W,3]`, gamma-compressed HDR
  (Eq. 2 domain): the paper's kernels at `scaled_widths(width)`, plus `f1_residual`."""

  @nn.compact
  def __call__(self, ldr, train: bool):
    check_image_shape(ldr, "HDREstimationNet input")
    branch = self.encoder_decoder(scaled_widths(self.width), PAPER_KERNELS)(ldr, train)
    return branch + f1_residual(ldr)


class LDRCorrectionNet(_Net):
  """f2 (Sec. 3.3): log radiance `[B,H,W,3]` (>= log(delta)) -> corrected LDR `[B,H,W,3]`,
  ~[0,1]: `variant`'s kernels at `scaled_widths(width)`, plus `f2_residual`."""

  @nn.compact
  def __call__(self, log_radiance, train: bool):
    check_image_shape(log_radiance, "LDRCorrectionNet input")
    body = self.encoder_decoder(scaled_widths(self.width), f2_kernels(self.variant))
    return body(log_radiance, train) + f2_residual(log_radiance, self.variant)


class DirectNet(_Net):
  """The `single` ablation: LDR `[B,H,W,3]` in [0,1] -> corrected LDR ~[0,1] by one
  encoder-decoder (f2's layout at `single_widths`, DRHT's parameter count) plus the input
  itself as residual skip: no HDR, no log, no f1."""

  @nn.compact
  def __call__(self, ldr, train: bool):
    check_image_shape(ldr, "DirectNet input")
    widths = single_widths(self.width, self.variant, self.fusion, self.global_context)
    return self.encoder_decoder(widths, f2_kernels(self.variant))(ldr, train) + ldr


ARCHS = ("drht", "single", "f2_only")


class DRHT(_Net):
  """f1 -> inverse gamma -> log -> f2 (Eqs. 2-3). Returns {'s_hat', 'i_hat'}, both float32.

  `arch` 'single' / 'f2_only': the ablation nets of the module docstring, same outputs with
  's_hat' = `f1_residual(ldr)` (the linearised input, no parameters)."""
  arch: str = "drht"
  clip_neutral: bool = False   # `neutralize_clipped` on the output (configs/default.py)

  def setup(self):
    """Builds f1 (arch 'drht' only) and f2 (`DirectNet` for 'single', else `LDRCorrectionNet`)
    from the shared fields; ValueError for an arch not in `ARCHS`."""
    if self.arch not in ARCHS:
      raise ValueError(f"unknown arch {self.arch!r}; expected one of {ARCHS}")
    shared = self.shared_fields()
    if self.arch == "drht":
      self.f1 = HDREstimationNet(**shared)
    self.f2 = DirectNet(**shared) if self.arch == "single" else LDRCorrectionNet(**shared)

  def estimate_hdr(self, ldr, train: bool):
    """f1 alone (the `hdr` stage): `[B,H,W,3]` in [0,1] -> S_hat `[B,H,W,3]`."""
    if self.arch != "drht":
      raise ValueError(f"model.arch={self.arch!r} has no f1 to pre-train: train it with a "
                       f"'joint' stage only and eps=0 (models module docstring)")
    return self.f1(ldr, train)

  def __call__(self, ldr, train: bool):
    check_image_shape(ldr, "DRHT input")
    if self.arch == "single":
      s_hat, i_hat = f1_residual(ldr), self.f2(ldr, train)
    elif self.arch == "f2_only":
      log_radiance = hdr.log_compress(hdr.display_decode(ldr))
      s_hat, i_hat = f1_residual(ldr), self.f2(log_radiance, train)
    else:
      s_hat = self.f1(ldr, train)
      i_hat = self.f2(hdr.log_compress(hdr.inverse_gamma(s_hat)), train)
    if self.clip_neutral:
      i_hat = neutralize_clipped(i_hat, ldr)
    return {"s_hat": s_hat, "i_hat": i_hat}


# Model config keys added after runs were saved: a run without one gets DRHT's default for
# it, the behaviour that run was trained with.
LATER_KEYS = ("global_context", "upsample", "resize_method", "padding", "arch", "clip_neutral")
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def create_model(model_config, axis_name: Optional[str] = None) -> DRHT:
  """The one place a model config becomes a module. `axis_name`: pmap axis for BatchNorm.
  Keys missing from runs saved before they existed (`LATER_KEYS`) take the field defaults."""
  if model_config.dtype not in DTYPES:
    raise ValueError(f"unknown model dtype {model_config.dtype!r}; expected one of {list(DTYPES)}")
  later = {f.name: model_config.get(f.name, f.default)
           for f in dataclasses.fields(DRHT) if f.name in LATER_KEYS}
  return DRHT(variant=model_config.variant, width=model_config.width,
              fusion=model_config.fusion, deconv=model_config.deconv,
              dtype=DTYPES[model_config.dtype], axis_name=axis_name,
              conv_grads=_conv_grads(model_config), **later)


def _conv_grads(model_config) -> str:
  """`model.conv_grads`; runs written before it was renamed stored `weight_grad`."""
  if "conv_grads" in model_config:
    return model_config.conv_grads
  return model_config.get("weight_grad", "xla")


def init_variables(model: DRHT, rng, image_size=(64, 128)):
  """Parameters and BatchNorm statistics for `model` from one PRNG key (CPU-cheap: eval_shape
  is not used, so values are real). Returns {'params', 'batch_stats'}."""
  dummy = jnp.zeros((1, *image_size, 3), jnp.float32)
  return jax.jit(lambda k: model.init(k, dummy, train=False))(rng)
