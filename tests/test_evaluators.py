"""Specifies drht_jax/evaluators.py: the training loop's evaluators, built from the config.

Fixtures (a tiny workdir, eval.py's report on fake examples) come from tests/test_evaluate.py.
"""

import numpy as np
import pytest

from drht_jax import checkpointing, input_pipeline
from tests.test_evaluate import _fake_examples, report, workdir  # pylint: disable=unused-import


def test_training_evaluator_from_the_config_agrees_with_the_report(workdir, report):
  """The training loop's evaluator (`evaluators.from_config`) and eval.py's report run the
  same evaluation loop: same images, same DRHT output, the same PSNR / SSIM up to rounding."""
  from drht_jax import evaluators  # pylint: disable=g-import-not-at-top
  config = checkpointing.read_config(workdir)
  with config.unlocked():
    config.num_eval_images, config.eval_every = 3, 5
  entries = evaluators.from_config(config)
  assert [(e.name, e.every, e.prefix) for e in entries] == [("psnr_ssim", 5, "eval_")]
  _, model, variables, _ = checkpointing.restore_for_inference(workdir)
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(input_pipeline, "eval_examples",
               lambda data_config, split, max_examples=None: _fake_examples(max_examples))
    scores = evaluators.run_all(entries, model, variables)
  assert sorted(scores) == ["eval_input_psnr", "eval_input_ssim", "eval_psnr", "eval_ssim"]
  methods = report[0]["methods"]
  for metric in ("psnr", "ssim"):
    np.testing.assert_allclose(scores[f"eval_{metric}"], methods["drht"][metric], rtol=1e-4)
    np.testing.assert_allclose(scores[f"eval_input_{metric}"], methods["input"][metric],
                               rtol=1e-4)
  with config.unlocked():
    config.num_eval_images = 0
  assert evaluators.from_config(config) == []
