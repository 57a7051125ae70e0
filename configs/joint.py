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
  config.stages = [default.stage("joint", "joint", eps=1.0,
                                 supervision=default.hierarchical_supervision())]
  return config
