"""Real exposure stacks: exposure ratios, camera response, HDR merge and exposure fusion.

A *stack* is >= 3 frames of one static scene shot at different exposures (a tripod bracket).
Every function here is a pure NumPy function of its arguments (no randomness except
`synthetic_stack`'s seeded noise; no files except `load_stack` / `exif_log2_exposures`):

  frames      `[N, H, W, 3]` (or a list of `[H, W, 3]`), uint8 / uint16 or float in [0, 1],
              display-encoded as the camera wrote them, sorted dark to bright.
  exposures   `[N]` float64, log2 of each frame's exposure (time x ISO / aperture^2) relative to
              the middle frame (`middle_index`), which gets 0.
  response    `[256, 3]` float64: the *inverse* camera response in log2 units, `g(z)` per
              channel = log2 of the relative sensor exposure that the camera writes as 8-bit
              level z (Debevec & Malik 1997, their `g`, divided by ln 2), `g(128) = 0`.

Estimating the exposures without EXIF (`estimate_exposures`): start from the sRGB curve
(`srgb_response`); for each pair of neighbouring frames keep only the pixels (per
channel) that are neither clipped nor dark in *both* frames (8-bit levels in
[`LOW`, `HIGH`] = [10, 235]), linearise them and take the *median* of the log2 ratios (robust to
JPEG noise, motion and the few pixels near the limits); chain the pair steps and re-centre on the
middle frame. Then recover the response with those exposures (`recover_response`), re-linearise
with it and estimate the steps again (`ITERATIONS` rounds). Exposures and a response curve are
only determined jointly up to a power (the "exponential ambiguity", Grossberg & Nayar, PAMI
2003: `g -> k g` with exposures `-> k x exposures` fits equally well); the sRGB start pins `k`
(how closely, on synthetic stacks: docs/measure.md, "Exposures without EXIF";
tests/test_stacks.py checks the sRGB camera). With EXIF
(exposure time, ISO, f-number, read with Pillow) the ratios come from the file instead.

`merge_hdr` averages the frames' radiance estimates `2 ** (g(z) - exposure)` in the log domain
with Debevec-Malik hat weights that are zero at clipped levels (<= `CLIP_LOW`, >= `CLIP_HIGH`)
and low near them (noise, crushed shadows, the knee of the tone curve). `mertens_fusion` is
Mertens, Kautz & Van Reeth, "Exposure Fusion" (Pacific Graphics 2007): contrast x saturation x
well-exposedness weights, blended in a Laplacian pyramid (checked against OpenCV's
`cv2.createMergeMertens(1, 1, 1)` in tests/test_stacks.py).

`synthetic_stack` makes a stack with a known truth (tests, demos).
"""

import math
import os
from typing import NamedTuple, Optional, Sequence

import numpy as np
from scipy import ndimage
from scipy import sparse
from scipy.sparse import linalg as sparse_linalg

from drht_jax import hdr

# The fixed split of the development set (/work/shared/data/brackets/, 79 scenes): every 4th
# scene of each source in name order, starting at the third (11 of 46 deepfuse_, 8 of 33
# forth_). Part of the data set's definition: do not change in 1.x.
TEST_SCENES = (
    "deepfuse_Seq_11", "deepfuse_Seq_15", "deepfuse_Seq_19", "deepfuse_Seq_23",
    "deepfuse_Seq_27", "deepfuse_Seq_31", "deepfuse_Seq_35", "deepfuse_Seq_39",
    "deepfuse_Seq_69", "deepfuse_Seq_73", "deepfuse_Seq_77",
    "forth_Colorcheckers", "forth_FORTH1", "forth_Flowers", "forth_Knossos2", "forth_Knossos6",
    "forth_LowerLewisFalls", "forth_RevelStoke", "forth_TestChart1",
)


