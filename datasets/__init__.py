"""TFDS builders of drht-jax: `rendered` (built here), `city_scene` and `sun360` (manual_dir)."""
