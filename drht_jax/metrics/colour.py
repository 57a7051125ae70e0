"""Colour metrics: mean CIEDE2000 against the reference, and Hasler & Suesstrunk colourfulness.

Images `[..., H, W, 3]` display-encoded in [0, 1], read as sRGB (D65, 2-degree observer) for
the Lab conversion: the project's display encoding is gamma 2.2 (hdr.display_encode), within
~1 ΔE of sRGB's piecewise curve; both images go through the same conversion.
"""

import jax.numpy as jnp
import numpy as np
import skimage.color

from drht_jax.metrics.fidelity import _check_pair

# Hasler & Suesstrunk's scale (0-255 RGB): 0 "not colourful", ~33 "moderately", ~59 "quite",
# ~82 "highly", >= 109 "extremely colourful". The ratio's denominator is floored at this
# value so that a grey reference gives a finite ratio.
COLOURFULNESS_FLOOR = 1.0


def delta_e_lab(lab1, lab2):
  """CIEDE2000 colour difference (Sharma, Wu & Dalal 2005) of CIELAB arrays `[..., 3]` ->
  `[...]`, by `skimage.color.deltaE_ciede2000` (kL = kC = kH = 1)."""
  return skimage.color.deltaE_ciede2000(np.asarray(lab1, np.float64),
                                        np.asarray(lab2, np.float64), channel_axis=-1)


def ciede2000(pred, ref):
  """Mean CIEDE2000 over the pixels: `[..., H, W, 3]` in [0, 1] -> `[...]` float64, in ΔE00
  units (0: same colours; ~1: just noticeable; > 10: clearly different colours). NumPy
  (skimage), not jit-able; values outside [0, 1] are clipped first."""
  _check_pair(pred, ref, "ciede2000", channels=3)
  to_lab = lambda v: skimage.color.rgb2lab(np.clip(np.asarray(v, np.float64), 0.0, 1.0),
                                           illuminant="D65", observer="2")
  return np.mean(delta_e_lab(to_lab(pred), to_lab(ref)), axis=(-2, -1))


def colourfulness(image):
  """Hasler & Suesstrunk 2003 colourfulness M of `[..., H, W, 3]` in [0, 1] -> `[...]`.

  On the 0-255 scale: rg = R - G, yb = (R + G) / 2 - B,
  `M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2)` over the pixels.
  0 for a grey image. Pure jnp, jit-able.
  """
  x = 255.0 * jnp.asarray(image, jnp.float32)
  r, g, b = x[..., 0], x[..., 1], x[..., 2]
  rg, yb = r - g, 0.5 * (r + g) - b
  axes = (-2, -1)
  std = jnp.sqrt(jnp.var(rg, axis=axes) + jnp.var(yb, axis=axes))
  mean = jnp.sqrt(jnp.mean(rg, axis=axes) ** 2 + jnp.mean(yb, axis=axes) ** 2)
  return std + 0.3 * mean


def colourfulness_ratio(pred, ref):
  """`colourfulness(pred) / max(colourfulness(ref), 1)`: < 1 the output is duller than the
  reference (washed-out colours), > 1 more saturated. `[..., H, W, 3]` -> `[...]`."""
  _check_pair(pred, ref, "colourfulness_ratio", channels=3)
  return colourfulness(pred) / jnp.maximum(colourfulness(ref), COLOURFULNESS_FLOOR)
