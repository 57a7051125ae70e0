#!/usr/bin/env bash
# The real-photo model v2: `pretrained/` = configs/release_v2.py (v1's weights fine-tuned on half
# real exposure stacks, half rendered scenes under the camera simulation), exported without
# optimizer state, then measured. Extra arguments go to train.py (e.g.
# --config.data.mixture.exposure_stacks.manual_dir=/data). ROOT (default runs) holds the workdir.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${ROOT:-runs}
python train.py --config=release_v2 --workdir="$ROOT/release_v2" "$@"
python -m drht_jax.export --workdir="$ROOT/release_v2" --output="${OUTPUT:-pretrained}"
