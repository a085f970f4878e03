"""Studio stacks: the domain with its lifecycle configs, and user profiles sharded over stacks.

CloudFormation allows 500 resources per stack, so user profiles live in ``StudioUsersStack`` shards.
A user's shard is a hash of the user name modulo ``user_shards``: adding or removing a user never
moves another one, and a profile's logical ID depends only on its name. Changing ``user_shards``
does move users (a move replaces a profile), so choose it for the size you expect.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from constructs import Construct

from constructs_lib.private_network import PrivateNotebookNetwork
from constructs_lib.studio_domain import AuthMode, StudioDomain, StudioUserProfile
from constructs_lib.studio_lifecycle_config import StudioAppType, StudioLifecycleConfig
from constructs_lib.studio_settings import StudioAppSettings, StudioUserSettings
from stacks.base import LookupFreeStack
from stacks.config import ConfigError
from stacks.studio_config import AppSpec, StudioEnvironmentConfig, UserSpec

MAX_USERS_PER_SHARD = 400
"""Each user is one resource; this leaves room under CloudFormation's 500 and its template size limit."""


def shard_of(user_name: str, shards: int) -> int:
    """A stable shard for a user: independent of the order and number of other users."""
    return int(hashlib.sha256(user_name.lower().encode()).hexdigest(), 16) % shards


def user_construct_id(user_name: str) -> str:
    """A construct ID from the name alone (case kept apart by a short hash)."""
    readable = re.sub(r"[^A-Za-z0-9]", "", user_name.title())
    return f"User{readable}{hashlib.sha256(user_name.encode()).hexdigest()[:6]}"


def app_settings(
    apps: Mapping[StudioAppType, AppSpec], configs: Mapping[str, StudioLifecycleConfig]
) -> StudioUserSettings:
    def one(app_type: StudioAppType) -> StudioAppSettings | None:
        spec = apps.get(app_type)
        if spec is None:
            return None
        return StudioAppSettings(
            lifecycle_configs=[configs[name] for name in spec.lifecycle_configs],
            default_lifecycle_config=configs[spec.default] if spec.default else None,
            default_instance_type=spec.default_instance_type,
        )

    return StudioUserSettings(
        jupyter_server=one(StudioAppType.JUPYTER_SERVER),
        kernel_gateway=one(StudioAppType.KERNEL_GATEWAY),
        jupyter_lab=one(StudioAppType.JUPYTER_LAB),
        code_editor=one(StudioAppType.CODE_EDITOR),
    )


class StudioStack(LookupFreeStack):
    """A private network, the Studio lifecycle configs and the domain with its default user settings.

    ``self.network``, ``self.lifecycle_configs`` (by config id), ``self.domain``.
    """

    def __init__(self, scope: Construct, id: str, *, config: StudioEnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.network = PrivateNotebookNetwork(self, "Network")
        self.lifecycle_configs: dict[str, StudioLifecycleConfig] = {
            spec.id: StudioLifecycleConfig(self, spec.id, app_type=spec.app_type, modules=spec.modules)
            for spec in config.lifecycle_configs
        }
        if config.users:
            # User stacks deploy after this one and still name the old config while it is replaced: keep
            # superseded configs instead of failing to delete one that profiles still use.
            for lifecycle_config in self.lifecycle_configs.values():
                lifecycle_config.lifecycle_config.apply_removal_policy(RemovalPolicy.RETAIN)
        defaults = app_settings(config.apps, self.lifecycle_configs)
        if config.idle_shutdown is not None:
            defaults = StudioUserSettings(
                jupyter_server=defaults.jupyter_server,
                kernel_gateway=defaults.kernel_gateway,
                jupyter_lab=_with_idle(defaults.jupyter_lab, config),
                code_editor=_with_idle(defaults.code_editor, config),
            )
        self.domain = StudioDomain(
            self,
            "Domain",
            vpc=self.network.vpc,
            vpc_subnets=self.network.subnets,
            auth_mode=AuthMode(config.auth_mode),
            default_user_settings=defaults,
        )
        if any(m.name == "studio-idle-shutdown" for s in config.lifecycle_configs for m in s.modules):
            self.domain.grant_delete_own_apps(self.domain.execution_role)
        CfnOutput(self, "DomainId", value=self.domain.domain_id)


def _with_idle(settings: StudioAppSettings | None, config: StudioEnvironmentConfig) -> StudioAppSettings:
    settings = settings or StudioAppSettings()
    return StudioAppSettings(
        lifecycle_configs=settings.lifecycle_configs,
        default_lifecycle_config=settings.default_lifecycle_config,
        default_instance_type=settings.default_instance_type,
        idle_shutdown=config.idle_shutdown,
    )


class StudioUsersStack(Stack):
    """One shard of user profiles of a domain. ``self.user_profiles`` by user name."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        domain_id: str,
        users: Sequence[UserSpec],
        lifecycle_configs: Mapping[str, StudioLifecycleConfig],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        if len(users) > MAX_USERS_PER_SHARD:
            raise ConfigError(
                f"studioEnvironment.userShards: shard {id} would hold {len(users)} users, over {MAX_USERS_PER_SHARD}; "
                "raise userShards (this moves users between stacks, which replaces their profiles)."
            )
        self.user_profiles = {
            user.name: StudioUserProfile(
                self,
                user_construct_id(user.name),
                domain_id=domain_id,
                user_profile_name=user.name,
                settings=app_settings(user.apps, lifecycle_configs),
            )
            for user in sorted(users, key=lambda u: u.name)
        }


def add_studio(
    scope: Construct, config: StudioEnvironmentConfig, **kwargs: Any
) -> tuple[StudioStack, list[StudioUsersStack]]:
    """The Studio stack and one users stack per non-empty shard (``SageMakerStudioUsers00``...)."""
    studio = StudioStack(scope, "SageMakerStudio", config=config, description="SageMaker Studio domain", **kwargs)
    shards: dict[int, list[UserSpec]] = {}
    for user in config.users:
        shards.setdefault(shard_of(user.name, config.user_shards), []).append(user)
    users_stacks = []
    for index in sorted(shards):
        stack = StudioUsersStack(
            scope,
            f"SageMakerStudioUsers{index:02d}",
            domain_id=studio.domain.domain_id,
            users=shards[index],
            lifecycle_configs=studio.lifecycle_configs,
            description=f"SageMaker Studio user profiles, shard {index} of {config.user_shards}",
            **kwargs,
        )
        stack.add_stack_dependency(studio)
        users_stacks.append(stack)
    return studio, users_stacks
