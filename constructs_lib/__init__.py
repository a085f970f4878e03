"""Constructs for SageMaker notebook-instance and Studio lifecycle configurations.

Names are imported on first use, so that tools which only read synthesized output (the review and
rehearsal commands) start without loading aws-cdk-lib.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from constructs_lib.bundling import (
        ArchiveLocation as ArchiveLocation,
    )
    from constructs_lib.bundling import (
        Compression as Compression,
    )
    from constructs_lib.bundling import (
        Encoding as Encoding,
    )
    from constructs_lib.bundling import (
        LifecycleBundle as LifecycleBundle,
    )
    from constructs_lib.bundling import (
        Mode as Mode,
    )
    from constructs_lib.bundling import (
        Module as Module,
    )
    from constructs_lib.bundling import (
        RunAs as RunAs,
    )
    from constructs_lib.bundling import (
        Target as Target,
    )
    from constructs_lib.errors import LifecycleConfigError as LifecycleConfigError
    from constructs_lib.idle_backstop import IdleBackstop as IdleBackstop
    from constructs_lib.idle_backstop import WorkingHours as WorkingHours
    from constructs_lib.notebook_instance import NotebookInstance as NotebookInstance
    from constructs_lib.notebook_lifecycle_config import NotebookLifecycleConfig as NotebookLifecycleConfig

_WHERE = {
    "ArchiveLocation": "constructs_lib.bundling",
    "Compression": "constructs_lib.bundling",
    "Encoding": "constructs_lib.bundling",
    "LifecycleBundle": "constructs_lib.bundling",
    "Mode": "constructs_lib.bundling",
    "Module": "constructs_lib.bundling",
    "RunAs": "constructs_lib.bundling",
    "Target": "constructs_lib.bundling",
    "LifecycleConfigError": "constructs_lib.errors",
    "IdleBackstop": "constructs_lib.idle_backstop",
    "WorkingHours": "constructs_lib.idle_backstop",
    "NotebookInstance": "constructs_lib.notebook_instance",
    "NotebookLifecycleConfig": "constructs_lib.notebook_lifecycle_config",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'constructs_lib' has no attribute {name!r}")
