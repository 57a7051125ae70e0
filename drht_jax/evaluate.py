"""What `eval.py` does: evaluate a checkpoint on a test split, or correct a user's photos.

`evaluate_dataset` restores a training workdir's checkpoint (with the config saved next to
it), scores DRHT and the baselines of docs/measure.md (`methods.METHODS`) on the same images
with the report's evaluator (`evaluators.report_from_config`: the class and evaluation loop
training's evaluators use too, with every registered metric) and writes, under
`workdir/eval/<dataset with / replaced by ->-<split>/`:
  report.md       the paper's Table 1 layout (method | PSNR | SSIM | FSIM | perceptual), plus
                  f1's HDR estimate vs the ground-truth HDR (PU21-PSNR/SSIM, log RMSE) when
                  the data set has HDR; header: data, split, images, checkpoint, conventions;
  metrics.json    per method: mean of each metric over the images, n; and the step;
  per_image.csv   id, method, one column per metric;
  grid.png        first rows: input | each baseline | DRHT | ground truth.

`correct_photos` corrects image files of any size (see `inference.correct`) and writes them
to an output folder with the same base name and format family; a file that cannot be read is
reported on stderr by name and skipped; the return value is the process exit code.
"""

import collections
import csv
import glob
import json
import os
import re
import sys
import time
from typing import Dict, List, Optional, Sequence

import jax
import numpy as np
import tqdm

from drht_jax import checkpointing, evaluators, imageio_utils, inference
from drht_jax import methods as methods_lib
from drht_jax import metrics

PERCEPTUAL = evaluators.PERCEPTUAL
ALL_METRICS = evaluators.REPORT_METRICS + (PERCEPTUAL,)   # per_image.csv's columns
CONVENTIONS = (
    "PSNR (dB): per image over all pixels and channels, data range 1, then averaged over "
    "the images.",
    "SSIM: Wang et al. 2004, Gaussian window 11 (sigma 1.5), K1 = 0.01, K2 = 0.03, data "
    "range 1, 5-pixel border cropped (skimage), per channel then averaged; then over images.",
    "FSIM: FSIMc (Zhang et al. 2011, the authors' FeatureSIM.m: YIQ, phase congruency 4 "
    "scales x 4 orientations, T1 = 0.85, T2 = 160, T3 = T4 = 200, lambda = 0.03); luminance-"
    "only FSIM in metrics.json.",
    "Perceptual: ColorVideoVDP (cvvdp) in JOD on a 'standard_4k' display, not HDR-VDP-2 Q "
    "(the paper's Q column has no faithful non-MATLAB port).",
    "Blocks: metrics.block_artifact_excess, the 32-pixel grid pattern of the output's "
    "luminance edges minus the ground truth's (~0: none; block seams score well above 0).",
    "HDR (f1's S_full vs the ground-truth radiance): PU21 (banding_glare) after scaling the "
    "reference's peak luminance to 4000 cd/m^2 (same factor for the prediction), PSNR with "
    "peak 256 on encoded RGB, SSIM on encoded luminance; log RMSE of ln(radiance + 1/255).",
    "Colour: ΔE00 = mean CIEDE2000 (skimage, sRGB D65 Lab) against the reference; "
    "colourfulness = Hasler & Suesstrunk 2003 (0-255 scale) of the output, and its ratio to "
    "the reference's (< 1: washed-out colours).",
    "Ground truth LDR: the data recipe's Reinhard global TMO + gamma 2.2 of the HDR.",
)


# --- Small helpers.


def report_dir(workdir: str, dataset: str, split: str) -> str:
  """Where the report of `dataset` (TFDS name[/config]) `split` goes: `workdir/eval/<dataset>-
  <split>`, each run of characters other than letters, digits, `.`, `_` and `-` made one `-`
  (`rendered/small`, `test` -> `rendered-small-test`; `train[held/6]` -> `train-held-6`)."""
  name = re.sub(r"[^\w.-]+", "-", f"{dataset}-{split}").strip("-")
  return os.path.join(workdir, "eval", name)


def _fmt(value, digits):
  if value is None:
    return "—"
  if isinstance(value, str):
    return value
  if not np.isfinite(value):
    return "inf" if value > 0 else str(value)
  return f"{value:.{digits}f}"


def _json_number(value):
  return float(value) if value is not None and np.isfinite(value) else None


# --- Data set evaluation.


