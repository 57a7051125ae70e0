#!/usr/bin/env bash
# The released model: `pretrained/` = configs/release.py trained hdr -> joint at 64x128, then
# fine-tuned at 128x256, exported without optimizer state. Extra arguments go to both train.py
# calls (e.g. --config.data.data_dir=/data/tfds). ROOT (default runs) holds the workdirs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${ROOT:-runs}
python train.py --config=release --workdir="$ROOT/release" "$@"
python train.py --config=release:finetune --workdir="$ROOT/release_ft" \
  --config.init_from="$ROOT/release" "$@"
python -m drht_jax.export --workdir="$ROOT/release_ft" --output="${OUTPUT:-pretrained}"
