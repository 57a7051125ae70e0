#!/usr/bin/env bash
# The released model v7: `pretrained/` = configs/release_v7.py (v6's weights, kept in
# pretrained/v6, fine-tuned with frozen BatchNorm statistics on real stack frames, rendered scenes
# under the camera model and under the parametric corruption, and stack fusions re-exposed by the
# Sun360 protocol), the best of its checkpoints on 10 held-out stacks exported (`--step=best`).
# Extra arguments go to train.py. The development set's folder is configs/release_v7.py's
# MANUAL_DIR; elsewhere set it on every stack source, e.g.
# --config.data.mixture.exposure_stacks.manual_dir=/data
# --config.data.mixture.reexposed_parametric.manual_dir=/data --config.validation.manual_dir=/data
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${ROOT:-runs}
python train.py --config=release_v7 --workdir="$ROOT/release_v7" "$@"
python -m drht_jax.export --workdir="$ROOT/release_v7" --step=best --output="${OUTPUT:-pretrained}"
