"""Ablations of docs/ablations.md: same data, same budget, one change per row.

    python experiments/ablate.py --preset=gpu [--rows=recipe,eps1] [--parallel=10]
trains every row (`train.py --config=ablation` plus the row's overrides) as parallel
subprocesses, evaluates each on both test protocols (`test_64x128`, `test_256x512`) with
BatchNorm's running statistics and with the test batch's own statistics, and writes
`<root>/ablations.json` and the table `<root>/ablations.md` (copied into docs/ by hand).
`--preset=tiny` runs the whole thing in a minute on a CPU (a smoke test, numbers meaningless).
"""

import argparse
import concurrent.futures
import dataclasses
import json
import os
import subprocess
import sys
import time
from typing import Optional, Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTOCOLS = ("test_64x128", "test_256x512")


@dataclasses.dataclass(frozen=True)
class Row:
  name: str
  change: str                     # what this row changes against `recipe`, one line
  overrides: Sequence[str] = ()   # train.py flags
  after: Optional[str] = None     # a row whose checkpoint this one starts from
  config: str = "ablation"


ROWS = (
    Row("recipe", "the baseline: `configs/ablation.py` (fresh corruptions, crops at scales "
        "1/4-1 with the whole scene 1/4 of the time, hdr then joint with eps 100 and "
        "hierarchical supervision, lr 1e-3)"),
    Row("fewscenes", "a fifth of the training scenes (the first ones of the same set)",
        ["--config.data.max_train_records={few_scenes}"]),
    Row("frozen", "one corruption per scene, frozen (as the old data set's build-time "
        "corruptions)", ["--config.data.fresh_corruptions=False"]),
    Row("patches", "crops at scales 1/4-1/2 only: never the whole scene the test protocols "
        "show", ["--config.data.crop_scale=(0.25,0.5)", "--config.data.whole_scene_prob=0.0"]),
    Row("eps1", "eps = 1 in Eq. 4", ["--config.stages.joint.eps=1.0"]),
    Row("eps0", "eps = 0: no HDR term in the joint stage", ["--config.stages.joint.eps=0.0"]),
    Row("flat", "no hierarchical supervision: every f2 layer from the start, no decay",
        ["--config.stages.joint.supervision.decoder_starts=(0.0,0.0,0.0,0.0,0.0,0.0)",
         "--config.stages.joint.supervision.decay=1.0"]),
    Row("lr1e-2", "the paper's learning rate 1e-2", ["--config.optimizer.learning_rate=0.01"]),
    Row("released", "f2 of the authors' code (`released`: 1x1/7x7/5x5 kernels, its residual)",
        ["--config.model.variant=released"]),
    Row("global", "global context at both nets' bottleneck (`model.global_context`, the "
        "release recipe's; not in the paper)", ["--config.model.global_context=True"]),
    Row("ssim", "Eq. 4 plus 0.05 x (1 - SSIM) of the output (`stages.joint.ssim_weight`, the "
        "release recipe's; not in the paper)", ["--config.stages.joint.ssim_weight=0.05"]),
    Row("finetune", "recipe, then the paper's fine-tuning at 256x512 (eps 0, +1/3 budget)",
        ["--config.image_size=(256,512)", "--config.stage_order=('joint',)",
         "--config.stages.joint.fraction=1.0", "--config.stages.joint.eps=0.0",
         "--config.stages.joint.supervision.decoder_starts=(0.0,0.0,0.0,0.0,0.0,0.0)",
         "--config.stages.joint.supervision.decay=1.0",
         "--config.optimizer.learning_rate=1e-4", "--config.optimizer.phase2_start=1.0",
         "--config.init_from_groups=('f1','f2')"], after="recipe"),
    # The paper's central claim (issue 17): is the HDR round trip what helps? Same data and
    # budget, all of it on the joint loss (no f1 to pre-train), eps 0 (no HDR term).
    Row("single", "one encoder-decoder of DRHT's parameter count, LDR straight to the target "
        "(`model.arch=single`: no HDR, no f1 loss)",
        ["--config.model.arch=single", "--config.stage_order=('joint',)",
         "--config.stages.joint.fraction=1.0", "--config.stages.joint.eps=0.0"]),
    Row("f2only", "f2 alone on the log of the linearised input (`model.arch=f2_only`: no f1)",
        ["--config.model.arch=f2_only", "--config.stage_order=('joint',)",
         "--config.stages.joint.fraction=1.0", "--config.stages.joint.eps=0.0"]),
)