# 8-bit levels a pixel must lie in, in both frames of a pair, to count in a ratio estimate.
LOW, HIGH = 10, 235
# Levels at or beyond these are treated as clipped by the merge (weight 0).
CLIP_LOW, CLIP_HIGH = 2, 253
ITERATIONS = 3
SMOOTHNESS = 50.0  # Debevec-Malik lambda, relative to the data term (both are per-sample)
N_SAMPLES = 500    # pixel positions used to recover the response
MIN_PIXELS = 50    # fewer usable pixel-channels in a pair than this: the step is undetermined
FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
MIN_FRAMES = 3
# Mertens et al.'s exponents of contrast, saturation and well-exposedness, and sigma of the
# well-exposedness Gaussian (their paper; OpenCV's createMergeMertens defaults to 1, 1, 0).
MERTENS_EXPONENTS = (1.0, 1.0, 1.0)
MERTENS_SIGMA = 0.2


class StackError(ValueError):
  """A stack folder that cannot be used: the message starts with the folder or file."""


class Stack(NamedTuple):
  """One exposure stack, frames sorted dark to bright.

  frames: `[N, H, W, 3]` float32 in [0, 1] (as stored; 16-bit files at full precision);
  log2_exposures: `[N]` float64, relative to the middle frame (0 there);
  fused: `[H, W, 3]` float32 in [0, 1], `mertens_fusion(frames)`;
  middle: index of the middle frame (`middle_index`);
  hdr: `[H, W, 3]` float32 >= 0, `merge_hdr` (linear, the middle frame's exposure scale);
  names: file names of the frames, in the order of `frames`;
  exposure_source: "exif" or "pixels"; response: `[256, 3]` (see module docstring);
  bit_depth: 8 or 16 (the deepest frame).
  """
  frames: np.ndarray
  log2_exposures: np.ndarray
  fused: np.ndarray
  middle: int
  hdr: np.ndarray
  names: tuple
  exposure_source: str
  response: np.ndarray
  bit_depth: int


# --- Helpers.

def _as_float(frames) -> np.ndarray:
  """Frames (uint8, uint16 or float in [0, 1]) -> `[N, H, W, 3]` float64 in [0, 1]."""
  arrays = [np.asarray(f) for f in frames]
  if len(arrays) == 0:
    raise ValueError("no frames")
  shapes = {a.shape for a in arrays}
  if len(shapes) != 1:
    raise ValueError(f"frames differ in shape: {sorted(shapes)}")
  out = []
  for a in arrays:
    if a.ndim != 3 or a.shape[-1] != 3:
      raise ValueError(f"expected [H, W, 3] frames, got {a.shape}")
    if a.dtype == np.uint8:
      out.append(a.astype(np.float64) / 255.0)
    elif a.dtype == np.uint16:
      out.append(a.astype(np.float64) / 65535.0)
    else:
      out.append(np.clip(a.astype(np.float64), 0.0, 1.0))
  return np.stack(out)


def _levels(x: np.ndarray) -> np.ndarray:
  """Float in [0, 1] -> 8-bit levels (int, rounded)."""
  return np.clip(np.round(x * 255.0), 0, 255).astype(np.int64)


def middle_index(n: int) -> int:
  """Index of the middle frame of `n` frames sorted by exposure: `n // 2` for odd `n`; for an
  even `n` the darker of the two central frames (`n // 2 - 1`), since highlights lost to
  clipping are gone while shadows keep some signal."""
  return n // 2 if n % 2 else n // 2 - 1


def linearize(frames, response) -> np.ndarray:
  """Display values -> log2 relative exposure through `response` (`[256, 3]`), interpolating
  between 8-bit levels (so 16-bit frames keep their precision). `[..., 3]` float64."""
  z = _as_float(frames) * 255.0
  grid = np.arange(256, dtype=np.float64)
  return np.stack([np.interp(z[..., c], grid, response[:, c]) for c in range(3)], axis=-1)


def srgb_response() -> np.ndarray:
  """The inverse response of the sRGB curve (IEC 61966-2-1, what a camera's JPEG engine
  approximates), in this module's units (`[256, 3]`, log2, 0 at level 128); level 0 gets
  level 0.5's value (a finite floor instead of -inf). The starting curve of
  `estimate_exposures`."""
  v = np.maximum(np.arange(256, dtype=np.float64), 0.5) / 255.0
  g = np.log2(hdr.srgb_decode(v)) - np.log2(hdr.srgb_decode(np.float64(128 / 255.0)))
  return np.repeat(g[:, None], 3, axis=1)


