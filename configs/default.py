"""Every knob of a run, in one place. Stage configs (hdr.py, joint.py, finetune.py, demo.py)
import this and change a few fields.

A run is the sequence `stage_order` of named `stages` (usually one; override a field with
`--config.stages.joint.eps=10`). Each stage takes `fraction` of `total_steps`,
with its own loss, trainable groups and hierarchical schedule, and a fresh optimizer state
(the grouping changes between stages); parameters and BatchNorm statistics carry over.
"""

import ml_collections
from ml_collections.config_dict import placeholder


# eps of Eq. 4 (the paper gives no value): Eq. 2's scaled HDR term is ~1e-3 of the LDR term, and
# eps = 100 keeps f1 an HDR estimator while f2 learns (docs/ablations.md, "Config choices").
EPS = 100.0


def hierarchical_supervision(trainable=("f1", "f2"), decay=0.5):
  """Paper Sec. 3.3: f2's encoder and coarsest deconv first, then one decoder level at a time
  toward full resolution (starts are fractions of the stage), earlier groups' learning rates
  multiplied by `decay` at each later start."""
  return ml_collections.ConfigDict(dict(
      trainable=trainable,
      encoder_start=0.0,
      decoder_starts=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5),  # f2/decoder/0 (coarsest) ... /5 (output)
      decay=decay,
      f1_lr_factor=1.0,
      warmup=0.05,  # each group's learning rate ramps up over 5% of the stage from its start
  ))


def all_at_once(trainable=("f1", "f2")):
  """Every trainable group from the stage's first step, no decay."""
  sup = hierarchical_supervision(trainable, decay=1.0)
  sup.decoder_starts = (0.0,) * 6
  return sup


def real_stacks_mixture(share=0.5, manual_dir="/work/shared/data", reexposed_share=0.0,
                        reexposed_photo="ldr_mid", train_split="train"):
  """`data.mixture` giving `share` of every batch to real exposure-stack frames
  (`exposure_stacks:train`: real frames in, the stack's fusion as f2's target, its merged HDR as
  f1's) and `reexposed_share` (when > 0) to one of the same stacks' photos re-shot a random
  exposure off (`data.reexpose`: `reexposed_photo`, "ldr_mid" the middle frame or "ldr_gt" the
  fusion, is f2's target, the merged HDR f1's). `manual_dir`: the development set's parent
  folder on the project machines. `train_split`: the stacks both sources read, e.g.
  `train[kept/6]` beside `stacks_validation(6)`."""
  mixture = {"exposure_stacks": dict(
      dataset="exposure_stacks", train_split=train_split, share=share, manual_dir=manual_dir)}
  if reexposed_share:
    mixture["reexposed"] = dict(
        dataset="exposure_stacks", train_split=train_split, share=reexposed_share,
        manual_dir=manual_dir, reexpose=reexposed_photo)
  return ml_collections.ConfigDict(mixture)


def stacks_validation(every=6, manual_dir="/work/shared/data", metric="psnr"):
  """`config.validation` on every `every`-th stack of `exposure_stacks:train`
  (`train[held/every]`, all its frames, against the fused reference), for a run whose stack
  sources read `train[kept/every]` (`real_stacks_mixture(train_split=...)`)."""
  return ml_collections.ConfigDict(dict(
      dataset="exposure_stacks", split=f"train[held/{every}]", manual_dir=manual_dir,
      num_images=0, metric=metric))


def stage(loss, fraction=1.0, eps=EPS, supervision=None, ssim_weight=0.0, batch_norm="batch"):
  """One training stage. `loss`: 'hdr' (Eq. 2 on f1 alone) | 'joint' (Eq. 4 with `eps`, plus
  `ssim_weight` times 1 - SSIM of the output: 0 in the paper, see losses.joint_loss).
  `batch_norm`: 'batch' (the paper's: every BatchNorm normalises with its batch's statistics
  and updates its running ones) | 'frozen' (every BatchNorm normalises with the running
  statistics it started the stage with, in training as at inference, and they stay unchanged:
  fine-tuning a trained model without the train / inference gap of small batches,
  docs/ablations.md)."""
  return ml_collections.ConfigDict(dict(
      loss=loss, fraction=fraction, eps=eps, ssim_weight=ssim_weight, batch_norm=batch_norm,
      supervision=supervision if supervision is not None else all_at_once()))


