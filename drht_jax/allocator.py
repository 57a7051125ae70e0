"""Host memory: keep freed memory in the process so XLA:CPU's step buffers are reused.

With glibc's defaults every buffer above 32 MB is a fresh `mmap` that `free` hands back to the
OS, and a worker thread's arena does the same, so each training step faults its whole working
set in again, page by page. `keep_freed_memory()` raises the trim and mmap thresholds and caps
the arenas, so step buffers stay mapped after the first steps (what it saves: bench/README.md).
The price: the process never returns freed memory to the OS (its resident size stays at its
peak), and now and then buffers freed in another order make the heap grow once more, a step
that faults the new pages in; it is steady again after that.
"""

import ctypes
import ctypes.util
import os

OPT_OUT_ENV = "DRHT_DEFAULT_MALLOC"   # set to 1 to keep glibc's defaults
# mallopt parameters (glibc malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8


def keep_freed_memory() -> bool:
  """Tells glibc malloc: one arena for all threads, no per-buffer mmap, never trim the heap.

  Call it before the first JAX computation (XLA's threads take their arena when they start).
  Returns True if applied; False on a non-glibc C library or when `DRHT_DEFAULT_MALLOC=1`.
  """
  if os.environ.get(OPT_OUT_ENV, "") not in ("", "0"):
    return False
  try:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    mallopt = libc.mallopt
  except (OSError, AttributeError):
    return False
  # -1 is SIZE_MAX once glibc converts it: no trimming at all.
  settings = ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, -1))
  return all(mallopt(param, value) == 1 for param, value in settings)
