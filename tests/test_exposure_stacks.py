"""The exposure_stacks builder end to end on a tiny manual_dir of synthetic stacks.

  brackets/train/good_a/     3 frames, EV -2, 0, +2 (JPEG)      -> 2 examples
  brackets/train/good_b/     5 frames, EV -2, -0.5, 0, 1.5, 2.5 -> 3 examples
  brackets/train/single/     1 frame                            -> skipped
  brackets/train/sizes/      frames of different sizes           -> skipped
  brackets/train/broken/     an unreadable frame                 -> skipped
  brackets/test/good_c/      3 frames                            -> 2 examples
"""

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from datasets.exposure_stacks import exposure_stacks as es
from drht_jax import stacks

FIVE = (-2.0, -0.5, 0.0, 1.5, 2.5)  # middle index 2; -0.5 is < 1 EV away: not an example


def _radiance(seed, height=40, width=70):
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
  log2 = 7.0 * xx - 3.5 + 0.5 * np.sin(8 * yy + rng.uniform(0, 6))
  tint = 1 + 0.3 * np.sin(np.stack([5 * yy, 6 * xx, 7 * xx * yy], -1) + rng.uniform(0, 6))
  return np.exp2(log2)[..., None] * tint


def _write(folder, frames):
  folder.mkdir(parents=True, exist_ok=True)
  for i, frame in enumerate(frames):
    Image.fromarray(frame).save(folder / f"frame_{i:02d}.jpg", quality=95)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  root = tmp_path_factory.mktemp("manual")
  base = root / "brackets"
  _write(base / "train/good_a", stacks.synthetic_stack(_radiance(0), (-2.0, 0.0, 2.0), seed=1))
  _write(base / "train/good_b", stacks.synthetic_stack(_radiance(1), FIVE, seed=2))
  _write(base / "train/single", stacks.synthetic_stack(_radiance(2), (0.0,)))
  frames = stacks.synthetic_stack(_radiance(3), (-2.0, 0.0, 2.0))
  _write(base / "train/sizes", frames)
  Image.fromarray(frames[2][:20]).save(base / "train/sizes/frame_02.jpg")
  _write(base / "train/broken", stacks.synthetic_stack(_radiance(4), (-2.0, 0.0, 2.0)))
  (base / "train/broken/frame_00.jpg").write_bytes(b"\xff\xd8 truncated")
  _write(base / "test/good_c", stacks.synthetic_stack(_radiance(5), (-2.0, 0.0, 2.0), seed=3))
  builder = es.ExposureStacks(data_dir=str(tmp_path_factory.mktemp("tfds")))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(root)))
  return builder


def _examples(builder, split):
  source = builder.as_data_source(split=split)
  text = lambda v: v.decode() if isinstance(v, bytes) else v
  examples = [{k: text(v) for k, v in source[i].items()} for i in range(len(source))]
  return {ex["id"]: ex for ex in examples}


def test_every_frame_at_least_1_ev_from_the_middle_is_an_example(built):
  ids = set(_examples(built, "train"))
  assert ids == {"train/good_a/frame_00.jpg", "train/good_a/frame_02.jpg",
                 "train/good_b/frame_00.jpg", "train/good_b/frame_03.jpg",
                 "train/good_b/frame_04.jpg"}
  assert set(_examples(built, "test")) == {"test/good_c/frame_00.jpg", "test/good_c/frame_02.jpg"}


def test_bad_stacks_are_skipped_by_name_with_the_reason(built):
  reasons = dict(built.skipped["train"])
  assert set(reasons) == {"train/single", "train/sizes", "train/broken"}
  assert "at least 3" in reasons["train/single"]
  assert "one size" in reasons["train/sizes"]
  assert "frame_00.jpg" in reasons["train/broken"]
  assert built.skipped["test"] == []


def test_examples_hold_the_frame_both_references_and_the_normalised_hdr(built):
  ex = _examples(built, "test")["test/good_c/frame_00.jpg"]
  assert ex["ldr"].shape == ex["ldr_gt"].shape == ex["ldr_mid"].shape == (32, 64, 3)
  assert ex["ldr"].dtype == np.uint8 and ex["hdr"].dtype == np.float32
  assert ex["direction"] == "under" and ex["ev"] == pytest.approx(-2.0, abs=0.2)
  assert ex["ldr"].mean() < ex["ldr_mid"].mean()
  lum = ex["hdr"] @ np.array([0.2126, 0.7152, 0.0722])
  assert np.exp(np.mean(np.log(lum + 1e-6))) == pytest.approx(0.18, rel=1e-3)
  over = _examples(built, "test")["test/good_c/frame_02.jpg"]
  assert over["direction"] == "over" and over["ev"] > 1
  np.testing.assert_array_equal(over["ldr_gt"], ex["ldr_gt"])


def test_the_flat_layout_uses_the_fixed_split(tmp_path):
  for name in ("deepfuse_Seq_11", "deepfuse_Seq_00"):
    (tmp_path / name).mkdir()
  dirs = es.scene_dirs(str(tmp_path))
  assert [rel for rel, _ in dirs["test"]] == ["deepfuse_Seq_11"]
  assert [rel for rel, _ in dirs["train"]] == ["deepfuse_Seq_00"]


def test_the_fixed_split_has_19_test_scenes_of_both_sources():
  assert len(set(es.TEST_SCENES)) == 19
  assert {n.split("_")[0] for n in es.TEST_SCENES} == {"deepfuse", "forth"}