def model_config():
  """Model knobs (drht_jax/models.py, `models.create_model`), embedded as `config.model`; its
  module docstring describes `upsample`, `padding` and `arch`. Tests build nets from this."""
  return ml_collections.ConfigDict(dict(
      variant="paper",      # 'paper' | 'released' (layout of f2; f1 always follows the paper)
      width=1.0,            # multiplier on models.WIDTHS; tests and the demo use small values
      fusion="add_mul",     # skip fusion: 'add_mul' (released: d + e + d*e) | 'concat' (+1x1 conv)
      deconv="subpixel",    # 'subpixel' | 'transpose': same function and parameters, see Deconv
      # decoder upsampling: 'deconv' (the paper's transposed conv, implemented as `deconv`)
      # | 'balanced_deconv' (the same parameters, phases forced to equal tap sums) |
      # 'resize_conv' (2x resize by `resize_method`, 'nearest' | 'bilinear', then a conv of
      # the same shapes). The last two keep flat regions flat, see models' docstring. Runs
      # saved before this knob existed read as 'deconv'.
      upsample="deconv",
      resize_method="nearest",
      # 'zeros' (the paper's SAME zero padding) | 'edge' (border pixels repeated) for every
      # conv except a paper 'deconv': with 'resize_conv' or 'balanced_deconv', a constant
      # input then comes out constant up to the image border too, instead of a zero-padding
      # edge seeping ~100 px inward.
      padding="zeros",
      # True: where the input is clipped in all three channels the output keeps no chroma
      # (models.neutralize_clipped): blown skies come out neutral, not tinted.
      clip_neutral=False,
      arch="drht",          # 'drht' | 'single' | 'f2_only' (ablation, models' docstring)
      # compute dtype: 'float32' | 'bfloat16' (mixed precision: convolutions and activations
      # in bfloat16; parameters, optimizer state, BatchNorm statistics (flax reduces in
      # float32), the nets' outputs and the losses in float32; no loss scaling: bfloat16 has
      # float32's exponent range. tests/test_mixed_precision.py: a tiny bf16 run's loss stays
      # within 2.4% of float32's. For GPUs; XLA:CPU runs bfloat16 convolutions slower)
      dtype="float32",
      conv_grads="xla",     # conv gradients: 'xla' | 'im2col' (conv.py; faster at full size on CPU)
      # Not in the paper: the bottleneck's spatial mean, through a 1x1 conv + ELU, added back
      # at every bottleneck position. Gives each output pixel the whole image's statistics
      # (the ground truth's tone curve depends on them: Reinhard's log-average and
      # percentiles) at any image size; without it the deepest level sees the whole image
      # only at the training size (2x4 at 64x128, 8x16 at 256x512). docs/ablations.md.
      global_context=False,
  ))


