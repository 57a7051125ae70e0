"""The comparison methods of docs/measure.md (the paper's Table 1 peers), real implementations.

Each baseline maps one LDR image `[H, W, 3]` in [0, 1] (display-encoded, e.g. an 8-bit photo
/ 255) to a corrected image of the same shape, float32 in [0, 1]. They are NumPy / SciPy /
scikit-image code run on the host, not JAX: eval applies them image by image. They are
registered, with their table names and labels, in `methods.METHODS`; `BASELINES` (table name ->
function) is derived from it.

"Luma" below is the Rec. 709 weighted sum of the display-encoded channels (not linear
luminance): these methods all work on encoded values, as in their papers.
"""

import numpy as np
import scipy.fft
import scipy.ndimage
import scipy.sparse
import scipy.sparse.linalg
from skimage import color, exposure

from drht_jax import hdr

_REC709 = np.asarray(hdr.REC709)


def _as_image(img, name):
  img = np.asarray(img)
  if img.ndim != 3 or img.shape[-1] != 3:
    raise ValueError(f"baselines.{name}: expected one [H, W, 3] image, got shape {img.shape}")
  if not np.issubdtype(img.dtype, np.floating):
    raise ValueError(f"baselines.{name}: expected float values in [0, 1], got {img.dtype}")
  return np.clip(img.astype(np.float64), 0.0, 1.0)


def _finish(img):
  return np.clip(img, 0.0, 1.0).astype(np.float32)


def luma(img):
  """Rec. 709 luma of display-encoded RGB: `[..., 3]` -> `[...]`."""
  return img @ _REC709


def input_as_is(img):
  """The uncorrected input (the table's 'input' row): identity, as float32 in [0, 1]."""
  return _finish(_as_image(img, "input_as_is"))


# --- Global exposure / gamma.


def _gamma_for_mean_luma(img, target, lo=-6.0, hi=6.0, steps=40):
  """The exponent g with `mean(luma(img ** g)) == target`, by bisection on log g.

  The mean decreases in g for values in [0, 1], so the root is unique; g is clamped to
  [e^-6, e^6]. An all-black image gives g = 1.
  """
  if not np.any(img > 0):
    return 1.0
  for _ in range(steps):
    mid = 0.5 * (lo + hi)
    if np.mean(luma(img ** np.exp(mid))) > target:
      lo = mid
    else:
      hi = mid
  return float(np.exp(0.5 * (lo + hi)))


def auto_exposure(img, target_mean=0.5):
  """Global auto exposure: one gamma `x ** g` on all channels so that the mean luma is 0.5.

  The classic "auto gamma": g found by bisection on the image subsampled 2x2 (for speed),
  then applied to every channel. Global, so it cannot fix mixed under/over exposure.
  """
  img = _as_image(img, "auto_exposure")
  return _finish(img ** _gamma_for_mean_luma(img[::2, ::2], target_mean))


# --- Histogram equalisation and CLAHE (scikit-image), on the HSV value channel.


def _on_value_channel(img, fn):
  hsv = color.rgb2hsv(img)
  hsv[..., 2] = np.clip(fn(hsv[..., 2]), 0.0, 1.0)
  return color.hsv2rgb(hsv)


def histeq(img):
  """Global histogram equalisation of the HSV V channel (hue and saturation kept).

  `skimage.exposure.equalize_hist(v, nbins=256)`. Equalising V rather than each RGB channel
  avoids the colour casts of per-channel equalisation.
  """
  img = _as_image(img, "histeq")
  return _finish(_on_value_channel(img, lambda v: exposure.equalize_hist(v, nbins=256)))


def clahe(img, clip_limit=0.01):
  """CLAHE (Zuiderveld 1994) on the HSV V channel (hue and saturation kept).

  `skimage.exposure.equalize_adapthist(v, clip_limit=0.01, nbins=256)`, skimage's default
  tiles of 1/8 of the image height and width.
  """
  img = _as_image(img, "clahe")
  fn = lambda v: exposure.equalize_adapthist(v, clip_limit=clip_limit, nbins=256)
  return _finish(_on_value_channel(img, fn))


