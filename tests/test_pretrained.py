"""The released model, `pretrained/`: on a fresh clone, `eval.py --workdir=pretrained --input=...`
corrects real photos with no training first, and the result beats the uncorrected input.

The photos are scikit-image's (installed with requirements.txt), given an exposure error as the
`photos` data set does and saved as JPEG (quality 95), the way a user's photos arrive. The
model never saw them: it was trained on rendered scenes only (pretrained/report.md).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from datasets.photos import photos
from drht_jax import imageio_utils, metrics

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRETRAINED = os.path.join(REPO, "pretrained")
# (photo, exposure error in stops): one under- and one over-exposed.
CASES = (("motorcycle_left", -2.0), ("chelsea", 1.5))
MAX_MB = 25


def _size_mb(folder):
  return sum(os.path.getsize(os.path.join(d, f))
             for d, _, files in os.walk(folder) for f in files) / 2**20


def _read(path):
  return imageio_utils.read_ldr(path).pixels.astype(np.float32)


@pytest.fixture(scope="module")
def corrected(tmp_path_factory):
  """{photo: (input, output, original)} as `[H, W, 3]` float32 in [0, 1]."""
  folder = tmp_path_factory.mktemp("photos")
  for name, ev in CASES:
    photos.write_corrupted(folder, [name], ev, ext=".jpg")
  out = folder / "out"
  result = subprocess.run(
      [sys.executable, os.path.join(REPO, "eval.py"), f"--workdir={PRETRAINED}",
       f"--input={folder / 'input' / '*.jpg'}", f"--output={out}"],
      capture_output=True, text=True, cwd=REPO, timeout=600)
  assert result.returncode == 0, result.stdout + result.stderr
  images = {}
  for name, ev in CASES:
    stem = f"{name}_ev{ev:+.1f}"
    images[name] = (_read(folder / "input" / f"{stem}.jpg"),
                    _read(out / f"{stem}.jpg"),  # JPEG in, JPEG out
                    _read(folder / "original" / f"{name}.jpg"))
  return images


def test_pretrained_is_a_small_documented_inference_workdir():
  assert os.path.isfile(os.path.join(PRETRAINED, "config.json"))
  assert os.path.isfile(os.path.join(PRETRAINED, "report.md"))
  assert _size_mb(PRETRAINED) <= MAX_MB


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name, _ in CASES])
def test_pretrained_beats_the_uncorrected_photo_in_psnr_and_ssim(corrected, name):
  inp, out, ref = corrected[name]
  assert out.shape == inp.shape
  assert float(metrics.psnr(out, ref)) > float(metrics.psnr(inp, ref))
  assert float(metrics.ssim(out, ref)) > float(metrics.ssim(inp, ref))


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name, _ in CASES])
def test_pretrained_paints_no_32_pixel_block_pattern(corrected, name):
  _, out, ref = corrected[name]
  assert float(metrics.block_artifact_excess(out, ref)) < 0.1
