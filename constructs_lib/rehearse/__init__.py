"""Rehearse a lifecycle hook before deploying it: run it for real, twice, in an instance-like root.

``python -m constructs_lib.rehearse ASSEMBLY`` (or the ``rehearse`` console command); see
``constructs_lib.rehearse.cli`` and docs/rehearse.md.
"""

from constructs_lib.rehearse.cli import main, rehearse

__all__ = ["main", "rehearse"]
