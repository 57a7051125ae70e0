"""Tests of datasets/photos: scikit-image's photos with fixed exposure errors (no download)."""

import os
import subprocess
import sys

import ml_collections
import numpy as np
import pytest

from datasets.photos import photos
from drht_jax import imageio_utils
from drht_jax import input_pipeline

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _build(data_dir):
  builder = photos.Photos(data_dir=str(data_dir))
  builder.download_and_prepare()
  examples = {ex["id"].decode(): ex for ex in builder.as_data_source("test")}
  return builder, examples


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  return _build(tmp_path_factory.mktemp("photos_data"))


def test_photos_ship_with_scikit_image():
  for name in photos.PHOTOS:
    assert os.path.isfile(photos.photo_path(name)), name


def test_one_example_per_photo_and_ev(built):
  builder, examples = built
  assert len(examples) == 3 * len(photos.PHOTOS) == 15
  assert builder.info.splits["test"].num_examples == 15
  assert set(examples) == {photos.example_id(n, ev) for n in photos.PHOTOS for ev in photos.EVS}
  assert "coffee/ev-3.0" in examples and "rocket/ev+1.5" in examples


def test_sizes_are_multiples_of_32_at_most_512(built):
  _, examples = built
  for ident, ex in examples.items():
    height, width = ex["ldr"].shape[:2]
    assert ex["ldr"].shape == ex["ldr_gt"].shape == (height, width, 3), ident
    assert ex["ldr"].dtype == ex["ldr_gt"].dtype == np.uint8
    assert height % 32 == 0 and width % 32 == 0 and 0 < height <= 512 and 0 < width <= 512
  assert examples["astronaut/ev-2.0"]["ldr"].shape == (512, 512, 3)
  assert examples["chelsea/ev-2.0"]["ldr"].shape == (288, 448, 3)


def test_target_is_the_centre_cropped_original(built):
  _, examples = built
  original = np.round(imageio_utils.read_ldr(photos.photo_path("coffee")).pixels * 255)
  gt = examples["coffee/ev+1.5"]["ldr_gt"]  # 400x600 -> 384x512: rows 8.., columns 44..
  np.testing.assert_array_equal(gt, original[8:392, 44:556].astype(np.uint8))


def test_corruptions_are_fixed(built):
  _, examples = built
  for ident, ex in examples.items():
    name, ev = ident.split("/ev")
    assert float(ex["ev"]) == float(ev) and float(ex["contrast"]) == 1.0
    np.testing.assert_array_equal(ex["ldr"], photos.corrupt(ex["ldr_gt"], float(ev)))


def test_rebuild_is_identical(built, tmp_path):
  _, first = built
  _, second = _build(tmp_path)
  assert set(first) == set(second)
  for ident in first:
    for key in ("ldr", "ldr_gt", "ev", "contrast"):
      np.testing.assert_array_equal(first[ident][key], second[ident][key])


def test_negative_ev_darkens_and_positive_brightens(built):
  _, examples = built
  for name in photos.PHOTOS:
    gt = examples[f"{name}/ev-3.0"]["ldr_gt"].astype(np.float64).mean()
    dark3 = examples[f"{name}/ev-3.0"]["ldr"].astype(np.float64).mean()
    dark2 = examples[f"{name}/ev-2.0"]["ldr"].astype(np.float64).mean()
    bright = examples[f"{name}/ev+1.5"]["ldr"].astype(np.float64).mean()
    assert dark3 < dark2 < gt < bright, name
    assert dark3 < 0.6 * gt, name


def test_conversions_count_the_crops(built):
  builder, _ = built
  assert builder.conversions["test"] == {
      "centre-cropped to a multiple of 32 (at most 512)": 4}  # all but the 512x512 astronaut


def test_registered_in_input_pipeline(built, tmp_path):
  assert input_pipeline.BUILDER_MODULES["photos"] == "datasets.photos.photos"
  config = ml_collections.ConfigDict({"dataset": "photos", "data_dir": str(tmp_path),
                                      "manual_dir": None})
  got = list(input_pipeline.eval_examples(config, "test", max_examples=2))
  assert len(got) == 2 and got[0]["ldr"].dtype == np.float32
  assert got[0]["ldr"].shape == got[0]["ldr_gt"].shape


