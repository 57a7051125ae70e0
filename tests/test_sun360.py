"""The sun360 builder on fake data: counts, schema, conversions, bad files, determinism.

The fake manual_dir (built once per module in tmp) follows the documented layout:
  sun360/train/good_{0,1}.jpg   256x512 JPEG (skimage's astronaut, resized)
  sun360/train/big.JPG          512x1024 JPEG (-> area-averaged to 256x512), upper-case ext
  sun360/train/gray.png         256x512 8-bit grayscale (-> replicated)
  sun360/train/rgba.png         256x512 RGBA, alpha 0 (-> alpha dropped)
  sun360/train/deep.png         256x512 16-bit grayscale (-> rounded to 8 bits)
  sun360/train/tall.png         300x512 (-> centre-cropped rows 22..277)
  sun360/train/truncated.jpg    half a JPEG (-> skipped)
  sun360/train/text.jpg         not an image (-> skipped)
  sun360/test/good_{0,1}.png
"""

import logging

import numpy as np
from PIL import Image
import pytest
from skimage import data as skdata
import tensorflow_datasets as tfds

from datasets.sun360.sun360 import Sun360
from drht_jax import imageio_utils as iu

GOOD_TRAIN = ["train/good_0.jpg", "train/good_1.jpg", "train/big.JPG", "train/gray.png",
              "train/rgba.png", "train/deep.png", "train/tall.png"]
GOOD_TEST = ["test/good_0.png", "test/good_1.png"]
SKIPPED = {"train/truncated.jpg": "truncated", "train/text.jpg": "not an image"}


def _photo(height, width, shift=0):
  image = Image.fromarray(skdata.astronaut()).resize((width, height), Image.Resampling.BOX)
  return np.roll(np.asarray(image), shift, axis=1)


def _rng_image(shape, seed, high=256, dtype=np.uint8):
  return np.random.default_rng(seed).integers(0, high, shape).astype(dtype)


