"""Evaluators built from the config (big_vision style), and the one evaluation loop.

`predictions(model, variables, examples, batch_size)` is how every evaluation runs the model:
examples of a test split in same-size batches through `inference.correct_batch` (the one
eval-mode forward, `inference.forward`), yielding DRHT's clipped output and f1's radiance.
The training loop's periodic evaluation (`from_config(config)` -> `PsnrSsim`) and `eval.py`'s
report (`evaluate.evaluate_dataset`, which adds the baselines and every metric) both consume
it; `save_image_grid` (the training loop's image grids) calls the same forward.

An evaluator is a small object built from config fields whose `run(model, variables)` returns
`{metric: float}`; `from_config` returns `Entry(name, evaluator, every, prefix)` tuples: the
loop runs `evaluator` every `every` steps (0: only at the end) and logs its metrics as
`prefix + name`.
"""

import time
from typing import Iterable, Iterator, List, NamedTuple

import numpy as np

from drht_jax import hdr, inference, input_pipeline, metrics, visualize


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


class PsnrSsim:
  """Mean PSNR and SSIM (`metrics.psnr` / `metrics.ssim`, data range 1) of DRHT's output and
  of the uncorrected input against `ldr_gt`, over the first `num_images` whole images of
  `split` of `data_config`'s data set, one image per forward (what training logs as
  `eval_psnr`, `eval_ssim`, `eval_input_psnr`, `eval_input_ssim`)."""

  def __init__(self, data_config, split: str, num_images: int, batch_size: int = 1):
    self.data_config, self.split = data_config, split
    self.num_images, self.batch_size = num_images, batch_size

  def run(self, model, variables) -> dict:
    """-> `{"psnr", "ssim", "input_psnr", "input_ssim"}` (floats, means over the images)."""
    scores = {"psnr": [], "ssim": [], "input_psnr": [], "input_ssim": []}
    examples = input_pipeline.eval_examples(self.data_config, self.split, self.num_images)
    for batch, corrected, _, _ in predictions(model, variables, examples, self.batch_size):
      for example, output in zip(batch, corrected):
        ldr, gt = example["ldr"][None], example["ldr_gt"][None]
        scores["psnr"].append(float(metrics.psnr(output[None], gt)[0]))
        scores["ssim"].append(float(metrics.ssim(output[None], gt)[0]))
        scores["input_psnr"].append(float(metrics.psnr(ldr, gt)[0]))
        scores["input_ssim"].append(float(metrics.ssim(ldr, gt)[0]))
    return {k: float(np.mean(v)) for k, v in scores.items()}


class Entry(NamedTuple):
  name: str            # what the evaluator measures
  evaluator: PsnrSsim  # anything with `run(model, variables) -> {metric: float}`
  every: int           # run every `every` training steps (at logged steps); 0: at the end only
  prefix: str          # logged keys: prefix + metric name


def from_config(config) -> List[Entry]:
  """The training run's evaluators: `PsnrSsim` on `config.data.eval_split`'s first
  `config.num_eval_images` images every `config.eval_every` steps (none when
  `num_eval_images` is 0)."""
  if not config.num_eval_images:
    return []
  return [Entry("psnr_ssim", PsnrSsim(config.data, config.data.eval_split,
                                      config.num_eval_images),
                config.eval_every, "eval_")]


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
