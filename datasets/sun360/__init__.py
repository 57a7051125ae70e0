"""`sun360` TFDS builder (manual_dir, LDR only); importing it registers the builder."""

from datasets.sun360.sun360 import Sun360
