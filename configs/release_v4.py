"""A v4 candidate (issue 17), not released: v3 trained further with re-exposed real photos.

    python train.py --config=release_v4 --workdir=runs/release_v4
It starts from v3's weights (`pretrained/`, the release) and keeps release_v3's model and
schedule. One change in the data: of each batch of 4, one example is a real exposure-stack
middle frame re-shot a random exposure off by the camera model (`data.reexpose="ldr_mid"`,
`recipe.reexpose`), with the middle frame itself as the target: the `photos` protocol (a real
photo, an exposure error as a camera makes it, the photo as the ground truth), which v3 never
trained on. The other three: two real stack frames with the stack's fusion as the target, one
`rendered/full` scene under `camera` corruption. It gains on the photo splits and loses on the
rendered ones (with middle frames also on the real split; `--config.data.mixture.reexposed.
reexpose=ldr_gt` re-shoots the fusions instead), so v3 stays released (docs/ablations.md,
"Re-exposed real photos").
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
  config.init_from = "pretrained/v3"  # the release when this ran
  config.init_from_groups = ("f1", "f2")

  config.data.dataset = "rendered/full"
  config.data.eval_split = "test_256x512"
  config.data.corruption = "camera"
  config.data.mixture = default.real_stacks_mixture(0.5, reexposed_share=0.25)

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