def evaluate_dataset(workdir: str, dataset: Optional[str] = None, split: Optional[str] = None,
                     baselines: str = "all", step: Optional[int] = None,
                     max_images: Optional[int] = None, grid_rows: int = 4,
                     batch_size: int = 4, data_dir: Optional[str] = None,
                     perceptual: Optional[bool] = None, out=sys.stdout,
                     manual_dir: Optional[str] = None,
                     corruption: Optional[str] = None) -> dict:
  """Evaluates DRHT and the baselines on one split and writes the report (module docstring).

  Args:
    workdir: a training (or exported) workdir: `config.json` and `checkpoints/`.
    dataset: TFDS name[/config]; None: the checkpoint config's `data.dataset`.
    split: None: the config's `data.eval_split` (else "test").
    baselines: 'all' | 'none' | a comma list of `methods.METHODS` names (`methods.parse`).
    step: the checkpoint step (None: the latest).
    max_images: at most this many images (None: the whole split).
    grid_rows: images (rows) in grid.png.
    batch_size: same-size images per network call.
    data_dir: TFDS data_dir (None: the config's).
    perceptual: score ColorVideoVDP; None: if cvvdp is installed.
    out: where the table and the "wrote ..." line are printed.
    manual_dir: where a manual_dir data set reads its files if it is not built yet.
    corruption: the test inputs' corruption for scene data sets (None: the config's
      `data.corruption`; given, the report folder is `<dataset>-<split>-<corruption>`).

  Returns:
    The metrics.json dict: `workdir`, `dataset`, `split`, `step`, `n`, `n_with_hdr`,
    `perceptual`, `conventions` and `methods` ({name: {label, n, seconds_per_image, metric
    means}}); data with a middle-frame reference (`exposure_stacks`) also get
    `exposure_protocol` (`exposure_protocol`).
  """
  config, model, variables, step = checkpointing.restore_for_inference(workdir, step)
  variables = jax.device_put(variables)
  data_config = config.data.copy_and_resolve_references()
  with data_config.unlocked():
    if dataset:
      data_config.dataset = dataset
    if data_dir:
      data_config.data_dir = data_dir
    if manual_dir:
      data_config.manual_dir = manual_dir
    if corruption:
      data_config.corruption = corruption
  split = split or data_config.get("eval_split", "test")
  use_perceptual = metrics.perceptual_available() if perceptual is None else perceptual
  evaluator = evaluators.report_from_config(data_config, split, methods_lib.parse(baselines),
                                            max_images, use_perceptual, batch_size)
  methods = evaluator.names   # the baselines in table order, DRHT last

  rows = []                            # (id, method, {metric: value})
  protocol_rows = []                   # (id, method, reference, direction, {metric: value})
  seconds = collections.defaultdict(float)
  grid = collections.defaultdict(list)   # column -> images of the first grid_rows examples
  n_images = n_hdr = 0
  progress = tqdm.tqdm(desc=f"eval {data_config.dataset}:{split}", unit="img",
                       total=max_images, file=sys.stderr)
  for image in evaluator.per_image(model, variables):
    example, outputs, ref = image.example, image.outputs, image.example["ldr_gt"]
    n_hdr += image.with_hdr
    for name in methods:
      seconds[name] += image.seconds[name]
      rows.append((example["id"], name, image.scores[name]))
      if image.middle:
        protocol_rows.append((example["id"], name, "fused", example["direction"],
                              image.scores[name]))
        protocol_rows.append((example["id"], name, "middle", example["direction"],
                              image.middle[name]))
    if len(grid["ldr_gt"]) < grid_rows and (
        not grid["ldr_gt"] or grid["ldr_gt"][0].shape == ref.shape):
      for name in methods:
        grid[name].append(outputs[name])
      if "input" not in methods:
        grid["input"].append(example["ldr"])
      grid["ldr_gt"].append(ref)
    n_images += 1
    progress.update(1)
  progress.close()
  if n_images == 0:
    raise ValueError(f"{data_config.dataset}:{split}: no examples to evaluate")

  summary = _summarise(rows, methods, step, data_config.dataset, split, n_images, n_hdr,
                       seconds, use_perceptual, workdir)
  if protocol_rows:
    summary["exposure_protocol"] = exposure_protocol(protocol_rows, methods)
  folder = report_dir(workdir, data_config.dataset,
                      f"{split}-{corruption}" if corruption else split)
  os.makedirs(folder, exist_ok=True)
  _write_json(os.path.join(folder, "metrics.json"), summary)
  _write_csv(os.path.join(folder, "per_image.csv"), rows)
  columns = ["input"] + [m for m in methods if m != "input"] + ["ldr_gt"]
  from drht_jax import visualize  # pylint: disable=g-import-not-at-top
  visualize.save_grid(os.path.join(folder, "grid.png"),
                      [np.stack(grid[c]) for c in columns])
  scored = [c for c in columns if c in summary["methods"]]  # "input" only when a method
  table = render_report(summary, columns=scored)
  if protocol_rows:
    table += render_protocol(summary["exposure_protocol"], scored)
  with open(os.path.join(folder, "report.md"), "w") as f:
    f.write(table)
  print(table, file=out)
  print(f"wrote {folder}/{{report.md, metrics.json, per_image.csv, grid.png}}", file=out)
  return summary


