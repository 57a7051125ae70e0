"""The training objectives: Eq. 2 (HDR estimation) and Eq. 4 (joint LDR correction)."""

import jax.numpy as jnp

from drht_jax import hdr


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


def joint_loss(i_hat, ldr_gt, s_hat, radiance, eps, alpha=hdr.ALPHA, gamma=hdr.GAMMA):
  """Eq. 4: `ldr_loss + eps * hdr_loss`. Returns (total, {'ldr': ..., 'hdr': ...}).

  `eps` balances HDR accuracy against the LDR output; with `eps == 0` (LDR-only data such as
  Sun360) the HDR term is not computed, so `radiance` may be None or a dummy.
  """
  terms = {"ldr": ldr_loss(i_hat, ldr_gt)}
  if eps:
    terms["hdr"] = hdr_loss(s_hat, radiance, alpha, gamma)
    return terms["ldr"] + eps * terms["hdr"], terms
  return terms["ldr"], terms
