"""Generated physical names: lower-case, because SageMaker reports ARNs lower-cased while IAM matches case."""

from __future__ import annotations

import re

from aws_cdk import Names
from constructs import IConstruct


def lower_case_name(scope: IConstruct, max_length: int) -> str:
    """A name unique to ``scope``'s path: letters, digits and single '-', at most ``max_length`` long."""
    unique = Names.unique_resource_name(scope, max_length=max_length, separator="-").lower()
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "", unique)).strip("-")
    return cleaned[:max_length].rstrip("-")
