"""Tags from configuration (shared by notebooks and Studio): global, and per notebook or user.

``"tags": {"CostCenter": "1234", "Team": "analytics"}`` at ``notebookEnvironment.tags`` (every resource of
the stack) and on a notebook (or Studio user), which overrides a global tag of the same key. Applied with
``aws_cdk.Tags`` so they reach every taggable resource, which is what cost allocation needs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aws_cdk import Tags
from constructs import IConstruct

from stacks.config_values import ConfigError, expect, json_text, key_path

TAG_KEY = re.compile(r"(?!aws:)(?!AWS:)[\w .:/=+\-@]{1,128}")
"""AWS tag keys: Unicode letters, digits, spaces and ``_.:/=+-@``; the ``aws:`` prefix is reserved."""
TAG_VALUE = re.compile(r"[\w .:/=+\-@]{0,256}")
MAX_TAGS = 50
"""Tags per resource (AWS-wide limit); CDK's own and CloudFormation's ``aws:`` tags do not count."""
GLOBAL_PRIORITY = 100
RESOURCE_PRIORITY = 200
"""A per-resource tag wins over a global tag of the same key."""


def parse_tags(raw: object, path: str) -> dict[str, str]:
    """An object of tag key -> value, checked against AWS's tag rules; sorted for deterministic output."""
    data = expect(raw, Mapping, path, "an object of tag key to value")
    if len(data) > MAX_TAGS:
        raise ConfigError(f"{path}: {len(data)} tags; AWS allows at most {MAX_TAGS} on a resource.")
    tags: dict[str, str] = {}
    for key in sorted(data):
        where = key_path(path, key)
        if not TAG_KEY.fullmatch(key) or key.lower().startswith("aws:"):
            raise ConfigError(
                f"{where}: tag key {json_text(key)} is invalid: use 1-128 letters, digits, spaces and _.:/=+-@, "
                'not starting with "aws:".'
            )
        value = expect(data[key], str, where, "a string")
        if not TAG_VALUE.fullmatch(value):
            raise ConfigError(
                f"{where}: tag value {json_text(value)} is invalid: use up to 256 letters, digits, spaces and _.:/=+-@."
            )
        tags[key] = value
    return tags


def merged_tags(global_tags: Mapping[str, str], own: Mapping[str, str], path: str) -> dict[str, str]:
    """Global tags overridden by a resource's own; more than ``MAX_TAGS`` together is an error at ``path``."""
    merged = {**global_tags, **own}
    if len(merged) > MAX_TAGS:
        raise ConfigError(
            f"{path}: with the global tags this makes {len(merged)} tags; AWS allows at most {MAX_TAGS} on a resource."
        )
    return dict(sorted(merged.items()))


def apply_tags(scope: IConstruct, tags: Mapping[str, str], *, priority: int = GLOBAL_PRIORITY) -> None:
    """Tag every taggable resource under ``scope``."""
    for key, value in sorted(tags.items()):
        Tags.of(scope).add(key, value, priority=priority)


__all__ = ["GLOBAL_PRIORITY", "MAX_TAGS", "RESOURCE_PRIORITY", "apply_tags", "merged_tags", "parse_tags"]
