"""The demo: tiny DRHT on the small rendered split, `hdr` then `joint` in one run, on a CPU.

    python train.py --config=demo           # workdir runs/demo; ~10 min on 2 cores incl. data
Renders the data set first if needed (~2 min), then trains; `eval.py --workdir=runs/demo`
restores the result.
"""

from configs import default


def get_config():
  config = default.get_config()
  config.total_steps = 1500
  config.batch_size = 16
  config.log_every = 50
  config.checkpoint_every = 250
  config.image_every = 500
  config.eval_every = 500
  config.num_eval_images = 6
  config.model.width = 0.25
  config.optimizer.learning_rate = 2e-3
  config.optimizer.phase2_learning_rate = 2e-4
  config.optimizer.phase2_start = 0.8
  config.stages = [
      default.stage("hdr", "hdr", fraction=0.3, supervision=default.all_at_once(("f1",))),
      default.stage("joint", "joint", fraction=0.7, eps=1.0,
                    supervision=default.hierarchical_supervision()),
  ]
  return config