# --- Exposure ratios.

def exif_log2_exposures(paths: Sequence[str]) -> Optional[np.ndarray]:
  """log2(exposure time x ISO / f-number^2) of each file from its EXIF (Pillow), relative to
  the middle file (`middle_index`, files in the given order); None unless every file has an
  exposure time. ISO and f-number count only where every file has them (a missing one is taken
  as equal across the stack)."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  values = []
  for path in paths:
    try:
      with Image.open(path) as img:
        exif = img.getexif()
    except (OSError, ValueError, SyntaxError):
      return None
    sub = exif.get_ifd(0x8769)  # the Exif IFD, where cameras put these tags
    tags = {**dict(exif), **dict(sub)}
    values.append({"t": tags.get(33434), "n": tags.get(33437), "iso": tags.get(34855)})

  def column(key):
    try:
      out = [float(v[key]) if not isinstance(v[key], tuple) else float(v[key][0]) for v in values]
    except (TypeError, ValueError, ZeroDivisionError):
      return None
    return None if any(not (math.isfinite(x) and x > 0) for x in out) else np.asarray(out)

  t = column("t")
  if t is None:
    return None
  log2 = np.log2(t)
  iso, fnum = column("iso"), column("n")
  if iso is not None:
    log2 = log2 + np.log2(iso)
  if fnum is not None:
    log2 = log2 - 2.0 * np.log2(fnum)
  return log2 - log2[middle_index(len(paths))]


def _pair_steps(x: np.ndarray, response: np.ndarray) -> np.ndarray:
  """`[N - 1]` log2 steps between neighbouring frames: the median over pixel-channels usable
  in both frames (levels in [LOW, HIGH]) of the difference of linearised values."""
  z = _levels(x)
  lin = linearize(x, response)
  steps = []
  for i in range(len(x) - 1):
    usable = (z[i] >= LOW) & (z[i] <= HIGH) & (z[i + 1] >= LOW) & (z[i + 1] <= HIGH)
    if usable.sum() < MIN_PIXELS:
      # Frames far apart share few well-exposed pixels: widen to anything unclipped.
      usable = (z[i] >= CLIP_LOW + 1) & (z[i + 1] <= CLIP_HIGH - 1) & (z[i + 1] >= CLIP_LOW + 1) \
          & (z[i] <= CLIP_HIGH - 1)
    if usable.sum() < MIN_PIXELS:
      raise ValueError(f"frames {i} and {i + 1} share only {int(usable.sum())} unclipped "
                       f"pixel-channels (< {MIN_PIXELS}): their exposure ratio is undetermined")
    steps.append(float(np.median(lin[i + 1][usable] - lin[i][usable])))
  return np.asarray(steps)


def _centre(steps: np.ndarray) -> np.ndarray:
  log2 = np.concatenate([[0.0], np.cumsum(steps)])
  return log2 - log2[middle_index(len(log2))]


def estimate_exposures(frames, iterations: int = ITERATIONS, paths=None) -> np.ndarray:
  """`[N]` log2 exposure of each frame relative to the middle one (see module docstring).

  frames: `[N, H, W, 3]` (or a list), sorted dark to bright, uint8/uint16 or float in [0, 1].
  paths: the frames' files; if given and every file has EXIF exposure data, that is used.
  Raises ValueError if a pair of neighbouring frames shares too few unclipped pixels, or the
  frames are not sorted dark to bright (a step <= 0).
  """
  if paths is not None:
    exif = exif_log2_exposures(paths)
    if exif is not None:
      return exif
  x = _as_float(frames)
  if len(x) < 2:
    raise ValueError(f"need at least 2 frames, got {len(x)}")
  response = srgb_response()
  steps = _pair_steps(x, response)
  for _ in range(iterations):
    if np.any(steps <= 0):
      break
    response = recover_response(x, _centre(steps))
    steps = _pair_steps(x, response)
  if np.any(steps <= 0):
    bad = int(np.argmax(steps <= 0))
    raise ValueError(f"frames {bad} and {bad + 1} (dark to bright) have the same exposure or are "
                     f"out of order: estimated steps {np.round(steps, 2)} EV (each must be > 0)")
  return _centre(steps)


# --- Camera response (Debevec & Malik, SIGGRAPH 1997).

def _hat(z):
  """Debevec-Malik hat weight of 8-bit levels, 0 at and beyond the clip levels."""
  z = np.asarray(z, np.float64)
  w = np.minimum(z - CLIP_LOW, CLIP_HIGH - z)
  return np.maximum(w, 0.0) / ((CLIP_HIGH - CLIP_LOW) / 2.0)


def _sample_positions(x: np.ndarray, n_samples: int) -> np.ndarray:
  """Flat pixel indices spread evenly over the ranks of the stack's mean brightness, so the
  samples cover the scene's radiance range (deterministic: no random draw)."""
  mean = x.mean(axis=(0, 3)).ravel()
  order = np.argsort(mean, kind="stable")
  picks = np.linspace(0, len(order) - 1, min(n_samples, len(order))).round().astype(np.int64)
  return order[np.unique(picks)]