def make_fake_manual_dir(root):
  base = root / "sun360"
  iu.write_ldr(base / "train/good_0.jpg", _photo(256, 512))
  iu.write_ldr(base / "train/good_1.jpg", _photo(256, 512, shift=100))
  iu.write_ldr(base / "train/big.JPG", _photo(512, 1024))
  iu.write_ldr(base / "test/good_0.png", _photo(256, 512, shift=200))
  iu.write_ldr(base / "test/good_1.png", _photo(256, 512, shift=300))
  Image.fromarray(_rng_image((256, 512), 1), "L").save(base / "train/gray.png")
  rgba = np.concatenate([_rng_image((256, 512, 3), 2), np.zeros((256, 512, 1), np.uint8)], -1)
  Image.fromarray(rgba, "RGBA").save(base / "train/rgba.png")
  Image.fromarray(_rng_image((256, 512), 3, 65536, np.uint16)).save(base / "train/deep.png")
  Image.fromarray(_rng_image((300, 512, 3), 4)).save(base / "train/tall.png")
  iu.write_ldr(base / "train/truncated.jpg", _photo(256, 512))
  data = (base / "train/truncated.jpg").read_bytes()
  (base / "train/truncated.jpg").write_bytes(data[:len(data) // 2])
  (base / "train/text.jpg").write_text("not an image")
  return root


def build(manual_dir, data_dir):
  builder = Sun360(data_dir=str(data_dir))
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
  return builder


class _Records(logging.Handler):
  def __init__(self):
    super().__init__(logging.INFO)
    self.messages = []

  def emit(self, record):
    self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  manual = make_fake_manual_dir(tmp_path_factory.mktemp("manual"))
  records = _Records()
  logger = logging.getLogger("datasets.manual_dir")
  logger.addHandler(records)
  try:
    builder = build(manual, tmp_path_factory.mktemp("data"))
  finally:
    logger.removeHandler(records)
  examples = {split: {ex["id"].decode(): ex for ex in builder.as_data_source(split)}
              for split in ("train", "test")}
  return builder, examples, records.messages, manual


def _source(manual, rel):
  return manual / "sun360" / rel


def test_example_counts_per_split(built):
  builder, examples, _, _ = built
  assert sorted(examples["train"]) == sorted(GOOD_TRAIN)
  assert sorted(examples["test"]) == sorted(GOOD_TEST)
  assert builder.info.splits["test"].num_examples == len(GOOD_TEST)


def test_no_id_in_two_splits(built):
  _, examples, _, _ = built
  assert not set(examples["train"]) & set(examples["test"])


def test_dtypes_and_shapes(built):
  _, examples, _, _ = built
  for split in examples.values():
    for ex in split.values():
      assert ex["ldr"].shape == (256, 512, 3) and ex["ldr"].dtype == np.uint8
      assert ex["ldr_gt"].shape == (256, 512, 3) and ex["ldr_gt"].dtype == np.uint8
      assert np.isfinite(ex["ev"]) and np.isfinite(ex["contrast"])


def test_right_size_png_is_the_ground_truth_unchanged(built):
  _, examples, _, manual = built
  want = np.asarray(Image.open(_source(manual, "test/good_0.png")))
  np.testing.assert_array_equal(examples["test"]["test/good_0.png"]["ldr_gt"], want)


def test_twice_too_large_jpeg_is_area_averaged(built):
  _, examples, _, manual = built
  full = np.asarray(Image.open(_source(manual, "train/big.JPG")).convert("RGB"), np.float64)
  want = full.reshape(256, 2, 512, 2, 3).mean(axis=(1, 3))
  got = examples["train"]["train/big.JPG"]["ldr_gt"].astype(np.float64)
  assert np.abs(got - want).mean() < 2.0  # JPEG DCT-domain draft decoding differs slightly


@pytest.mark.parametrize("rel, word", sorted(SKIPPED.items()))
def test_bad_file_is_skipped_with_its_reason(built, rel, word):
  builder, examples, _, _ = built
  reasons = dict(builder.skipped["train"])
  assert rel not in examples["train"]
  assert word in reasons[rel] and rel in reasons[rel]


def test_skips_are_logged_by_path_and_counted(built):
  _, _, messages, manual = built
  for rel in SKIPPED:
    assert any(str(_source(manual, rel)) in m for m in messages), rel
  assert any(f"skipped {len(SKIPPED)} of {len(GOOD_TRAIN) + len(SKIPPED)} files" in m
             for m in messages)


def test_grayscale_is_replicated(built):
  _, examples, _, manual = built
  gray = np.asarray(Image.open(_source(manual, "train/gray.png")))
  got = examples["train"]["train/gray.png"]["ldr_gt"]
  for c in range(3):
    np.testing.assert_array_equal(got[..., c], gray)


def test_rgba_drops_alpha(built):
  _, examples, _, manual = built
  rgba = np.asarray(Image.open(_source(manual, "train/rgba.png")))
  np.testing.assert_array_equal(examples["train"]["train/rgba.png"]["ldr_gt"], rgba[..., :3])


def test_16bit_png_is_rounded_to_8_bits(built):
  builder, examples, _, manual = built
  deep = np.asarray(Image.open(_source(manual, "train/deep.png"))).astype(np.float64)
  want = np.floor(deep * 255.0 / 65535.0 + 0.5).astype(np.uint8)
  got = examples["train"]["train/deep.png"]["ldr_gt"]
  np.testing.assert_array_equal(got[..., 0], want)
  assert builder.conversions["train"]["16-bit -> 8-bit (rounded)"] == 1


def test_wrong_size_is_centre_cropped(built):
  builder, examples, _, manual = built
  tall = np.asarray(Image.open(_source(manual, "train/tall.png")))
  np.testing.assert_array_equal(examples["train"]["train/tall.png"]["ldr_gt"], tall[22:278])
  assert builder.conversions["train"]["centre-cropped to 1:2"] == 1


def test_input_is_a_corruption_of_the_ground_truth(built):
  _, examples, _, _ = built
  ex = examples["test"]["test/good_1.png"]
  assert not np.array_equal(ex["ldr"], ex["ldr_gt"])
  # Exposure and contrast are monotone: brighter ground truth, brighter (or equal) input.
  gt, ldr = ex["ldr_gt"][..., 1].ravel(), ex["ldr"][..., 1].ravel()
  order = np.argsort(gt, kind="stable")
  assert np.all(np.diff(ldr[order].astype(int)) >= 0)


def test_rebuild_gives_identical_bytes(built, tmp_path):
  _, examples, _, manual = built
  again = build(manual, tmp_path)
  for ex in again.as_data_source("test"):
    first = examples["test"][ex["id"].decode()]
    assert ex["ldr"].tobytes() == first["ldr"].tobytes()
    assert ex["ldr_gt"].tobytes() == first["ldr_gt"].tobytes()


def test_missing_manual_dir_raises_with_instructions(tmp_path):
  with pytest.raises(AssertionError, match="SUN360") as info:
    build(tmp_path / "nowhere", tmp_path / "data")
  assert "sun360/train" in str(info.value)
