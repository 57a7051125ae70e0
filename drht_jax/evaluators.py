"""Evaluators built from the config (big_vision style), and the one evaluation loop.

`predictions(model, variables, examples, batch_size)` is how every evaluation runs the model:
examples of a test split in same-size batches through `inference.correct_batch` (the one
eval-mode forward, `inference.forward`), yielding DRHT's clipped output and f1's radiance.
`MethodMetrics` scores DRHT and comparison methods (`methods.METHODS`) on those examples with
metrics of `metrics.REGISTRY`; what is scored is chosen here, in one place:
  - the training loop's periodic evaluation, `from_config(config)`: DRHT and
    `TRAINING_METHODS` with `TRAINING_METRICS` (PSNR / SSIM), logged as `eval_psnr`, ...;
  - the validation set scored at every checkpoint, `validation_from_config(config)`: DRHT's
    `TRAINING_METRICS` on `config.validation`'s split (held-out training scenes);
  - eval.py's report, `report_from_config(data_config, ...)`: DRHT and the chosen baselines
    with `REPORT_METRICS` (every registered metric; the HDR ones on f1's radiance where the
    data have HDR; ColorVideoVDP when asked), which `evaluate.evaluate_dataset` writes out.
`save_image_grid` (the training loop's image grids) calls the same forward.

An evaluator is a small object built from config fields whose `run(model, variables)` returns
`{metric: float}`; `from_config` returns `Entry(name, evaluator, every, prefix)` tuples: the
loop runs `evaluator` every `every` steps (0: only at the end) and logs its metrics as
`prefix + name`.
"""

import time
from typing import Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence

import numpy as np

from drht_jax import hdr, inference, input_pipeline, methods, metrics, visualize

DRHT = methods.DRHT
PERCEPTUAL = "cvvdp_jod"   # the optional ColorVideoVDP score (`metrics.cvvdp_jod`), in JOD
# What the training loop's periodic evaluation scores (besides DRHT), and with what.
TRAINING_METHODS = ("input",)
TRAINING_METRICS = ("psnr", "ssim")
# What eval.py's report scores: every registered metric (LDR; HDR on DRHT's f1 radiance).
REPORT_METRICS = metrics.LDR_METRICS + metrics.HDR_METRICS


def batched(examples: Iterable[dict], batch_size: int) -> Iterator[List[dict]]:
  """Groups consecutive examples of one image size (`example["ldr"].shape`) into lists of at
  most `batch_size`, in order."""
  batch = []
  for example in examples:
    if batch and (len(batch) == batch_size or example["ldr"].shape != batch[0]["ldr"].shape):
      yield batch
      batch = []
    batch.append(example)
  if batch:
    yield batch


def predictions(model, variables, examples: Iterable[dict], batch_size: int):
  """DRHT on `examples` (dicts with `"ldr"` `[H, W, 3]` in [0, 1]) in same-size batches.

  Yields `(batch, corrected, radiance, seconds)`: the list of examples, DRHT's output
  `[B, H, W, 3]` clipped to [0, 1], f1's linear HDR `[B, H, W, 3]` >= 0 (NumPy float32) and
  the wall time of that forward (compilation included on a new shape)."""
  for batch in batched(examples, batch_size):
    start = time.perf_counter()
    corrected, radiance = inference.correct_batch(model, variables, [e["ldr"] for e in batch])
    yield batch, corrected, radiance, time.perf_counter() - start


def has_hdr(example: dict) -> bool:
  """Whether `example["hdr"]` holds ground-truth radiance (LDR-only data sets, e.g. Sun360,
  store all-zero HDR)."""
  return bool(np.any(np.asarray(example["hdr"]) > 0))


class ImageScores(NamedTuple):
  """One test image's outputs and scores, methods in `MethodMetrics.names` order."""
  example: dict                      # the test example (`"ldr"`, `"ldr_gt"`, `"id"`, ...)
  outputs: Dict[str, np.ndarray]     # method -> `[H, W, 3]` in [0, 1]
  scores: Dict[str, Dict[str, float]]   # method -> {metric: value} against `"ldr_gt"`
  middle: Dict[str, Dict[str, float]]   # same against `"ldr_mid"` (exposure stacks), else {}
  seconds: Dict[str, float]          # method -> seconds on this image (DRHT: its batch's
  # forward, counted on the batch's first image; f1_tmo: 0, its share is DRHT's forward)
  with_hdr: bool                     # the example has ground-truth HDR (`has_hdr`)


