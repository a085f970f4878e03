"""Review tool for pull requests: the lifecycle scripts inside a synthesized CDK app, decoded, and their diff.

Standard library only at run time (plus the stdlib-based readers of ``constructs_lib.bundling``).
Entry point: :func:`constructs_lib.review.cli.main` (``python -m constructs_lib.review``).
"""

from constructs_lib.review.assembly import Assembly, HookView, ModuleView, ReviewError, load_assembly
from constructs_lib.review.compare import Report, compare

__all__ = ["Assembly", "HookView", "ModuleView", "Report", "ReviewError", "compare", "load_assembly"]