PRESETS = {
    # An H200 runs ~10 rows at once (width 1/2, batch 32 at 64x128: ~100-200 steps/s alone).
    "gpu": dict(steps=1_500, batch=32, finetune_batch=8, width=0.5, workers=1,
                dataset="rendered/medium", few_scenes=24),
    # The demo's size: ~3 min per row on 2 CPU cores.
    "cpu": dict(steps=600, batch=8, finetune_batch=2, width=0.25, workers=0,
                dataset="rendered/small", few_scenes=5),
    # The central-claim rows on the release's data (`--config=ablation:real`): half of each
    # batch real exposure-stack frames, half rendered/full scenes under camera corruption.
    "cpu_real": dict(steps=1_500, batch=8, finetune_batch=2, width=0.25, workers=0,
                     dataset="rendered/full", few_scenes=8, config_arg="real"),
    # Smoke test of this script.
    "tiny": dict(steps=6, batch=4, finetune_batch=2, width=0.125, workers=0,
                 dataset="rendered/tiny", image_size=(32, 64), few_scenes=1,
                 protocols=("test_64x128", "test_128x256")),
}
# The central-claim rows at twice `cpu_real`'s budget (train times in docs/ablations.md).
PRESETS["cpu_real_long"] = dict(PRESETS["cpu_real"], steps=3_000)


def row_flags(row: Row, preset: dict, root: str, data_dir: Optional[str]) -> list:
  """train.py arguments of one row under a preset."""
  workdir = os.path.join(root, row.name)
  is_finetune = row.after is not None
  steps = preset["steps"] // 3 if is_finetune else preset["steps"]
  config = row.config + (f":{preset['config_arg']}" if "config_arg" in preset else "")
  flags = [f"--config={config}", f"--workdir={workdir}",
           f"--config.total_steps={steps}",
           f"--config.batch_size={preset['finetune_batch'] if is_finetune else preset['batch']}",
           f"--config.model.width={preset['width']}",
           f"--config.data.num_workers={preset['workers']}",
           f"--config.checkpoint_every={max(1, steps // 3)}",
           f"--config.log_every={max(1, steps // 30)}"]
  if "dataset" in preset:
    flags.append(f"--config.data.dataset={preset['dataset']}")
    flags.append(f"--config.data.eval_split={preset.get('eval_split', 'test_64x128')}")
  if data_dir:
    flags.append(f"--config.data.data_dir={data_dir}")
  flags += [f.format(**preset) for f in row.overrides]
  if "image_size" in preset:
    size = preset["image_size"] if not is_finetune else tuple(2 * s for s in
                                                               preset["image_size"])
    flags = [f for f in flags if not f.startswith("--config.image_size=")]
    flags.append(f"--config.image_size=({size[0]},{size[1]})")
  if is_finetune:
    flags.append(f"--config.init_from={os.path.join(root, row.after)}")
  return flags


def _env():
  env = dict(os.environ)
  # Several runs share one GPU: no process may grab most of its memory up front.
  env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
  env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
  return env


def run_row(row: Row, preset: dict, root: str, data_dir: Optional[str]) -> dict:
  """Trains one row (resuming if its workdir has checkpoints), then evaluates it."""
  workdir = os.path.join(root, row.name)
  os.makedirs(workdir, exist_ok=True)
  cmd = [sys.executable, os.path.join(REPO, "train.py")] + row_flags(row, preset, root,
                                                                      data_dir)
  start = time.time()
  with open(os.path.join(workdir, "train.log"), "a") as log:
    code = subprocess.call(cmd, cwd=REPO, env=_env(), stdout=log, stderr=subprocess.STDOUT)
  train_seconds = time.time() - start
  if code:
    return {"row": row.name, "error": f"train.py exited {code}; see {workdir}/train.log"}
  cmd_eval = [sys.executable, os.path.abspath(__file__), f"--evaluate={workdir}",
              "--protocols=" + ",".join(preset.get("protocols", PROTOCOLS))]
  if data_dir:
    cmd_eval.append(f"--data_dir={data_dir}")
  with open(os.path.join(workdir, "eval.log"), "a") as log:
    code = subprocess.call(cmd_eval, cwd=REPO, env=_env(), stdout=log,
                           stderr=subprocess.STDOUT)
  if code:
    return {"row": row.name, "error": f"evaluation exited {code}; see {workdir}/eval.log"}
  with open(os.path.join(workdir, "protocols.json")) as f:
    result = json.load(f)
  result.update(row=row.name, change=row.change, train_seconds=train_seconds,
                command="python train.py " + " ".join(
                    row_flags(row, preset, "runs/ablations", None)))
  with open(os.path.join(workdir, "row.json"), "w") as f:   # --table reads these back
    json.dump(result, f, indent=2)
  return result


