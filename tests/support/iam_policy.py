"""A small, exact IAM evaluator for the statement shapes our constructs synthesize (identity policies only).

Covers: ``Effect`` Allow/Deny, ``Action`` and ``Resource`` (string or list, ``*``/``?`` wildcards, case-
insensitive actions), policy variables ``${key}`` in ``Resource`` and in condition values (a key missing from
the request makes the statement match nothing, as IAM does), and the condition operators ``StringEquals``,
``StringLike``, ``ArnLike``, ``ArnEquals`` and ``Null`` on single-valued keys (a missing key fails every
operator but ``Null``). Anything else raises, so a test cannot silently pass on an unsupported shape.
CloudFormation intrinsics are resolved from a mapping first (``Ref`` and ``Fn::GetAtt`` values, ``Fn::Join``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any

_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def resolve(value: Any, refs: Mapping[str, str]) -> Any:
    """``value`` with ``Ref``/``Fn::GetAtt``/``Fn::Join`` replaced (``refs``: 'AWS::Region', 'Logical.Attr')."""
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return refs[value["Ref"]]
        if set(value) == {"Fn::GetAtt"}:
            return refs[".".join(value["Fn::GetAtt"])]
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(resolve(p, refs) for p in parts)
        return {k: resolve(v, refs) for k, v in value.items()}
    return value


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _substitute(pattern: str, context: Mapping[str, str]) -> str | None:
    missing = [key for key in _VARIABLE.findall(pattern) if key not in context]
    if missing:
        return None
    return _VARIABLE.sub(lambda m: context[m.group(1)].replace("*", "[*]").replace("?", "[?]"), pattern)


def _like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _condition(operator: str, key: str, expected: Any, context: Mapping[str, str]) -> bool:
    if operator == "Null":
        return (key not in context) == (str(expected).lower() == "true")
    if key not in context:
        return False
    value = context[key]
    patterns = [_substitute(p, context) for p in _listed(expected)]
    if operator == "StringEquals":
        return any(p is not None and value == p.replace("[*]", "*").replace("[?]", "?") for p in patterns)
    if operator in ("StringLike", "ArnLike"):
        return any(p is not None and _like(p, value) for p in patterns)
    if operator == "ArnEquals":
        return any(p is not None and value == p for p in patterns)
    raise NotImplementedError(f"condition operator {operator}")


def _matches(statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]) -> bool:
    unknown = set(statement) - {"Sid", "Effect", "Action", "Resource", "Condition"}
    if unknown:
        raise NotImplementedError(f"statement elements {unknown}")
    if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _listed(statement["Action"])):
        return False
    resources = [_substitute(r, context) for r in _listed(statement["Resource"])]
    if not any(r is not None and _like(r, resource) for r in resources):
        return False
    for operator, pairs in statement.get("Condition", {}).items():
        if not all(_condition(operator, key, expected, context) for key, expected in pairs.items()):
            return False
    return True


def allowed(statements: list[Mapping[str, Any]], action: str, resource: str, context: Mapping[str, str]) -> bool:
    """Whether the statements allow ``action`` on ``resource`` for a request with ``context`` (explicit deny
    wins, no match is an implicit deny)."""
    matching = [s for s in statements if _matches(s, action, resource, context)]
    if any(s["Effect"] == "Deny" for s in matching):
        return False
    return any(s["Effect"] == "Allow" for s in matching)
