"""Helpers shared by the catalogue factories: locating scripts and validating arguments."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import PurePosixPath

from aws_cdk import Duration

from constructs_lib.bundling import Target
from constructs_lib.errors import LifecycleConfigError

SCRIPTS_PACKAGE = "lifecycle_scripts.notebook"
NOTEBOOK_ONLY = frozenset({Target.NOTEBOOK_INSTANCE})

_PATH_PART = re.compile(r"[A-Za-z0-9._-]+")
_DOT_NAME = re.compile(r"\.[A-Za-z0-9_-][A-Za-z0-9._-]*")
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]*")


def script(file_name: str, package: str = SCRIPTS_PACKAGE) -> str:
    """The text of a catalogue script, found inside the installed package (never via the cwd)."""
    return resources.files(package).joinpath(file_name).read_text(encoding="utf-8")


class ArgumentError(LifecycleConfigError):
    """A bad argument of a catalogue factory: ``factory``, ``argument``, the offending ``value`` (the
    argument or the element of it that is wrong) and what is ``allowed``, kept apart so that a caller
    reading JSON can say the same in its own terms (key path, JSON values)."""

    def __init__(self, factory: str, argument: str, value: object, allowed: str, *, shown: str | None = None) -> None:
        super().__init__(f"{factory}: {argument}={shown or repr(value)} is invalid: {allowed}")
        self.factory = factory
        self.argument = argument
        self.value = value
        self.allowed = allowed


def fail(factory: str, argument: str, value: object, allowed: str) -> ArgumentError:
    """The error for a bad argument: names the factory, the argument, the value and what is allowed."""
    return ArgumentError(factory, argument, value, allowed)


def check_type(factory: str, argument: str, value: object, kind: type | tuple[type, ...], what: str) -> None:
    # bool is an int: a flag given where a number is expected (or the reverse) is a mistake.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise fail(factory, argument, value, f"give {what}.")


def relative_dir(factory: str, argument: str, value: object) -> str:
    """A directory relative to the persisted volume: safe characters, no '..', not absolute."""
    allowed = (
        "give a relative path (for example '.conda/envs') of letters, digits, '.', '_' and '-' "
        "separated by '/', without '..', '.' parts or a leading '/'."
    )
    if not isinstance(value, str) or not value or value.startswith("/") or value.endswith("/"):
        raise fail(factory, argument, value, allowed)
    parts = value.split("/")
    if not all(_PATH_PART.fullmatch(part) and part not in {".", ".."} for part in parts):
        raise fail(factory, argument, value, allowed)
    return str(PurePosixPath(value))


def dot_name(factory: str, argument: str, value: object) -> str:
    """A single hidden directory name of the home directory, such as '.ssh'."""
    if not isinstance(value, str) or value in {".", ".."} or not _DOT_NAME.fullmatch(value):
        raise fail(
            factory,
            argument,
            value,
            "give a hidden folder name of the home directory starting with '.' (for example '.ssh'), "
            "of letters, digits, '.', '_' and '-', without '/' or '..'.",
        )
    return value


def display_text(factory: str, argument: str, value: object, *, max_length: int = 64) -> str:
    """Free text shown to users (one line, printable, not empty)."""
    if not isinstance(value, str) or not value.strip() or len(value) > max_length or not _PRINTABLE.fullmatch(value):
        raise fail(
            factory,
            argument,
            value,
            f"give 1 to {max_length} printable characters on one line (no control characters).",
        )
    return value


def whole_minutes(factory: str, argument: str, value: object, *, minimum: int, maximum: int) -> int:
    """A Duration of whole minutes within [minimum, maximum]."""
    allowed = f"give an aws_cdk.Duration of whole minutes from {minimum} to {maximum}."
    if not isinstance(value, Duration):
        raise fail(factory, argument, value, allowed)
    seconds = value.to_seconds()
    if seconds % 60 or not minimum <= seconds // 60 <= maximum:
        raise ArgumentError(factory, argument, value, allowed, shown=value.to_human_string())
    return int(seconds // 60)
