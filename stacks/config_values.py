"""The building blocks of the configuration parser: its error, objects with known keys, typed values, durations.

Every error names the offending key by its JSON path (``notebookEnvironment.notebooks[0].onStart[2].idle``)
and gives JSON-shaped advice (``"2m"``, ``true``), never Python's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration

from constructs_lib import LifecycleConfigError

_DURATION = re.compile(r"([0-9]{1,6})\s*(s|m|h)")


class ConfigError(LifecycleConfigError):
    """A configuration value that cannot be used; the message starts with the key's path."""


def camel_to_snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def snake_to_camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def expect_object(
    value: object, path: str, allowed: set[str], required: frozenset[str] | set[str] = frozenset()
) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: expected an object, got {json_type(value)}.")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}: unknown key; allowed keys are {', '.join(sorted(allowed))}.")
    missing = sorted(required - set(value))
    if missing:
        raise ConfigError(f"{path}.{missing[0]}: required key is missing.")
    return value


def expect(value: object, kind: type, path: str, what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{path}: expected {what}, got {json_text(value)}.")
    return value


def parse_duration(value: object, path: str) -> Duration:
    """``"90s"``, ``"60m"``, ``"2h"``."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(f'{path}: expected a duration such as "90s", "60m" or "2h", got {json_text(value)}.')
    amount, unit = int(match[1]), match[2]
    return {"s": Duration.seconds, "m": Duration.minutes, "h": Duration.hours}[unit](amount)


def key_path(path: str, key: str) -> str:
    """``path.key``, or ``path["key"]`` for a key that is not a plain name."""
    return f"{path}.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key) else f"{path}[{json_text(key)}]"


def json_type(value: object) -> str:
    """The JSON name of a value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    for kind, name in ((str, "a string"), (int, "a number"), (float, "a number"), (list, "a list")):
        if isinstance(value, kind):
            return name
    return "an object" if isinstance(value, Mapping) else type(value).__name__


def json_text(value: object, limit: int = 120) -> str:
    """A value as JSON would show it, shortened for an error message."""
    import json

    try:
        text = json.dumps(value, ensure_ascii=True, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def string_list(raw: object, path: str, pattern: re.Pattern[str], what: str, limit: int) -> tuple[str, ...]:
    """A JSON list at ``path`` of at most ``limit`` distinct strings, each a full match of ``pattern`` (``what``
    names the kind in the error)."""
    items = expect(raw, list, path, "a list")
    if len(items) > limit:
        raise ConfigError(f"{path}: {len(items)} entries; give at most {limit}.")
    values: list[str] = []
    for i, item in enumerate(items):
        value = expect(item, str, f"{path}[{i}]", "a string")
        if not pattern.fullmatch(value):
            raise ConfigError(f"{path}[{i}]: {json_text(value)} is not {what}.")
        if value in values:
            raise ConfigError(f"{path}[{i}]: {json_text(value)} is listed twice.")
        values.append(value)
    return tuple(values)


_PYTHON_LITERAL = re.compile(r"[\[{]'[^\]}\n]*[\]}]")
_QUOTED = re.compile(r"(?<![A-Za-z])'([^'\n]+)'(?![A-Za-z])")
_PYTHON_TERMS = (
    ("an aws_cdk.Duration", 'a duration (such as "90s", "60m" or "2h")'),
    ("aws_cdk.Duration", "duration"),
    ("True or False", "true or false"),
    ("Mode.BACKGROUND", '"mode": "background"'),
    ("Mode.BLOCKING", '"mode": "blocking"'),
    ("RunAs.NOTEBOOK_USER", '"runAs": "notebook-user"'),
    ("RunAs.ROOT", '"runAs": "root"'),
    ("a mapping of", "an object of"),
    ("a mapping", "an object"),
)


def json_advice(text: str, names: Mapping[str, str] | None = None) -> str:
    """A library message said in JSON terms: Python literals and quotes as JSON, ``None`` as ``null``, and
    parameter names (``names``: snake_case -> camelCase) as the configuration's keys."""
    import ast
    import json

    def literal(match: re.Match[str]) -> str:
        try:
            return json.dumps(ast.literal_eval(match.group(0)))
        except (ValueError, SyntaxError):
            return match.group(0)

    text = _PYTHON_LITERAL.sub(literal, text)
    for python, plain in _PYTHON_TERMS:
        text = text.replace(python, plain)
    text = re.sub(r"\bNone\b", "null", text)
    for snake, camel in (names or {}).items():
        text = re.sub(rf"\b{re.escape(snake)}\b", camel, text)
    return _QUOTED.sub(lambda m: json.dumps(m.group(1)), text)