def recover_response(frames, log2_exposures, smoothness: float = SMOOTHNESS,
                     n_samples: int = N_SAMPLES) -> np.ndarray:
  """The inverse camera response `[256, 3]` (log2 units, `g(128) = 0`) from a stack and its
  exposures: Debevec-Malik least squares per channel, `w(z_ij) (g(z_ij) - ln E_i - ln t_j) = 0`
  over `n_samples` pixels i and all frames j, plus `smoothness * w(z) g''(z) = 0`, with the hat
  weight `w`. Made non-decreasing afterwards (running max/min outward from level 128: a camera curve
  is monotone); levels no sample reached are extrapolated by the smoothness term."""
  x = _as_float(frames)
  log2_t = np.asarray(log2_exposures, np.float64)
  n_frames = len(x)
  if log2_t.shape != (n_frames,):
    raise ValueError(f"{n_frames} frames but {log2_t.shape} exposures")
  z_all = _levels(x).reshape(n_frames, -1, 3)
  idx = _sample_positions(x, n_samples)
  n_pix = len(idx)
  out = np.zeros((256, 3))
  # Smoothness weighted by the hat too (Debevec-Malik), with a floor so the levels no sample
  # constrains (the clipped ends) are extrapolated smoothly instead of left free.
  w_smooth = np.maximum(_hat(np.arange(1, 255)), 0.1)
  scale = math.sqrt(n_pix * n_frames / 254.0)  # keeps lambda's meaning independent of n_samples
  rows = np.arange(n_pix * n_frames)
  jj, ii = np.divmod(rows, n_pix)  # frame j, pixel i of each data row
  levels = np.arange(1, 255)
  ws = smoothness * scale * w_smooth
  k0 = n_pix * n_frames
  for c in range(3):
    z = z_all[:, idx, c]  # [N, P]
    wz = _hat(z)[jj, ii]
    # Sparse system: data rows w (g(z) - u_i) = w t_j (u_i = log2 E_i), smoothness rows
    # lambda w (g(z-1) - 2 g(z) + g(z+1)) = 0, and g(128) = 0.
    r_idx = np.concatenate([rows, rows, k0 + np.repeat(levels - 1, 3), [k0 + 254]])
    c_idx = np.concatenate([z[jj, ii], 256 + ii,
                            np.stack([levels - 1, levels, levels + 1], 1).ravel(), [128]])
    vals = np.concatenate([wz, -wz, (ws[:, None] * np.array([1.0, -2.0, 1.0])).ravel(), [scale]])
    a = sparse.csr_matrix((vals, (r_idx, c_idx)), shape=(k0 + 255, 256 + n_pix))
    b = np.zeros(k0 + 255)
    b[rows] = wz * log2_t[jj]
    # Normal equations; a tiny ridge keeps pixels that no frame sees well determined.
    ata = (a.T @ a + sparse.identity(256 + n_pix) * 1e-9).tocsc()
    sol = sparse_linalg.spsolve(ata, a.T @ b)
    g = sol[:256]
    # Monotone outward from the anchor: running max above level 128, running min below.
    g[128:] = np.maximum.accumulate(g[128:])
    g[:129] = np.minimum.accumulate(g[:129][::-1])[::-1]
    out[:, c] = g
  return out


