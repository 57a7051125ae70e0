"""Eq. 2 and Eq. 4 against a NumPy reference, and their gradients at the edges."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drht_jax import losses

ALPHA, GAMMA = 0.03, 0.45


@pytest.fixture(scope="module")
def batch():
  rng = np.random.default_rng(0)
  return dict(s_hat=rng.uniform(-0.1, 1.0, (2, 8, 16, 3)).astype(np.float32),
              radiance=np.exp(rng.normal(0, 2, (2, 8, 16, 3))).astype(np.float32),
              i_hat=rng.uniform(-0.1, 1.1, (2, 8, 16, 3)).astype(np.float32),
              ldr_gt=rng.uniform(0, 1, (2, 8, 16, 3)).astype(np.float32))


def _reference_hdr(s_hat, radiance):
  return np.mean((s_hat.astype(np.float64) - ALPHA * radiance.astype(np.float64) ** GAMMA) ** 2)


def test_hdr_loss_equals_numpy_reference(batch):
  value = losses.hdr_loss(batch["s_hat"], batch["radiance"])
  assert float(value) == pytest.approx(_reference_hdr(batch["s_hat"], batch["radiance"]), rel=1e-5)


@pytest.mark.parametrize("eps", [0.0, 0.5, 2.0])
def test_joint_loss_equals_numpy_reference(batch, eps):
  total, terms = losses.joint_loss(batch["i_hat"], batch["ldr_gt"], batch["s_hat"],
                                   batch["radiance"], eps)
  ldr = np.mean((batch["i_hat"].astype(np.float64) - batch["ldr_gt"]) ** 2)
  expected = ldr + eps * _reference_hdr(batch["s_hat"], batch["radiance"])
  assert float(total) == pytest.approx(expected, rel=1e-5)
  assert float(terms["ldr"]) == pytest.approx(ldr, rel=1e-5)


def test_joint_loss_with_zero_eps_needs_no_hdr(batch):
  total, terms = losses.joint_loss(batch["i_hat"], batch["ldr_gt"], batch["s_hat"], None, 0.0)
  assert set(terms) == {"ldr"} and float(total) == pytest.approx(float(terms["ldr"]))


def test_ssim_weight_adds_one_minus_the_evaluation_ssim(batch):
  from drht_jax import metrics
  i_hat, gt = batch["i_hat"][:, :, :16], batch["ldr_gt"][:, :, :16]
  i_hat, gt = np.tile(i_hat, (1, 2, 1, 1)), np.tile(gt, (1, 2, 1, 1))  # 16x16 >= the window
  plain, _ = losses.joint_loss(i_hat, gt, None, None, 0.0)
  total, terms = losses.joint_loss(i_hat, gt, None, None, 0.0, ssim_weight=0.3)
  dssim = 1.0 - float(np.mean(metrics.ssim(i_hat, gt)))
  assert float(terms["dssim"]) == pytest.approx(dssim, rel=1e-5)
  assert float(total) == pytest.approx(float(plain) + 0.3 * dssim, rel=1e-5)


def test_dssim_is_zero_for_a_perfect_output_and_has_a_gradient_otherwise(batch):
  gt = np.tile(batch["ldr_gt"][:, :, :16], (1, 2, 1, 1))
  assert float(losses.dssim_loss(gt, gt)) == pytest.approx(0.0, abs=1e-6)
  grad = jax.grad(losses.dssim_loss)(jnp.asarray(gt) * 0.5, gt)
  assert np.all(np.isfinite(grad)) and np.any(grad != 0)


def test_hdr_loss_gradient_is_finite_at_zero_prediction_and_huge_radiance():
  s_hat = jnp.zeros((1, 4, 4, 3))
  radiance = jnp.full((1, 4, 4, 3), 1e5).at[0, 0, 0].set(0.0)
  grad = jax.grad(losses.hdr_loss)(s_hat, radiance)
  assert np.all(np.isfinite(grad)) and np.any(grad != 0)


def test_joint_loss_through_inverse_gamma_has_finite_gradient_at_zero_s_hat():
  from drht_jax import hdr

  def through_f2_input(s_hat):
    x = hdr.log_compress(hdr.inverse_gamma(s_hat))
    return losses.joint_loss(x, jnp.zeros_like(x), s_hat, jnp.full_like(s_hat, 1e5), 1.0)[0]

  grad = jax.grad(through_f2_input)(jnp.zeros((1, 4, 4, 3)))
  assert np.all(np.isfinite(grad))
