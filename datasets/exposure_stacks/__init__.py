"""`exposure_stacks` TFDS builder (manual_dir); importing it registers the builder."""

from datasets.exposure_stacks.exposure_stacks import ExposureStacks
