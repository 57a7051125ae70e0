"""Stage 3: fine-tune DRHT end to end at 256x512 with Eq. 4 at eps = 0 (LDR loss only), the
paper's adaptation step, from the `joint` run.

    python train.py --config=finetune       # on rendered/full at 256x512; workdir runs/finetune
    python train.py --config=finetune --config.data.dataset=sun360 \\
        --config.data.manual_dir=/path/to/manual           # on your Sun360 copy, as the paper
Needs a finished `python train.py --config=joint` (runs/joint; `--config.init_from=DIR` for
another): without its checkpoint the run stops at once, in one line, naming that command
(`init_from_missing = "error"`: pre-training f1 here would not give what this stage starts
from). Sun360 needs your files in <manual_dir>/sun360/{train,test}/ (datasets/sun360/README.md);
the run checks them before anything slow.
"""

import ml_collections

from configs import default


def get_config():
  config = default.get_config()
  config.data.dataset = "rendered/full"
  config.image_size = (256, 512)
  config.batch_size = 4
  config.init_from = "runs/joint"
  config.init_from_groups = ("f1", "f2")
  config.init_from_missing = "error"
  config.optimizer.learning_rate = 5e-5
  config.optimizer.phase2_learning_rate = 5e-5
  config.stage_order = ("finetune",)
  config.stages = ml_collections.ConfigDict({"finetune": default.stage("joint", eps=0.0)})
  return config