class MethodMetrics:
  """DRHT and comparison methods scored against `ldr_gt` on the first images of a split.

  Args:
    data_config: the config's `data` field (which data set, where, how it is corrupted).
    split: the split to read, e.g. "test".
    num_images: score the first `num_images` examples (None: all).
    baselines: names of `methods.METHODS` to score beside DRHT.
    metric_names: names of `metrics.REGISTRY`; the HDR ones score f1's radiance against
      `example["hdr"]` on DRHT's row, where the data have HDR.
    perceptual: also `metrics.cvvdp_jod` (key `PERCEPTUAL`) on every row.
    batch_size: same-size images per network call.
  """

  def __init__(self, data_config, split: str, num_images: Optional[int],
               baselines: Sequence[str] = (), metric_names: Sequence[str] = TRAINING_METRICS,
               perceptual: bool = False, batch_size: int = 1):
    self.data_config, self.split, self.num_images = data_config, split, num_images
    self.baselines = [methods.get(name) for name in baselines]
    self.names = [m.name for m in self.baselines] + [DRHT]
    self.metric_names = tuple(metric_names)
    self.perceptual, self.batch_size = perceptual, batch_size

  def _score(self, output, ref, radiance=None, ref_hdr=None) -> Dict[str, float]:
    values = metrics.compute_all(output, ref, radiance, ref_hdr, names=self.metric_names)
    values = {m: float(v) for m, v in values.items()}
    if self.perceptual:
      values[PERCEPTUAL] = float(metrics.cvvdp_jod(output, ref))
    return values

  def per_image(self, model, variables) -> Iterator[ImageScores]:
    """Runs DRHT (`predictions`) and the baselines on each image and scores them.

    Args:
      model, variables: the DRHT module and its `{"params", "batch_stats"}`.

    Yields:
      One `ImageScores` per example, in the split's order.
    """
    examples = input_pipeline.eval_examples(self.data_config, self.split, self.num_images)
    for batch, corrected, radiance, forward_seconds in predictions(
        model, variables, examples, self.batch_size):
      for k, example in enumerate(batch):
        outputs, seconds = {}, {}
        for method in self.baselines:
          start = time.perf_counter()
          outputs[method.name] = method.apply(example["ldr"], radiance[k])
          seconds[method.name] = (0.0 if method.kind == methods.F1_TMO
                                  else time.perf_counter() - start)
        outputs[DRHT], seconds[DRHT] = corrected[k], forward_seconds if k == 0 else 0.0
        with_hdr = has_hdr(example)
        scores, middle = {}, {}
        for name in self.names:
          # f1's HDR is shared by DRHT and f1 + TMO; scored once, on DRHT's row.
          hdr_pair = (radiance[k], example["hdr"]) if with_hdr and name == DRHT else ()
          scores[name] = self._score(outputs[name], example["ldr_gt"], *hdr_pair)
          if "ldr_mid" in example:
            middle[name] = {m: float(v) for m, v in metrics.compute_all(
                outputs[name], example["ldr_mid"], names=self.metric_names).items()}
        yield ImageScores(example, outputs, scores, middle, seconds, with_hdr)

  def run(self, model, variables) -> Dict[str, float]:
    """Means over the images: `{metric: mean}` for DRHT, `{method_metric: mean}` for the
    others (e.g. `{"psnr", "ssim", "input_psnr", "input_ssim"}`), floats."""
    sums = {}
    for image in self.per_image(model, variables):
      for name in [DRHT] + self.names[:-1]:
        for metric, value in image.scores[name].items():
          sums.setdefault(metric if name == DRHT else f"{name}_{metric}", []).append(value)
    return {k: float(np.mean(v)) for k, v in sums.items()}


class Entry(NamedTuple):
  """One evaluator of the training loop, with when it runs and how its metrics are named."""
  name: str            # what the evaluator measures
  evaluator: MethodMetrics  # anything with `run(model, variables) -> {metric: float}`
  every: int           # run every `every` training steps (at logged steps); 0: at the end only
  prefix: str          # logged keys: prefix + metric name