# --- HDR merge.

def merge_hdr(frames, log2_exposures, response) -> np.ndarray:
  """`[H, W, 3]` float32 linear radiance, on the middle frame's scale (a pixel of level 128 in
  the middle frame gets ~1). Log-domain weighted mean over frames of `g(z) - log2 t`, hat
  weights (0 when clipped). A pixel clipped in every frame takes the value of the frame that
  is least wrong about it: the darkest frame where it is saturated everywhere, the brightest
  where it is black everywhere."""
  x = _as_float(frames)
  log2_t = np.asarray(log2_exposures, np.float64)
  lin = linearize(x, response) - log2_t[:, None, None, None]
  w = _hat(x * 255.0)
  total = w.sum(axis=0)
  merged = (w * lin).sum(axis=0) / np.maximum(total, 1e-12)
  none = total <= 0
  if np.any(none):
    bright = x.mean(axis=0) >= 0.5
    fallback = np.where(bright, lin[0], lin[-1])
    merged = np.where(none, fallback, merged)
  return np.exp2(merged).astype(np.float32)


# --- Exposure fusion (Mertens, Kautz & Van Reeth 2007).

_KERNEL = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0  # the Burt-Adelson 5-tap kernel


def _blur(x):
  """Separable 5-tap Gaussian over the two image axes, mirrored borders (OpenCV's
  BORDER_REFLECT_101)."""
  x = ndimage.correlate1d(x, _KERNEL, axis=0, mode="mirror")
  return ndimage.correlate1d(x, _KERNEL, axis=1, mode="mirror")


def _down(x):
  return _blur(x)[::2, ::2]


def _up(x, shape):
  """Upsample `[h, w, ...]` to `shape[:2]` (each side `2h` or `2h - 1`): zeros between the
  samples on the even `[2h, 2w]` grid, the kernel times 4 with mirrored borders, then cropped
  (how OpenCV's `pyrUp` treats an odd target size)."""
  up = np.zeros((2 * x.shape[0], 2 * x.shape[1]) + x.shape[2:], x.dtype)
  up[::2, ::2] = x
  return 4.0 * _blur(up)[:shape[0], :shape[1]]


def mertens_weights(frames) -> np.ndarray:
  """`[N, H, W]` normalised Mertens weights (sum 1 over frames): |Laplacian of grey| x
  (std over RGB) x prod_c exp(-(v - 0.5)^2 / (2 sigma^2)), each to its exponent, + 1e-12."""
  x = _as_float(frames)
  wc, ws, we = MERTENS_EXPONENTS
  grey = x @ np.array([0.299, 0.587, 0.114])
  contrast = np.abs(np.stack([ndimage.laplace(g, mode="mirror") for g in grey]))
  saturation = x.std(axis=-1)
  exposed = np.exp(-((x - 0.5) ** 2) / (2 * MERTENS_SIGMA ** 2)).prod(axis=-1)
  w = contrast ** wc * saturation ** ws * exposed ** we + 1e-12
  return w / w.sum(axis=0, keepdims=True)


