"""Valid SageMaker instance types, from the CloudFormation resource schemas that cfn-lint ships.

The lists live in ``constructs_lib/data/*.json``, generated from cfn-lint's copy of the schemas (the library
does not need cfn-lint at run time); a test regenerates them and fails when a cfn-lint bump changes them,
so the diff shows in review. Regenerate with ``python -m tests.constructs_lib.test_instance_types``.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import Any

DATA_DIR = "data"
NOTEBOOK_FILE = "notebook_instance_types.json"
STUDIO_FILE = "studio_app_instance_types.json"
STUDIO_RESOURCES = ("AWS::SageMaker::Domain", "AWS::SageMaker::UserProfile", "AWS::SageMaker::Space")

AL2023_PLATFORM = "notebook-al2023-v1"
AL2023_MISSING_FAMILIES = ("p2", "p3", "p3dn", "inf1", "g3")
"""Instance families that notebook instances on Amazon Linux 2023 do not offer."""


def _load(name: str) -> Any:
    return json.loads(resources.files("constructs_lib").joinpath(DATA_DIR, name).read_text(encoding="utf-8"))


@cache
def notebook_instance_types() -> frozenset[str]:
    """``AWS::SageMaker::NotebookInstance.InstanceType`` values."""
    return frozenset(_load(NOTEBOOK_FILE)["instanceTypes"])


@cache
def studio_app_instance_types(resource: str) -> frozenset[str]:
    """``ResourceSpec.InstanceType`` values of a Studio resource (``STUDIO_RESOURCES``)."""
    return frozenset(_load(STUDIO_FILE)["instanceTypes"][resource])


def _unknown(instance_type: object, valid: frozenset[str], what: str) -> str | None:
    if isinstance(instance_type, str) and instance_type in valid:
        return None
    close = difflib.get_close_matches(instance_type, sorted(valid), n=3) if isinstance(instance_type, str) else []
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return (
        f"{instance_type!r} is not {what}; {hint}See the list in constructs_lib/data (from the CloudFormation schema)."
    )


def family(instance_type: str) -> str:
    """``ml.p3.2xlarge`` -> ``p3``."""
    parts = instance_type.split(".")
    return parts[1] if len(parts) == 3 else ""


def notebook_instance_type_problem(instance_type: object, platform_identifier: str) -> str | None:
    """Why ``instance_type`` cannot run a notebook instance on ``platform_identifier``, or ``None``."""
    problem = _unknown(instance_type, notebook_instance_types(), "a notebook instance type")
    if problem is not None:
        return problem
    if platform_identifier == AL2023_PLATFORM and family(str(instance_type)) in AL2023_MISSING_FAMILIES:
        return (
            f"{instance_type!r} is not offered on {AL2023_PLATFORM} (Amazon Linux 2023 has no "
            f"{', '.join('ml.' + f for f in AL2023_MISSING_FAMILIES)} instances); choose a current family such as "
            "ml.g5 or ml.g6 for GPUs, ml.inf2 for Inferentia."
        )
    return None


def studio_instance_type_problem(instance_type: object, resource: str) -> str | None:
    """Why ``instance_type`` is not a Studio app instance type of ``resource``, or ``None``."""
    return _unknown(instance_type, studio_app_instance_types(resource), f"a Studio app instance type of {resource}")
