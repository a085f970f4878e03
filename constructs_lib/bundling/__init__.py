"""Synth-time bundling of lifecycle modules into one lifecycle script (names load on first use)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from constructs_lib.bundling.archive import ArchiveLocation as ArchiveLocation
    from constructs_lib.bundling.archive import Compression as Compression
    from constructs_lib.bundling.archive import Encoding as Encoding
    from constructs_lib.bundling.bundle import LifecycleBundle as LifecycleBundle
    from constructs_lib.bundling.bundle import encoded_length as encoded_length
    from constructs_lib.bundling.limits import (
        CONTENT_LIMIT_CHARS as CONTENT_LIMIT_CHARS,
    )
    from constructs_lib.bundling.limits import (
        HOOK_TIMEOUT_SECONDS as HOOK_TIMEOUT_SECONDS,
    )
    from constructs_lib.bundling.module import Mode as Mode
    from constructs_lib.bundling.module import Module as Module
    from constructs_lib.bundling.module import RunAs as RunAs
    from constructs_lib.bundling.module import Target as Target

_WHERE = {
    "ArchiveLocation": "constructs_lib.bundling.archive",
    "Compression": "constructs_lib.bundling.archive",
    "Encoding": "constructs_lib.bundling.archive",
    "LifecycleBundle": "constructs_lib.bundling.bundle",
    "encoded_length": "constructs_lib.bundling.bundle",
    "CONTENT_LIMIT_CHARS": "constructs_lib.bundling.limits",
    "HOOK_TIMEOUT_SECONDS": "constructs_lib.bundling.limits",
    "Mode": "constructs_lib.bundling.module",
    "Module": "constructs_lib.bundling.module",
    "RunAs": "constructs_lib.bundling.module",
    "Target": "constructs_lib.bundling.module",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'constructs_lib.bundling' has no attribute {name!r}")
