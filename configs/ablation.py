"""The ablation baseline (docs/ablations.md): the demo's recipe (`hdr` then `joint`, lr 1e-3,
hierarchical f2 compressed into the first quarter of the stage) on `rendered/full`, at half
width and batch 32. Each ablation row changes one field.

    python train.py --config=ablation --workdir=runs/ablations/recipe
    python experiments/ablate.py --preset=gpu          # every row, then the table
3,000 steps of batch 32: a minute or two of an H200 per row, hours on a 2-core CPU.
`--config=ablation:real` adds the release's real data: half of every batch real exposure-stack
frames (`exposure_stacks:train`, the fused reference as f2's target), as configs/release_v2.py.
"""

import ml_collections

from configs import default


def get_config(arg=None):
  """`arg`: None, or 'real' for the real-exposure mixture (module docstring)."""
  if arg not in (None, "", "real"):
    raise ValueError(f"configs/ablation.py: unknown argument {arg!r}; expected 'real' or none")
  config = default.get_config()
  config.data.dataset = "rendered/full"
  config.total_steps = 3_000
  config.batch_size = 32
  config.log_every = 100
  config.checkpoint_every = 1_000
  config.image_every = 0
  config.eval_every = 0
  config.num_eval_images = 0
  config.model.width = 0.5
  # The demo's recipe (configs/demo.py has the reasons), its stages at 1/3 and 2/3.
  config.model.conv_grads = "xla"
  config.optimizer.learning_rate = 1e-3
  config.optimizer.phase2_learning_rate = 1e-4
  config.optimizer.phase2_start = 0.8
  config.stage_order = ("hdr", "joint")
  joint = default.stage("joint", fraction=2 / 3, supervision=default.hierarchical_supervision())
  joint.supervision.f1_lr_factor = 0.1
  joint.supervision.decoder_starts = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)
  joint.supervision.decay = 0.8
  config.stages = ml_collections.ConfigDict({
      "hdr": default.stage("hdr", fraction=1 / 3, supervision=default.all_at_once(("f1",))),
      "joint": joint,
  })
  if arg == "real":
    config.data.mixture = default.real_stacks_mixture()
  return config
