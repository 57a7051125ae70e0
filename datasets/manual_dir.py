"""What the manual_dir builders (city_scene, sun360) share: finding the user's files, the
per-file loop that skips bad files by name with a count, and array_record by default."""

import collections
import logging
import os

import tensorflow_datasets as tfds

from drht_jax import imageio_utils

_LOG = logging.getLogger(__name__)
SPLITS = ("train", "test")


def list_files(split_dir, extensions):
  """Files under `split_dir` (recursively) with one of `extensions` (any case), sorted;
  hidden files (`.name`, e.g. macOS `._x.exr` forks) are left out. Returns (files, n_other)."""
  files, n_other = [], 0
  for root, dirs, names in os.walk(split_dir):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    for name in names:
      if name.startswith("."):
        continue
      if imageio_utils.has_extension(name, extensions):
        files.append(os.path.join(root, name))
      else:
        n_other += 1
  return sorted(files), n_other


def split_dirs(manual_dir, folder, instructions):
  """`{split: <manual_dir>/<folder>/<split>}`; an AssertionError with the instructions (like
  tfds's own for a missing manual_dir) if a folder is missing."""
  root = os.path.join(os.fspath(manual_dir), folder)
  missing = [s for s in SPLITS if not os.path.isdir(os.path.join(root, s))]
  if missing:
    raise AssertionError(
        f"Manual directory {manual_dir} lacks {', '.join(os.path.join(root, s) for s in missing)}."
        f" Create it using instructions:\n{instructions}")
  return {s: os.path.join(root, s) for s in SPLITS}


def read_error(path, error) -> str:
  """A reason that starts with the path, whatever the exception's own message says."""
  reason = str(error)
  return reason if reason.startswith(path) else f"{path}: {reason}"


class ManualDirBuilder(tfds.core.GeneratorBasedBuilder):
  """Base of builders over `<manual_dir>/<FOLDER>/{train,test}/` files with `EXTENSIONS`.

  Subclasses define `_info` and `_load(path, rel) -> (example | None, reason, conversions)`.
  After a build, `skipped[split]` lists `(relative path, reason)` of the files left out and
  `conversions[split]` counts the documented conversions applied."""

  FOLDER = None
  EXTENSIONS = ()

  def __init__(self, *, file_format="array_record", **kwargs):
    """As `GeneratorBasedBuilder`, but writes `array_record` by default (read with
    `tfds.data_source`, no TensorFlow needed)."""
    super().__init__(file_format=file_format, **kwargs)
    self.skipped = {}      # split -> [(relative path, reason)], filled by a build
    self.conversions = {}  # split -> Counter of conversion descriptions

  def _split_generators(self, dl_manager):
    dirs = split_dirs(dl_manager.manual_dir, self.FOLDER, self.MANUAL_DOWNLOAD_INSTRUCTIONS)
    root = os.path.dirname(dirs["train"])
    return {split: self._generate_examples(root, split, path) for split, path in dirs.items()}

  def _generate_examples(self, root, split, split_dir):
    files, n_other = list_files(split_dir, self.EXTENSIONS)
    skipped = self.skipped.setdefault(split, [])
    conversions = self.conversions.setdefault(split, collections.Counter())
    if n_other:
      _LOG.info("%s: ignored %d files without an extension of %s", split_dir, n_other,
                self.EXTENSIONS)
    for path in files:
      rel = os.path.relpath(path, root).replace(os.sep, "/")
      example, reason, notes = self._load(path, rel)
      if example is None:
        skipped.append((rel, reason))
        _LOG.warning("%s: skipping %s", self.FOLDER, reason)
        continue
      conversions.update(notes)
      yield rel, example
    _LOG.warning("%s/%s: %d examples, skipped %d of %d files%s", self.FOLDER, split,
                 len(files) - len(skipped), len(skipped), len(files),
                 "".join(f"; {n}x {c}" for c, n in sorted(conversions.items())))

  def _load(self, path, rel):
    raise NotImplementedError
