"""DRHT (Yang et al., CVPR 2018) in JAX/Flax. `drht_jax.load("pretrained").correct(photo)`:
see drht_jax/api.py. Importing the package imports no JAX (train.py and eval.py set up the
allocator before the first JAX computation)."""

__version__ = "0.1.0"


def load(workdir: str = "pretrained", step=None, **kwargs):
  """`drht_jax.api.load`: a restored DRHT with `.correct(image)` and `.hdr(image)`."""
  from drht_jax import api  # pylint: disable=g-import-not-at-top
  return api.load(workdir, step=step, **kwargs)
