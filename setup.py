"""setuptools hooks for pyproject.toml (metadata lives there).

- Dependencies: requirements.txt, the pinned tested set; the lines after its "# Tests."
  comment become the `test` extra.
- Package data that lives outside the packages in the repository: `pretrained/` (the released
  model, whatever it holds at build time) -> `drht_jax/pretrained/`, and train.py / eval.py ->
  `drht_jax/_scripts/` (what `drht-train` / `drht-eval` run). Copied into the build folder
  only; the source tree is not changed.
"""

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLED_SCRIPTS = ("train.py", "eval.py")
PRETRAINED = "pretrained"


def requirements():
  """requirements.txt -> (install_requires, test extra)."""
  runtime, test, current = [], [], None
  current = runtime
  with open(os.path.join(HERE, "requirements.txt")) as f:
    for line in f:
      text = line.strip()
      if text.startswith("# Tests"):
        current = test
      text = text.split("#", 1)[0].strip()
      if text:
        current.append(text)
  return runtime, test


class BuildPyWithModel(build_py):
  """build_py + the released weights and the two scripts, into the built drht_jax/."""

  def run(self):
    super().run()
    target = os.path.join(self.build_lib, "drht_jax")
    source = os.path.join(HERE, PRETRAINED)
    if os.path.isdir(os.path.join(source, "checkpoints")):
      shutil.copytree(source, os.path.join(target, PRETRAINED), dirs_exist_ok=True)
    else:
      raise SystemExit(f"setup.py: {source}/checkpoints not found; the package ships the "
                       "released model (see README, 'Correct your photos')")
    os.makedirs(os.path.join(target, "_scripts"), exist_ok=True)
    for name in BUNDLED_SCRIPTS:
      shutil.copy2(os.path.join(HERE, name), os.path.join(target, "_scripts", name))


RUNTIME, TEST = requirements()
setup(install_requires=RUNTIME, extras_require={"test": TEST},
      cmdclass={"build_py": BuildPyWithModel})
