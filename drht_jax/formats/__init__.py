"""Image file reading and writing, one module per format; drht_jax/imageio_utils.py is the
public face (import from there)."""