def _summarise(rows, methods, step, dataset, split, n_images, n_hdr, seconds, use_perceptual,
               workdir):
  by_method = collections.defaultdict(lambda: collections.defaultdict(list))
  for _, name, values in rows:
    for metric, value in values.items():
      by_method[name][metric].append(value)
  summary = {"workdir": os.path.abspath(workdir), "dataset": dataset, "split": split,
             "step": int(step), "n": n_images, "n_with_hdr": n_hdr,
             "perceptual": PERCEPTUAL if use_perceptual else None,
             "conventions": list(CONVENTIONS), "methods": {}}
  for name in methods:
    entry = {"label": methods_lib.label(name), "n": len(by_method[name]["psnr"]),
             "seconds_per_image": seconds.get(name, 0.0) / n_images}
    for metric, values in by_method[name].items():
      entry[metric] = _json_number(np.mean(values))
      entry[f"{metric}_n"] = len(values)
    summary["methods"][name] = entry
  return summary


PROTOCOL_REFERENCES = {"fused": "the Mertens exposure fusion of the whole stack",
                       "middle": "the stack's middle frame"}
PROTOCOL_SUBSETS = ("all", "under", "over")
PROTOCOL_METRICS = ("psnr", "ssim", "fsim")


def exposure_protocol(protocol_rows, methods) -> dict:
  """The real-exposure protocol (`exposure_stacks`): `{reference: {subset: {method: {metric:
  mean, "n": images}}}}` for the references `fused` and `middle` and the subsets all / under /
  over (the input frame darker / brighter than the middle frame), as MSEC (Afifi et al. 2021)
  reports under- and over-exposure separately."""
  out = {}
  for reference in PROTOCOL_REFERENCES:
    out[reference] = {}
    for subset in PROTOCOL_SUBSETS:
      table = {}
      for name in methods:
        picked = [v for _, m, r, d, v in protocol_rows
                  if m == name and r == reference and (subset == "all" or d == subset)]
        if picked:
          table[name] = {"n": len(picked), **{
              k: _json_number(np.mean([v[k] for v in picked])) for k in PROTOCOL_METRICS}}
      out[reference][subset] = table
  return out


def render_protocol(protocol: dict, columns: Sequence[str]) -> str:
  """Markdown of `exposure_protocol`: one table per reference, PSNR / SSIM / FSIM of all,
  under- and over-exposed inputs side by side."""
  lines = ["", "Real exposures: `ldr_gt` of the table above is the stack's fused reference (not the "
           "recipe's TMO); below, the same outputs against both references, under- and "
           "over-exposed inputs apart."]
  for reference, subsets in protocol.items():
    counts = {s: next(iter(t.values()))["n"] if t else 0 for s, t in subsets.items()}
    lines += ["", f"## Real exposures against {PROTOCOL_REFERENCES[reference]} "
              f"(`{reference}`; {counts['all']} inputs: {counts['under']} under, "
              f"{counts['over']} over)", "",
              "| Method | " + " | ".join(f"{s} {m.upper()}" for s in PROTOCOL_SUBSETS
                                         for m in PROTOCOL_METRICS) + " |",
              "|" + "---|" * (1 + len(PROTOCOL_SUBSETS) * len(PROTOCOL_METRICS))]
    for name in columns:
      cells = [methods_lib.label(name)]
      for subset in PROTOCOL_SUBSETS:
        entry = subsets[subset].get(name, {})
        cells += [_fmt(entry.get("psnr"), 2), _fmt(entry.get("ssim"), 4),
                  _fmt(entry.get("fsim"), 4)]
      lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


