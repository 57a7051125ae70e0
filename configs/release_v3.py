"""The released model v3 (issue 17): v2 with flat regions kept flat and blown skies neutral.

    python train.py --config=release_v3 --workdir=runs/release_v3
    python -m drht_jax.export --workdir=runs/release_v3 --output=pretrained
(`bash experiments/release_v3.sh`). It starts from v2's weights (kept in `pretrained/v2`) and
trains `release_v2`'s recipe further, with three changes (docs/ablations.md has the numbers):
  - `upsample=balanced_deconv` with `padding=edge`: the paper's transposed convs with the same
    parameters, each kernel projected so that its output phases have equal tap sums. v2's
    weights load unchanged, and a constant input then comes out constant by construction
    (docs/ablations.md). `resize_conv` from trained weights loses more than this budget
    repairs; the projection loses little and training repairs it;
  - `clip_neutral`: pixels clipped in all three input channels keep no invented colour;
  - the rendered half of each batch comes from `rendered/full` (40 scenes, recipe v4) instead
    of `rendered/small` (24).
Data as release_v2: half real exposure-stack frames (`data.mixture.exposure_stacks.manual_dir`
holds the development set's parent folder), half rendered scenes under `camera` corruption.
"""

import ml_collections

from configs import default


def get_config():
  config = default.get_config()
  config.seed = 0
  config.total_steps = 2_000
  config.batch_size = 4
  config.image_size = (128, 256)
  config.log_every = 50
  config.checkpoint_every = 250
  config.max_to_keep = 2
  config.image_every = 0
  config.eval_every = 0
  config.num_eval_images = 8
  config.init_from = "pretrained/v2"
  config.init_from_groups = ("f1", "f2")

  config.data.dataset = "rendered/full"
  config.data.eval_split = "test_256x512"
  config.data.corruption = "camera"
  config.data.mixture = default.real_stacks_mixture()

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
      "joint", ssim_weight=0.05, supervision=default.all_at_once())})
  return config
