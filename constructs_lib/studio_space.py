"""``StudioSpace``: an ``AWS::SageMaker::Space``, private (one owner) or shared, checked at synth time
against the settings that govern it.

A private space follows its owner's user settings (falling back to the domain's default user settings);
a shared space follows the domain's ``DefaultSpaceSettings`` for JupyterLab (which has no
``CodeEditorAppSettings``: a shared Code Editor space follows the domain's default user settings).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum
from typing import Any

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from constructs_lib._props import check_type
from constructs_lib.errors import LifecycleConfigError
from constructs_lib.studio_domain import StudioDomain, StudioUserProfile
from constructs_lib.studio_image import StudioCustomImage
from constructs_lib.studio_lifecycle_config import StudioAppType, StudioLifecycleConfig
from constructs_lib.studio_settings import (
    EBS_MAX_GIB,
    EBS_MIN_GIB,
    EfsMount,
    SpaceStorage,
    StudioAppSettings,
)
from constructs_lib.studio_user_profiles import UserProfileResource

_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_INSTANCE_TYPE = re.compile(r"ml\.[a-z0-9]+\.[a-z0-9]+")
SCHEMA_LAGS_DOCUMENTATION = "CloudFormation-Validate::F3002"
"""CDK's schema check (like cfn-lint's E3002) does not know the space's documented ``AppLifecycleManagement``."""
CFN_LINT_UNKNOWN_PROPERTY = "E3002"
SPACE_APP_TYPES = (StudioAppType.JUPYTER_LAB, StudioAppType.CODE_EDITOR)


class SpaceSharing(Enum):
    PRIVATE = "Private"
    SHARED = "Shared"


