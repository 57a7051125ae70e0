"""NHWC convolution whose gradients XLA:CPU computes fast.

XLA:CPU runs this model's convolutions forward many times faster than it computes the weight
gradient of the large-image layers, and rewrites the input gradient of a stride-2 conv with a
tiny output (2x4 pixels: f1's deepest encoder level at 64x128) into a slow form (the per-layer
timings: bench/README.md, "Convolution gradients on XLA:CPU"). With `grads="im2col"`,
`conv2d` keeps XLA's forward and computes

* the weight gradient as one matmul of shifted windows ("im2col") with the other operand, taking
  the windows of whichever of input and output gradient has fewer channels (the 9x9 64->3 output
  layer: the 3-channel output gradient), channel-first when that side is thin (few channels: a
  row per tap and channel, contiguous over pixels), when the windows fit in `IM2COL_MAX_BYTES`;
* the input gradient of a stride-2 conv with at most `PHASE_FORM_MAX_PIXELS` output pixels
  through its space-to-depth form, a stride-1 conv (same values; XLA's own otherwise).

`grads="xla"` leaves all of it to XLA (the reference; faster at the demo's 1/4 width).

Mixed precision (`compute_dtype=bfloat16`): the kernel stays float32 outside (the parameter)
and is cast inside, so the im2col weight gradient, a matmul accumulated in float32
(`preferred_element_type`), comes back as a float32 gradient of the float32 parameter with no
bfloat16 rounding on the way; activations and their gradients are bfloat16.
"""

import functools

import jax
import jax.numpy as jnp

IM2COL_MAX_BYTES = 1 << 30     # above this, the windows are not materialised (XLA's gradient)
THIN_CHANNELS = 16             # windows of a side with fewer channels are laid out channel-first
PHASE_FORM_MAX_PIXELS = 16     # stride-2 input gradients of outputs this small: space-to-depth
GRADS = ("xla", "im2col")
_DIMS = ("NHWC", "HWIO", "NHWC")


def _plain(x, kernel, strides, padding):
  return jax.lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=_DIMS)


def explicit_padding(x_shape, kernel_shape, strides, padding):
  """((lo, hi), (lo, hi)) for "SAME"/"VALID" or explicit pairs (which may be negative)."""
  if isinstance(padding, str):
    return tuple(jax.lax.padtype_to_pads(x_shape[1:3], kernel_shape[:2], strides, padding))
  return tuple(tuple(p) for p in padding)


def _padded(x, pads, spatial_axes):
  """`x` with (lo, hi) padding (negative: cropping) on its two spatial axes."""
  widths = [(0, 0)] * x.ndim
  crop = [slice(None)] * x.ndim
  for axis, (lo, hi) in zip(spatial_axes, pads):
    widths[axis] = (max(lo, 0), max(hi, 0))
  x = jnp.pad(x, widths)
  for axis, (lo, hi) in zip(spatial_axes, pads):
    crop[axis] = slice(max(-lo, 0), x.shape[axis] - max(-hi, 0))
  return x[tuple(crop)]


def _taps(x, kernel_hw, strides, spatial_axes):
  """The k*k strided views of padded `x` under each kernel tap (row-major over the kernel)."""
  (kh, kw), (sh, sw) = kernel_hw, strides
  ah, aw = spatial_axes
  oh, ow = (x.shape[ah] - kh) // sh + 1, (x.shape[aw] - kw) // sw + 1
  views = []
  for dy in range(kh):
    for dx in range(kw):
      index = [slice(None)] * x.ndim
      index[ah] = slice(dy, dy + (oh - 1) * sh + 1, sh)
      index[aw] = slice(dx, dx + (ow - 1) * sw + 1, sw)
      views.append(x[tuple(index)])
  return views


def windows(x, kernel_hw, strides, pads):
  """im2col, channel-last: `[B, H, W, C]` -> `[B, OH, OW, kh*kw, C]`, the input under each tap."""
  return jnp.stack(_taps(_padded(x, pads, (1, 2)), kernel_hw, strides, (1, 2)), axis=3)


def windows_channel_first(x, kernel_hw, strides, pads):
  """im2col, channel-first: `[B, H, W, C]` -> `[C, kh*kw, B*OH*OW]`; each row is one shifted
  plane, so a thin input (C = 3) is copied in long contiguous runs instead of 12-byte pieces."""
  xt = _padded(jnp.transpose(x, (3, 0, 1, 2)), pads, (2, 3))
  cols = jnp.stack(_taps(xt, kernel_hw, strides, (2, 3)), axis=1)
  return cols.reshape(cols.shape[0], cols.shape[1], -1)


def _window_matmul(a, b, kernel_hw, strides, pads):
  """sum over pixels of windows(a) x b: `[kh, kw, Ca, Cb]` for a conv from `a` to `b`."""
  kh, kw = kernel_hw
  ca, cb = a.shape[-1], b.shape[-1]
  if ca < THIN_CHANNELS:
    cols = windows_channel_first(a, kernel_hw, strides, pads)          # [Ca, kk, N]
    out = jnp.matmul(cols.reshape(ca * kh * kw, -1), b.reshape(-1, cb),
                     preferred_element_type=jnp.float32)                # [Ca*kk, Cb]
    return out.reshape(ca, kh, kw, cb).transpose(1, 2, 0, 3)
  cols = windows(a, kernel_hw, strides, pads).reshape(-1, kh * kw * ca)  # [N, kk*Ca]
  return jnp.matmul(cols.T, b.reshape(-1, cb),
                    preferred_element_type=jnp.float32).reshape(kh, kw, ca, cb)


