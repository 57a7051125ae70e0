"""Stage 1: pre-train f1 (HDR estimation) with Eq. 2 on LDR/HDR pairs.

    python train.py --config=hdr            # workdir runs/hdr
Full size on the rendered `full` split; about a day on one GPU at the paper's step count.
"""

import ml_collections

from configs import default


def get_config():
  config = default.get_config()
  config.data.dataset = "rendered/full"
  config.stage_order = ("hdr",)
  config.stages = ml_collections.ConfigDict({
      "hdr": default.stage("hdr", supervision=default.all_at_once(("f1",)))})
  return config
