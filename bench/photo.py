"""Benchmark: correcting one 12 MP photo, `--mode=full` vs `--mode=guided`, time and peak memory.

    python bench/photo.py [--workdir=pretrained] [--size=3000x4000] [--modes=full,guided]
        [--working_size=256]

For each mode, in a fresh child process (so its peak RSS is its own, from `os.wait4`):
  cli s       `python eval.py --workdir=... --input=big.jpg --output=...`, wall time of the whole
              command (interpreter start, checkpoint restore, JPEG decode, compilation, JPEG
              encode): what a user waits for; cli CPU s: its user + system CPU seconds
              (all threads), the steadier figure on a shared machine;
  cold s      `inference.correct` in-process, first call (compilation included);
  warm s      the same call again (compiled);
  read s / write s   JPEG decode (`imageio_utils.read_ldr`) / encode (`write_ldr`, quality 95);
  peak RSS    of the child that ran the in-process calls, and of the CLI command.
The photo is procedural (smooth gradients, sharp edges, texture and noise, under-exposed;
seeded), written as a JPEG into a temporary folder. Prints one Markdown table with the load
average (the machine may be shared: read the numbers with it).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def make_photo(path: str, height: int, width: int, seed: int = 0) -> None:
  from drht_jax import imageio_utils  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:height, 0:width].astype(np.float32)
  y /= height
  x /= width
  base = np.stack([0.3 + 0.2 * np.sin(6 * x + 2 * y), 0.25 + 0.15 * np.cos(5 * y),
                   0.2 + 0.1 * np.sin(9 * x * y)], axis=-1)
  blocks = ((np.floor(x * 12) + np.floor(y * 9)) % 2)[..., None] * 0.25   # sharp edges
  sky = (y < 0.3)[..., None] * np.array([0.4, 0.45, 0.6], np.float32)    # a bright region
  image = 0.35 * (base + blocks) + sky + rng.normal(0, 0.01, (height, width, 3))
  imageio_utils.write_ldr(path, np.clip(image, 0, 1).astype(np.float32))


def _run(cmd):
  """Runs `cmd`; returns (returncode, stdout, wall seconds, peak RSS GiB of the child, its CPU
  seconds: user + system, all threads; on a busy machine the CPU time is the steadier figure)."""
  start = time.perf_counter()
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          cwd=REPO)
  out = proc.stdout.read()
  _, status, usage = os.wait4(proc.pid, 0)
  proc.returncode = os.waitstatus_to_exitcode(status)
  return (proc.returncode, out, time.perf_counter() - start, usage.ru_maxrss / 2**20,
          usage.ru_utime + usage.ru_stime)


def child(args) -> None:
  """In-process timings for one mode; prints one JSON line."""
  from drht_jax import allocator  # pylint: disable=g-import-not-at-top
  allocator.keep_freed_memory()
  from drht_jax import api, imageio_utils, inference  # pylint: disable=g-import-not-at-top
  corrector = api.load(args.workdir, mode=args.modes, working_size=args.working_size)
  start = time.perf_counter()
  image = imageio_utils.read_ldr(args.photo).pixels
  read_s = time.perf_counter() - start
  times = []
  for _ in range(2):
    start = time.perf_counter()
    corrected, _ = inference.correct(corrector.model, corrector.variables, image,
                                     mode=args.modes, working_size=args.working_size,
                                     want_hdr=False)
    times.append(time.perf_counter() - start)
  start = time.perf_counter()
  imageio_utils.write_ldr(os.path.join(os.path.dirname(args.photo), f"out-{args.modes}.jpg"),
                          corrected)
  write_s = time.perf_counter() - start
  print(json.dumps({"read_s": read_s, "cold_s": times[0], "warm_s": times[1],
                    "write_s": write_s}))


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--workdir", default="pretrained")
  p.add_argument("--size", default="3000x4000", help="HxW of the photo")
  p.add_argument("--modes", default="full,guided")
  p.add_argument("--working_size", type=int, default=256)
  p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
  p.add_argument("--photo", help=argparse.SUPPRESS)
  args = p.parse_args()
  if args.child:
    return child(args)
  height, width = (int(v) for v in args.size.split("x"))
  rows = []
  with tempfile.TemporaryDirectory(prefix="drht-bench-photo-") as folder:
    photo = os.path.join(folder, "big.jpg")
    make_photo(photo, height, width)
    for mode in args.modes.split(","):
      code, out, _, rss, _ = _run([sys.executable, __file__, "--child", f"--photo={photo}",
                                f"--workdir={args.workdir}", f"--modes={mode}",
                                f"--working_size={args.working_size}"])
      if code != 0:
        sys.exit(f"bench/photo.py: {mode} child failed:\n{out[-3000:]}")
      timings = json.loads(out.strip().splitlines()[-1])
      code, out, cli_s, cli_rss, cli_cpu = _run(
          [sys.executable, "eval.py", f"--workdir={args.workdir}", f"--input={photo}",
           f"--output={folder}/cli-{mode}", f"--mode={mode}",
           f"--working_size={args.working_size}"])
      if code != 0:
        sys.exit(f"bench/photo.py: eval.py --mode={mode} failed:\n{out[-3000:]}")
      rows.append((mode, cli_s, cli_cpu, cli_rss, timings, rss))
  load = os.getloadavg()
  setting = f"{height}x{width} ({height * width / 1e6:.1f} MP) JPEG"
  print(f"\n`python bench/photo.py --size={args.size} --working_size={args.working_size}`, "
        f"{args.workdir}, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}, "
        f"{os.cpu_count()} CPUs\n")
  print("| photo | mode | cli s | cli CPU s | cli peak RSS GiB | cold s | warm s | read s | "
        "write s | peak RSS GiB (in-process) |")
  print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
  for mode, cli_s, cli_cpu, cli_rss, t, rss in rows:
    label = mode if mode == "full" else f"guided, working size {args.working_size}"
    print(f"| {setting} | {label} | {cli_s:.2f} | {cli_cpu:.1f} | {cli_rss:.2f} | "
          f"{t['cold_s']:.2f} | {t['warm_s']:.2f} | {t['read_s']:.2f} | {t['write_s']:.2f} | "
          f"{rss:.2f} |")
  return 0


if __name__ == "__main__":
  sys.exit(main())