def _colourfulness_cell(entry):
  """'M (ratio)', e.g. '31.2 (0.84)'; '—' where the run predates the colour metrics."""
  if entry.get("colourfulness") is None:
    return "—"
  return f"{_fmt(entry['colourfulness'], 1)} ({_fmt(entry.get('colourfulness_ratio'), 2)})"


def render_report(summary: dict, columns: Sequence[str]) -> str:
  """Markdown: header lines, then one row per method (Table 1 layout)."""
  perceptual_na = "n/a (cvvdp not installed)"
  lines = [f"# Evaluation: {summary['dataset']} / {summary['split']}", "",
           f"- Data set: `{summary['dataset']}`, split `{summary['split']}`",
           f"- Images: {summary['n']} ({summary['n_with_hdr']} with ground-truth HDR)",
           f"- Checkpoint: step {summary['step']} of `{summary['workdir']}`",
           "- Conventions:"]
  lines += [f"  - {c}" for c in summary["conventions"]]
  show_hdr = summary["n_with_hdr"] > 0
  header = ["Method", "PSNR (dB)", "SSIM", "FSIM (FSIMc)", "Perceptual (cvvdp JOD)",
            "Blocks (32 px)", "ΔE00", "Colourfulness (ratio)"]
  if show_hdr:
    header += ["HDR PU21-PSNR (dB)", "HDR PU21-SSIM", "HDR log RMSE"]
  header.append("s / image")
  lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for name in columns:
    entry = summary["methods"][name]
    cells = [entry["label"], _fmt(entry.get("psnr"), 2), _fmt(entry.get("ssim"), 4),
             _fmt(entry.get("fsim"), 4),
             _fmt(entry.get(PERCEPTUAL), 2) if summary["perceptual"] else perceptual_na,
             _fmt(entry.get("block_excess"), 3), _fmt(entry.get("ciede2000"), 2),
             _colourfulness_cell(entry)]
    if show_hdr:
      cells += [_fmt(entry.get("pu21_psnr"), 2), _fmt(entry.get("pu21_ssim"), 4),
                _fmt(entry.get("log_hdr_rmse"), 4)]
    cells.append(_fmt(entry["seconds_per_image"], 3))
    lines.append("| " + " | ".join(cells) + " |")
  notes = [
      "",
      "The HDR columns score f1's S_full (shared by DRHT and f1 + Reinhard TMO, shown once); "
      "'f1 + Reinhard TMO' tone-maps that S_full with the data recipe's fixed TMO "
      "(hdr.ground_truth_ldr), the HDRCNN-style pipeline of the paper's [6].",
      "DRHT's s / image is the batched network forward (batches of same-size images, "
      "compilation included); baselines run per image on the host.",
  ]
  if not summary["perceptual"]:
    notes.append(f"Perceptual column: {metrics.PERCEPTUAL_HINT}.")
  return "\n".join(lines + notes) + "\n"


def _write_json(path, summary):
  with open(path + ".tmp", "w") as f:
    json.dump(summary, f, indent=2, allow_nan=False)
  os.replace(path + ".tmp", path)


def _write_csv(path, rows):
  with open(path + ".tmp", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["id", "method"] + list(ALL_METRICS))
    for ident, name, values in rows:
      writer.writerow([ident, name] + [
          "" if m not in values else repr(float(values[m])) for m in ALL_METRICS])
  os.replace(path + ".tmp", path)


# --- User photos.


def expand_inputs(pattern: str) -> List[str]:
  """A file, a folder (its image files), or a glob (`**` recursive) -> sorted file paths."""
  if os.path.isdir(pattern):
    return sorted(os.path.join(pattern, f) for f in os.listdir(pattern)
                  if imageio_utils.has_extension(f, imageio_utils.IMAGE_EXTENSIONS))
  if os.path.isfile(pattern):
    return [pattern]
  return sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))


def output_paths(path: str, output_dir: str) -> Dict[str, str]:
  """Where `path`'s results go: 'ldr' keeps the base name and extension (JPEG stays JPEG,
  PNG becomes an 8-bit PNG); 'hdr' is the same stem with `.exr`."""
  base = os.path.basename(path)
  stem, ext = os.path.splitext(base)
  if ext.lower() not in imageio_utils.IMAGE_EXTENSIONS:
    ext = ".png"   # e.g. .tif in: write a PNG rather than guess a writer
  return {"ldr": os.path.join(output_dir, stem + ext),
          "hdr": os.path.join(output_dir, stem + ".exr")}


