"""The training objectives: Eq. 2 (HDR estimation) and Eq. 4 (joint LDR correction)."""

import jax.numpy as jnp

from drht_jax import hdr
from drht_jax import metrics


def hdr_loss(s_hat, radiance, alpha=hdr.ALPHA, gamma=hdr.GAMMA):
  """Eq. 2: `mean((S_hat - alpha * Y ** gamma) ** 2)` over all pixels and channels.

  `s_hat` `[B,H,W,3]`: f1's output; `radiance` `[B,H,W,3]`: ground-truth linear HDR Y >= 0.
  Returns a scalar float32.
  """
  target = hdr.gamma_compress(radiance, alpha, gamma)
  return jnp.mean(jnp.square(s_hat.astype(jnp.float32) - target))


def ldr_loss(i_hat, ldr_gt):
  """The data term of Eq. 4: `mean((I_hat - I_gt) ** 2)`, both `[B,H,W,3]` in [0,1]."""
  return jnp.mean(jnp.square(i_hat.astype(jnp.float32) - ldr_gt))


def dssim_loss(i_hat, ldr_gt):
  """Structural dissimilarity `1 - mean(SSIM)` (metrics.ssim, the evaluation's SSIM), both
  `[B,H,W,3]`, H and W >= 11. Not in the paper: see `joint_loss`."""
  return 1.0 - jnp.mean(metrics.ssim(i_hat.astype(jnp.float32), ldr_gt))


def joint_loss(i_hat, ldr_gt, s_hat, radiance, eps, alpha=hdr.ALPHA, gamma=hdr.GAMMA,
               ssim_weight=0.0):
  """Eq. 4: `ldr_loss + eps * hdr_loss` (+ `ssim_weight * dssim_loss`).

  Returns (total, {'ldr': ..., 'hdr': ..., 'dssim': ...}), terms present only when used.
  `eps` balances HDR accuracy against the LDR output; with `eps == 0` (LDR-only data such as
  Sun360) the HDR term is not computed, so `radiance` may be None or a dummy. `ssim_weight`
  (0 in the paper's Eq. 4) adds a structural term: mean squared error alone pays for the
  right brightness and lets fine structure blur (docs/ablations.md measures both).
  """
  terms = {"ldr": ldr_loss(i_hat, ldr_gt)}
  total = terms["ldr"]
  if ssim_weight:
    terms["dssim"] = dssim_loss(i_hat, ldr_gt)
    total = total + ssim_weight * terms["dssim"]
  if eps:
    terms["hdr"] = hdr_loss(s_hat, radiance, alpha, gamma)
    total = total + eps * terms["hdr"]
  return total, terms
