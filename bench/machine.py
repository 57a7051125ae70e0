"""The machine and environment a benchmark ran on: the bullet lines above each table in
bench/RESULTS.md, so that figures from different machines, versions and loads are not
compared blindly."""

import os
import platform
import shlex
import subprocess
import sys

import jax
import jaxlib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_model() -> str:
  """The CPU's model name from /proc/cpuinfo (Linux), else `platform.processor()`."""
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"


def git_revision() -> str:
  """The short HEAD commit, marked when tracked files have uncommitted changes."""
  try:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                          capture_output=True, timeout=10).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                           text=True, capture_output=True, timeout=10).stdout.strip()
    return (head or "unknown") + (" (uncommitted changes)" if dirty else "")
  except (OSError, subprocess.SubprocessError):
    return "unknown"


def machine_header(date: str, mode: str, load_start: float) -> list:
  """Markdown bullet lines: date, command, CPU, cores, device, versions, git, load. The
  machine counts as busy if the 1-minute load average before the run exceeded half the
  usable cores."""
  cores = len(os.sched_getaffinity(0))
  cache_dir = jax.config.jax_compilation_cache_dir
  cache = (f"on ({cache_dir})" if jax.config.jax_enable_compilation_cache and cache_dir
           else "off")
  return [
      f"- date: {date}",
      f"- command: `{shlex.join(['python'] + sys.argv)}` ({mode} mode)",
      f"- CPU: {cpu_model()}; os.cpu_count() = {os.cpu_count()}, usable cores "
      f"(sched_getaffinity) = {cores}",
      f"- device: {jax.devices()[0].platform} / {jax.devices()[0].device_kind} "
      f"x {jax.device_count()}",
      f"- JAX {jax.__version__}, jaxlib {jaxlib.__version__}; persistent compilation cache: "
      f"{cache}",
      f"- git: {git_revision()}",
      f"- load average (1 min) at start: {load_start:.2f}, at end: {os.getloadavg()[0]:.2f}"
      + (" -- BUSY MACHINE: other processes were running, times are pessimistic"
         if load_start > 0.5 * cores else ""),
  ]
