"""The demo: tiny DRHT on the small rendered split, `hdr` then `joint` in one run, on a CPU.

    python train.py --config=demo           # workdir runs/demo
Renders the data set first if needed, then trains 1,500 steps (times: docs/ablations.md,
"Config choices");
`eval.py --workdir=runs/demo` restores the result (test_64x128: the scenes at the training size).
"""

import ml_collections

from configs import default


def get_config():
  config = default.get_config()
  config.total_steps = 1_500
  config.batch_size = 8
  config.log_every = 25
  config.checkpoint_every = 100
  config.image_every = 500
  config.eval_every = 500
  config.num_eval_images = 6
  config.model.width = 0.25
  # At 1/4 width both gradient paths run alike, and XLA's keeps the demo's recorded results bit
  # for bit (docs/ablations.md, "Config choices").
  config.model.conv_grads = "xla"
  config.optimizer.learning_rate = 1e-3
  config.optimizer.phase2_learning_rate = 1e-4
  config.optimizer.phase2_start = 0.8
  config.stage_order = ("hdr", "joint")
  joint = default.stage("joint", fraction=0.6, supervision=default.hierarchical_supervision())
  joint.supervision.f1_lr_factor = 0.1
  # Coarse to fine as in the paper, compressed into the first quarter of this short stage.
  joint.supervision.decoder_starts = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25)
  joint.supervision.decay = 0.8  # milder than the default 0.5: six halvings starve this short run
  config.stages = ml_collections.ConfigDict({
      "hdr": default.stage("hdr", fraction=0.4, supervision=default.all_at_once(("f1",))),
      "joint": joint,
  })
  return config
