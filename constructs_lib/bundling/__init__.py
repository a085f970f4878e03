"""Synth-time bundling of lifecycle modules into one lifecycle script."""

from constructs_lib.bundling.archive import Compression, Encoding
from constructs_lib.bundling.bundle import LifecycleBundle, encoded_length
from constructs_lib.bundling.limits import CONTENT_LIMIT_CHARS, HOOK_TIMEOUT_SECONDS
from constructs_lib.bundling.module import Mode, Module, RunAs, Target

__all__ = [
    "CONTENT_LIMIT_CHARS",
    "HOOK_TIMEOUT_SECONDS",
    "Compression",
    "Encoding",
    "LifecycleBundle",
    "Mode",
    "Module",
    "RunAs",
    "Target",
    "encoded_length",
]
