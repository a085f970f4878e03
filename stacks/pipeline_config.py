"""The optional delivery pipeline's configuration: which account runs it, where the source is, and the
order in which the configured stages are deployed.

Context ``pipeline`` (optional, needs ``stages``)::

    "pipeline": {
      "account": "333333333333", "region": "eu-west-1",
      "repository": "acme/sagemaker-notebooks", "branch": "main",
      "connectionArn": "arn:aws:codeconnections:eu-west-1:333333333333:connection/0a1b...",
      "order": ["Dev", "Prod"],
      "reviewBefore": ["Prod"]
    }
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stacks.config_values import ConfigError
from stacks.config_values import expect as _typed
from stacks.config_values import expect_object as _object
from stacks.stages import StageSpec

PIPELINE_CONTEXT_KEY = "pipeline"
_ACCOUNT = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")
_CONNECTION = re.compile(
    r"arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:connection/[A-Za-z0-9-]{1,64}"
)


@dataclass(frozen=True, kw_only=True)
class PipelineSpec:
    """Where the pipeline runs, what it builds from, and the stages it deploys, in order."""

    account: str
    region: str
    repository: str
    branch: str
    connection_arn: str
    stages: tuple[StageSpec, ...]
    review_before: frozenset[str]


def _string(data: object, key: str, pattern: re.Pattern[str], path: str, advice: str) -> str:
    value = _typed(data, str, f"{path}.{key}", "a string")
    if not pattern.fullmatch(value):
        raise ConfigError(f"{path}.{key}: {value!r} is invalid: {advice}")
    return str(value)


def _names(raw: object, path: str, known: dict[str, StageSpec]) -> list[str]:
    names = _typed(raw, list, path, 'a list of stage names such as ["Dev", "Prod"]')
    seen: list[str] = []
    for i, name in enumerate(names):
        if not isinstance(name, str) or name not in known:
            raise ConfigError(
                f"{path}[{i}]: {name!r} is not a configured stage; use one of {', '.join(sorted(known))}."
            )
        if name in seen:
            raise ConfigError(f"{path}[{i}]: {name!r} is listed twice.")
        seen.append(name)
    return seen


def parse_pipeline(raw: object, stages: tuple[StageSpec, ...], path: str = PIPELINE_CONTEXT_KEY) -> PipelineSpec | None:
    """The pipeline, or ``None`` when the configuration has none."""
    if raw is None:
        return None
    keys = {"account", "region", "repository", "branch", "connectionArn", "order", "reviewBefore"}
    data = _object(raw, path, keys, {"account", "region", "repository", "connectionArn"})
    if not stages:
        raise ConfigError(
            f"{path}: a pipeline deploys the configured stages, and there are none: add 'stages' "
            '(for example {"Dev": {"account": "111111111111", "region": "eu-west-1"}}).'
        )
    known = {stage.name: stage for stage in stages}
    order = _names(data["order"], f"{path}.order", known) if "order" in data else [s.name for s in stages]
    missing = sorted(set(known) - set(order))
    if missing:
        raise ConfigError(f"{path}.order: stage {missing[0]!r} is configured but not deployed; list every stage once.")
    review = _names(data["reviewBefore"], f"{path}.reviewBefore", known) if "reviewBefore" in data else [order[-1]]
    return PipelineSpec(
        account=_string(data["account"], "account", _ACCOUNT, path, "give the 12-digit account id as a string."),
        region=_string(data["region"], "region", _REGION, path, "give a region such as 'eu-west-1'."),
        repository=_string(
            data["repository"], "repository", _REPOSITORY, path, "give the source repository as 'owner/name'."
        ),
        branch=_string(data.get("branch", "main"), "branch", _BRANCH, path, "give a branch name such as 'main'."),
        connection_arn=_string(
            data["connectionArn"],
            "connectionArn",
            _CONNECTION,
            path,
            "give the ARN of a CodeConnections (CodeStar) connection to the repository's host.",
        ),
        stages=tuple(known[name] for name in order),
        review_before=frozenset(review),
    )
