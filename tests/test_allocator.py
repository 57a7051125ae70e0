"""allocator.keep_freed_memory: a freed large buffer is reused without new page faults."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Allocates, touches and frees a 256 MB buffer twice; prints the minor page faults of the
# second round (a reused buffer: ~0; a fresh mmap: one per 4 KB page, ~65,000).
_PROBE = """
import ctypes, json, resource, sys
sys.path.insert(0, {repo!r})
from drht_jax import allocator
applied = allocator.keep_freed_memory()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def round_trip():  # as XLA:CPU does with a step's buffers
  p = libc.malloc(256 << 20); ctypes.memset(p, 1, 256 << 20); libc.free(p)
round_trip()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
round_trip()
print(json.dumps({{"applied": applied,
                  "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}}))
"""


def _probe(opt_out: bool):
  env = dict(os.environ)
  env.pop("DRHT_DEFAULT_MALLOC", None)
  if opt_out:
    env["DRHT_DEFAULT_MALLOC"] = "1"
  out = subprocess.run([sys.executable, "-c", _PROBE.format(repo=REPO)], env=env,
                       capture_output=True, text=True, check=True, timeout=120)
  return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning")
def test_a_freed_buffer_is_reused_without_page_faults():
  tuned, default = _probe(opt_out=False), _probe(opt_out=True)
  assert tuned["applied"] and not default["applied"]
  assert default["faults"] > 30_000, default   # glibc's default: a fresh mmap each time
  assert tuned["faults"] < 1_000, tuned
