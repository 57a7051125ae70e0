"""The ablation baseline (docs/ablations.md): the demo's recipe (`hdr` then `joint`, lr 1e-3,
hierarchical f2 compressed into the first quarter of the stage) on `rendered/full`, at half
width and batch 32. Each ablation row changes one field.

    python train.py --config=ablation --workdir=runs/ablations/recipe
    python experiments/ablate.py --preset=gpu          # every row, then the table
3,000 steps of batch 32: a minute or two of an H200 per row, hours on a 2-core CPU.
"""

from configs import demo


def get_config():
  config = demo.get_config()
  config.data.dataset = "rendered/full"
  config.total_steps = 3_000
  config.batch_size = 32
  config.log_every = 100
  config.checkpoint_every = 1_000
  config.image_every = 0
  config.eval_every = 0
  config.num_eval_images = 0
  config.model.width = 0.5
  config.stages.hdr.fraction = 1 / 3
  config.stages.joint.fraction = 2 / 3
  return config
