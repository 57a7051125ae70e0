"""The released model (`pretrained/`): a quarter-width DRHT trained `hdr` -> `joint` at 64x128
on `rendered/full` on a 2-core CPU (pretrained/v1/report.md has its time and numbers).

    python train.py --config=release --workdir=runs/release
    python -m drht_jax.export --workdir=runs/release --output=pretrained
or `bash experiments/release.sh`. Two changes from the demo's recipe, both off in the paper
configs (docs/ablations.md measures each):
  - `model.global_context`: the bottleneck's image-wide mean is added back at every position,
    so the net applies one tone curve per image at any size (the ground truth's does);
  - `stages.joint.ssim_weight`: Eq. 4 plus a structural term, 1 - SSIM of the output.
`release:finetune` is the paper's adaptation step on top (end to end at 256x512, eps = 0):

    python train.py --config=release:finetune --workdir=runs/release_ft
"""

import ml_collections

from configs import default

SSIM_WEIGHT = 0.05  # weight of 1 - SSIM in the joint loss (docs/ablations.md, "Config choices")


def get_config(stage="joint"):
  config = default.get_config()
  config.data.dataset = "rendered/full"
  # The released model (pretrained/) was trained on the parametric corruption; pinned so that
  # this config still describes it (the default is now the camera simulation).
  config.data.corruption = "parametric"
  config.total_steps = 10_000
  config.batch_size = 8
  config.checkpoint_every = 500
  config.log_every = 100
  config.image_every = 2_500
  config.eval_every = 2_500
  config.num_eval_images = 16
  # The demo's recipe (configs/demo.py has the reasons): quarter width, XLA's gradients, lr
  # 1e-3, `hdr` then `joint` with f2's coarse-to-fine schedule in the first quarter of `joint`.
  config.model.width = 0.25
  config.model.conv_grads = "xla"
  config.model.global_context = True
  config.optimizer.learning_rate = 1e-3
  config.optimizer.phase2_learning_rate = 1e-4
  config.optimizer.phase2_start = 0.8
  config.stage_order = ("hdr", "joint")
  joint = default.stage("joint", fraction=0.6, ssim_weight=SSIM_WEIGHT,
                        supervision=default.hierarchical_supervision())
  joint.supervision.f1_lr_factor = 0.1
  joint.supervision.decoder_starts = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)
  joint.supervision.decay = 0.8
  config.stages = ml_collections.ConfigDict({
      "hdr": default.stage("hdr", fraction=0.4, supervision=default.all_at_once(("f1",))),
      "joint": joint,
  })
  if stage == "joint":
    return config
  if stage != "finetune":
    raise ValueError(f"configs/release.py: unknown stage {stage!r}; expected joint or finetune")
  # Second step: end to end at 128x256 (4x the pixels, the deepest level 4x8), from the
  # 64x128 model, to adapt to larger images as the paper's 256x512 fine-tuning does, at a size
  # a CPU can afford with BatchNorm batches of 4. eps stays 100: eps = 0 cost SSIM here.
  config.image_size = (128, 256)
  config.batch_size = 4
  config.total_steps = 3_000
  config.checkpoint_every = 500
  config.log_every = 100
  config.image_every = 0
  config.eval_every = 1_000
  config.data.eval_split = "test_256x512"
  config.num_eval_images = 8
  config.init_from = "runs/release"
  config.init_from_groups = ("f1", "f2")
  config.optimizer.learning_rate = 3e-4
  config.optimizer.phase2_learning_rate = 3e-5
  config.optimizer.phase2_start = 0.7
  config.stage_order = ("finetune",)
  config.stages = ml_collections.ConfigDict({"finetune": default.stage(
      "joint", ssim_weight=SSIM_WEIGHT, supervision=default.all_at_once())})
  return config