# --- Sparse forward differences shared by LIME and WVM.


def _forward_diff(x):
  """Forward differences with a zero last row/column (Neumann boundary): `[H, W]` -> (dx, dy)."""
  dx = np.zeros_like(x)
  dy = np.zeros_like(x)
  dx[:, :-1] = x[:, 1:] - x[:, :-1]
  dy[:-1, :] = x[1:, :] - x[:-1, :]
  return dx, dy


def _weighted_laplacian_system(wx, wy):
  """Sparse `I + Dx^T diag(wx) Dx + Dy^T diag(wy) Dy` on an `[H, W]` grid (row-major).

  `wx`, `wy` `[H, W]`: weights of the forward differences (their last column / row unused).
  Symmetric positive definite, five diagonals.
  """
  h, w = wx.shape
  wx = wx.copy()
  wy = wy.copy()
  wx[:, -1] = 0.0
  wy[-1, :] = 0.0
  fx, fy = wx.ravel(), wy.ravel()
  main = 1.0 + fx + fy
  main[1:] += fx[:-1]   # the left neighbour's difference also involves this pixel
  main[w:] += fy[:-w]   # the upper neighbour's difference too
  return scipy.sparse.diags([main, -fx[:-1], -fx[:-1], -fy[:-w], -fy[:-w]],
                            [0, 1, -1, w, -w], format="csc")


# --- LIME (Guo, Li & Ling, "LIME: Low-light image enhancement via illumination map
# estimation", IEEE TIP 2017; the paper's [10]).


def lime(img, alpha=0.15, sigma=2.0, gamma=0.8, eps=1e-3):
  """LIME: refine the max-RGB illumination map, then `L / T ** gamma`.

  Following Guo et al. 2017: initial illumination `T_hat = max_c L^c`; the refinement
  `min_T ||T_hat - T||^2 + alpha ||W o grad T||_1` is solved with the paper's sped-up
  approximation: the l1 term becomes `sum_d W_d (grad_d T)^2 /
  (|grad_d T_hat| + eps)`, one sparse SPD linear system `(I + sum_d D_d^T diag(alpha W_d /
  (|grad_d T_hat| + eps)) D_d) t = t_hat`, solved exactly with scipy.sparse (SuperLU). Weights
  by the paper's strategy III: `W_d = 1 / (|G_sigma * grad_d T_hat| + eps)` (normalised
  Gaussian, sigma 2). Then gamma 0.8 on the illumination and `R = L / T ** gamma` per channel.
  alpha = 0.15, sigma = 2, eps = 1e-3 are our reading of the paper's settings (not checked
  against the authors' MATLAB demo). Omitted: the paper's optional BM3D denoising and
  recomposition step (no BM3D dependency here).
  """
  img = _as_image(img, "lime")
  t_hat = img.max(axis=-1)
  gx, gy = _forward_diff(t_hat)
  wx = 1.0 / (np.abs(scipy.ndimage.gaussian_filter(gx, sigma, mode="nearest")) + eps)
  wy = 1.0 / (np.abs(scipy.ndimage.gaussian_filter(gy, sigma, mode="nearest")) + eps)
  a = _weighted_laplacian_system(alpha * wx / (np.abs(gx) + eps),
                                 alpha * wy / (np.abs(gy) + eps))
  t = scipy.sparse.linalg.spsolve(a, t_hat.ravel(), permc_spec="MMD_AT_PLUS_A")
  t = np.clip(t.reshape(t_hat.shape), eps, 1.0)
  return _finish(img / t[..., None] ** gamma)


# --- WVM (Fu, Zeng, Huang, Zhang & Ding, "A weighted variational model for simultaneous
# reflectance and illumination estimation", CVPR 2016; the paper's [8]).


def _shrink(x, threshold):
  return np.sign(x) * np.maximum(np.abs(x) - threshold, 0.0)