def test_write_corrupted_files_match_the_data_set(built, tmp_path):
  _, examples = built
  paths = photos.write_corrupted(tmp_path, ["chelsea"], [-3.0, 1.5])
  assert [os.path.relpath(p, tmp_path) for p in paths] == [
      os.path.join("original", "chelsea.png"), os.path.join("input", "chelsea_ev-3.0.png"),
      os.path.join("input", "chelsea_ev+1.5.png")]
  read = lambda p: np.round(imageio_utils.read_ldr(p).pixels * 255).astype(np.uint8)
  np.testing.assert_array_equal(read(paths[0]), examples["chelsea/ev-3.0"]["ldr_gt"])
  np.testing.assert_array_equal(read(paths[1]), examples["chelsea/ev-3.0"]["ldr"])
  np.testing.assert_array_equal(read(paths[2]), examples["chelsea/ev+1.5"]["ldr"])


def test_cli_writes_jpegs(tmp_path):
  assert photos.main([f"--output={tmp_path}", "--names=rocket", "--ev=-2", "--ext=.jpg"]) == 0
  assert sorted(os.listdir(tmp_path / "input")) == ["rocket_ev-2.0.jpg"]
  assert imageio_utils.read_ldr(tmp_path / "original" / "rocket.jpg").pixels.shape == (416, 512, 3)


def test_module_command_line_writes_files(tmp_path):
  result = subprocess.run([sys.executable, "-m", "datasets.photos", f"--output={tmp_path}",
                           "--names=coffee", "--ev=-2"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-1000:]
  assert (tmp_path / "input" / "coffee_ev-2.0.png").exists()


# --- test_camera: camera-realistic errors (issue 16).

def _camera_examples(builder):
  return {ex["id"].decode(): ex for ex in builder.as_data_source(photos.CAMERA_SPLIT)}


def test_camera_split_has_the_same_ids_and_targets_as_test(built):
  builder, examples = built
  camera = _camera_examples(builder)
  assert set(camera) == set(examples)
  for ident in ("coffee/ev-3.0", "rocket/ev+1.5"):
    np.testing.assert_array_equal(camera[ident]["ldr_gt"], examples[ident]["ldr_gt"])
    assert camera[ident]["ldr"].shape == examples[ident]["ldr"].shape


def _best_gain_psnr(ldr, gt):
  """PSNR (dB) of `ldr` against `gt` after the best per-channel gain (least squares): how well
  a histogram stretch can undo the error."""
  x, y = ldr.astype(np.float64) / 255.0, gt.astype(np.float64) / 255.0
  gain = (x * y).sum(axis=(0, 1)) / np.maximum((x * x).sum(axis=(0, 1)), 1e-12)
  return -10.0 * np.log10(np.mean((np.clip(x * gain, 0.0, 1.0) - y) ** 2))


def test_camera_errors_are_not_an_exact_rescale_of_the_photo(built):
  # The parametric under-exposure is the original x 2**(ev / 2.2) in display values: one gain
  # per channel undoes it (> 45 dB). The camera one (sRGB toe, noise, JPEG) cannot be undone so.
  builder, examples = built
  camera = _camera_examples(builder)
  for ident in ("coffee/ev-3.0", "chelsea/ev-2.0", "rocket/ev-3.0"):
    gt = examples[ident]["ldr_gt"]
    assert _best_gain_psnr(examples[ident]["ldr"], gt) > 45.0, ident
    assert _best_gain_psnr(camera[ident]["ldr"], gt) < 36.0, ident


def test_camera_corruption_is_a_function_of_the_example_id():
  photo, _ = photos.load_photo("chelsea")
  a, params = photos.camera_corrupt(photo, -2.0, "chelsea/ev-2.0")
  b, _ = photos.camera_corrupt(photo, -2.0, "chelsea/ev-2.0")
  c, _ = photos.camera_corrupt(photo, -2.0, "other")
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  assert params["full_well"] > 0 and params["read_noise"] > 0
