"""The released model (`pretrained/`): a half-width DRHT (9 MB of float32 weights), trained
`hdr` -> `joint` at 64x128 on whole-scene crops of `rendered/full`, then fine-tuned end to end
at 256x512 with eps = 0 (the paper's adaptation step).

    python train.py --config=release --workdir=runs/release                 # hdr + joint
    python train.py --config=release:finetune --workdir=runs/release_ft     # 256x512
    python -m drht_jax.export --workdir=runs/release_ft --output=pretrained
or `bash experiments/release.sh`. On one H200: about 5 minutes in all (pretrained/report.md
has the measured times); on a 2-core CPU the same steps would take days.
"""

import ml_collections

from configs import ablation
from configs import default


def get_config(stage="joint"):
  config = ablation.get_config()
  config.total_steps = 16_000
  config.checkpoint_every = 2_000
  config.log_every = 200
  config.data.num_workers = 4
  if stage == "joint":
    return config
  if stage != "finetune":
    raise ValueError(f"configs/release.py: unknown stage {stage!r}; expected joint or finetune")
  config.image_size = (256, 512)
  config.batch_size = 8
  config.total_steps = 2_000
  config.checkpoint_every = 500
  config.log_every = 50
  config.init_from = "runs/release"
  config.init_from_groups = ("f1", "f2")
  config.optimizer.learning_rate = 1e-4
  config.optimizer.phase2_learning_rate = 2e-5
  config.optimizer.phase2_start = 0.75
  config.stage_order = ("finetune",)
  config.stages = ml_collections.ConfigDict({"finetune": default.stage("joint", eps=0.0)})
  return config