def evaluate_protocols(workdir: str, data_dir: Optional[str] = None,
                       protocols: Sequence[str] = PROTOCOLS, batch_size: int = 8) -> dict:
  """PSNR / SSIM / block excess of a workdir's latest checkpoint on both protocols, with
  BatchNorm on running statistics (`eval`) and on each test batch's own (`batch`), plus the
  uncorrected input and the auto exposure / gamma baseline. Writes `protocols.json`."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from drht_jax import baselines, checkpointing, input_pipeline, metrics  # pylint: disable=g-import-not-at-top,g-multiple-import

  config, model, variables, step = checkpointing.restore_for_inference(workdir)
  data_config = config.data.copy_and_resolve_references()
  if data_dir:
    with data_config.unlocked():
      data_config.data_dir = data_dir
  forward = {
      "eval": jax.jit(lambda v, x: model.apply(v, x, train=False)["i_hat"]),
      "batch": jax.jit(lambda v, x: model.apply(v, x, train=True,
                                                mutable=["batch_stats"])[0]["i_hat"]),
  }
  out = {"step": int(step), "protocols": list(protocols)}
  for split in protocols:
    examples = list(input_pipeline.eval_examples(data_config, split))
    scores = {}

    def add(name, pred, ref):
      m = metrics.compute_all(np.clip(pred, 0, 1), ref)
      for key in ("psnr", "ssim", "block_excess"):
        scores.setdefault(f"{name}_{key}", []).extend(np.atleast_1d(m[key]).tolist())

    for i in range(0, len(examples), batch_size):
      chunk = examples[i:i + batch_size]
      ldr = np.stack([e["ldr"] for e in chunk])
      ref = np.stack([e["ldr_gt"] for e in chunk])
      for mode, fn in forward.items():
        add(f"drht_{mode}", np.asarray(fn(variables, ldr)), ref)
      add("input", ldr, ref)
      add("auto_exposure", np.stack([baselines.BASELINES["auto_exposure"](x) for x in ldr]),
          ref)
    out[split] = {k: float(np.mean(v)) for k, v in scores.items()}
    out[split]["n"] = len(examples)
  with open(os.path.join(workdir, "protocols.json"), "w") as f:
    json.dump(out, f, indent=2)
  return out


def render_table(results: Sequence[dict], preset_name: str, preset: dict) -> str:
  lines = [
      f"Preset `{preset_name}`: {preset['steps']} steps of batch {preset['batch']} per row "
      f"(fine-tuning: {preset['steps'] // 3} of batch {preset['finetune_batch']} at 256x512), "
      f"width {preset['width']}, data `{preset.get('dataset', 'rendered/full')}`. PSNR (dB) / "
      "SSIM on its test protocols (whole test scenes, fixed corruptions); "
      "'batch BN' evaluates with each test batch's own BatchNorm statistics instead of the "
      "running ones; 'blocks' = metrics.block_artifact_excess on the larger protocol (0: none).",
      "",
      "| row | change | {0} PSNR / SSIM | {1} PSNR / SSIM | {1} blocks | "
      "{0} PSNR, batch BN | {1} PSNR / blocks, batch BN | train s |".format(
          *(p[len("test_"):] for p in preset.get("protocols", PROTOCOLS))),
      "|---|---|---|---|---|---|---|---|"]
  ref = None
  for r in results:
    if "error" in r:
      lines.append(f"| {r['row']} | {r['error']} | | | | | | |")
      continue
    a, b = (r[p] for p in r["protocols"])
    ref = r
    lines.append(
        f"| `{r['row']}` | {r['change']} | {a['drht_eval_psnr']:.2f} / {a['drht_eval_ssim']:.3f}"
        f" | {b['drht_eval_psnr']:.2f} / {b['drht_eval_ssim']:.3f} | "
        f"{b['drht_eval_block_excess']:.3f} | {a['drht_batch_psnr']:.2f} | "
        f"{b['drht_batch_psnr']:.2f} / {b['drht_batch_block_excess']:.3f} | "
        f"{r['train_seconds']:.0f} |")
  if ref is not None:
    a, b = (ref[p] for p in ref["protocols"])
    lines += ["", "Same images, no training: input as is "
              f"{a['input_psnr']:.2f} / {a['input_ssim']:.3f} (64x128), "
              f"{b['input_psnr']:.2f} / {b['input_ssim']:.3f} (256x512); auto exposure / gamma "
              f"{a['auto_exposure_psnr']:.2f} / {a['auto_exposure_ssim']:.3f}, "
              f"{b['auto_exposure_psnr']:.2f} / {b['auto_exposure_ssim']:.3f}."]
  lines += ["", "Commands (`--workdir` under runs/ablations/):", ""]
  lines += [f"- `{r['row']}`: `{r['command']}`" for r in results if "command" in r]
  return "\n".join(lines) + "\n"


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--preset", choices=sorted(PRESETS), default="gpu")
  parser.add_argument("--rows", default="all", help="comma list of row names, or all")
  parser.add_argument("--root", default="runs/ablations")
  parser.add_argument("--parallel", type=int, default=1)
  parser.add_argument("--data_dir", default=None)
  parser.add_argument("--evaluate", default=None, help=argparse.SUPPRESS)
  parser.add_argument("--protocols", default=",".join(PROTOCOLS), help=argparse.SUPPRESS)
  parser.add_argument("--table", action="store_true",
                      help="only write the table from the rows already done under --root")
  args = parser.parse_args()
  if args.evaluate:
    evaluate_protocols(args.evaluate, args.data_dir, args.protocols.split(","))
    return 0
  names = [r.name for r in ROWS] if args.rows == "all" else args.rows.split(",")
  unknown = sorted(set(names) - {r.name for r in ROWS})
  if unknown:
    parser.error(f"unknown rows {unknown}; available: {[r.name for r in ROWS]}")
  rows = [r for r in ROWS if r.name in names]
  missing = [r.after for r in rows if r.after and r.after not in names]
  if missing:
    parser.error(f"rows {missing} are needed first (add them to --rows)")
  preset = PRESETS[args.preset]
  if args.table:
    done = [os.path.join(args.root, r.name, "row.json") for r in rows]
    return write_table([json.load(open(p)) for p in done if os.path.exists(p)], args, preset)
  # Build the data sets once, before rows race to build them in parallel.
  datasets = {preset.get("dataset", "rendered/full")}
  datasets |= {f.split("=", 1)[1] for r in rows for f in r.overrides
               if f.startswith("--config.data.dataset=")}
  for name in sorted(datasets):
    cmd = [sys.executable, "-m", "drht_jax.input_pipeline", f"--dataset={name}", "--prepare"]
    subprocess.check_call(cmd + ([f"--data_dir={args.data_dir}"] if args.data_dir else []),
                          cwd=REPO, env=_env())
  results = {}
  with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
    pending = {pool.submit(run_row, r, preset, args.root, args.data_dir): r
               for r in rows if r.after is None}
    while pending:
      done, _ = concurrent.futures.wait(pending, return_when="FIRST_COMPLETED")
      for future in done:
        row = pending.pop(future)
        results[row.name] = future.result()
        print(json.dumps(results[row.name]), flush=True)
        for child in rows:
          if child.after == row.name and "error" not in results[row.name]:
            pending[pool.submit(run_row, child, preset, args.root, args.data_dir)] = child
  ordered = [results[r.name] for r in rows if r.name in results]
  return write_table(ordered, args, preset)


def write_table(ordered, args, preset) -> int:
  os.makedirs(args.root, exist_ok=True)
  with open(os.path.join(args.root, "ablations.json"), "w") as f:
    json.dump(ordered, f, indent=2)
  table = render_table(ordered, args.preset, preset)
  with open(os.path.join(args.root, "ablations.md"), "w") as f:
    f.write(table)
  print(table)
  return 1 if any("error" in r for r in ordered) else 0


if __name__ == "__main__":
  sys.exit(main())
