"""Candidate photographic targets (drht_jax/tonemap.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drht_jax import hdr, tonemap

GLOBAL = ("reinhard", "filmic")


def _radiance(shape=(1, 32, 48, 3), seed=0):
  """Log-normal radiance over ~10 stops with a coloured tint per pixel."""
  return jnp.exp(2.0 * jax.random.normal(jax.random.PRNGKey(seed), shape))


@pytest.mark.parametrize("name", GLOBAL)
def test_global_operator_is_monotone_in_radiance(name):
  # One image whose pixels are a ramp of grey radiance over 16 stops (so the per-image
  # exposure is fixed): brighter pixels must never come out darker.
  ramp = jnp.exp2(jnp.linspace(-8.0, 8.0, 32 * 64)).reshape(1, 32, 64, 1)
  out = np.asarray(tonemap.OPERATORS[name](jnp.repeat(ramp, 3, axis=-1)))
  lum = out[..., 0].reshape(-1)
  assert np.all(np.diff(lum) >= -1e-6) and lum[-1] > lum[0]


def test_aces_curve_is_monotone_and_saturates_at_one():
  x = jnp.linspace(0.0, 20.0, 4001)
  y = np.asarray(tonemap.aces_curve(x))
  assert np.all(np.diff(y) >= 0) and y[0] == 0 and y[-1] == 1


@pytest.mark.parametrize("name", sorted(tonemap.OPERATORS))
def test_operator_output_is_in_unit_range(name):
  out = np.asarray(tonemap.OPERATORS[name](_radiance()))
  assert out.shape == (1, 32, 48, 3) and out.dtype == np.float32
  assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("name", sorted(tonemap.OPERATORS))
def test_auto_exposure_makes_output_independent_of_radiance_scale(name):
  radiance = _radiance()
  a = np.asarray(tonemap.OPERATORS[name](radiance))
  b = np.asarray(tonemap.OPERATORS[name](37.0 * radiance))
  np.testing.assert_allclose(a, b, atol=2e-3)


def test_reinhard_candidate_is_todays_ground_truth():
  radiance = _radiance()
  np.testing.assert_array_equal(tonemap.reinhard(radiance), hdr.ground_truth_ldr(radiance))


def test_fusion_of_one_frame_gives_that_frame_back():
  frame = jax.random.uniform(jax.random.PRNGKey(3), (1, 40, 56, 3))
  np.testing.assert_allclose(tonemap.fuse(frame[None]), frame, atol=1e-5)


def test_exposure_fusion_shows_detail_that_one_global_exposure_clips():
  # Left half 2**-6 the light of the right half, each half textured: one exposure crushes or
  # clips a half; the fusion keeps texture in both.
  tex = 1.0 + 0.5 * jax.random.uniform(jax.random.PRNGKey(4), (1, 64, 64, 1))
  radiance = jnp.concatenate([tex[:, :, :32] * 2.0**-6, tex[:, :, 32:]], axis=2)
  radiance = jnp.repeat(radiance, 3, axis=-1)
  fused = np.asarray(tonemap.exposure_fusion(radiance))[0, 8:-8]
  single = np.asarray(tonemap.synthetic_exposures(radiance))[1, 0, 8:-8]   # 0 EV frame
  std = lambda img, half: img[:, 4:28] .std() if half == 0 else img[:, 36:60].std()
  assert min(std(fused, 0), std(fused, 1)) > min(std(single, 0), std(single, 1))


def test_bad_shape_raises_naming_the_operator():
  with pytest.raises(ValueError, match="filmic"):
    tonemap.filmic(jnp.ones((4, 4)))
