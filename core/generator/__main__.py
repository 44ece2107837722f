"""``python -m logwatch.core.generator OUT_DIR`` rewrites the bundled sample logs."""

import sys

from . import main

sys.exit(main())
