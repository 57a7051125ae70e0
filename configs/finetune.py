"""Stage 3: fine-tune DRHT end to end on Sun360 (LDR only: Eq. 4 with eps = 0) at 256x512.

    python train.py --config=finetune --config.data.manual_dir=/path/to/manual
Needs the user's Sun360 copy (datasets/sun360/README.md) and the `joint` run.
"""

import ml_collections

from configs import default


def get_config():
  config = default.get_config()
  config.data.dataset = "sun360"
  config.image_size = (256, 512)
  config.batch_size = 4
  config.init_from = "runs/joint"
  config.init_from_groups = ("f1", "f2")
  config.optimizer.learning_rate = 5e-5
  config.optimizer.phase2_learning_rate = 5e-5
  config.stage_order = ("finetune",)
  config.stages = ml_collections.ConfigDict({"finetune": default.stage("joint", eps=0.0)})
  return config
