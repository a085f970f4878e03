"""Constructs for SageMaker notebook-instance and Studio lifecycle configurations."""

from constructs_lib.bundling import Compression, Encoding, LifecycleBundle, Mode, Module, RunAs, Target
from constructs_lib.errors import LifecycleConfigError
from constructs_lib.notebook_instance import NotebookInstance
from constructs_lib.notebook_lifecycle_config import NotebookLifecycleConfig

__all__ = [
    "Compression",
    "Encoding",
    "LifecycleBundle",
    "LifecycleConfigError",
    "Mode",
    "Module",
    "NotebookInstance",
    "NotebookLifecycleConfig",
    "RunAs",
    "Target",
]
