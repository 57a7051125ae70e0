"""The data rows of bench/run.py: the host loader and the device-side pipeline.

  loader   examples/s from `input_pipeline.create_train_iterator` (Grain over the TFDS
           array_record files) per worker count, and its ratio to the joint step's images/s.
  pipeline the device-side data recipe (`drht_jax/recipe.py` via `create_train_iterator`,
           data.placement=device): ms per example of a batch made on the device; the joint
           step alone on batches made beforehand (step-only img/s) vs `train.py`'s loop, a
           fresh batch from the iterator then the step, blocking only at the end (end-to-end
           img/s), and their ratio (goal >= 0.95); 3 alternating rounds, medians.
"""

import gc
import statistics
import sys
import time

import flax
import flax.jax_utils
import jax
import ml_collections
import numpy as np

from bench import steps
from drht_jax import input_pipeline
from drht_jax import models
from drht_jax import train_lib


def loader_config(settings, image_size, batch_size, split, workers, data_dir):
  """The config `create_train_iterator` reads for the host (Grain) path."""
  return ml_collections.ConfigDict({
      "seed": 0, "batch_size": batch_size, "image_size": tuple(image_size),
      "data": {"dataset": settings["dataset"], "train_split": split, "data_dir": data_dir,
               "manual_dir": None, "num_workers": workers, "worker_buffer_size": 2,
               "flip": True, "placement": "host"}})  # the Grain path


def _parse_absl_flags():
  """Grain's worker processes read absl flags, which this argparse script does not parse."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  if not flags.FLAGS.is_parsed():
    flags.FLAGS([sys.argv[0]])


def bench_loader(table, settings, data_dir):
  """Loader examples/s per (size, batch, split) and worker count; the best one over the joint
  step's images/s where the train rows ran first."""
  _parse_absl_flags()
  for image_size, batch_size, split in settings["loader"]:
    name = f"{image_size[0]}x{image_size[1]}"
    best = 0.0
    for workers in settings["loader_workers"]:
      config = loader_config(settings, image_size, batch_size, split, workers, data_dir)
      iterator = input_pipeline.create_train_iterator(config, 0, 1, 1)
      t0 = time.perf_counter()
      next(iterator)  # worker start-up and first reads
      startup_s = time.perf_counter() - t0
      num_batches = max(2, settings["loader_examples"] // batch_size)
      t0 = time.perf_counter()  # one interval: Grain prefetches, per-batch times are not iid
      for _ in range(num_batches):
        batch = next(iterator)
      seconds = time.perf_counter() - t0
      assert batch["ldr"].shape == (1, batch_size, *image_size, 3), batch["ldr"].shape
      del iterator, batch
      gc.collect()
      rate = num_batches * batch_size / seconds
      best = max(best, rate)
      table.add("loader", f"{settings['dataset']}:{split} {name} batch {batch_size} "
                f"workers {workers} (first batch {startup_s:.1f} s)", rate, "ex/s",
                runs=num_batches)
      table.headline[f"loader_{name}_w{workers}_ex_s"] = rate
    table.headline[f"loader_{name}_ex_s"] = best
    consumption = table.headline.get(f"train_joint_{name}_img_s")
    if consumption:
      ratio = best / consumption
      table.add("loader / joint step", f"{name}: best loader ex/s over joint img/s", ratio,
                "x")
      table.headline[f"loader_{name}_vs_joint"] = ratio


def _pipeline_iterator(settings, config, data_dir):
  config.data.dataset, config.data.data_dir = settings["dataset"], data_dir
  config.data.placement, config.data.num_workers = "device", 0
  return input_pipeline.create_train_iterator(config, 0, 1, 1)


def bench_pipeline(table, settings, cache: steps.Models, data_dir):
  """The `pipeline` rows (module docstring): recipe ms/example, step-only vs end to end."""
  num_steps = settings["pipeline_steps"]
  for image_size, batch_size in settings["pipeline_recipe"]:
    name = f"{image_size[0]}x{image_size[1]}"
    iterator = _pipeline_iterator(settings, steps.bench_config("joint", settings, image_size,
                                                               batch_size), data_dir)
    jax.block_until_ready(next(iterator))  # compiles the recipe
    reps = max(num_steps, 4)
    t0 = time.perf_counter()
    for _ in range(reps):
      jax.block_until_ready(next(iterator))
    ms = (time.perf_counter() - t0) / (reps * batch_size) * 1e3
    table.add("pipeline recipe", f"{settings['dataset']} {name} batch {batch_size}, on the "
              f"{jax.default_backend()}", ms, "ms/example", runs=reps)
    table.headline[f"recipe_{name}_ms_per_ex"] = ms
    del iterator

  for image_size, batch_size in settings["pipeline"]:
    name = f"{image_size[0]}x{image_size[1]}"
    config = steps.bench_config("joint", settings, image_size, batch_size)
    iterator = _pipeline_iterator(settings, config, data_dir)
    plan = train_lib.plan_stages(config)
    _, host_state, _ = cache.get(config, table)
    model = models.create_model(config.model, axis_name=train_lib.AXIS)
    tx = train_lib.stage_optimizer(config, plan[0], host_state.params)
    state = flax.jax_utils.replicate(host_state.replace(opt_state=tx.init(host_state.params)))
    p_step = train_lib.make_p_train_step(model, tx, plan[0])
    batches = [next(iterator) for _ in range(num_steps)]  # step-only input: made beforehand
    state, out = p_step(state, batches[0])  # compiles the step
    jax.block_until_ready((state, out, batches))
    rates = {"step": [], "e2e": []}
    for _ in range(3):  # alternating rounds, medians: a shared machine's load drifts
      t0 = time.perf_counter()
      for batch in batches:
        state, out = p_step(state, batch)
      jax.block_until_ready((state, out))
      rates["step"].append(num_steps * batch_size / (time.perf_counter() - t0))
      t0 = time.perf_counter()
      for _ in range(num_steps):  # train_lib.train_and_evaluate's loop body
        state, out = p_step(state, next(iterator))
      jax.block_until_ready((state, out))
      rates["e2e"].append(num_steps * batch_size / (time.perf_counter() - t0))
    step_only, end_to_end = (statistics.median(rates[k]) for k in ("step", "e2e"))
    if not np.isfinite(float(out["loss"][0])):
      raise FloatingPointError("bench/run.py: pipeline step loss is not finite")
    label = f"joint {name} batch {batch_size} width {settings['width']}"
    table.add("pipeline step only", label + f", {num_steps} batches made beforehand, median "
              f"of 3 rounds", step_only, "img/s", runs=3)
    table.add("pipeline end to end", label + f", next(iterator) + step, median of 3 rounds",
              end_to_end, "img/s", runs=3)
    table.add("pipeline e2e / step", f"{name}: end to end over step-only",
              end_to_end / step_only, "x")
    table.headline[f"pipeline_{name}_step_img_s"] = step_only
    table.headline[f"pipeline_{name}_e2e_img_s"] = end_to_end
    table.headline[f"pipeline_{name}_e2e_vs_step"] = end_to_end / step_only
    del iterator, state, batches
    gc.collect()