def wvm(img, c1=0.01, c2=0.1, lam=1.0, gamma=2.2, max_iter=5, tol=1e-3):
  """WVM: weighted variational Retinex on the HSV V channel, then gamma on the illumination.

  Fu et al. 2016, on V in [0, 255] as in the paper (its enhancement uses W = 255), in the log
  domain `s = log V = r + l`, with the weights frozen at the previous iterate (their
  alternating scheme):
    `min_{r,l} ||r + l - s||^2 + c1 ||R^{k-1} o grad r||_1 + c2 ||L^{k-1} o grad l||_2^2`,
    `s.t. r <= 0 (R <= 1), l >= s (L >= S)`,  `R = exp(r)`, `L = exp(l)`,
  the weights making the priors act like `||grad R||_1` and `||grad L||^2` of the linear
  images. Per iteration: one split-Bregman (ADMM) pass for r (`d = R grad r`, shrinkage by
  c1 / (2 lam), a linear solve, Bregman update), then the weighted least squares for l, each
  followed by its constraint; stop when both relative changes are below 1e-3. Parameters
  c1 = 0.01, c2 = 0.1, lam = 1, gamma = 2.2 as we read the paper (we could not obtain the
  authors' code to check). Enhancement: `V' = R * W (L / W) ** (1 / gamma)`, W = 255, put
  back into HSV.

  Deviations, documented: the authors diagonalise both solves with FFTs by treating the
  weights as constants; we solve the spatially weighted systems exactly (scipy.sparse, Neumann
  boundaries: CG for the well-conditioned r system, SuperLU for the l system). The alternation
  converges slowly, so we stop after `max_iter` = 5 iterations; more iterations make the output
  slightly darker (how much, and the time per iteration: docs/measure.md, "WVM's iterations").
  """
  img = _as_image(img, "wvm")
  hsv = color.rgb2hsv(img)
  s = np.log(np.maximum(255.0 * hsv[..., 2], 1.0))  # V = 0 -> 1/255: log stays finite
  r = np.zeros_like(s)
  l = s.copy()
  bx = np.zeros_like(s)
  by = np.zeros_like(s)
  for _ in range(max_iter):
    r_prev, l_prev = r, l
    weight_r = np.exp(r)
    gx, gy = _forward_diff(r)
    dx = _shrink(weight_r * gx + bx, c1 / (2.0 * lam))
    dy = _shrink(weight_r * gy + by, c1 / (2.0 * lam))
    a = _weighted_laplacian_system(lam * weight_r**2, lam * weight_r**2)
    # (I + lam D^T W^2 D) r = s - l + lam D^T W (d - b), W = diag(R).
    rhs = s - l + lam * _forward_diff_transpose(weight_r * (dx - bx), weight_r * (dy - by))
    r, _ = scipy.sparse.linalg.cg(a, rhs.ravel(), x0=r.ravel(), rtol=1e-6, maxiter=500)
    r = np.minimum(r.reshape(s.shape), 0.0)
    gx, gy = _forward_diff(r)
    bx = bx + weight_r * gx - dx
    by = by + weight_r * gy - dy
    weight_l = np.exp(l)
    a = _weighted_laplacian_system(c2 * weight_l**2, c2 * weight_l**2)
    l = scipy.sparse.linalg.spsolve(a, (s - r).ravel(), permc_spec="MMD_AT_PLUS_A")
    l = np.maximum(l.reshape(s.shape), s)
    change_r = np.linalg.norm(r - r_prev) / max(np.linalg.norm(r_prev), 1e-12)
    change_l = np.linalg.norm(l - l_prev) / max(np.linalg.norm(l_prev), 1e-12)
    if change_r < tol and change_l < tol:
      break
  value = np.exp(r) * 255.0 * (np.exp(l) / 255.0) ** (1.0 / gamma)
  hsv[..., 2] = np.clip(value / 255.0, 0.0, 1.0)
  return _finish(color.hsv2rgb(hsv))


