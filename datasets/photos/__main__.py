"""`python -m datasets.photos --output=DIR`: the photos with their exposure errors as files
(see `datasets.photos.photos.main`)."""

import sys

from datasets.photos import photos

sys.exit(photos.main())
