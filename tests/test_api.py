"""The Python API: `drht_jax.load("pretrained")` -> `.correct(image)` / `.hdr(image)`."""

import os

import numpy as np
import pytest

import drht_jax
from drht_jax import api

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def model():
  return drht_jax.load("pretrained")


def _photo(height=40, width=70, seed=0):
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:height, 0:width]
  image = 0.2 + 0.1 * np.sin(x / 5.0)[..., None] + rng.uniform(0, 0.05, (height, width, 3))
  return np.round(image * 255).astype(np.uint8)


def test_load_pretrained_finds_the_released_model(model):
  assert os.path.samefile(model.workdir, os.path.join(REPO, "pretrained"))
  assert model.step > 0


def test_pretrained_is_found_from_another_folder(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert os.path.samefile(api.resolve_workdir("pretrained"), os.path.join(REPO, "pretrained"))


def test_correct_keeps_uint8_in_uint8_out(model):
  photo = _photo()
  out = model.correct(photo)
  assert out.dtype == np.uint8 and out.shape == photo.shape
  assert not np.array_equal(out, photo)


def test_correct_of_float_returns_float_in_unit_range_matching_uint8(model):
  photo = _photo()
  out = model.correct(photo.astype(np.float32) / 255.0)
  assert out.dtype == np.float32 and out.shape == photo.shape
  assert out.min() >= 0.0 and out.max() <= 1.0
  np.testing.assert_array_equal(np.round(out * 255).astype(np.uint8), model.correct(photo))


def test_hdr_returns_nonnegative_linear_radiance(model):
  radiance = model.hdr(_photo())
  assert radiance.dtype == np.float32 and radiance.shape == (40, 70, 3)
  assert radiance.min() >= 0.0 and np.isfinite(radiance).all()


def test_correct_rejects_a_grayscale_array_naming_the_shape(model):
  with pytest.raises(ValueError, match=r"expected one \[H, W, 3\] image, got shape \(40, 70\)"):
    model.correct(np.zeros((40, 70), np.uint8))


def test_load_of_a_missing_folder_names_it(tmp_path):
  with pytest.raises(FileNotFoundError, match="no-such-run: no such folder"):
    drht_jax.load(str(tmp_path / "no-such-run"))


def test_load_of_a_folder_without_checkpoints_says_so(tmp_path):
  with pytest.raises(FileNotFoundError, match="no checkpoints/ folder"):
    drht_jax.load(str(tmp_path))


def test_correct_photos_takes_several_inputs_and_writes_each(tmp_path):
  from drht_jax import evaluate, imageio_utils  # pylint: disable=g-import-not-at-top
  for name in ("a.png", "b.png"):
    imageio_utils.write_ldr(str(tmp_path / name), _photo())
  code = evaluate.correct_photos(os.path.join(REPO, "pretrained"),
                                 [str(tmp_path / "a.png"), str(tmp_path / "*.png")],
                                 str(tmp_path / "out"))
  assert code == 0
  assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "b.png"]


def test_correct_photos_rejects_tiles_in_guided_mode_with_exit_code_2(tmp_path):
  import io  # pylint: disable=g-import-not-at-top
  from drht_jax import evaluate, imageio_utils  # pylint: disable=g-import-not-at-top
  imageio_utils.write_ldr(str(tmp_path / "a.png"), _photo())
  err = io.StringIO()
  code = evaluate.correct_photos(os.path.join(REPO, "pretrained"), str(tmp_path / "a.png"),
                                 str(tmp_path / "out"), mode="guided", tile=64, err=err)
  assert code == 2
  assert "--tile applies to --mode=full only" in err.getvalue()
