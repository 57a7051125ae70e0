#!/usr/bin/env bash
# The released model v6: `pretrained/` = configs/release_v6.py (v3's weights, kept in
# pretrained/v3, fine-tuned with frozen BatchNorm statistics on 49 of the 59 training stacks,
# each checkpoint scored on the other 10), then the best checkpoint trained further at 1e-5;
# each run's best validation checkpoint is exported (`--step=best`), without optimizer state.
# Extra arguments go to both train.py runs (e.g.
# --config.data.mixture.exposure_stacks.manual_dir=/data --config.validation.manual_dir=/data).
# ROOT (default runs) holds the workdirs; the second run reads the first's export from
# $ROOT/release_v6_best.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${ROOT:-runs}
python train.py --config=release_v6 --workdir="$ROOT/release_v6" "$@"
python -m drht_jax.export --workdir="$ROOT/release_v6" --step=best --output="$ROOT/release_v6_best"
python train.py --config=release_v6:continue --workdir="$ROOT/release_v6_continue" \
    --config.init_from="$ROOT/release_v6_best" "$@"
python -m drht_jax.export --workdir="$ROOT/release_v6_continue" --step=best \
    --output="${OUTPUT:-pretrained}"