def mertens_fusion(frames, levels: Optional[int] = None) -> np.ndarray:
  """Mertens et al. exposure fusion of a stack: `[H, W, 3]` float32 in [0, 1].

  frames: `[N, H, W, 3]` uint8/uint16 or float in [0, 1], any order. The Laplacian pyramid of
  each frame is blended with the Gaussian pyramid of its weights (`mertens_weights`), level by
  level, and the blend collapsed. `levels` (pyramid levels, the full-size one included)
  defaults to `floor(log2(min(H, W))) + 1`, OpenCV's choice: the coarsest level is ~1-2 pixels.

  Differs from `cv2.createMergeMertens(1, 1, 1)` (note OpenCV's default exposure weight is 0)
  only by arithmetic: weights here are float64, so a flat patch has exactly zero contrast and
  a grey pixel exactly zero saturation, where OpenCV's float32 leaves ~1e-8 of rounding that
  decides between frames whose weights are all ~0."""
  x = _as_float(frames)
  height, width = x.shape[1:3]
  if levels is None:
    levels = int(math.log2(min(height, width))) + 1
  weights = mertens_weights(x)
  blended = None
  for frame, weight in zip(x, weights):
    g_img, g_w = [frame], [weight]
    for _ in range(levels - 1):
      g_img.append(_down(g_img[-1]))
      g_w.append(_down(g_w[-1]))
    lap = [g_img[k] - _up(g_img[k + 1], g_img[k].shape) for k in range(levels - 1)]
    lap.append(g_img[-1])
    contrib = [l * w[..., None] for l, w in zip(lap, g_w)]
    blended = contrib if blended is None else [b + c for b, c in zip(blended, contrib)]
  out = blended[-1]
  for k in range(levels - 2, -1, -1):
    out = blended[k] + _up(out, blended[k].shape)
  return np.clip(out, 0.0, 1.0).astype(np.float32)


# --- Reading a stack folder.

def _read_frame(path: str):
  """A frame file -> (`[H, W, 3]` float32 in [0, 1], bit depth). TIFF through OpenCV (8/16
  bit); the rest through `imageio_utils.read_ldr`."""
  from drht_jax import imageio_utils  # pylint: disable=import-outside-toplevel
  if path.lower().endswith((".tif", ".tiff")):
    import cv2  # pylint: disable=import-outside-toplevel
    data = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if data is None:
      raise imageio_utils.ImageReadError(f"{path}: not a TIFF file OpenCV can read")
    if data.ndim == 2:
      data = np.repeat(data[..., None], 3, axis=-1)
    if data.shape[-1] == 4:
      data = data[..., :3]
    data = data[..., ::-1]  # BGR -> RGB
    if data.dtype == np.uint8:
      return data.astype(np.float32) / 255.0, 8
    if data.dtype == np.uint16:
      return data.astype(np.float32) / 65535.0, 16
    raise imageio_utils.ImageReadError(f"{path}: unsupported TIFF sample type {data.dtype}")
  image = imageio_utils.read_ldr(path)
  return image.pixels, image.bit_depth


def crop_to_multiple(image: np.ndarray, multiple: int, max_side: Optional[int] = None):
  """Centre crop of `[H, W, ...]` to the largest size <= the image (and <= `max_side`) whose
  sides are multiples of `multiple` (datasets/photos' convention; no resampling)."""
  h, w = image.shape[:2]
  if max_side is not None:
    h, w = min(h, max_side), min(w, max_side)
  h, w = h - h % multiple, w - w % multiple
  if h == 0 or w == 0:
    raise ValueError(f"image {image.shape[0]}x{image.shape[1]} is smaller than "
                     f"{multiple}x{multiple}")
  y0, x0 = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
  return np.ascontiguousarray(image[y0:y0 + h, x0:x0 + w])


def list_frames(folder: str):
  """Frame files of a stack folder (`FRAME_EXTENSIONS`, any case, hidden files left out),
  sorted by name."""
  return sorted(n for n in os.listdir(folder)
                if not n.startswith(".") and n.lower().endswith(FRAME_EXTENSIONS))


