#!/usr/bin/env bash
# Packs what experiments/gpu/train.sh needs on a GPU machine that has JAX, Flax, Optax, Orbax,
# NumPy, SciPy, scikit-image and OpenCV but no registry (this project's `device` machines,
# Python 3.12): into .carry/ (git-ignored), at most ~60 MiB with the repository.
#   .carry/whl/      wheels of the packages such a machine lacks (pinned as requirements.txt)
#   .carry/tfds/     the built `rendered/small` data set (32 scenes; rendered/full is too large)
#   .carry/brackets/ the real exposure brackets, built into `exposure_stacks` there (~20 MB of
#                    JPEGs against ~0.6 GB built); research use only: never commit them
# Run here (it needs the registry and the built data):
#   bash experiments/gpu/pack.sh [BRACKETS_DIR (default ../shared/data/brackets)]
set -euo pipefail
cd "$(dirname "$0")/../.."
BRACKETS=${1:-../shared/data/brackets}
DATA=${TFDS_DATA_DIR:-$HOME/tensorflow_datasets}
grep -qx "/.carry/" .git/info/exclude 2>/dev/null || echo "/.carry/" >> .git/info/exclude
rm -rf .carry && mkdir -p .carry/whl .carry/tfds/rendered
PY=${PYTHON:-python3}
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any -d .carry/whl \
  tensorflow-datasets==4.9.10 grain==0.2.18 array_record==0.8.6 ml_collections==1.1.0 \
  clu==0.0.12 tensorboardX==2.6.5 importlib_resources==7.1.0 OpenEXR==3.5.3 dm-tree==0.1.10 \
  immutabledict==4.3.1 simple_parsing==0.1.9 tensorflow-metadata==1.21.0 termcolor==3.3.0 \
  toml==0.10.2 portpicker==1.6.0 docstring_parser==0.18.0 googleapis-common-protos==1.76.0
# promise ships only an sdist: build its (pure Python) wheel here.
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w .carry/whl promise==2.3
test -d "$DATA/rendered/small" || "$PY" -m drht_jax.input_pipeline --prepare --dataset=rendered/small
cp -r "$DATA/rendered/small" .carry/tfds/rendered/
cp -r "$BRACKETS" .carry/brackets
du -sh .carry/* && du -sh .carry
