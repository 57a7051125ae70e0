"""The city_scene builder on fake data: counts, schema, bad files, determinism, missing data.

The fake manual_dir (built once per module in tmp) follows the documented layout:
  city_scene/train/good_{0,1,2}.exr   32x64 RGB float32
  city_scene/train/sub/good.hdr       32x64 Radiance RGBE, in a sub-folder
  city_scene/train/gray.exr           32x64, one channel "Y" (-> replicated to RGB)
  city_scene/train/wide.exr           32x96: centre 32x64 uniform, 16-column borders 100x
  city_scene/train/nan.exr, inf.exr   one NaN / Inf pixel (-> skipped)
  city_scene/train/truncated.exr      half a file (-> skipped)
  city_scene/train/text.exr           not an EXR (-> skipped)
  city_scene/train/notes.txt          other extension (-> ignored)
  city_scene/test/good_{0,1}.exr
"""

import logging

import numpy as np
import OpenEXR
import pytest
import tensorflow_datasets as tfds

from datasets.city_scene.city_scene import CityScene
from drht_jax import imageio_utils as iu

GOOD_TRAIN = ["train/good_0.exr", "train/good_1.exr", "train/good_2.exr", "train/sub/good.hdr",
              "train/gray.exr", "train/wide.exr"]
GOOD_TEST = ["test/good_0.exr", "test/good_1.exr"]
SKIPPED = {"train/nan.exr": "NaN", "train/inf.exr": "Inf", "train/truncated.exr": "truncated",
           "train/text.exr": "unreadable"}


def _sky(rng, height=32, width=64):
  return (rng.random((height, width, 3)) * 4.0 + 0.1).astype(np.float32)


def make_fake_manual_dir(root):
  rng = np.random.default_rng(0)
  base = root / "city_scene"
  for name in ("train/good_0.exr", "train/good_1.exr", "train/good_2.exr",
               "test/good_0.exr", "test/good_1.exr"):
    iu.write_hdr(base / name, _sky(rng))
  iu.write_hdr(base / "train/sub/good.hdr", _sky(rng))
  header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
  with OpenEXR.File(header, {"Y": np.ascontiguousarray(_sky(rng)[..., 0])}) as exr:
    exr.write(str(base / "train/gray.exr"))
  wide = np.full((32, 96, 3), 100.0, np.float32)
  wide[:, 16:80] = 1.0
  iu.write_hdr(base / "train/wide.exr", wide)
  for name, value in (("nan", np.nan), ("inf", np.inf)):
    bad = _sky(rng)
    bad[5, 7, 1] = value
    iu.write_hdr(base / f"train/{name}.exr", bad, allow_invalid=True)
  iu.write_hdr(base / "train/truncated.exr", _sky(rng))
  data = (base / "train/truncated.exr").read_bytes()
  (base / "train/truncated.exr").write_bytes(data[:len(data) // 2])
  (base / "train/text.exr").write_text("not an image")
  (base / "train/notes.txt").write_text("ignored")
  return root


def build(manual_dir, data_dir):
  builder = CityScene(data_dir=str(data_dir))
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


def test_example_counts_per_split(built):
  builder, examples, _, _ = built
  assert sorted(examples["train"]) == sorted(GOOD_TRAIN)
  assert sorted(examples["test"]) == sorted(GOOD_TEST)
  assert builder.info.splits["train"].num_examples == len(GOOD_TRAIN)


def test_no_id_in_two_splits(built):
  _, examples, _, _ = built
  assert not set(examples["train"]) & set(examples["test"])


def test_dtypes_shapes_and_finite_values(built):
  _, examples, _, _ = built
  for split in examples.values():
    for ex in split.values():
      assert ex["hdr"].shape == (64, 128, 3) and ex["hdr"].dtype == np.float32
      assert ex["ldr"].shape == (64, 128, 3) and ex["ldr"].dtype == np.uint8
      assert ex["ldr_gt"].shape == (64, 128, 3) and ex["ldr_gt"].dtype == np.uint8
      assert np.all(np.isfinite(ex["hdr"])) and np.all(ex["hdr"] >= 0)
      assert np.isfinite(ex["ev"]) and -6 <= ex["ev"] <= 3


def test_hdr_is_exposure_normalised(built):
  _, examples, _, _ = built
  hdr = examples["train"]["train/good_0.exr"]["hdr"].astype(np.float64)
  lum = hdr @ np.array([0.2126, 0.7152, 0.0722])
  assert np.exp(np.mean(np.log(lum + 1e-6))) == pytest.approx(0.18, rel=1e-3)


@pytest.mark.parametrize("rel, word", sorted(SKIPPED.items()))
def test_bad_file_is_skipped_with_its_reason(built, rel, word):
  builder, examples, _, _ = built
  reasons = dict(builder.skipped["train"])
  assert rel not in examples["train"]
  assert word in reasons[rel] and rel in reasons[rel]


def test_skips_are_logged_by_path_and_counted(built):
  _, _, messages, manual = built
  for rel in SKIPPED:
    assert any(str(manual / "city_scene" / rel) in m for m in messages), rel
  assert any(f"skipped {len(SKIPPED)} of {len(GOOD_TRAIN) + len(SKIPPED)} files" in m
             for m in messages)


def test_grayscale_exr_is_replicated_to_rgb(built):
  builder, examples, _, _ = built
  hdr = examples["train"]["train/gray.exr"]["hdr"]
  np.testing.assert_array_equal(hdr[..., 0], hdr[..., 1])
  np.testing.assert_array_equal(hdr[..., 0], hdr[..., 2])
  assert any("replicated" in c for c in builder.conversions["train"])


def test_wrong_aspect_is_centre_cropped(built):
  # The 100x borders lie outside the centre 1:2 crop: what remains is uniform.
  builder, examples, _, _ = built
  hdr = examples["train"]["train/wide.exr"]["hdr"]
  np.testing.assert_allclose(hdr, np.full_like(hdr, hdr[0, 0, 0]), rtol=1e-5)
  assert builder.conversions["train"]["centre-cropped to 1:2"] == 1


def test_radiance_hdr_file_in_subfolder_is_used(built):
  _, examples, _, _ = built
  assert examples["train"]["train/sub/good.hdr"]["ldr"].any()


def test_rebuild_gives_identical_bytes(built, tmp_path):
  _, examples, _, manual = built
  again = build(manual, tmp_path)
  for ex in again.as_data_source("test"):
    first = examples["test"][ex["id"].decode()]
    for key in ("hdr", "ldr", "ldr_gt"):
      assert ex[key].tobytes() == first[key].tobytes()


def test_data_source_reads_without_builder(built):
  builder, _, _, _ = built
  source = tfds.data_source("city_scene", data_dir=builder.data_dir_root, split="test")
  assert len(source) == len(GOOD_TEST)


def test_missing_manual_dir_raises_with_instructions(tmp_path):
  with pytest.raises(AssertionError, match="Zhang & Lalonde") as info:
    build(tmp_path / "nowhere", tmp_path / "data")
  assert "city_scene/train" in str(info.value)


def test_manual_dir_without_split_folders_names_them(tmp_path):
  (tmp_path / "manual" / "city_scene" / "train").mkdir(parents=True)
  with pytest.raises(AssertionError, match="city_scene/test") as info:
    build(tmp_path / "manual", tmp_path / "data")
  assert "Zhang & Lalonde" in str(info.value)
