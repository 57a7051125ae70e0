"""What every image reader and writer of drht_jax/formats shares: the errors a bad file (or a
bad data set) raises,
the extension test, and the atomic write (a temporary file next to the target, then
`os.replace`, so a reader never sees half a file)."""

import os
import tempfile


class ImageReadError(ValueError):
  """A file could not be read as the image it should be. The message starts with the path."""


class DataError(ValueError):
  """A data set that cannot be read as it is: the message says what and what to run."""


def check_exists(path: str) -> None:
  """FileNotFoundError naming `path` unless it is an existing file; returns None."""
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{path}: no such file")


def has_extension(path, extensions) -> bool:
  """Whether `path` ends with one of `extensions`, ignoring case (`.JPG` is a JPEG)."""
  return os.fspath(path).lower().endswith(tuple(extensions))


def atomic_write(path: str, write_fn) -> None:
  """Calls `write_fn(tmp_path)` on a temporary file next to `path`, then renames it."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  suffix = os.path.splitext(path)[1]
  fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
  os.close(fd)
  try:
    write_fn(tmp)
    # mkstemp makes the file owner-only (0600); a written image gets the mode any new file gets.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