def _forward_diff_transpose(px, py):
  """`Dx^T px + Dy^T py` for the Neumann forward differences of `_forward_diff`."""
  out = np.zeros_like(px)
  px = px.copy()
  py = py.copy()
  px[:, -1] = 0.0
  py[-1, :] = 0.0
  out -= px
  out[:, 1:] += px[:, :-1]
  out -= py
  out[1:, :] += py[:-1, :]
  return out


# --- L0 smoothing detail enhancement (Xu, Lu, Xu & Jia, "Image smoothing via L0 gradient
# minimization", ACM TOG / SIGGRAPH Asia 2011; the paper's [46]).


def l0_smooth(img, lam=2e-2, kappa=2.0, beta_max=1e5):
  """L0 gradient minimisation: `min_S ||S - I||^2 + lam * #{p : grad S_p != 0}`.

  Xu et al.'s half-quadratic splitting with FFT solves (circular boundaries), the gradient
  count shared by the colour channels; beta from 2 lam, times kappa, up to beta_max (their
  defaults lam = 0.02, kappa = 2, beta_max = 1e5). `[H, W, C]` -> `[H, W, C]` float64.
  """
  s = np.asarray(img, np.float64)
  h, w = s.shape[:2]
  fx = np.zeros((h, w))
  fy = np.zeros((h, w))
  fx[0, 0], fx[0, -1] = -1.0, 1.0   # (S * fx)(i, j) = S(i, j+1) - S(i, j), circular
  fy[0, 0], fy[-1, 0] = -1.0, 1.0
  otf_x, otf_y = scipy.fft.fft2(fx), scipy.fft.fft2(fy)
  denom_grad = (np.abs(otf_x) ** 2 + np.abs(otf_y) ** 2)[..., None]
  numer_data = scipy.fft.fft2(s, axes=(0, 1))
  beta = 2.0 * lam
  while beta < beta_max:
    dh = np.roll(s, -1, axis=1) - s
    dv = np.roll(s, -1, axis=0) - s
    small = np.sum(dh**2 + dv**2, axis=-1, keepdims=True) < lam / beta
    dh = np.where(small, 0.0, dh)
    dv = np.where(small, 0.0, dv)
    # Circular D^T applied to (dh, dv).
    div = (np.roll(dh, 1, axis=1) - dh) + (np.roll(dv, 1, axis=0) - dv)
    numer = numer_data + beta * scipy.fft.fft2(div, axes=(0, 1))
    s = np.real(scipy.fft.ifft2(numer / (1.0 + beta * denom_grad), axes=(0, 1)))
    beta *= kappa
  return s


def l0_enhance(img, lam=2e-2, detail_boost=1.5, target_mean=0.5, eps=1.0 / 255.0):
  """L0-smoothing base/detail enhancement (the paper's "L0S" row).

  Xu et al. 2011 use L0 smoothing for detail magnification; as an exposure-correction
  baseline we (our choices, documented): split the image into base `B = l0_smooth(I)` and
  detail `I - B`; brighten the base with one global gamma `B ** g` chosen so the base's mean
  luma is 0.5 (as `auto_exposure`); and put the detail back scaled by the gain the base got
  and boosted 1.5x: `out = B**g * (1 + 1.5 (I - B) / (B + 1/255))`.
  """
  img = _as_image(img, "l0_enhance")
  base = np.clip(l0_smooth(img, lam), 0.0, 1.0)
  g = _gamma_for_mean_luma(base[::2, ::2], target_mean)
  return _finish(base**g * (1.0 + detail_boost * (img - base) / (base + eps)))


def __getattr__(name):
  # `BASELINES` (table name -> function of the classical methods) is a view of the one
  # registry, `methods.METHODS`, built on access: methods.py imports this module.
  if name == "BASELINES":
    from drht_jax import methods  # pylint: disable=g-import-not-at-top
    return {m.name: m.fn for m in methods.of_kind(methods.CLASSICAL)}
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
