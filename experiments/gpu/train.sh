#!/usr/bin/env bash
# On a GPU machine (this project's `device` run, after `bash experiments/gpu/pack.sh` here):
# installs the carried wheels, trains configs/release_gpu.py (full width: `hdr` + `joint` at
# 64x128, then `finetune` at 128x256), evaluates on `rendered/small` and `exposure_stacks` test,
# and leaves under $OUT what comes back: train.log and the exported model as <= 15 MiB parts
# (model.tar.part-*), which `cat model.tar.part-* | tar -x` joins here. The real brackets are
# built into `exposure_stacks` there by the first training run (~1-2 min).
#   device run, carry [".carry"]:  bash experiments/gpu/train.sh
#   here, the same code paths at tiny sizes on a CPU:  QUICK=1 bash experiments/gpu/train.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/gpu_out}
QUICK=${QUICK:-0}
ROOT=${ROOT:-/tmp/gpu_runs}
DATA=${DATA:-/tmp/gpu_tfds}
mkdir -p "$OUT" "$ROOT" "$DATA"
test -d .carry/whl || { echo "no .carry/: run 'bash experiments/gpu/pack.sh' here first, then carry .carry"; exit 2; }
PY=${PYTHON:-python3}
if [ "$QUICK" = 0 ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .carry/whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1
cp -r .carry/tfds/* "$DATA"/
MANUAL=$PWD/.carry
TINY=() FT=() EVAL=()
if [ "$QUICK" != 0 ]; then  # tiny: the same code paths in ~4 min on a 2-core CPU
  MANUAL=$ROOT/manual && mkdir -p "$MANUAL/brackets"  # three stacks (two train, one test)
  for s in deepfuse_Seq_00 deepfuse_Seq_11 forth_Cafe; do
    ln -sfn "$PWD/.carry/brackets/$s" "$MANUAL/brackets/$s"
  done
  TINY=(--config.model.width=0.125 --config.total_steps=4 --config.batch_size=4
        --config.log_every=1 --config.checkpoint_every=4 --config.num_eval_images=2)
  FT=(--config.image_size="(64, 128)")
  EVAL=(--max_images=2)
fi
FLAGS=(--config.data.data_dir="$DATA"
       --config.data.mixture.exposure_stacks.manual_dir="$MANUAL"
       --config.data.mixture.reexposed.manual_dir="$MANUAL"
       --config.validation.manual_dir="$MANUAL" "${TINY[@]}")
{
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no GPU"
  "$PY" -c "import jax; print('jax', jax.__version__, jax.devices())"
  time "$PY" train.py --config=release_gpu --workdir="$ROOT/release_gpu" "${FLAGS[@]}"
  time "$PY" train.py --config=release_gpu:finetune --workdir="$ROOT/release_gpu_ft" \
    --config.init_from="$ROOT/release_gpu" "${FLAGS[@]}" "${FT[@]}"
  # the finetune checkpoint with the best score on the held-out stacks (configs/release_gpu.py)
  "$PY" -m drht_jax.export --workdir="$ROOT/release_gpu_ft" --output="$ROOT/export" --step=best
  for split in "exposure_stacks test" "rendered/small test_256x512"; do
    set -- $split
    "$PY" eval.py --workdir="$ROOT/export" --dataset="$1" --split="$2" --data_dir="$DATA" \
      --manual_dir="$MANUAL" --baselines=none "${EVAL[@]}"
  done
} 2>&1 | tee "$OUT/train.log"
tar -C "$ROOT" -cf - export | split -b 15m - "$OUT/model.tar.part-"
ls -la "$OUT"