def weight_gradient(x, g, kernel_shape, strides, pads):
  """d(loss)/d(kernel) `[kh, kw, Cin, Cout]` from input `x` and output gradient `g`
  (float32: the sums over pixels accumulate in float32 whatever the operands' dtype)."""
  kh, kw, cin, cout = kernel_shape
  if cout < cin and strides == (1, 1):
    # Windows of g: kernel tap t reads x at offset t - lo, i.e. g at the flipped tap.
    flipped = tuple((k - 1 - lo, k - 1 - hi) for k, (lo, hi) in zip((kh, kw), pads))
    dw = _window_matmul(g, x, (kh, kw), strides, flipped)              # [kh, kw, Cout, Cin]
    return dw[::-1, ::-1].transpose(0, 1, 3, 2)
  return _window_matmul(x, g, (kh, kw), strides, pads)


def space_to_depth_form(kernel, pads):
  """A stride-2 conv as a stride-1 conv of the space-to-depth input (2x2 blocks to channels).

  `kernel` `[k, k, C, O]`, `pads` its (lo, hi) per axis -> (`[K, K, 4C, O]`, stride-1 pads):
  tap t of the strided conv reads block q, phase p with t - lo = 2q + p.
  """
  k, _, cin, cout = kernel.shape
  (lo, _), (lo_w, _) = pads
  if lo != lo_w:
    raise ValueError(f"space_to_depth_form: needs the same padding on both axes, got {pads}")
  qmin, qmax = (-lo) // 2, (k - 1 - lo) // 2
  size, offset = qmax - qmin + 1, -lo - 2 * qmin
  big = jnp.pad(kernel, ((offset, 2 * size - k - offset),) * 2 + ((0, 0), (0, 0)))
  big = big.reshape(size, 2, size, 2, cin, cout).transpose(0, 2, 1, 3, 4, 5)
  return big.reshape(size, size, 4 * cin, cout), ((-qmin, qmax), (-qmin, qmax))


def space_to_depth(x):
  """`[B, H, W, C]` (H, W even) -> `[B, H/2, W/2, 4C]`, channel block = row phase * 2 + col."""
  b, h, w, c = x.shape
  x = x.reshape(b, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(b, h // 2, w // 2, 4 * c)


def _input_gradient(x, kernel, strides, pads, g):
  """d(loss)/dx `[B, H, W, Cin]` (XLA's, or the space-to-depth form's; see the module doc)."""
  use_phase_form = (strides == (2, 2) and g.shape[1] * g.shape[2] <= PHASE_FORM_MAX_PIXELS
                    and x.shape[1] % 2 == 0 and x.shape[2] % 2 == 0 and pads[0] == pads[1])
  if use_phase_form:
    big, big_pads = space_to_depth_form(kernel, pads)
    forward = lambda x_: _plain(space_to_depth(x_), big, (1, 1), big_pads)
  else:
    forward = lambda x_: _plain(x_, kernel, strides, pads)
  _, vjp = jax.vjp(forward, x)
  return vjp(g)[0]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _conv_im2col_grads(x, kernel, strides, pads, dtype):
  return _plain(x, kernel.astype(dtype), strides, pads)


def _fwd(x, kernel, strides, pads, dtype):
  return _plain(x, kernel.astype(dtype), strides, pads), (x, kernel)


def _bwd(strides, pads, dtype, residuals, g):
  x, kernel = residuals
  dw = weight_gradient(x, g, kernel.shape, strides, pads).astype(kernel.dtype)
  return _input_gradient(x, kernel.astype(dtype), strides, pads, g), dw


_conv_im2col_grads.defvjp(_fwd, _bwd)


def _im2col_bytes(x_shape, kernel_shape, strides, pads):
  """Bytes of the windows `weight_gradient` would build (of its thinner side)."""
  out_h = (x_shape[1] + sum(pads[0]) - kernel_shape[0]) // strides[0] + 1
  out_w = (x_shape[2] + sum(pads[1]) - kernel_shape[1]) // strides[1] + 1
  channels = min(kernel_shape[2:]) if strides == (1, 1) else kernel_shape[2]
  return x_shape[0] * out_h * out_w * kernel_shape[0] * kernel_shape[1] * channels * 4


def conv2d(x, kernel, strides=(1, 1), padding="SAME", grads="im2col", compute_dtype=None):
  """`lax.conv_general_dilated` in NHWC/HWIO with the gradients chosen by `grads` (module doc).

  `x` `[B, H, W, Cin]`, `kernel` `[kh, kw, Cin, Cout]` -> `[B, OH, OW, Cout]`; "SAME", "VALID"
  or explicit ((lo, hi), (lo, hi)) padding (negative crops). `compute_dtype` (default: `x`'s):
  the dtype the convolution runs in; the kernel is cast to it inside (module doc).
  """
  if grads not in GRADS:
    raise ValueError(f"unknown conv grads {grads!r}; expected one of {GRADS}")
  dtype = jnp.dtype(x.dtype if compute_dtype is None else compute_dtype)
  x = x.astype(dtype)
  strides = tuple(strides)
  pads = explicit_padding(x.shape, kernel.shape, strides, padding)
  if grads == "xla" or _im2col_bytes(x.shape, kernel.shape, strides, pads) > IM2COL_MAX_BYTES:
    return _plain(x, kernel.astype(dtype), strides, pads)
  return _conv_im2col_grads(x, kernel, strides, pads, dtype)
