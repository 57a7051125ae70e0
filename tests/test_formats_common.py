"""drht_jax/formats/common.py: atomic writes (the usual file mode; nothing left behind by a
failed write) and the extension test."""

import os

import numpy as np
import pytest

from drht_jax.formats import common
from drht_jax.formats.ldr import write_ldr


def test_written_images_get_the_umask_mode_not_owner_only(tmp_path):
  old = os.umask(0o022)
  try:
    path = str(tmp_path / "out.png")
    write_ldr(path, np.zeros((4, 4, 3), np.uint8))
  finally:
    os.umask(old)
  assert os.stat(path).st_mode & 0o777 == 0o644


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary(tmp_path):
  def fail(tmp):
    with open(tmp, "w") as f:
      f.write("half")
    raise RuntimeError("disk full")
  with pytest.raises(RuntimeError, match="disk full"):
    common.atomic_write(str(tmp_path / "sub" / "x.png"), fail)
  assert os.listdir(tmp_path / "sub") == []


def test_has_extension_ignores_case():
  assert common.has_extension("a/B.JPG", (".jpg", ".png"))
  assert not common.has_extension("a/b.jpg.txt", (".jpg",))
