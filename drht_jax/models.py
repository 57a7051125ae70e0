"""DRHT networks (paper Sec. 3.2-3.4): f1 (HDR estimation) and f2 (LDR correction).

Both nets are the same fully convolutional encoder-decoder: 6 encoder levels (stride 1, then
five stride-2 convs), 6 decoder levels mirroring them with transposed convs, a skip from each
encoder level into its decoder counterpart, BatchNorm + ELU after every conv and deconv, and
a residual skip from the net's input to its output (the learned branch predicts a difference).

  I [B,H,W,3] in [0,1] -> f1 -> S_hat (Eq. 2 domain) -> inverse gamma -> S_full (radiance)
    -> log(S_full + delta) -> f2 -> I_hat [B,H,W,3], ~[0,1] (Eq. 3)

H and W must be multiples of 32 (five stride-2 levels).

Selectable (`config.model`, defaults in configs/default.py `model_config`):
- upsampling of the decoder (`upsample`): 'deconv', the paper's stride-2 transposed conv
  (`deconv` = 'subpixel' | 'transpose' picks its implementation), or 'resize_conv', a 2x
  nearest / bilinear resize followed by a stride-1 conv of the same kernel and parameter
  shapes (Odena, Dumoulin & Olah, "Deconvolution and checkerboard artifacts", Distill 2016).
  A stride-2 transposed conv gives its 4 output phases different kernel taps, so even a
  constant input comes out as a 2-pixel periodic pattern, compounded over five levels into
  the 16-32 px tiles measured on flat regions (docs/flat: issue 17); a resized constant map
  stays constant and so does every conv of it away from the border (and up to it with
  `padding` = 'edge': repeated border pixels instead of zeros).
- architecture (`arch`, the central-claim ablation of docs/ablations.md): 'drht' (above),
  'single' (one encoder-decoder from the LDR input straight to the target, widths scaled to
  DRHT's parameter count) or 'f2_only' (f2 alone on `log(display_decode(I) + delta)`, the
  linearised input). Both return the same {'s_hat', 'i_hat'} dict as DRHT with 's_hat' the
  linearised input in Eq. 2's domain (`f1_residual`, no parameters): Eq. 4's HDR term then
  has no gradient; train them with `eps = 0` (losses.joint_loss skips the term) and a joint
  stage only (their `estimate_hdr` raises). Their single net is named `f2`, so hierarchical
  supervision's groups (supervision.py) apply unchanged.
"""

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
  """
  features: int
  kernel_size: int
  stride: int = 2
  impl: str = "subpixel"
  dtype: Any = jnp.float32
  conv_grads: str = "xla"

  @nn.compact
  def __call__(self, x):
    k, s = self.kernel_size, self.stride
    kernel = self.param("kernel", kernel_init, (k, k, x.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    x, bias = x.astype(self.dtype), bias.astype(self.dtype)
    if self.impl == "transpose":
      y = jax.lax.conv_transpose(x, kernel.astype(self.dtype), (s, s), "SAME",
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    elif self.impl == "subpixel":
      big, (lo, hi) = subpixel_kernel(kernel, s)  # float32, cast inside conv2d
      y = conv.conv2d(x, big, (1, 1), ((-lo, hi), (-lo, hi)), grads=self.conv_grads,
                      compute_dtype=self.dtype)
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


UPSAMPLES = ("deconv", "resize_conv")


class EncoderDecoder(nn.Module):
  """The shared body of f1 and f2: `[B, H, W, Cin] -> [B, H, W, out_features]` float32.

  Returns the learned branch only (the caller adds its residual skip). Layer names give the
  parameter groups of hierarchical supervision: `encoder_<i>` (i = 0 finest), and
  `decoder_<j>` with j = 0 the coarsest deconv (next to the bottleneck) up to j = 5, the
  full-resolution output conv; `decoder_<j>` also holds its skip fusion.
  """
  widths: Sequence[int] = WIDTHS
  kernels: Sequence[int] = PAPER_KERNELS
  out_features: int = 3
  fusion: str = "add_mul"
  deconv: str = "subpixel"
  dtype: Any = jnp.float32
  axis_name: Optional[str] = None   # BatchNorm statistics averaged over this pmap axis
  conv_grads: str = "xla"          # conv gradients, see conv.conv2d
  global_context: bool = False     # see configs/default.py model_config
  upsample: str = "deconv"         # 'deconv' | 'resize_conv', see the module docstring
  resize_method: str = "nearest"
  padding: str = "zeros"           # 'zeros' | 'edge' for every conv but a 'deconv'

  def _bn_elu(self, x, train, name):
    x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                     dtype=self.dtype, axis_name=self.axis_name if train else None,
                     name=name)(x)
    return nn.elu(x)

  @nn.compact
  def __call__(self, x, train: bool):
    if self.fusion not in ("add_mul", "concat"):
      raise ValueError(f"unknown fusion {self.fusion!r}; expected 'add_mul' or 'concat'")
    if self.padding not in PADDINGS:
      raise ValueError(f"unknown padding {self.padding!r}; expected one of {PADDINGS}")
    if self.upsample not in UPSAMPLES:
      raise ValueError(f"unknown upsample {self.upsample!r}; expected one of {UPSAMPLES}")
    levels = len(self.widths)
    skips = []
    h = x.astype(self.dtype)
    for i, (width, k) in enumerate(zip(self.widths, self.kernels)):
      stride = 1 if i == 0 else 2
      h = Conv(width, k, stride, self.dtype, conv_grads=self.conv_grads,
               padding=self.padding, name=f"encoder_{i}")(h)
      h = self._bn_elu(h, train, f"encoder_{i}_bn")
      skips.append(h)
    if self.global_context:
      g = jnp.mean(h.astype(jnp.float32), axis=(1, 2), keepdims=True).astype(self.dtype)
      g = Conv(self.widths[-1], 1, 1, self.dtype, kernel_init=output_init,
               conv_grads=self.conv_grads, name=f"encoder_{levels - 1}_global")(g)
      h = h + nn.elu(g)  # [B,1,1,C] broadcast over the bottleneck's positions
    # Decoder level j mirrors encoder level i = levels - 1 - j: upsample to level i-1's
    # resolution with level i's kernel, fuse with encoder level i-1.
    for j in range(levels - 1):
      i = levels - 1 - j
      if self.upsample == "deconv":
        h = Deconv(self.widths[i - 1], self.kernels[i], 2, self.deconv, self.dtype,
                   self.conv_grads, name=f"decoder_{j}")(h)
      else:
        h = ResizeConv(self.widths[i - 1], self.kernels[i], 2, self.resize_method, self.dtype,
                       self.conv_grads, self.padding, name=f"decoder_{j}")(h)
      h = self._bn_elu(h, train, f"decoder_{j}_bn")
      e = skips[i - 1]
      if self.fusion == "add_mul":
        h = h + e + h * e
      else:
        h = jnp.concatenate([h, e], axis=-1)
        h = Conv(self.widths[i - 1], 1, 1, self.dtype, conv_grads=self.conv_grads,
                 padding=self.padding, name=f"decoder_{j}_fuse")(h)
        h = self._bn_elu(h, train, f"decoder_{j}_fuse_bn")
    # The counterpart of encoder_0: a stride-1 layer (a transposed conv at stride 1 is a conv)
    # to the output channels, no BN/ELU so the residual can be any sign.
    k0 = self.kernels[0]
    h = Conv(self.out_features, k0, 1, self.dtype, kernel_init=output_init,
             conv_grads=self.conv_grads, padding=self.padding, name=f"decoder_{levels - 1}")(h)
    return h.astype(jnp.float32)


def scaled_widths(width: float, base=WIDTHS):
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


class _Net(nn.Module):
  """Fields every net shares (see configs/default.py model_config)."""
  width: float = 1.0
  fusion: str = "add_mul"
  deconv: str = "subpixel"
  dtype: Any = jnp.float32
  axis_name: Optional[str] = None
  conv_grads: str = "xla"
  global_context: bool = False
  upsample: str = "deconv"
  resize_method: str = "nearest"
  padding: str = "zeros"

  def _body(self, widths, kernels, x, train):
    return EncoderDecoder(widths, kernels, 3, self.fusion, self.deconv, self.dtype,
                          self.axis_name, self.conv_grads, self.global_context,
                          upsample=self.upsample, resize_method=self.resize_method,
                          padding=self.padding, name="body")(x, train)


class HDREstimationNet(_Net):
  """f1 (Sec. 3.2): LDR `[B,H,W,3]` in [0,1] -> S_hat, gamma-compressed HDR (Eq. 2 domain)."""

  @nn.compact
  def __call__(self, ldr, train: bool):
    check_image_shape(ldr, "HDREstimationNet input")
    branch = self._body(scaled_widths(self.width), PAPER_KERNELS, ldr, train)
    return branch + f1_residual(ldr)


class LDRCorrectionNet(_Net):
  """f2 (Sec. 3.3): log radiance `[B,H,W,3]` (>= log(delta)) -> corrected LDR, ~[0,1]."""
  variant: str = "paper"

  @nn.compact
  def __call__(self, log_radiance, train: bool):
    check_image_shape(log_radiance, "LDRCorrectionNet input")
    kernels = f2_kernels(self.variant)
    branch = self._body(scaled_widths(self.width), kernels, log_radiance, train)
    return branch + f2_residual(log_radiance, self.variant)


class DirectNet(_Net):
  """The `single` ablation: LDR `[B,H,W,3]` in [0,1] -> corrected LDR ~[0,1] by one
  encoder-decoder (f2's layout at `single_widths`, DRHT's parameter count) plus the input
  itself as residual skip: no HDR, no log, no f1."""
  variant: str = "paper"

  @nn.compact
  def __call__(self, ldr, train: bool):
    check_image_shape(ldr, "DirectNet input")
    widths = single_widths(self.width, self.variant, self.fusion, self.global_context)
    return self._body(widths, f2_kernels(self.variant), ldr, train) + ldr


ARCHS = ("drht", "single", "f2_only")


class DRHT(_Net):
  """f1 -> inverse gamma -> log -> f2 (Eqs. 2-3). Returns {'s_hat', 'i_hat'}, both float32.

  `arch` 'single' / 'f2_only': the ablation nets of the module docstring, same outputs with
  's_hat' = `f1_residual(ldr)` (the linearised input, no parameters)."""
  variant: str = "paper"
  arch: str = "drht"

  def setup(self):
    if self.arch not in ARCHS:
      raise ValueError(f"unknown arch {self.arch!r}; expected one of {ARCHS}")
    common = dict(width=self.width, fusion=self.fusion, deconv=self.deconv, dtype=self.dtype,
                  axis_name=self.axis_name, conv_grads=self.conv_grads,
                  global_context=self.global_context, upsample=self.upsample,
                  resize_method=self.resize_method, padding=self.padding)
    if self.arch == "drht":
      self.f1 = HDREstimationNet(**common)
    if self.arch == "single":
      self.f2 = DirectNet(variant=self.variant, **common)
    else:
      self.f2 = LDRCorrectionNet(variant=self.variant, **common)

  def estimate_hdr(self, ldr, train: bool):
    """f1 alone (the `hdr` stage): `[B,H,W,3]` in [0,1] -> S_hat `[B,H,W,3]`."""
    if self.arch != "drht":
      raise ValueError(f"model.arch={self.arch!r} has no f1 to pre-train: train it with a "
                       f"'joint' stage only and eps=0 (models module docstring)")
    return self.f1(ldr, train)

  def __call__(self, ldr, train: bool):
    if self.arch == "single":
      check_image_shape(ldr, "DRHT input")
      return {"s_hat": f1_residual(ldr), "i_hat": self.f2(ldr, train)}
    if self.arch == "f2_only":
      check_image_shape(ldr, "DRHT input")
      log_radiance = hdr.log_compress(hdr.display_decode(ldr))
      return {"s_hat": f1_residual(ldr), "i_hat": self.f2(log_radiance, train)}
    s_hat = self.f1(ldr, train)
    log_radiance = hdr.log_compress(hdr.inverse_gamma(s_hat))
    return {"s_hat": s_hat, "i_hat": self.f2(log_radiance, train)}


def create_model(model_config, axis_name: Optional[str] = None) -> DRHT:
  """The one place a model config becomes a module. `axis_name`: pmap axis for BatchNorm.
  Keys added after runs were saved (`upsample`, `resize_method`, `padding`, `arch`,
  `global_context`)
  default to the behaviour of those runs."""
  dtypes = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
  if model_config.dtype not in dtypes:
    raise ValueError(f"unknown model dtype {model_config.dtype!r}; expected one of {list(dtypes)}")
  return DRHT(variant=model_config.variant, width=model_config.width,
              fusion=model_config.fusion, deconv=model_config.deconv,
              dtype=dtypes[model_config.dtype], axis_name=axis_name,
              conv_grads=_conv_grads(model_config),
              global_context=model_config.get("global_context", False),
              upsample=model_config.get("upsample", "deconv"),
              resize_method=model_config.get("resize_method", "nearest"),
              padding=model_config.get("padding", "zeros"),
              arch=model_config.get("arch", "drht"))


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
