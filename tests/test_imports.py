"""The import graph between the top-level packages: one direction only (issue 20).

configs -> nothing of the project but `configs.default`; drht_jax (the library) -> nothing of
datasets, configs or bench; datasets (the TFDS builders) -> drht_jax. Data set builders are
found by module name at run time (`input_pipeline.BUILDER_MODULES`, as TFDS finds builders),
not imported by the library.
"""

import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("drht_jax", "datasets", "configs", "bench")


def _imported_packages(package):
  """{top-level project package imported anywhere in `package`'s .py files: [file, ...]}."""
  found = {}
  for folder, _, files in os.walk(os.path.join(REPO, package)):
    for name in files:
      if not name.endswith(".py"):
        continue
      path = os.path.join(folder, name)
      with open(path) as f:
        tree = ast.parse(f.read(), path)
      for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module] if isinstance(node, ast.ImportFrom) and node.module
                 and not node.level else [])
        for module in names:
          top = module.split(".")[0]
          if top in PACKAGES and top != package:
            found.setdefault(top, []).append(os.path.relpath(path, REPO))
  return found


@pytest.mark.parametrize("package, allowed", [
    ("drht_jax", set()),
    ("datasets", {"drht_jax"}),
    ("configs", set()),
])
def test_package_imports_only_what_lies_below_it(package, allowed):
  found = _imported_packages(package)
  assert set(found) <= allowed, {k: v for k, v in found.items() if k not in allowed}


def test_the_scan_sees_an_import():
  assert "drht_jax" in _imported_packages("datasets")
