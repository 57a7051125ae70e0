#!/usr/bin/env bash
# The released model v3: `pretrained/` = configs/release_v3.py (v2's weights, kept in
# pretrained/v2, trained further with phase-balanced deconvolutions, edge padding and neutral
# clipped pixels), exported without optimizer state. Extra arguments go to train.py (e.g.
# --config.data.mixture.exposure_stacks.manual_dir=/data). ROOT (default runs) holds the workdir.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${ROOT:-runs}
python train.py --config=release_v3 --workdir="$ROOT/release_v3" "$@"
python -m drht_jax.export --workdir="$ROOT/release_v3" --output="${OUTPUT:-pretrained}"
