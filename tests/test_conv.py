"""conv.conv2d: the plain convolution's values and gradients, with its own weight gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drht_jax import conv


def _grads(fn, x, kernel):
  return jax.grad(lambda x, k: jnp.sum(jnp.sin(fn(x, k))), argnums=(0, 1))(x, kernel)


@pytest.mark.parametrize("k,cin,cout,stride,padding", [
    (9, 3, 8, 1, "SAME"), (5, 4, 4, 2, "SAME"), (3, 4, 12, 1, ((0, 2), (-1, 1))),
    (1, 6, 3, 1, "SAME")])
def test_values_and_gradients_match_the_plain_convolution(k, cin, cout, stride, padding):
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(2, 16, 24, cin)), jnp.float32)
  kernel = jnp.asarray(rng.normal(size=(k, k, cin, cout)) * 0.1, jnp.float32)
  strides = (stride, stride)
  pads = conv.explicit_padding(x.shape, kernel.shape, strides, padding)
  plain = lambda x, k_: conv._plain(x, k_, strides, pads)  # pylint: disable=protected-access
  fast = lambda x, k_: conv.conv2d(x, k_, strides, padding)
  np.testing.assert_array_equal(fast(x, kernel), plain(x, kernel))
  (dx0, dw0), (dx1, dw1) = _grads(plain, x, kernel), _grads(fast, x, kernel)
  np.testing.assert_array_equal(dx1, dx0)
  np.testing.assert_allclose(dw1, dw0, rtol=1e-4, atol=1e-4 * float(jnp.max(jnp.abs(dw0))))


def test_windows_are_the_input_under_each_tap():
  x = jnp.arange(2 * 5 * 6 * 1, dtype=jnp.float32).reshape(2, 5, 6, 1)
  cols = conv.windows(x, (3, 3), (1, 1), ((1, 1), (1, 1)))
  assert cols.shape == (2, 5, 6, 9, 1)
  np.testing.assert_array_equal(cols[:, :, :, 4], x)          # centre tap
  np.testing.assert_array_equal(cols[0, 1:, :, 1, 0], x[0, :-1, :, 0])  # tap above


def test_large_windows_fall_back_to_xla(monkeypatch):
  kernel = jnp.ones((3, 3, 2, 2))
  fast = str(jax.make_jaxpr(conv.conv2d)(jnp.ones((1, 8, 8, 2)), kernel))
  monkeypatch.setattr(conv, "IM2COL_MAX_BYTES", 0)
  fallback = str(jax.make_jaxpr(conv.conv2d)(jnp.ones((1, 8, 10, 2)), kernel))  # new shape
  assert "custom_vjp_call" in fast and "custom_vjp_call" not in fallback
