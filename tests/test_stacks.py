"""drht_jax.stacks on synthetic stacks with a known truth: a smooth textured radiance map
exposed at known EVs through a camera curve, with noise, JPEG q90."""

import cv2
import numpy as np
import pytest
from PIL import Image

from drht_jax import stacks


def _radiance(height=64, width=96):
  """Smooth radiance over ~9 stops with texture and colour: `[H, W, 3]`, mid-grey ~1."""
  yy, xx = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
  log2 = 8.0 * xx - 4.0 + 0.7 * np.sin(9 * yy) + 0.4 * np.sin(40 * xx) * np.sin(33 * yy)
  tint = np.stack([1 + 0.3 * np.sin(7 * yy + 1), 1 + 0.3 * np.cos(5 * xx),
                   1 + 0.3 * np.sin(11 * xx * yy)], -1)
  return np.exp2(log2)[..., None] * tint


RADIANCE = _radiance()


@pytest.mark.parametrize("evs", [(-2.0, 0.0, 2.0), (-2.5, -1.0, 0.0, 1.5, 3.0)])
def test_estimated_exposures_match_the_true_ones_for_an_srgb_camera(evs):
  frames = stacks.synthetic_stack(RADIANCE, evs)
  np.testing.assert_allclose(stacks.estimate_exposures(frames), evs, atol=0.1)


def test_estimated_steps_keep_their_proportions_for_a_non_srgb_curve():
  # A power-1.8 camera: the absolute scale is off by the exponential ambiguity (documented),
  # but uneven steps (1 EV, then 2 EV) are still told apart in their ratio.
  frames = stacks.synthetic_stack(RADIANCE, (-1.0, 0.0, 2.0),
                                  curve=lambda x: np.clip(x, 0, 1) ** (1 / 1.8))
  steps = np.diff(stacks.estimate_exposures(frames))
  assert steps[1] / steps[0] == pytest.approx(2.0, rel=0.1)
  assert steps[0] == pytest.approx(1.0, rel=0.25)


def test_unsorted_frames_are_refused():
  frames = stacks.synthetic_stack(RADIANCE, (-2.0, 0.0, 2.0))
  with pytest.raises(ValueError, match="same exposure or are out of order"):
    stacks.estimate_exposures(frames[::-1])


def test_recovered_response_follows_the_camera_curve():
  evs = (-2.0, 0.0, 2.0)
  frames = stacks.synthetic_stack(RADIANCE, evs)
  g = stacks.recover_response(frames, np.asarray(evs))
  truth = stacks.srgb_response()
  mid = slice(20, 236)  # levels the stack covers well
  np.testing.assert_allclose(g[mid], truth[mid], atol=0.15)
  assert np.all(np.diff(g, axis=0) >= 0)


def test_merged_hdr_matches_the_radiance_up_to_scale():
  evs = (-3.0, 0.0, 3.0)
  frames = stacks.synthetic_stack(RADIANCE, evs)
  est = stacks.estimate_exposures(frames)
  merged = stacks.merge_hdr(frames, est, stacks.recover_response(frames, est))
  error = np.log2(merged) - np.log2(RADIANCE)
  error -= np.median(error)
  assert np.sqrt(np.mean(error ** 2)) < 0.1  # stops, over ~10 stops of scene range
  # The middle frame alone clips the bright end: the merge must not.
  assert merged[..., -4:, :].mean() > 4 * merged[..., 40:56, :].mean()


def test_merge_ignores_clipped_pixels():
  evs = np.array([-2.0, 0.0, 2.0])
  frames = stacks.synthetic_stack(RADIANCE, evs, quality=None)
  g = stacks.srgb_response()
  merged = stacks.merge_hdr(frames, evs, g)
  poisoned = frames.copy()
  poisoned[2][frames[2] >= 254] = 255  # already clipped: only the value changes
  poisoned[2][frames[2] <= 1] = 0
  np.testing.assert_allclose(stacks.merge_hdr(poisoned, evs, g), merged, rtol=1e-6)