def get_config():
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.total_steps = 100_000
  config.batch_size = 16            # global, over all devices and hosts
  config.image_size = (64, 128)     # training crop (H, W), multiples of 32
  config.log_every = 100
  config.checkpoint_every = 2_000
  config.image_every = 2_000        # image grid in workdir/images/ (0: never)
  config.eval_every = 0             # PSNR/SSIM on eval_split during training (0: only at end)
  config.num_eval_images = 16       # images of eval_split used by those evaluations
  config.max_to_keep = 3
  config.init_from = ""             # workdir whose latest checkpoint initialises the model
  config.init_from_groups = ("f1",)  # which parameter groups init_from copies
  # True: init_from may be a narrower model (a smaller model.width); its variables are widened
  # so the new model computes the same function at step 0 (drht_jax/widen.py, Net2Net).
  config.init_widen = False
  # A missing init_from checkpoint is found before anything slow (drht_jax/preflight.py):
  # "error" stops in one line naming the command that makes it; "pretrain" (configs/joint.py)
  # pre-trains f1 in this run instead: an `hdr` stage of `pretrain_fraction` of total_steps
  # goes first, the config's stages share the rest. The run writes what it decided in
  # <workdir>/run.json (`init_from`: "checkpoint DIR step N" or "pretrain: <why>", and the
  # stage plan); config.json stays the config as given. A resumed run keeps that decision.
  config.init_from_missing = "error"
  config.pretrain_fraction = 0.3
  # The stage that "pretrain" puts first (train_lib.plan_stages); its fraction follows
  # pretrain_fraction.
  config.pretrain_stage = stage("hdr", fraction=config.get_ref("pretrain_fraction"),
                                supervision=all_at_once(("f1",)))
  # Bit-reproducible GPU runs: train.py puts XLA's deterministic flags in XLA_FLAGS before JAX
  # starts (--xla_gpu_deterministic_ops=true --xla_gpu_autotune_level=0: deterministic
  # reductions, scatters, GEMMs and convolutions, no timing-based kernel choice). Off by
  # default: it costs GPU speed (bench/run.py --gpu-only measures it); same seed, same digest
  # then holds on one GPU model + software stack. CPU runs are deterministic either way (a
  # no-op there, recorded in config.json).
  config.deterministic = False

  config.data = ml_collections.ConfigDict(dict(
      dataset="rendered/small",     # TFDS name[/config]: rendered, city_scene, sun360
      train_split="train",
      # rendered: test_64x128 (test scenes area-downsampled to 64x128, the paper's city-scene
      # protocol) or test_256x512 (whole scenes, its Sun360 protocol); see input_pipeline.
      eval_split="test_64x128",
      data_dir=placeholder(str),    # TFDS data_dir; None: ~/tensorflow_datasets
      manual_dir=placeholder(str),  # where city_scene / sun360 read the user's copy
      num_workers=0,                # Grain worker processes (0: in the training process)
      worker_buffer_size=2,
      flip=True,
      # Scene data sets (rendered): each example is a crop of a scene with image_size's aspect
      # ratio, its side a uniform fraction in crop_scale of the scene's (the whole scene with
      # probability whole_scene_prob: the test protocol), area-resized to image_size.
      crop_scale=(0.25, 1.0),
      whole_scene_prob=0.25,
      # True: a fresh corruption for every example of every epoch. False (an ablation only):
      # one corruption per scene, as a data set with corruptions frozen at build time.
      fresh_corruptions=True,
      max_train_records=0,          # > 0: train on the first N records (scenes) only
      # Where the training records live (the recipe runs on the device either way; same bits):
      # "device": decoded once and kept in device memory, examples gathered there by index (no
      # per-step host work); "host": Grain reads and decodes each batch's records
      # (num_workers processes); "auto": device when the decoded records fit
      # device_budget_gib (0: a quarter of the device's memory; 2 GiB on a CPU).
      placement="auto",
      device_budget_gib=0.0,
      # The input's corruption of scene data and of re-exposed photos (drht_jax/recipe.py;
      # example records without `reexpose` keep their stored inputs): "camera"
      # (drht_jax/camera.py's simulated capture: exposure, white balance, shot + read noise,
      # camera curve, 8 bit, JPEG) or "parametric" (scenes: random exposure, contrast and
      # camera curve, Eq. 1; photos: an exact exposure change of the encoded photo, the paper's
      # Sun360 protocol). A mixture entry may set its own.
      corruption="camera",
      # Example records only: "" (the stored `ldr` is the input) or the name of a stored
      # well-exposed photo (e.g. exposure_stacks' "ldr_mid", sun360's "ldr_gt") that becomes the
      # target and, re-shot by recipe.reexpose (`ev` stops off, made by `corruption`), the input.
      reexpose="",
  ))
  # A validation set scored at every checkpoint, and the best checkpoint kept (train_lib):
  # `split` "" is off; otherwise a split of `dataset` ("" = data.dataset), typically the
  # held-out scenes of the training split, "train[held/K]", while the training data read
  # "train[kept/K]" (input_pipeline.HOLDOUT_SPLIT). The first `num_images` images (0: all),
  # DRHT's PSNR and SSIM in workdir/validation.jsonl; the checkpoint with the highest
  # `metric` ("psnr" | "ssim") is never deleted, and `eval.py --step=best` reads it.
  config.validation = ml_collections.ConfigDict(dict(
      dataset="", split="", manual_dir="", num_images=0, metric="psnr"))
  config.model = model_config()
  # Full-size nets on a CPU: convolution gradients by conv.py's im2col path (XLA:CPU's own
  # weight gradients of the large-image layers run at 7-13 GFLOP/s; conv.py has the numbers).
  config.model.conv_grads = "im2col"

  # Paper Sec. 3.4: Adam, lr 1e-2 then 5e-5 (beta2 0.998) for the last quarter; global-norm
  # clipping.
  config.optimizer = ml_collections.ConfigDict(dict(
      learning_rate=1e-2,
      phase2_learning_rate=5e-5,
      phase2_start=0.75,
      b1=0.9, b2=0.998, eps=1e-8,
      clip_norm=1.0,
  ))
  config.stage_order = ("joint",)
  config.stages = ml_collections.ConfigDict({
      "joint": stage("joint", supervision=hierarchical_supervision())})

  config.distributed = ml_collections.ConfigDict(dict(
      initialize=False,             # call jax.distributed.initialize (multi-host)
      coordinator_address=placeholder(str),  # None: from the environment (e.g. SLURM)
      num_processes=placeholder(int), process_id=placeholder(int),
  ))
  return config
