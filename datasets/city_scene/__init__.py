"""`city_scene` TFDS builder (manual_dir); importing it registers the builder."""

from datasets.city_scene.city_scene import CityScene
