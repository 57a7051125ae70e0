"""Stage 2: train f1 + f2 with Eq. 4 and hierarchical supervision on f2 (paper Sec. 3.3),
f1 initialised from the `hdr` run.

    python train.py --config=joint          # after `--config=hdr`; workdir runs/joint
"""

from configs import default


def get_config():
  config = default.get_config()
  config.data.dataset = "rendered/full"
  config.init_from = "runs/hdr"
  config.init_from_groups = ("f1",)
  # f1 arrives trained: it moves at a tenth of the learning rate, kept close to HDR by eps.
  config.stages.joint.supervision.f1_lr_factor = 0.1
  return config
