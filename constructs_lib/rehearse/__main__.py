"""``python -m constructs_lib.rehearse``: see ``constructs_lib.rehearse.cli``."""

import sys

from constructs_lib.rehearse.cli import main

sys.exit(main())
