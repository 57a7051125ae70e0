"""Tiny two-stage run for tests: 8 steps (hdr 4, joint 4 with hierarchical supervision) of a
1/8-width DRHT on 32x64 examples made online from `rendered/tiny`'s 128x256 scenes (random
crops at scales 1/4 to 1, fresh corruptions). Pass `--config.data.data_dir=`."""

import ml_collections

from configs import default


def get_config():
  config = default.get_config()
  config.total_steps = 8
  config.batch_size = 4
  config.image_size = (32, 64)
  config.log_every = 1
  config.checkpoint_every = 3
  config.image_every = 0
  config.eval_every = 0
  config.num_eval_images = 0
  config.max_to_keep = 10
  config.model.width = 0.125
  config.data.dataset = "rendered/tiny"
  config.data.eval_split = "test_64x128"  # tiny's test scenes, area-downsampled 2x
  config.optimizer.learning_rate = 1e-3
  config.optimizer.phase2_learning_rate = 1e-4
  sup = default.hierarchical_supervision()
  sup.decoder_starts = (0.0, 0.0, 0.25, 0.25, 0.5, 0.75)
  config.stage_order = ("hdr", "joint")
  config.stages = ml_collections.ConfigDict({
      "hdr": default.stage("hdr", fraction=0.5, supervision=default.all_at_once(("f1",))),
      "joint": default.stage("joint", fraction=0.5, supervision=sup),
  })
  return config
