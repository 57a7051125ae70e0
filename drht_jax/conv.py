"""NHWC convolution whose weight gradient XLA:CPU computes fast.

XLA:CPU computes a convolution's forward and input gradient at 20-110 GFLOP/s here, but the
weight gradient of the large-image, few-channel layers of this model at 6-9 GFLOP/s (measured,
batch 32 at 64x128: 9x9 3->64 0.87 s, 5x5/2 64->64 2.3 s): about half of a training step.
`conv2d` runs the same forward and input gradient, and computes the weight gradient as one
matmul of the input's k*k shifted windows ("im2col") with the output gradient, when those
windows fit in `IM2COL_MAX_BYTES`; otherwise it leaves the whole gradient to XLA.
"""

import functools

import jax
import jax.numpy as jnp

IM2COL_MAX_BYTES = 1 << 30  # above this, the windows are not materialised
_DIMS = ("NHWC", "HWIO", "NHWC")


def _plain(x, kernel, strides, padding):
  return jax.lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=_DIMS)


def explicit_padding(x_shape, kernel_shape, strides, padding):
  """((lo, hi), (lo, hi)) for "SAME"/"VALID" or explicit pairs (which may be negative)."""
  if isinstance(padding, str):
    return tuple(jax.lax.padtype_to_pads(x_shape[1:3], kernel_shape[:2], strides, padding))
  return tuple(tuple(p) for p in padding)


def windows(x, kernel_hw, strides, pads):
  """im2col: `[B, H, W, C]` -> `[B, OH, OW, kh*kw, C]`, the input under each kernel tap."""
  (plh, phh), (plw, phw) = pads
  x = jnp.pad(x, ((0, 0), (max(plh, 0), max(phh, 0)), (max(plw, 0), max(phw, 0)), (0, 0)))
  x = x[:, max(-plh, 0):x.shape[1] - max(-phh, 0), max(-plw, 0):x.shape[2] - max(-phw, 0)]
  (kh, kw), (sh, sw) = kernel_hw, strides
  oh, ow = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
  taps = [x[:, dy:dy + (oh - 1) * sh + 1:sh, dx:dx + (ow - 1) * sw + 1:sw]
          for dy in range(kh) for dx in range(kw)]
  return jnp.stack(taps, axis=3)


def _im2col_bytes(x_shape, kernel_shape, strides, pads):
  out_h = (x_shape[1] + sum(pads[0]) - kernel_shape[0]) // strides[0] + 1
  out_w = (x_shape[2] + sum(pads[1]) - kernel_shape[1]) // strides[1] + 1
  return x_shape[0] * out_h * out_w * kernel_shape[0] * kernel_shape[1] * x_shape[3] * 4


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_fast_dw(x, kernel, strides, pads):
  return _plain(x, kernel, strides, pads)


def _fwd(x, kernel, strides, pads):
  return _plain(x, kernel, strides, pads), (x, kernel)


def _bwd(strides, pads, residuals, g):
  x, kernel = residuals
  _, input_vjp = jax.vjp(lambda x_: _plain(x_, kernel, strides, pads), x)
  (dx,) = input_vjp(g)
  cols = windows(x, kernel.shape[:2], strides, pads)
  dw = jnp.einsum("bhwpc,bhwo->pco", cols, g, preferred_element_type=jnp.float32)
  return dx, dw.reshape(kernel.shape).astype(kernel.dtype)


_conv_fast_dw.defvjp(_fwd, _bwd)


WEIGHT_GRADS = ("xla", "im2col")


def conv2d(x, kernel, strides=(1, 1), padding="SAME", weight_grad="im2col"):
  """`lax.conv_general_dilated` in NHWC/HWIO; `weight_grad="im2col"` computes the weight
  gradient as described above, "xla" leaves it to XLA (faster for tiny widths: the demo's
  1/4-width step ran 3.5x slower with im2col, measured).
  `x` `[B, H, W, Cin]`, `kernel` `[kh, kw, Cin, Cout]` -> `[B, OH, OW, Cout]`."""
  if weight_grad not in WEIGHT_GRADS:
    raise ValueError(f"unknown weight_grad {weight_grad!r}; expected one of {WEIGHT_GRADS}")
  strides = tuple(strides)
  pads = explicit_padding(x.shape, kernel.shape, strides, padding)
  if (weight_grad == "xla"
      or _im2col_bytes(x.shape, kernel.shape, strides, pads) > IM2COL_MAX_BYTES):
    return _plain(x, kernel, strides, pads)
  return _conv_fast_dw(x, kernel, strides, pads)
