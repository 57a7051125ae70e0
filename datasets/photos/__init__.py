"""`photos` TFDS builder (LDR only, the photographs scikit-image ships); importing it registers
the builder."""

from datasets.photos.photos import Photos
