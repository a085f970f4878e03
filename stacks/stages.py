"""Deployment stages: the same stacks in several accounts and regions, from one configuration.

Context ``stages`` (optional): ``{"Dev": {"account": "111111111111", "region": "eu-west-1"}, ...}``.
Without it the stacks are synthesized once, environment-agnostic (no account, no credentials).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import Environment, Stage
from constructs import Construct

from stacks.config import NotebookEnvironmentConfig
from stacks.config_values import ConfigError, json_text
from stacks.config_values import expect_object as _object
from stacks.fleet_stack import add_fleets
from stacks.notebook_stack import NotebookStack
from stacks.studio_config import StudioEnvironmentConfig
from stacks.studio_stack import add_studio

STAGES_CONTEXT_KEY = "stages"
_STAGE = re.compile(r"[A-Z][A-Za-z0-9]{0,31}")
_ACCOUNT = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")


@dataclass(frozen=True, kw_only=True)
class StageSpec:
    name: str
    account: str
    region: str


def parse_stages(raw: object, path: str = STAGES_CONTEXT_KEY) -> tuple[StageSpec, ...]:
    if raw is None:
        return ()
    stages = _object(raw, path, set(raw) if isinstance(raw, dict) else set())
    specs = []
    for name, value in stages.items():
        where = f"{path}.{name}"
        if not _STAGE.fullmatch(name):
            raise ConfigError(
                f"{where}: stage name {json_text(name)} is invalid: use PascalCase letters and digits (Dev, Prod)."
            )
        data = _object(value, where, {"account", "region"}, {"account", "region"})
        account, region = data["account"], data["region"]
        if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
            raise ConfigError(
                f"{where}.account: {json_text(account)} is invalid: give the 12-digit account id as a string."
            )
        if not isinstance(region, str) or not _REGION.fullmatch(region):
            raise ConfigError(f"{where}.region: {json_text(region)} is invalid: give a region such as 'eu-west-1'.")
        specs.append(StageSpec(name=name, account=account, region=region))
    return tuple(sorted(specs, key=lambda s: s.name))


def add_stacks(
    scope: Construct,
    notebooks: NotebookEnvironmentConfig | None,
    studio: StudioEnvironmentConfig | None,
    **kwargs: Any,
) -> None:
    """The app's stacks under ``scope`` (the app itself, or a stage)."""
    if notebooks is not None:
        base = NotebookStack(
            scope, "SageMakerNotebooks", config=notebooks, description="SageMaker notebook instances", **kwargs
        )
        add_fleets(scope, notebooks.fleets, base.network, **kwargs)
    if studio is not None:
        add_studio(scope, studio, **kwargs)


class DeploymentStage(Stage):
    """One account and region with the app's stacks (``cdk deploy 'Dev/*'``)."""

    def __init__(
        self,
        scope: Construct,
        spec: StageSpec,
        *,
        notebooks: NotebookEnvironmentConfig | None,
        studio: StudioEnvironmentConfig | None,
    ) -> None:
        super().__init__(scope, spec.name, env=Environment(account=spec.account, region=spec.region))
        add_stacks(self, notebooks, studio)