def correct_photos(workdir: str, pattern, output_dir: str, save_hdr: bool = False,
                   tile: Optional[int] = None, step: Optional[int] = None,
                   overlap: int = inference.DEFAULT_OVERLAP,
                   max_pixels: int = inference.DEFAULT_MAX_PIXELS,
                   mode: Optional[str] = None,
                   working_size: int = inference.DEFAULT_WORKING_SIZE,
                   out=sys.stdout, err=sys.stderr) -> int:
  """Corrects every image file `pattern` matches into `output_dir`.

  `pattern`: a file, folder or glob (`expand_inputs`), or a list of them (`drht-correct
  IN...`). `mode`: `inference.MODES`; None = `full` if `tile` is given (tiles exist in that
  mode only), else `inference.DEFAULT_MODE`. `working_size`: long side of the working
  resolution in `guided` mode. Returns the exit code: 0 if every image was corrected, 1 if any
  failed (each failure is one line on `err` naming the file; the others are still written),
  2 if nothing matched.
  """
  patterns = [pattern] if isinstance(pattern, str) else list(pattern)
  paths = []
  for item in patterns:
    matched = expand_inputs(item)
    if not matched:
      print(f"error: --input={item}: no files matched", file=err)
      return 2
    paths += [p for p in matched if p not in paths]
  if mode is None:
    mode = inference.MODE_FULL if tile is not None else inference.DEFAULT_MODE
  if mode not in inference.MODES:
    print(f"error: --mode={mode}: expected one of {', '.join(inference.MODES)}", file=err)
    return 2
  if tile is not None and mode != inference.MODE_FULL:
    print(f"error: --tile applies to --mode={inference.MODE_FULL} only", file=err)
    return 2
  config, model, variables, step = checkpointing.restore_for_inference(workdir, step)
  del config
  variables = jax.device_put(variables)
  print(f"checkpoint step {step} of {workdir}; {len(paths)} file(s) -> {output_dir} "
        f"(mode {mode}" + (f", working size {working_size})" if mode == inference.MODE_GUIDED
                           else ")"), file=out)
  failures, done_pixels, seen = 0, 0, {}
  model_seconds = 0.0
  start_all = time.perf_counter()
  for path in tqdm.tqdm(paths, desc="correcting", unit="img", file=err):
    targets = output_paths(path, output_dir)
    try:
      clash = [t for t in targets.values() if t in seen]
      if clash:
        raise ValueError(f"output {clash[0]} would overwrite the result of {seen[clash[0]]}")
      if os.path.abspath(targets["ldr"]) == os.path.abspath(path):
        raise ValueError(f"output {targets['ldr']} would overwrite the input")
      image = imageio_utils.read_ldr(path)
      start = time.perf_counter()
      corrected, radiance = inference.correct(model, variables, image.pixels, mode=mode,
                                              working_size=working_size, tile=tile,
                                              overlap=overlap, max_pixels=max_pixels,
                                              want_hdr=save_hdr)
      model_seconds += time.perf_counter() - start
      imageio_utils.write_ldr(targets["ldr"], corrected)
      seen[targets["ldr"]] = path
      if save_hdr:
        imageio_utils.write_hdr(targets["hdr"], radiance)
        seen[targets["hdr"]] = path
      if image.conversions:
        tqdm.tqdm.write(f"{path}: {', '.join(image.conversions)}", file=out)
      done_pixels += corrected.shape[0] * corrected.shape[1]
    except (OSError, ValueError, RuntimeError) as e:   # ImageReadError is a ValueError;
      # RuntimeError: e.g. the accelerator ran out of memory on this image only.
      failures += 1
      message = str(e) if path in str(e) else f"{path}: {e}"
      tqdm.tqdm.write(f"error: {message.splitlines()[0]}", file=err)
  total = time.perf_counter() - start_all
  done = len(paths) - failures
  if done:
    print(f"corrected {done} image(s), {done_pixels / 1e6:.2f} MP in {total:.2f} s: "
          f"{done_pixels / 1e6 / total:.3f} MP/s, {1000 * total / done:.0f} ms per image "
          f"(network {1000 * model_seconds / done:.0f} ms per image, compilation included)",
          file=out)
  if failures:
    print(f"{failures} of {len(paths)} file(s) failed (see errors above)", file=err)
  return 1 if failures else 0
