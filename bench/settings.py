"""Benchmark sizes of bench/run.py's modes: full (the paper-size model), quick (the same code
paths at tiny sizes, for CI) and the GPU rows' two forms.

train / loader entries: ((H, W), global batch); loader adds the split to crop from
(rendered/small's `train` patches are 64x128; its `test` images are 256x512 whole).
"""

FULL = dict(
    width=1.0, matmul_n=4096, matmul_reps=5,
    train=(((64, 128), 32), ((256, 512), 4)), warmup_steps=2, timed_steps=3,
    infer_size=(256, 512), infer_reps=5, photos=(("1mp", (1024, 1024)), ("12mp", (3000, 4000))),
    photo_reps=2,
    dataset="rendered/small",
    loader=(((64, 128), 32, "train"), ((256, 512), 4, "test")), loader_workers=(0, 2),
    loader_examples=256,
    # pipeline: the step comparison at 64x128 (a full-width 256x512 step next to the recipe
    # does not fit the memory of a 2-core machine); the recipe alone at both sizes.
    pipeline=(((64, 128), 32),), pipeline_recipe=(((64, 128), 32), ((256, 512), 4)),
    pipeline_steps=2,
)
QUICK = dict(
    width=0.125, matmul_n=1024, matmul_reps=3,
    train=(((64, 128), 2),), warmup_steps=1, timed_steps=2,
    infer_size=(256, 512), infer_reps=2, photos=(), photo_reps=0,
    dataset="rendered/tiny",
    loader=(((64, 128), 2, "train"),), loader_workers=(0,),
    loader_examples=16,
    pipeline=(((64, 128), 2),), pipeline_recipe=(((64, 128), 2),), pipeline_steps=2,
)
# GPU rows (bench/gpu_rows.py). budget_s: no row starts once the elapsed time plus 1.25x the
# longest row so far would pass it (the first rows always run); sized so that the rows and
# start-up fit a few minutes of a GPU.
GPU_FULL = dict(width=1.0, warmup_steps=3, timed_steps=10, infer_reps=10, matmul_n=8192,
                matmul_reps=10, tiny=False, budget_s=130.0)
# The same rows at tiny sizes (sides / 4 but at least 32x64, batches / 16, width 0.125): what
# the tests run on a CPU.
GPU_QUICK = dict(width=0.125, warmup_steps=1, timed_steps=2, infer_reps=2, matmul_n=256,
                 matmul_reps=2, tiny=True, budget_s=600.0)