class StudioSpace(Construct):
    """A Studio space with its app (JupyterLab or CodeEditor), instance type, lifecycle config, image,
    EBS size, idle timeout and custom file system.

    Synth fails when the lifecycle config is not one the app allows (``LifecycleConfigArns`` of the
    governing settings), the image is not attached there, the EBS size is over the governing maximum,
    the idle timeout is outside the domain's bounds (or the domain has no idle shutdown for the app), or
    the file system is not one the governing settings offer. A private space depends on its owner's profile.

    Attributes: ``space`` (L1), ``space_name``, ``sharing``, ``app_type``, ``owner``, ``space_arn``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        domain: StudioDomain,
        space_name: str,
        owner: StudioUserProfile | UserProfileResource | None = None,
        sharing: SpaceSharing | None = None,
        app_type: StudioAppType = StudioAppType.JUPYTER_LAB,
        instance_type: str | None = None,
        lifecycle_config: StudioLifecycleConfig | None = None,
        image: StudioCustomImage | None = None,
        ebs_size_gib: int | None = None,
        idle_timeout: Duration | None = None,
        custom_file_systems: Sequence[EfsMount] = (),
        remote_access: bool = False,
        display_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        check_type("StudioSpace", "domain", domain, StudioDomain)
        check_type("StudioSpace", "space_name", space_name, str, "such as 'team-lab'")
        check_type("StudioSpace", "owner", owner, (StudioUserProfile, UserProfileResource), optional=True)
        check_type("StudioSpace", "sharing", sharing, SpaceSharing, optional=True)
        check_type("StudioSpace", "app_type", app_type, StudioAppType, "such as StudioAppType.JUPYTER_LAB")
        check_type("StudioSpace", "instance_type", instance_type, str, "such as 'ml.t3.medium'", optional=True)
        check_type("StudioSpace", "lifecycle_config", lifecycle_config, StudioLifecycleConfig, optional=True)
        check_type("StudioSpace", "image", image, StudioCustomImage, optional=True)
        check_type("StudioSpace", "ebs_size_gib", ebs_size_gib, int, "(GiB)", optional=True)
        check_type("StudioSpace", "idle_timeout", idle_timeout, Duration, "such as Duration.hours(2)", optional=True)
        check_type("StudioSpace", "custom_file_systems", custom_file_systems, (list, tuple), "of EfsMount")
        for mount in custom_file_systems:
            check_type("StudioSpace", "custom_file_systems item", mount, EfsMount, "such as TeamFileSystem.mount()")
        check_type("StudioSpace", "remote_access", remote_access, bool)
        check_type("StudioSpace", "display_name", display_name, str, optional=True)
        if not _NAME.fullmatch(space_name):
            raise LifecycleConfigError(
                f"StudioSpace space_name {space_name!r} is invalid: use 1-63 letters, digits and '-', "
                "starting and ending with a letter or digit."
            )
        where = f"StudioSpace {space_name!r}"
        sharing = sharing or (SpaceSharing.PRIVATE if owner is not None else SpaceSharing.SHARED)
        if not isinstance(sharing, SpaceSharing):
            raise LifecycleConfigError(f"{where}: sharing {sharing!r} is invalid: use SpaceSharing.PRIVATE or SHARED.")
        if sharing is SpaceSharing.PRIVATE and owner is None:
            raise LifecycleConfigError(f"{where}: a private space needs an owner (a StudioUserProfile).")
        if app_type not in SPACE_APP_TYPES:
            raise LifecycleConfigError(
                f"{where}: app_type {app_type!r} is invalid: spaces here run JupyterLab or CodeEditor (Studio "
                "Classic apps take no new onboarding)."
            )
        if instance_type is not None and (
            not isinstance(instance_type, str) or not _INSTANCE_TYPE.fullmatch(instance_type)
        ):
            raise LifecycleConfigError(f"{where}: instance_type {instance_type!r} is invalid: use an ml.* type.")
        if len(custom_file_systems) > 1:
            raise LifecycleConfigError(f"{where}: a space takes at most one custom file system (CloudFormation).")
        self.space_name = space_name
        self.sharing = sharing
        self.app_type = app_type
        self.owner = owner
        allowed, images, storage, file_systems, governing = self._governing(domain, owner, sharing, app_type)
        if lifecycle_config is not None and lifecycle_config not in allowed:
            names = [c.lifecycle_config_name for c in allowed]
            raise LifecycleConfigError(
                f"{where}: lifecycle_config {lifecycle_config.lifecycle_config_name!r} is not among those "
                f"{governing} allow for {app_type.value} ({names or 'none'})."
            )
        if image is not None and image not in images:
            raise LifecycleConfigError(
                f"{where}: image {image.image_name!r} is not attached to {governing} for {app_type.value} "
                f"({[i.image_name for i in images] or 'none'})."
            )
        maximum = storage.maximum_gib if storage is not None else EBS_MAX_GIB
        if ebs_size_gib is not None and (
            not isinstance(ebs_size_gib, int)
            or isinstance(ebs_size_gib, bool)
            or not EBS_MIN_GIB <= ebs_size_gib <= maximum
        ):
            raise LifecycleConfigError(
                f"{where}: ebs_size_gib {ebs_size_gib!r} is out of range: give {EBS_MIN_GIB} to {maximum} "
                f"(the maximum of {governing})."
            )
        idle_minutes = self._idle_minutes(domain, app_type, idle_timeout, where)
        mounts = list(custom_file_systems)
        for mount in mounts:
            if mount not in file_systems:
                raise LifecycleConfigError(
                    f"{where}: file system {mount.file_system_id!r} is not offered by {governing}; add it to their "
                    "custom_file_systems."
                )
        self.space = sagemaker.CfnSpace(
            self,
            "Resource",
            domain_id=domain.domain_id,
            space_name=space_name,
            space_display_name=display_name,
            ownership_settings=sagemaker.CfnSpace.OwnershipSettingsProperty(
                owner_user_profile_name=owner.user_profile_name
            )
            if owner is not None
            else None,
            space_sharing_settings=sagemaker.CfnSpace.SpaceSharingSettingsProperty(sharing_type=sharing.value),
            space_settings=self._settings(
                app_type,
                instance_type,
                lifecycle_config.arn_in(self) if lifecycle_config is not None else None,
                image.image_arn_in(self) if image is not None else None,
                ebs_size_gib,
                idle_minutes,
                mounts,
                remote_access,
            ),
        )
        if owner is not None:
            self.space.node.add_dependency(owner.user_profile)
        if idle_minutes is not None:
            # cfn-lint 1.58's schema (E3002) and CDK's own check (F3002) lag the documented property.
            self.space.add_metadata("cfn-lint", {"config": {"ignore_checks": [CFN_LINT_UNKNOWN_PROPERTY]}})
            Validations.of(self.space).acknowledge(
                Acknowledgment(
                    id=SCHEMA_LAGS_DOCUMENTATION,
                    reason="The CloudFormation reference documents AppLifecycleManagement in the space's "
                    "SpaceJupyterLabAppSettings and SpaceCodeEditorAppSettings; the bundled schema lags behind it.",
                )
            )

    @property
    def space_arn(self) -> str:
        """The space's ARN (a token; a jsii round trip, so only when asked)."""
        arn: str = self.space.attr_space_arn
        return arn

    @staticmethod
    def _governing(
        domain: StudioDomain,
        owner: StudioUserProfile | UserProfileResource | None,
        sharing: SpaceSharing,
        app_type: StudioAppType,
    ) -> tuple[list[StudioLifecycleConfig], list[StudioCustomImage], SpaceStorage | None, list[EfsMount], str]:
        """(allowed configs, attached images, storage, file systems, description) that govern this space.

        A user's settings override the domain's field by field: what the user leaves empty comes from the domain.
        """
        defaults = domain.default_user_settings
        base = defaults.per_app().get(app_type)
        if sharing is SpaceSharing.PRIVATE and owner is not None:
            user = owner.settings
            chosen: list[StudioAppSettings | None] = [user.per_app().get(app_type), base]
            storage = user.storage or defaults.storage
            file_systems = list(user.custom_file_systems or defaults.custom_file_systems)
            governing = f"user {owner.user_profile_name!r} (or the domain's default user settings)"
        elif domain.default_space_settings is not None:
            spaces = domain.default_space_settings
            chosen = [spaces.jupyter_lab if app_type is StudioAppType.JUPYTER_LAB else None, base]
            storage = spaces.storage or defaults.storage
            file_systems = list(spaces.custom_file_systems)
            governing = "the domain's default space settings"
        else:
            chosen = [base]
            storage, file_systems = defaults.storage, list(defaults.custom_file_systems)
            governing = "the domain's default user settings"
        configs = next((a.all_configs() for a in chosen if a is not None and a.all_configs()), [])
        images = next((list(a.custom_images) for a in chosen if a is not None and a.custom_images), [])
        return configs, images, storage, file_systems, governing

    @staticmethod
    def _idle_minutes(domain: StudioDomain, app_type: StudioAppType, idle: Duration | None, where: str) -> int | None:
        if idle is None:
            return None
        app = domain.default_user_settings.per_app().get(app_type)
        if app is None or app.idle_shutdown is None:
            raise LifecycleConfigError(
                f"{where}: idle_timeout needs the domain's idle shutdown for {app_type.value} (its bounds); set "
                "idle_shutdown in the domain's default user settings."
            )
        low, high = app.idle_shutdown.bounds_minutes
        seconds = idle.to_seconds() if isinstance(idle, Duration) else -1
        if seconds % 60 or not low <= seconds // 60 <= high:
            raise LifecycleConfigError(
                f"{where}: idle_timeout is outside the domain's bounds: give whole minutes from {low} to {high}."
            )
        return int(seconds // 60)

    @staticmethod
    def _settings(
        app_type: StudioAppType,
        instance_type: str | None,
        lifecycle_config_arn: str | None,
        image_arn: str | None,
        ebs_size_gib: int | None,
        idle_minutes: int | None,
        mounts: list[EfsMount],
        remote_access: bool,
    ) -> Any:
        ns = sagemaker.CfnSpace
        spec: dict[str, Any] = {}
        if instance_type is not None:
            spec["instance_type"] = instance_type
        if lifecycle_config_arn is not None:
            spec["lifecycle_config_arn"] = lifecycle_config_arn
        if image_arn is not None:
            spec["sage_maker_image_arn"] = image_arn
        app: dict[str, Any] = {}
        if spec:
            app["default_resource_spec"] = ns.ResourceSpecProperty(**spec)
        if idle_minutes is not None:
            app["app_lifecycle_management"] = ns.SpaceAppLifecycleManagementProperty(
                idle_settings=ns.SpaceIdleSettingsProperty(idle_timeout_in_minutes=idle_minutes)
            )
        props: dict[str, Any] = {
            "app_type": app_type.value,
            "remote_access": "ENABLED" if remote_access else "DISABLED",
        }
        if app and app_type is StudioAppType.JUPYTER_LAB:
            props["jupyter_lab_app_settings"] = ns.SpaceJupyterLabAppSettingsProperty(**app)
        elif app:
            props["code_editor_app_settings"] = ns.SpaceCodeEditorAppSettingsProperty(**app)
        if ebs_size_gib is not None:
            props["space_storage_settings"] = ns.SpaceStorageSettingsProperty(
                ebs_storage_settings=ns.EbsStorageSettingsProperty(ebs_volume_size_in_gb=ebs_size_gib)
            )
        if mounts:
            props["custom_file_systems"] = [
                ns.CustomFileSystemProperty(efs_file_system=ns.EFSFileSystemProperty(file_system_id=m.file_system_id))
                for m in mounts
            ]
        return ns.SpaceSettingsProperty(**props)