def load_stack(folder, multiple: int = 1, max_side: Optional[int] = None) -> Stack:
  """Reads a stack folder (>= 3 frames of one scene) -> `Stack` (see its docstring).

  Frames are sorted by exposure: by EXIF where every frame has it, else by mean brightness.
  `multiple` / `max_side`: centre-crop every frame first (`crop_to_multiple`). Raises
  `StackError` naming the folder or file: fewer than 3 frames, frames of different sizes, an
  unreadable frame, frames whose exposures cannot be told apart."""
  from drht_jax import imageio_utils  # pylint: disable=import-outside-toplevel
  folder = os.fspath(folder)
  if not os.path.isdir(folder):
    raise StackError(f"{folder}: not a folder")
  names = list_frames(folder)
  if len(names) < MIN_FRAMES:
    raise StackError(f"{folder}: {len(names)} frame file(s) ({', '.join(names) or 'none'}), "
                     f"a stack needs at least {MIN_FRAMES}")
  frames, depths = [], []
  for name in names:
    path = os.path.join(folder, name)
    try:
      pixels, depth = _read_frame(path)
    except (imageio_utils.ImageReadError, OSError) as e:
      reason = str(e)
      raise StackError(reason if reason.startswith(path) else f"{path}: {reason}") from e
    if frames and pixels.shape != frames[0].shape:
      raise StackError(f"{path}: frame is {pixels.shape[1]}x{pixels.shape[0]}, but "
                       f"{names[0]} is {frames[0].shape[1]}x{frames[0].shape[0]}: the frames of "
                       "a stack must have one size")
    frames.append(pixels)
    depths.append(depth)
  paths = [os.path.join(folder, n) for n in names]
  exif = exif_log2_exposures(paths)
  order = np.argsort(exif if exif is not None else [f.mean() for f in frames], kind="stable")
  frames = np.stack([frames[i] for i in order])
  names = tuple(names[i] for i in order)
  if multiple > 1 or max_side is not None:
    frames = np.stack([crop_to_multiple(f, multiple, max_side) for f in frames])
  try:
    if exif is not None:
      log2 = exif_log2_exposures([os.path.join(folder, n) for n in names])
      source = "exif"
    else:
      log2 = estimate_exposures(frames)
      source = "pixels"
    if np.any(np.diff(log2) <= 0):
      raise ValueError(f"two frames have the same exposure ({np.round(log2, 2)} EV)")
    x = frames.astype(np.float64)
    response = recover_response(x, log2)
  except ValueError as e:
    raise StackError(f"{folder}: {e}; frames by brightness: {', '.join(names)}") from e
  middle = middle_index(len(frames))
  return Stack(frames=frames.astype(np.float32), log2_exposures=log2,
               fused=mertens_fusion(x), middle=middle, hdr=merge_hdr(x, log2, response),
               names=names, exposure_source=source, response=response, bit_depth=max(depths))


# --- Synthetic stacks with a known truth (tests, demos).

srgb_encode = hdr.srgb_encode  # NumPy in, NumPy out (hdr.py)


def synthetic_stack(radiance, log2_exposures, seed: int = 0, curve=srgb_encode,
                    quality: Optional[int] = 90, noise: float = 2e-4) -> np.ndarray:
  """Exposes `[H, W, 3]` linear radiance (its level 0.18 = mid-grey at exposure 0) at each
  of `log2_exposures`, adds signal-dependent noise (variance `noise * x + 1e-6`, a shot +
  read model), applies `curve` (display values in [0, 1]), quantises to 8 bits and, unless
  `quality` is None, JPEG-compresses (Pillow). Returns `[N, H, W, 3]` uint8. Frame i's noise
  is drawn with `fold_in(PRNGKey(seed), i)`: same seed, same frames."""
  import io  # pylint: disable=import-outside-toplevel
  import jax  # pylint: disable=import-outside-toplevel
  from PIL import Image  # pylint: disable=import-outside-toplevel
  key = jax.random.PRNGKey(seed)
  out = []
  for i, ev in enumerate(log2_exposures):
    lin = np.asarray(radiance, np.float64) * 2.0 ** ev * 0.18
    normal = np.asarray(jax.random.normal(jax.random.fold_in(key, i), lin.shape), np.float64)
    lin = lin + normal * np.sqrt(noise * np.maximum(lin, 0) + 1e-6)
    frame = np.round(np.clip(curve(lin), 0, 1) * 255).astype(np.uint8)
    if quality is not None:
      buf = io.BytesIO()
      Image.fromarray(frame).save(buf, "JPEG", quality=quality)
      buf.seek(0)
      with Image.open(buf) as img:
        frame = np.asarray(img.convert("RGB"))
    out.append(frame)
  return np.stack(out)
