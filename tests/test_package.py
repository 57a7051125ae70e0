"""The installable package: the wheel's contents, its console scripts, and `drht-correct` run
from another folder on the weights shipped inside it. Offline: the wheel is built from a copy of
the source files with `pip wheel --no-deps --no-build-isolation` (setuptools from
requirements.txt) and installed with `pip install --no-deps --target`; the pinned dependencies
come from this test's own environment (PYTHONPATH)."""

import email
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from drht_jax import imageio_utils

pytestmark = pytest.mark.slow
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ("drht_jax", "datasets", "configs", "pretrained", "train.py", "eval.py", "setup.py",
           "pyproject.toml", "README.md", "requirements.txt")


def _pip(*args, cwd=None):
  result = subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True,
                          text=True, check=False)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
  clone = tmp_path_factory.mktemp("clone")
  for name in SOURCES:
    source, target = os.path.join(REPO, name), os.path.join(clone, name)
    if os.path.isdir(source):
      shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
      shutil.copy2(source, target)
  out = tmp_path_factory.mktemp("wheel")
  _pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), ".", cwd=clone)
  (path,) = [os.path.join(out, f) for f in os.listdir(out) if f.endswith(".whl")]
  return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
  target = tmp_path_factory.mktemp("site")
  _pip("install", "--no-deps", "-q", "--target", str(target), wheel)
  return target


def _names(wheel):
  with zipfile.ZipFile(wheel) as z:
    return z.namelist()


def _metadata(wheel, name):
  with zipfile.ZipFile(wheel) as z:
    (path,) = [n for n in z.namelist() if n.endswith(".dist-info/" + name)]
    return z.read(path).decode()


def test_wheel_ships_the_released_weights_as_they_are_in_pretrained(wheel):
  names = set(_names(wheel))
  for root, _, files in os.walk(os.path.join(REPO, "pretrained")):
    for f in files:
      relative = os.path.relpath(os.path.join(root, f), REPO)
      assert "drht_jax/" + relative.replace(os.sep, "/") in names


def test_wheel_holds_the_packages_the_page_and_the_scripts(wheel):
  names = set(_names(wheel))
  for name in ("drht_jax/inference.py", "drht_jax/static/index.html", "configs/release.py",
               "datasets/rendered/rendered.py", "drht_jax/_scripts/train.py",
               "drht_jax/_scripts/eval.py"):
    assert name in names, name
  for root, _, files in os.walk(os.path.join(REPO, "drht_jax")):   # data files next to code
    for f in files:
      if f.endswith((".npz", ".json", ".html")):
        relative = os.path.relpath(os.path.join(root, f), REPO).replace(os.sep, "/")
        assert relative in names, relative
  assert not any(n.startswith("tests/") for n in names)


def test_wheel_declares_the_three_console_scripts(wheel):
  entry_points = _metadata(wheel, "entry_points.txt")
  for line in ("drht-correct = drht_jax.cli:correct_main", "drht-eval = drht_jax.cli:evaluate",
               "drht-train = drht_jax.cli:train"):
    assert line in entry_points


def test_wheel_requires_the_pinned_runtime_set_of_requirements_txt(wheel):
  requires = email.message_from_string(_metadata(wheel, "METADATA")).get_all("Requires-Dist")
  runtime = [r for r in requires if "extra ==" not in r]
  with open(os.path.join(REPO, "requirements.txt")) as f:
    pins = [line.split("#")[0].strip() for line in f]
  assert "jax==0.10.2" in runtime and "pillow==13.0.0" in runtime
  assert all("==" in r for r in runtime)
  assert not any(r.startswith("pytest") for r in runtime)
  assert set(runtime) <= set(p for p in pins if p)


def _run(installed, cwd, *args):
  env = dict(os.environ, PYTHONPATH=str(installed))
  script = os.path.join(installed, "bin", args[0])
  return subprocess.run([sys.executable, script, *args[1:]], cwd=cwd, env=env,
                        capture_output=True, text=True, check=False, timeout=600)


def test_drht_correct_from_another_folder_uses_the_packaged_weights(installed, tmp_path):
  photo = (np.random.default_rng(0).uniform(0.05, 0.3, (40, 60, 3)) * 255).astype(np.uint8)
  imageio_utils.write_ldr(str(tmp_path / "dark.png"), photo)
  result = _run(installed, tmp_path, "drht-correct", "dark.png", "-o", "out")
  assert result.returncode == 0, result.stderr[-3000:]
  assert os.path.join(str(installed), "drht_jax", "pretrained") in result.stdout
  assert imageio_utils.read_ldr(str(tmp_path / "out" / "dark.png")).pixels.shape == (40, 60, 3)


def test_drht_correct_exits_2_naming_an_input_that_matches_nothing(installed, tmp_path):
  result = _run(installed, tmp_path, "drht-correct", "missing.jpg", "-o", "out")
  assert result.returncode == 2
  assert "missing.jpg: no files matched" in result.stderr


def test_drht_train_finds_the_packaged_configs(installed, tmp_path):
  result = _run(installed, tmp_path, "drht-train", "--config=nope")
  assert result.returncode != 0
  assert "unknown config 'nope'" in result.stderr and "release" in result.stderr
