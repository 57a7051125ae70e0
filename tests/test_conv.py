"""conv.conv2d: the plain convolution's values and gradients, with its own gradient paths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drht_jax import conv


def _grads(fn, x, kernel):
  return jax.grad(lambda x, k: jnp.sum(jnp.sin(fn(x, k))), argnums=(0, 1))(x, kernel)


def _assert_close(actual, expected):
  np.testing.assert_allclose(actual, expected, rtol=1e-4,
                             atol=1e-4 * float(jnp.max(jnp.abs(expected))))


@pytest.mark.parametrize("k,cin,cout,stride,padding,size", [
    (9, 3, 8, 1, "SAME", (16, 24)),                 # thin input: channel-first windows of x
    (9, 20, 3, 1, "SAME", (16, 24)),                # thin output: windows of the output grad
    (5, 18, 17, 2, "SAME", (16, 24)),               # wide strided: channel-last windows
    (5, 4, 4, 2, "SAME", (16, 24)),
    (3, 20, 24, 2, "SAME", (4, 8)),                 # 2x4 output: space-to-depth input grad
    (5, 4, 6, 2, "SAME", (6, 4)),                   # 3x2 output, odd lo padding
    (3, 4, 12, 1, ((0, 2), (-1, 1)), (16, 24)),     # sub-pixel deconv's uneven padding
    (1, 6, 3, 1, "SAME", (16, 24))])
def test_values_and_gradients_match_the_plain_convolution(k, cin, cout, stride, padding, size):
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(2, *size, cin)), jnp.float32)
  kernel = jnp.asarray(rng.normal(size=(k, k, cin, cout)) * 0.1, jnp.float32)
  strides = (stride, stride)
  pads = conv.explicit_padding(x.shape, kernel.shape, strides, padding)
  plain = lambda x, k_: conv._plain(x, k_, strides, pads)  # pylint: disable=protected-access
  fast = lambda x, k_: conv.conv2d(x, k_, strides, padding)
  np.testing.assert_array_equal(fast(x, kernel), plain(x, kernel))
  (dx0, dw0), (dx1, dw1) = _grads(plain, x, kernel), _grads(fast, x, kernel)
  _assert_close(dx1, dx0)
  _assert_close(dw1, dw0)


def test_space_to_depth_form_is_the_strided_conv():
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.normal(size=(2, 12, 8, 3)), jnp.float32)
  for k in (3, 4, 5, 9):
    kernel = jnp.asarray(rng.normal(size=(k, k, 3, 5)), jnp.float32)
    pads = conv.explicit_padding(x.shape, kernel.shape, (2, 2), "SAME")
    big, big_pads = conv.space_to_depth_form(kernel, pads)
    plain = conv._plain  # pylint: disable=protected-access
    _assert_close(plain(conv.space_to_depth(x), big, (1, 1), big_pads),
                  plain(x, kernel, (2, 2), pads))


def test_windows_are_the_input_under_each_tap():
  x = jnp.arange(2 * 5 * 6 * 1, dtype=jnp.float32).reshape(2, 5, 6, 1)
  cols = conv.windows(x, (3, 3), (1, 1), ((1, 1), (1, 1)))
  assert cols.shape == (2, 5, 6, 9, 1)
  np.testing.assert_array_equal(cols[:, :, :, 4], x)          # centre tap
  np.testing.assert_array_equal(cols[0, 1:, :, 1, 0], x[0, :-1, :, 0])  # tap above


def test_channel_first_windows_hold_the_same_values():
  x = jnp.asarray(np.random.default_rng(2).normal(size=(2, 7, 6, 3)), jnp.float32)
  last = conv.windows(x, (3, 3), (2, 2), ((1, 1), (0, 1)))           # [B, OH, OW, 9, C]
  first = conv.windows_channel_first(x, (3, 3), (2, 2), ((1, 1), (0, 1)))  # [C, 9, N]
  np.testing.assert_array_equal(first, last.transpose(4, 3, 0, 1, 2).reshape(3, 9, -1))


def test_large_windows_fall_back_to_xla(monkeypatch):
  kernel = jnp.ones((3, 3, 2, 2))
  fast = str(jax.make_jaxpr(conv.conv2d)(jnp.ones((1, 8, 8, 2)), kernel))
  monkeypatch.setattr(conv, "IM2COL_MAX_BYTES", 0)
  fallback = str(jax.make_jaxpr(conv.conv2d)(jnp.ones((1, 8, 10, 2)), kernel))  # new shape
  assert "custom_vjp_call" in fast and "custom_vjp_call" not in fallback


def test_unknown_grads_is_refused():
  with pytest.raises(ValueError, match="unknown conv grads 'fast'"):
    conv.conv2d(jnp.ones((1, 8, 8, 2)), jnp.ones((3, 3, 2, 2)), grads="fast")