def from_config(config) -> List[Entry]:
  """The training run's evaluators.

  Args:
    config: the training config (`data`, `data.eval_split`, `num_eval_images`, `eval_every`).

  Returns:
    `[Entry("psnr_ssim", ...)]`: `TRAINING_METRICS` of DRHT and `TRAINING_METHODS` on
    `config.data.eval_split`'s first `config.num_eval_images` whole images, one per forward,
    every `config.eval_every` steps, logged as `eval_psnr`, `eval_ssim`, `eval_input_psnr`,
    `eval_input_ssim`; `[]` when `num_eval_images` is 0.
  """
  if not config.num_eval_images:
    return []
  evaluator = MethodMetrics(config.data, config.data.eval_split, config.num_eval_images,
                            baselines=TRAINING_METHODS, metric_names=TRAINING_METRICS)
  return [Entry("psnr_ssim", evaluator, config.eval_every, "eval_")]


def validation_from_config(config) -> Optional[MethodMetrics]:
  """The run's validation evaluator (`config.validation`, configs/default.py), or None when
  `config.validation.split` is empty (or the config has none).

  Returns:
    DRHT's `TRAINING_METRICS` (no baselines) on the first `num_images` images (0: all) of
    `validation.split` of `validation.dataset` (default `config.data.dataset`), read with
    `config.data`'s other fields (`manual_dir` overridden when given).
  """
  validation = config.get("validation", None)
  if validation is None or not validation.get("split", ""):
    return None
  metric = validation.get("metric", "psnr")
  if metric not in TRAINING_METRICS:
    raise ValueError(f"config.validation.metric: expected one of {TRAINING_METRICS}, got "
                     f"{metric!r}")
  data = config.data.copy_and_resolve_references()
  if validation.get("dataset", ""):
    data.dataset = validation.dataset
  if validation.get("manual_dir", ""):
    data.manual_dir = validation.manual_dir
  return MethodMetrics(data, validation.split, validation.get("num_images", 0) or None,
                       metric_names=TRAINING_METRICS)


def report_from_config(data_config, split: str, baselines: Sequence[str] = (),
                       num_images: Optional[int] = None, perceptual: bool = False,
                       batch_size: int = 4) -> MethodMetrics:
  """eval.py's report evaluator: DRHT and `baselines` with `REPORT_METRICS` (module docstring).

  Args:
    data_config: the checkpoint config's `data`, with eval.py's overrides applied.
    split: the split to evaluate.
    baselines: names of `methods.METHODS` (e.g. `methods.parse("all")`), table order.
    num_images: at most this many images (None: the whole split).
    perceptual: also score ColorVideoVDP (`PERCEPTUAL`).
    batch_size: same-size images per network call.

  Returns:
    The `MethodMetrics`; `evaluate.evaluate_dataset` reads its `per_image`.
  """
  return MethodMetrics(data_config, split, num_images, baselines=baselines,
                       metric_names=REPORT_METRICS, perceptual=perceptual,
                       batch_size=batch_size)


def run_all(entries: List[Entry], model, variables) -> dict:
  """`{prefix + metric: value}` of every evaluator of `entries`."""
  out = {}
  for entry in entries:
    out.update({entry.prefix + k: v for k, v in entry.evaluator.run(model, variables).items()})
  return out


def save_image_grid(path: str, model, variables, batch: dict, count: int = 4):
  """`path` (PNG): one row per example of `batch`'s first `count` (`{"ldr", "ldr_gt"}`
  `[B, H, W, 3]` in [0, 1]); columns input / f1's HDR (tone-mapped for display) / DRHT's
  output clipped to [0, 1] / ground truth (one `inference.forward` call)."""
  ldr = batch["ldr"][:count]
  out = inference.forward(model, variables, ldr)
  radiance = hdr.inverse_gamma(out["s_hat"])
  visualize.save_grid(path, [ldr, visualize.display_hdr(radiance),
                             np.clip(np.asarray(out["i_hat"]), 0, 1), batch["ldr_gt"][:count]])
