"""Runtime type checks of construct props.

Python's type hints are not enforced at run time, and jsii turns a wrong type into a deep serialization
error (or a silently wrong template). ``check_type`` fails at once with a message that names the construct,
the prop, what is expected and what was given::

    StudioSpace instance_type: expected str such as 'ml.t3.medium', got ec2.InstanceType
"""

from __future__ import annotations

from enum import Enum

from constructs_lib.errors import LifecycleConfigError

_CDK_MODULE = "aws_cdk."
_CDK_SERVICE_MODULE = "aws_cdk.aws_"


def type_name(kind: type) -> str:
    """How a CDK user writes the type: ``str``, ``Duration``, ``ec2.InstanceType``, ``StudioAppType``."""
    module = kind.__module__
    if module.startswith(_CDK_SERVICE_MODULE):
        return f"{module[len(_CDK_SERVICE_MODULE) :].split('.')[0]}.{kind.__qualname__}"
    return kind.__qualname__


def check_type(
    construct: str,
    prop: str,
    value: object,
    expected: type | tuple[type, ...],
    advice: str = "",
    *,
    optional: bool = False,
) -> None:
    """Raise ``LifecycleConfigError`` unless ``value`` is an instance of ``expected`` (``None`` too with
    ``optional``, which the message leaves unsaid). ``bool`` never passes for ``int``; ``advice`` follows
    the expected type names (``"such as 'ml.t3.medium'"``). Interfaces (``ec2.IVpc``) are protocols and
    cannot be checked here: pass concrete classes, enums and built-in types only."""
    kinds = expected if isinstance(expected, tuple) else (expected,)
    if value is None and optional:
        return
    accepted = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds and int in kinds)
    if accepted:
        return
    names = " or ".join(type_name(k) for k in kinds)
    given = "None" if value is None else type_name(type(value))
    if isinstance(value, Enum):
        given = f"{type_name(type(value))}.{value.name}"
    text = f"{construct} {prop}: expected {names}"
    if advice:
        text += f" {advice}"
    raise LifecycleConfigError(f"{text}, got {given}")
