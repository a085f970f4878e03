"""Studio stacks: the domain with its lifecycle configs, images, team file system and shared spaces, and
user profiles with their private spaces sharded over stacks.

CloudFormation allows 500 resources per stack, so user profiles live in ``StudioUsersStack`` shards.
A user's shard is a hash of the user name modulo ``user_shards``: adding or removing a user never
moves another one, and a profile's logical ID depends only on its name. Changing ``user_shards``
does move users (a move replaces a profile), so choose it for the size you expect. A private space lives
in its owner's shard (after the profile: it depends on it); shared spaces live in the Studio stack. Both
have construct IDs from their names alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_lib.errors import LifecycleConfigError
from constructs_lib.idle_backstop import IdleBackstop
from constructs_lib.private_network import PrivateNotebookNetwork
from constructs_lib.studio_domain import AuthMode, StudioDomain
from constructs_lib.studio_image import KernelSpec, StudioCustomImage
from constructs_lib.studio_lifecycle_config import StudioAppType, StudioLifecycleConfig
from constructs_lib.studio_settings import StudioAppSettings, StudioSpaceDefaults, StudioUserSettings
from constructs_lib.studio_space import StudioSpace
from constructs_lib.studio_user_profiles import UserProfileResource, add_user_profile, legacy_logical_id
from constructs_lib.team_file_system import TeamFileSystem, TeamFileSystemBase
from stacks.backstop_config import backstop_kwargs
from stacks.base import LookupFreeStack
from stacks.config import ConfigError
from stacks.notebook_stack import ExistingNetwork
from stacks.permissions_config import grant_permissions
from stacks.studio_capacity import MAX_USER_SHARDS, MAX_USERS_PER_DOMAIN, MAX_USERS_PER_SHARD, shard_of
from stacks.studio_config import AppSpec, SpaceSpec, StudioEnvironmentConfig, UserSpec
from stacks.tags_config import GLOBAL_PRIORITY, RESOURCE_PRIORITY, apply_tags


def user_construct_id(user_name: str) -> str:
    """A construct ID from the name alone (case kept apart by a short hash)."""
    readable = re.sub(r"[^A-Za-z0-9]", "", user_name.title())
    return f"User{readable}{hashlib.sha256(user_name.encode()).hexdigest()[:6]}"


def space_construct_id(space_name: str) -> str:
    """A construct ID from the space name alone (stable whatever else the configuration holds)."""
    readable = re.sub(r"[^A-Za-z0-9]", "", space_name.title())
    return f"Space{readable}{hashlib.sha256(space_name.encode()).hexdigest()[:6]}"


def app_settings(
    apps: Mapping[StudioAppType, AppSpec],
    configs: Mapping[str, StudioLifecycleConfig],
    images: Mapping[str, StudioCustomImage] | None = None,
) -> StudioUserSettings:
    images = images or {}

    def one(app_type: StudioAppType) -> StudioAppSettings | None:
        spec = apps.get(app_type)
        if spec is None:
            return None
        return StudioAppSettings(
            lifecycle_configs=[configs[name] for name in spec.lifecycle_configs],
            default_lifecycle_config=configs[spec.default] if spec.default else None,
            default_instance_type=spec.default_instance_type,
            built_in_lifecycle_config=configs[spec.built_in] if spec.built_in else None,
            custom_images=[images[name] for name in spec.custom_images],
            default_image=images[spec.default_image] if spec.default_image else None,
        )

    return StudioUserSettings(
        jupyter_server=one(StudioAppType.JUPYTER_SERVER),
        kernel_gateway=one(StudioAppType.KERNEL_GATEWAY),
        jupyter_lab=one(StudioAppType.JUPYTER_LAB),
        code_editor=one(StudioAppType.CODE_EDITOR),
    )


class StudioStack(LookupFreeStack):
    """A private network, the Studio lifecycle configs, custom images, the team file system, the domain with
    its default user and space settings, and the shared spaces.

    ``self.network`` (None with an existing network from ``config.network``), ``self.vpc``, ``self.subnets``,
    ``self.lifecycle_configs`` (by config id), ``self.images`` (by image id), ``self.team_file_system`` (or
    None), ``self.domain``, ``self.shared_spaces`` (by name).

    Existing resources named by id or ARN (``network``, ``kmsKeyArn``, ``executionRoleArn``) are imported from
    those values alone: no context lookup at synth, so synth stays offline in every stage.
    """

    def __init__(self, scope: Construct, id: str, *, config: StudioEnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.network: PrivateNotebookNetwork | ExistingNetwork = (
            ExistingNetwork(self, "ExistingNetwork", spec=config.network)
            if config.network is not None
            else PrivateNotebookNetwork(self, "Network")
        )
        self.vpc: ec2.IVpc = self.network.vpc
        self.subnets: ec2.SubnetSelection = self.network.subnets
        groups = self.network.security_groups if isinstance(self.network, ExistingNetwork) else []
        self.lifecycle_configs: dict[str, StudioLifecycleConfig] = {
            spec.id: StudioLifecycleConfig(self, spec.id, app_type=spec.app_type, modules=spec.modules)
            for spec in config.lifecycle_configs
        }
        if config.users:
            # User stacks deploy after this one and still name the old config while it is replaced: keep
            # superseded configs instead of failing to delete one that profiles still use.
            for lifecycle_config in self.lifecycle_configs.values():
                lifecycle_config.lifecycle_config.apply_removal_policy(RemovalPolicy.RETAIN)
        self.images = {
            spec.id: StudioCustomImage(
                self,
                f"Image{spec.id}",
                image_name=spec.image_name,
                base_image=spec.base_image,
                app_type=spec.app_type,
                container_arguments=spec.container_arguments,
                container_entrypoint=spec.container_entrypoint,
                environment=spec.environment,
                kernel_specs=[KernelSpec(name=name, display_name=shown) for name, shown in spec.kernel_specs],
            )
            for spec in config.custom_images
        }
        self.team_file_system = self._team_file_system(config)
        mounts = [self.team_file_system.mount()] if self.team_file_system else []
        posix = self.team_file_system.posix_user if self.team_file_system else None
        defaults = app_settings(config.apps, self.lifecycle_configs, self.images)
        defaults = StudioUserSettings(
            jupyter_server=defaults.jupyter_server,
            kernel_gateway=defaults.kernel_gateway,
            jupyter_lab=_with_idle(defaults.jupyter_lab, config) if config.idle_shutdown else defaults.jupyter_lab,
            code_editor=_with_idle(defaults.code_editor, config) if config.idle_shutdown else defaults.code_editor,
            storage=config.storage,
            custom_file_systems=mounts,
            posix_user=posix,
        )
        space_defaults = StudioSpaceDefaults(
            jupyter_lab=defaults.jupyter_lab, storage=config.storage, custom_file_systems=mounts, posix_user=posix
        )
        self.domain = StudioDomain(
            self,
            "Domain",
            vpc=self.vpc,
            vpc_subnets=self.subnets,
            security_groups=groups or None,
            kms_key=kms.Key.from_key_arn(self, "ExistingKey", config.kms_key_arn) if config.kms_key_arn else None,
            execution_role=iam.Role.from_role_arn(self, "ExistingExecutionRole", config.execution_role_arn)
            if config.execution_role_arn
            else None,
            auth_mode=AuthMode(config.auth_mode),
            default_user_settings=defaults,
            default_space_settings=space_defaults,
        )
        if self.team_file_system is not None:
            self.team_file_system.allow_nfs_from(*self.domain.security_groups)
        self.shared_spaces = {
            spec.name: add_space(self, spec, self.domain, None, self.lifecycle_configs, self.images, mounts)
            for spec in sorted(config.spaces, key=lambda s: s.name)
            if spec.owner is None
        }
        if config.permissions:
            if not isinstance(self.domain.execution_role, iam.Role):
                raise ConfigError("studioEnvironment.permissions: the execution role is not one this stack creates.")
            grant_permissions(self.domain.execution_role, config.permissions)
        if any(m.name == "studio-idle-shutdown" for s in config.lifecycle_configs for m in s.modules):
            self.domain.grant_delete_own_apps(self.domain.execution_role)
        CfnOutput(self, "DomainId", value=self.domain.domain_id)
        self.backstop: IdleBackstop | None = None
        if config.idle_backstop is not None:
            # In the domain's stack: its acknowledgments name the domain by logical ID.
            self.backstop = IdleBackstop(
                self,
                "IdleBackstop",
                studio_domain=self.domain,
                max_app_age=config.idle_backstop.max_running,
                **backstop_kwargs(config.idle_backstop),  # type: ignore[arg-type]
            )

    def _team_file_system(self, config: StudioEnvironmentConfig) -> TeamFileSystemBase | None:
        spec = config.team_file_system
        if spec is None:
            return None
        if spec.file_system_id is not None and spec.security_group_id is not None:
            group = ec2.SecurityGroup.from_security_group_id(self, "TeamFileSystemGroup", spec.security_group_id)
            return TeamFileSystem.from_file_system_id(
                self,
                "TeamFileSystem",
                file_system_id=spec.file_system_id,
                security_group=group,
                path=spec.path,
                posix_user=spec.posix_user,
            )
        return TeamFileSystem(
            self,
            "TeamFileSystem",
            vpc=self.vpc,
            vpc_subnets=self.subnets,
            path=spec.path,
            posix_user=spec.posix_user,
        )


def add_space(
    scope: Construct,
    spec: SpaceSpec,
    domain: StudioDomain,
    owner: UserProfileResource | None,
    configs: Mapping[str, StudioLifecycleConfig],
    images: Mapping[str, StudioCustomImage],
    mounts: Sequence[Any],
) -> StudioSpace:
    """One configured space; construct errors become configuration errors that name the space."""
    try:
        return StudioSpace(
            scope,
            space_construct_id(spec.name),
            domain=domain,
            space_name=spec.name,
            owner=owner,
            app_type=spec.app_type,
            instance_type=spec.instance_type,
            lifecycle_config=configs[spec.lifecycle_config] if spec.lifecycle_config else None,
            image=images[spec.image] if spec.image else None,
            ebs_size_gib=spec.ebs_gib,
            idle_timeout=spec.idle_timeout,
            custom_file_systems=list(mounts)[:1] if spec.team_file_system else [],
            remote_access=spec.remote_access,
        )
    except LifecycleConfigError as err:
        raise ConfigError(f"studioEnvironment.spaces ({spec.name}): {err}") from None


def _with_idle(settings: StudioAppSettings | None, config: StudioEnvironmentConfig) -> StudioAppSettings:
    return dataclasses.replace(settings or StudioAppSettings(), idle_shutdown=config.idle_shutdown)


class StudioUsersStack(Stack):
    """One shard of user profiles of a domain. ``self.user_profiles`` by user name.

    A profile's L1 is the stack's direct child (``add_user_profile``: one jsii round trip per profile, as for a
    plain ``CfnUserProfile``), under the ID that keeps the logical ID the former ``StudioUserProfile`` wrapper
    gave it (``legacy_logical_id``): thousands of profiles synthesize at the cost of plain L1s, and none moves.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        domain_id: str,
        users: Sequence[UserSpec],
        lifecycle_configs: Mapping[str, StudioLifecycleConfig],
        studio: StudioStack | None = None,
        spaces: Sequence[SpaceSpec] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        if len(users) > MAX_USERS_PER_SHARD:
            raise ConfigError(
                f"studioEnvironment.userShards: shard {id} would hold {len(users)} users, over {MAX_USERS_PER_SHARD}; "
                f"raise userShards (a domain holds at most {MAX_USERS_PER_DOMAIN:,} users here, {MAX_USER_SHARDS} "
                f"shards of {MAX_USERS_PER_SHARD}; this moves users between stacks, which replaces their profiles)."
            )
        self.user_profiles = {
            user.name: add_user_profile(
                self,
                legacy_logical_id(user_construct_id(user.name)),
                domain_id=domain_id,
                user_profile_name=user.name,
                settings=_user_settings(user, lifecycle_configs, studio),
                sso_user_name=user.sso_user_name,
            )
            for user in sorted(users, key=lambda u: u.name)
        }
        for user in users:
            apply_tags(self.user_profiles[user.name].user_profile, user.tags, priority=RESOURCE_PRIORITY)
        self.private_spaces: dict[str, StudioSpace] = {}
        if studio is not None:
            mounts = [studio.team_file_system.mount()] if studio.team_file_system else []
            for spec in sorted(spaces, key=lambda s: s.name):
                owner = self.user_profiles[str(spec.owner)]
                self.private_spaces[spec.name] = add_space(
                    self, spec, studio.domain, owner, lifecycle_configs, studio.images, mounts
                )
                owner_tags = next(u.tags for u in users if u.name == spec.owner)
                apply_tags(self.private_spaces[spec.name], owner_tags, priority=RESOURCE_PRIORITY)


def _user_settings(
    user: UserSpec, configs: Mapping[str, StudioLifecycleConfig], studio: StudioStack | None
) -> StudioUserSettings:
    settings = app_settings(user.apps, configs, studio.images if studio else None)
    if user.storage is None:
        return settings
    return StudioUserSettings(
        jupyter_server=settings.jupyter_server,
        kernel_gateway=settings.kernel_gateway,
        jupyter_lab=settings.jupyter_lab,
        code_editor=settings.code_editor,
        storage=user.storage,
    )


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
            studio=studio,
            spaces=[s for s in config.spaces if s.owner and shard_of(s.owner, config.user_shards) == index],
            description=f"SageMaker Studio user profiles, shard {index} of {config.user_shards}",
            **kwargs,
        )
        stack.add_stack_dependency(studio)
        users_stacks.append(stack)
    for one in (studio, *users_stacks):
        apply_tags(one, config.tags, priority=GLOBAL_PRIORITY)
    return studio, users_stacks
