"""The released model v6 (issue 17): v3 fine-tuned with its BatchNorm statistics frozen,
chosen on held-out stacks.

    python train.py --config=release_v6 --workdir=runs/release_v6
    python -m drht_jax.export --workdir=runs/release_v6 --step=best --output=runs/release_v6_best
    python train.py --config=release_v6:continue --workdir=runs/release_v6_continue
    python -m drht_jax.export --workdir=runs/release_v6_continue --step=best --output=pretrained
(`bash experiments/release_v6.sh`). v3's data, loss and architecture (`release_v3`), from v3's
weights (kept in `pretrained/v3`), with two changes (docs/ablations.md, "Frozen BatchNorm
statistics", has the numbers):
  - `stages.finetune.batch_norm='frozen'`: every BatchNorm normalises with v3's running
    statistics in training as at inference, and keeps them. At batch 4 a checkpoint's own
    statistics are a noisy draw of ~40 crops that moved the real-split score by ~0.9 dB
    between checkpoints of one run;
  - the real stacks train on `train[kept/6]` (49 stacks) and every checkpoint is scored on the
    10 held-out ones (`train[held/6]`, `config.validation`); the release is the best of them,
    never chosen on the test split.
`continue` trains the first run's best checkpoint further at v3's final learning rate, 1e-5,
held constant, with another seed.
"""

import ml_collections

from configs import default

HOLDOUT = 6  # every HOLDOUT-th training stack validates instead of training


def get_config(stage="first"):
  if stage not in ("first", "continue"):
    raise ValueError(f"release_v6: unknown argument {stage!r}; expected 'first' or 'continue'")
  config = default.get_config()
  config.seed = 1
  config.total_steps = 2_000
  config.batch_size = 4
  config.image_size = (128, 256)
  config.log_every = 50
  config.checkpoint_every = 250
  config.max_to_keep = 3
  config.image_every = 0
  config.eval_every = 0
  config.num_eval_images = 8
  config.init_from = "pretrained/v3"
  config.init_from_groups = ("f1", "f2")

  config.data.dataset = "rendered/full"
  config.data.eval_split = "test_256x512"
  config.data.corruption = "camera"
  config.data.mixture = default.real_stacks_mixture(train_split=f"train[kept/{HOLDOUT}]")
  config.validation = default.stacks_validation(HOLDOUT)

  config.model.width = 0.25
  config.model.global_context = True
  config.model.upsample = "balanced_deconv"
  config.model.padding = "edge"
  config.model.clip_neutral = True
  config.model.conv_grads = "xla"

  config.optimizer.learning_rate = 5e-5
  config.optimizer.phase2_learning_rate = 1e-5
  config.optimizer.phase2_start = 0.7
  config.stage_order = ("finetune",)
  config.stages = ml_collections.ConfigDict({"finetune": default.stage(
      "joint", ssim_weight=0.05, supervision=default.all_at_once(), batch_norm="frozen")})
  if stage == "continue":
    config.seed = 2
    config.total_steps = 1_000
    config.max_to_keep = 2
    config.init_from = "runs/release_v6_best"
    config.optimizer.learning_rate = 1e-5
    config.optimizer.phase2_learning_rate = 1e-5
  return config
