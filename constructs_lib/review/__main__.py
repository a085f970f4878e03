"""``python -m constructs_lib.review``: see :mod:`constructs_lib.review.cli`."""

from constructs_lib.review.cli import main

raise SystemExit(main())
