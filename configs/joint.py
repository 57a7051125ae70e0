"""Stage 2: train f1 + f2 with Eq. 4 and hierarchical supervision on f2 (paper Sec. 3.3),
f1 initialised from the `hdr` run.

    python train.py --config=joint          # workdir runs/joint
With a finished `python train.py --config=hdr` (runs/hdr), f1 starts from its checkpoint.
Without one, this run pre-trains f1 itself first (`init_from_missing = "pretrain"`): an `hdr`
stage of `pretrain_fraction` (30%) of the steps, then `joint` for the rest; the first printed
line says so and <workdir>/run.json records it (`init_from`, with the stage plan).
`--config.init_from_missing=error` stops instead, in one line, naming the command to run.
"""

from configs import default


def get_config():
  config = default.get_config()
  config.data.dataset = "rendered/full"
  config.init_from = "runs/hdr"
  config.init_from_groups = ("f1",)
  config.init_from_missing = "pretrain"
  # f1 arrives trained: it moves at a tenth of the learning rate, kept close to HDR by eps.
  config.stages.joint.supervision.f1_lr_factor = 0.1
  return config