def test_mertens_fusion_matches_opencv():
  frames = stacks.synthetic_stack(RADIANCE, (-2.5, -1.0, 0.0, 1.5, 3.0))
  ours = stacks.mertens_fusion(frames)
  # OpenCV's default exposure weight is 0; Mertens et al. use 1 for all three.
  theirs = np.clip(cv2.createMergeMertens(1.0, 1.0, 1.0).process(list(frames)), 0, 1)
  psnr = 10 * np.log10(1.0 / np.mean((ours - theirs) ** 2))
  assert psnr > 30
  assert ours.dtype == np.float32 and ours.min() >= 0 and ours.max() <= 1


def test_mertens_fusion_of_copies_of_one_frame_is_that_frame():
  frame = stacks.synthetic_stack(RADIANCE, (0.0,))[0]
  fused = stacks.mertens_fusion(np.stack([frame] * 3))
  np.testing.assert_allclose(fused, frame / 255.0, atol=1e-5)


def _write_stack(folder, frames, ext=".jpg"):
  folder.mkdir(parents=True, exist_ok=True)
  for i, frame in enumerate(frames):
    Image.fromarray(frame).save(folder / f"frame_{i:02d}{ext}", quality=95)


def test_load_stack_sorts_frames_by_brightness_and_reports_the_middle(tmp_path):
  frames = stacks.synthetic_stack(RADIANCE, (-2.0, 0.0, 2.0))
  _write_stack(tmp_path / "s", frames[[2, 0, 1]])  # names out of exposure order
  stack = stacks.load_stack(tmp_path / "s")
  assert stack.names == ("frame_01.jpg", "frame_02.jpg", "frame_00.jpg")
  assert stack.middle == 1 and stack.exposure_source == "pixels"
  np.testing.assert_allclose(stack.log2_exposures, [-2, 0, 2], atol=0.15)
  assert stack.fused.shape == stack.hdr.shape == (64, 96, 3)


def test_load_stack_reads_16_bit_tiff_frames(tmp_path):
  frames = stacks.synthetic_stack(RADIANCE, (-2.0, 0.0, 2.0), quality=None)
  (tmp_path / "s").mkdir()
  for i, f in enumerate(frames):
    cv2.imwrite(str(tmp_path / "s" / f"f{i}.tif"), (f[..., ::-1].astype(np.uint16) * 257))
  stack = stacks.load_stack(tmp_path / "s")
  assert stack.bit_depth == 16
  np.testing.assert_allclose(stack.frames[0], frames[0] / 255.0, atol=1e-6)


def test_load_stack_crops_to_multiples(tmp_path):
  _write_stack(tmp_path / "s", stacks.synthetic_stack(RADIANCE, (-2.0, 0.0, 2.0)))
  stack = stacks.load_stack(tmp_path / "s", multiple=32)
  assert stack.frames.shape[1:3] == (64, 96)
  stack = stacks.load_stack(tmp_path / "s", multiple=32, max_side=64)
  assert stack.frames.shape[1:3] == (64, 64)


def test_exif_exposures_are_used_when_present(tmp_path):
  frames = stacks.synthetic_stack(RADIANCE, (-2.0, 0.0, 2.0))
  (tmp_path / "s").mkdir()
  for i, (frame, t) in enumerate(zip(frames, (1 / 400, 1 / 100, 1 / 25))):
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[33434] = t       # ExposureTime
    ifd[33437] = 4.0     # FNumber
    ifd[34855] = 200     # ISO
    Image.fromarray(frame).save(tmp_path / "s" / f"f{i}.jpg", exif=exif)
  stack = stacks.load_stack(tmp_path / "s")
  assert stack.exposure_source == "exif"
  np.testing.assert_allclose(stack.log2_exposures, [-2, 0, 2], atol=1e-6)


@pytest.mark.parametrize("case, message", [
    ("single", "a stack needs at least 3"),
    ("sizes", "must have one size"),
    ("unreadable", "frame_01.jpg"),
])
def test_bad_stacks_raise_an_error_naming_the_problem(tmp_path, case, message):
  frames = stacks.synthetic_stack(RADIANCE, (-2.0, 0.0, 2.0))
  folder = tmp_path / case
  if case == "single":
    _write_stack(folder, frames[:1])
  elif case == "sizes":
    _write_stack(folder, frames)
    Image.fromarray(frames[1][:32]).save(folder / "frame_01.jpg")
  else:
    _write_stack(folder, frames)
    (folder / "frame_01.jpg").write_bytes(b"not a jpeg")
  with pytest.raises(stacks.StackError, match=message):
    stacks.load_stack(folder)
