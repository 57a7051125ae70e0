"""The paper's full-width DRHT on one GPU in a few minutes (issue 17), with v3's architecture
and the real-exposure data: run on a GPU machine by experiments/gpu/train.sh (which packs
nothing itself: experiments/gpu/pack.sh does, here).

    python train.py --config=release_gpu --workdir=runs/release_gpu
    python train.py --config=release_gpu:finetune --workdir=runs/release_gpu_ft
First `hdr` (f1 on Eq. 2) then `joint` (Eq. 4 + 0.05 (1 - SSIM), f2's coarse-to-fine schedule)
at 64x128, batch 32; then `finetune`, end to end at 128x256, batch 8, from the first run.
Data as the v4 candidate with re-shot fusions, but `rendered/small` (32 scenes: `rendered/full`
does not fit what a GPU machine can be sent) for the rendered share: of each batch half real
exposure-stack frames (their fusion as f2's target, merged HDR as f1's), a quarter stack fusions
re-shot by the camera model, a quarter rendered scenes under `camera` corruption. The architecture
is v3's (phase-balanced deconvolutions, edge padding, neutral clipped pixels, global context) at
`model.width` 1.0. Step counts follow the H200 rate measured for a full-width DRHT (README,
Benchmarks). Every sixth training stack is held out (`train[held/6]`, 10 stacks of the
development set): both runs score each checkpoint there and keep the best, and
experiments/gpu/train.sh exports the finetune run's best (`--step=best`), so the release is
chosen without the test split (docs/ablations.md, "Checkpoints chosen on held-out stacks").
"""

import ml_collections

from configs import default

SSIM_WEIGHT = 0.05
HOLDOUT = 6  # every HOLDOUT-th training stack validates instead of training


def get_config(stage="joint"):
  config = default.get_config()
  config.seed = 0
  config.total_steps = 12_000
  config.batch_size = 32
  config.image_size = (64, 128)
  config.log_every = 500
  config.checkpoint_every = 2_000
  config.max_to_keep = 1
  config.image_every = 0
  config.eval_every = 0
  config.num_eval_images = 8

  config.data.dataset = "rendered/small"
  config.data.eval_split = "test_64x128"
  config.data.corruption = "camera"
  config.data.mixture = default.real_stacks_mixture(
      0.5, reexposed_share=0.25, reexposed_photo="ldr_gt", train_split=f"train[kept/{HOLDOUT}]")
  config.validation = default.stacks_validation(HOLDOUT)

  config.model.width = 1.0
  config.model.global_context = True
  config.model.upsample = "balanced_deconv"
  config.model.padding = "edge"
  config.model.clip_neutral = True
  config.model.conv_grads = "xla"

  config.optimizer.learning_rate = 1e-3
  config.optimizer.phase2_learning_rate = 1e-4
  config.optimizer.phase2_start = 0.8
  config.stage_order = ("hdr", "joint")
  joint = default.stage("joint", fraction=0.7, ssim_weight=SSIM_WEIGHT,
                        supervision=default.hierarchical_supervision())
  joint.supervision.f1_lr_factor = 0.1
  joint.supervision.decoder_starts = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)
  joint.supervision.decay = 0.8
  config.stages = ml_collections.ConfigDict({
      "hdr": default.stage("hdr", fraction=0.3, supervision=default.all_at_once(("f1",))),
      "joint": joint,
  })
  if stage == "joint":
    return config
  if stage != "finetune":
    raise ValueError(f"configs/release_gpu.py: unknown stage {stage!r}; expected joint or "
                     f"finetune")
  config.image_size = (128, 256)
  config.batch_size = 8
  config.total_steps = 3_000
  config.checkpoint_every = 500  # six candidates for the validation to choose from
  config.data.eval_split = "test_256x512"
  config.init_from = "runs/release_gpu"
  config.init_from_groups = ("f1", "f2")
  config.optimizer.learning_rate = 3e-4
  config.optimizer.phase2_learning_rate = 3e-5
  config.optimizer.phase2_start = 0.7
  config.stage_order = ("finetune",)
  config.stages = ml_collections.ConfigDict({"finetune": default.stage(
      "joint", ssim_weight=SSIM_WEIGHT, supervision=default.all_at_once())})
  return config
