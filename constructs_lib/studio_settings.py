"""Per-app-type Studio settings shared by ``StudioDomain`` (defaults) and ``StudioUserProfile`` (overrides)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_cdk import Duration, Token
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib.errors import LifecycleConfigError
from constructs_lib.studio_lifecycle_config import StudioAppType, StudioLifecycleConfig

if TYPE_CHECKING:
    from constructs_lib.studio_image import StudioCustomImage

IDLE_MIN_MINUTES = 60
IDLE_MAX_MINUTES = 525600
_INSTANCE_TYPE = re.compile(r"(system|ml\.[a-z0-9]+\.[a-z0-9]+)")
_BUILT_IN_IDLE = (StudioAppType.JUPYTER_LAB, StudioAppType.CODE_EDITOR)
EBS_MIN_GIB = 5
EBS_MAX_GIB = 16384
"""``SpaceEbsVolumeSizeInGb`` bounds of the CloudFormation resource specification."""
POSIX_UID_RANGE = (10000, 4000000)
POSIX_GID_RANGE = (1001, 4000000)
_FILE_SYSTEM_ID = re.compile(r"fs-[0-9a-f]{8,17}")
_FILE_SYSTEM_PATH = re.compile(r"/[^\s]{0,255}")


def _minutes(value: Duration, what: str) -> int:
    if not isinstance(value, Duration):
        raise LifecycleConfigError(f"{what} must be an aws_cdk.Duration, got {value!r}.")
    seconds = value.to_seconds()
    minutes = int(seconds // 60)
    if seconds % 60 or not IDLE_MIN_MINUTES <= minutes <= IDLE_MAX_MINUTES:
        raise LifecycleConfigError(
            f"{what} {seconds / 60:g} minutes is out of range: give whole minutes from {IDLE_MIN_MINUTES} "
            f"to {IDLE_MAX_MINUTES}."
        )
    return minutes


@dataclass(frozen=True, kw_only=True)
class IdleShutdown:
    """Studio's built-in idle shutdown of JupyterLab and CodeEditor apps (``AppLifecycleManagement``).

    ``minimum``/``maximum`` bound what users may choose themselves; both optional.
    """

    timeout: Duration = field(default_factory=lambda: Duration.minutes(60))
    minimum: Duration | None = None
    maximum: Duration | None = None

    def __post_init__(self) -> None:
        default = _minutes(self.timeout, "IdleShutdown timeout")
        low = _minutes(self.minimum, "IdleShutdown minimum") if self.minimum is not None else None
        high = _minutes(self.maximum, "IdleShutdown maximum") if self.maximum is not None else None
        if (low is not None and low > default) or (high is not None and high < default):
            raise LifecycleConfigError(
                f"IdleShutdown needs minimum <= timeout <= maximum, got {low} <= {default} <= {high} minutes."
            )

    @classmethod
    def locked(cls, timeout: Duration) -> IdleShutdown:
        """Idle shutdown that users cannot change: minimum = maximum = ``timeout``."""
        return cls(timeout=timeout, minimum=timeout, maximum=timeout)

    @property
    def bounds_minutes(self) -> tuple[int, int]:
        """What a space's own timeout may be: (minimum, maximum) in minutes."""
        low = int(self.minimum.to_minutes()) if self.minimum is not None else IDLE_MIN_MINUTES
        high = int(self.maximum.to_minutes()) if self.maximum is not None else IDLE_MAX_MINUTES
        return low, high

    def render(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "lifecycle_management": "ENABLED",
            "idle_timeout_in_minutes": int(self.timeout.to_minutes()),
        }
        if self.minimum is not None:
            settings["min_idle_timeout_in_minutes"] = int(self.minimum.to_minutes())
        if self.maximum is not None:
            settings["max_idle_timeout_in_minutes"] = int(self.maximum.to_minutes())
        return settings


@dataclass(frozen=True, kw_only=True)
class StudioAppSettings:
    """What users of one app type get: the lifecycle configs they may pick, the one run by default,
    the default instance type and, for JupyterLab and CodeEditor, the built-in idle shutdown.

    When ``default_lifecycle_config`` is given it is added to ``lifecycle_configs`` if missing, so the
    default is always one of the allowed configs.
    """

    lifecycle_configs: Sequence[StudioLifecycleConfig] = ()
    default_lifecycle_config: StudioLifecycleConfig | None = None
    default_instance_type: str | None = None
    idle_shutdown: IdleShutdown | None = None
    built_in_lifecycle_config: StudioLifecycleConfig | None = None
    """Runs always, before the default one (JupyterLab and CodeEditor only); users cannot opt out."""
    custom_images: Sequence[StudioCustomImage] = ()
    default_image: StudioCustomImage | None = None
    """Must be one of ``custom_images``; becomes ``DefaultResourceSpec.SageMakerImageArn``."""

    def validate(self, app_type: StudioAppType, where: str) -> None:
        self._validate_built_in_and_images(app_type, where)
        for config in [*self.lifecycle_configs, self.default_lifecycle_config]:
            if config is not None and config.app_type is not app_type:
                raise LifecycleConfigError(
                    f"{where}: lifecycle config {config.lifecycle_config_name!r} is for {config.app_type.value}, "
                    f"not {app_type.value}."
                )
        names = [c.lifecycle_config_name for c in self.lifecycle_configs]
        if len(set(names)) != len(names):
            raise LifecycleConfigError(f"{where}: lifecycle_configs lists the same config twice.")
        if self.default_instance_type is not None:
            if not _INSTANCE_TYPE.fullmatch(self.default_instance_type):
                raise LifecycleConfigError(
                    f"{where}: default_instance_type {self.default_instance_type!r} is invalid: use an ml.* type."
                )
            if app_type is StudioAppType.JUPYTER_SERVER and self.default_instance_type != "system":
                raise LifecycleConfigError(f"{where}: JupyterServer apps run on instance type 'system' only.")
        if self.idle_shutdown is not None and app_type not in _BUILT_IN_IDLE:
            raise LifecycleConfigError(
                f"{where}: idle_shutdown is built into JupyterLab and CodeEditor only; for {app_type.value} use "
                "the catalogue's studio idle-shutdown module."
            )

    def _validate_built_in_and_images(self, app_type: StudioAppType, where: str) -> None:
        built_in = self.built_in_lifecycle_config
        if built_in is not None:
            if app_type not in _BUILT_IN_IDLE:
                raise LifecycleConfigError(
                    f"{where}: built_in_lifecycle_config exists for JupyterLab and CodeEditor only "
                    "(BuiltInLifecycleConfigArn), not for Studio Classic apps."
                )
            if built_in.app_type is not app_type:
                raise LifecycleConfigError(
                    f"{where}: built_in_lifecycle_config {built_in.lifecycle_config_name!r} is for "
                    f"{built_in.app_type.value}, not {app_type.value}."
                )
        names = [image.image_name for image in self.custom_images]
        if len(set(names)) != len(names):
            raise LifecycleConfigError(f"{where}: custom_images lists the same image twice.")
        for image in [*self.custom_images, self.default_image]:
            if image is not None and image.app_type is not app_type:
                raise LifecycleConfigError(
                    f"{where}: custom image {image.image_name!r} is configured for {image.app_type.value}, "
                    f"not {app_type.value}."
                )
        if self.default_image is not None and self.default_image not in self.custom_images:
            raise LifecycleConfigError(
                f"{where}: default_image {self.default_image.image_name!r} is not among custom_images "
                f"{names}; attach it first."
            )
        if self.custom_images and app_type is StudioAppType.JUPYTER_SERVER:
            raise LifecycleConfigError(f"{where}: JupyterServer apps take no custom images.")

    def all_configs(self) -> list[StudioLifecycleConfig]:
        """The allowed configs, the default among them."""
        configs = list(self.lifecycle_configs)
        if self.default_lifecycle_config is not None and self.default_lifecycle_config not in configs:
            configs.append(self.default_lifecycle_config)
        return configs

    def render(self, app_type: StudioAppType, ns: Any, scope: Construct) -> Any:
        """The L1 ``<AppType>AppSettingsProperty`` of ``ns`` (``CfnDomain`` or ``CfnUserProfile``)."""
        spec: dict[str, Any] = {}
        if app_type is StudioAppType.JUPYTER_SERVER:
            spec["instance_type"] = "system"
        elif self.default_instance_type:
            spec["instance_type"] = self.default_instance_type
        if self.default_lifecycle_config is not None:
            spec["lifecycle_config_arn"] = self.default_lifecycle_config.arn_in(scope)
        if self.default_image is not None:
            spec["sage_maker_image_arn"] = self.default_image.image_arn_in(scope)
        props: dict[str, Any] = {}
        if spec:
            props["default_resource_spec"] = ns.ResourceSpecProperty(**spec)
        if self.all_configs():
            props["lifecycle_config_arns"] = [c.arn_in(scope) for c in self.all_configs()]
        if self.idle_shutdown is not None:
            props["app_lifecycle_management"] = ns.AppLifecycleManagementProperty(
                idle_settings=ns.IdleSettingsProperty(**self.idle_shutdown.render())
            )
        if self.built_in_lifecycle_config is not None:
            props["built_in_lifecycle_config_arn"] = self.built_in_lifecycle_config.arn_in(scope)
        if self.custom_images:
            props["custom_images"] = [image.custom_image(ns) for image in self.custom_images]
        property_class = getattr(ns, f"{app_type.value}AppSettingsProperty")
        return property_class(**props)


@dataclass(frozen=True, kw_only=True)
class SpaceStorage:
    """The EBS volume of a space: its size when created and the largest a user may choose (GiB)."""

    default_gib: int = EBS_MIN_GIB
    maximum_gib: int = 100

    def __post_init__(self) -> None:
        for name in ("default_gib", "maximum_gib"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not EBS_MIN_GIB <= value <= EBS_MAX_GIB:
                raise LifecycleConfigError(
                    f"SpaceStorage {name} {value!r} is invalid: give whole GiB from {EBS_MIN_GIB} to {EBS_MAX_GIB}."
                )
        if self.default_gib > self.maximum_gib:
            raise LifecycleConfigError(
                f"SpaceStorage default_gib {self.default_gib} is over maximum_gib {self.maximum_gib}."
            )

    def render(self, ns: Any) -> Any:
        return ns.DefaultSpaceStorageSettingsProperty(
            default_ebs_storage_settings=ns.DefaultEbsStorageSettingsProperty(
                default_ebs_volume_size_in_gb=self.default_gib, maximum_ebs_volume_size_in_gb=self.maximum_gib
            )
        )


@dataclass(frozen=True, kw_only=True)
class PosixUser:
    """``CustomPosixUserConfig``: the POSIX identity of every space on custom file systems."""

    uid: int = 200001
    gid: int = 1001

    def __post_init__(self) -> None:
        for name, (low, high) in (("uid", POSIX_UID_RANGE), ("gid", POSIX_GID_RANGE)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise LifecycleConfigError(
                    f"PosixUser {name} {value!r} is invalid: give a number from {low} to {high}."
                )

    def render(self, ns: Any) -> Any:
        return ns.CustomPosixUserConfigProperty(uid=self.uid, gid=self.gid)


@dataclass(frozen=True, kw_only=True)
class EfsMount:
    """An EFS file system (or one directory of it) offered to spaces as a custom file system."""

    file_system_id: str
    path: str = "/"

    def __post_init__(self) -> None:
        fs_id = self.file_system_id
        if not isinstance(fs_id, str) or (not Token.is_unresolved(fs_id) and not _FILE_SYSTEM_ID.fullmatch(fs_id)):
            raise LifecycleConfigError(
                f"EfsMount file_system_id {fs_id!r} is invalid: give an id such as 'fs-0123abcd'."
            )
        if not isinstance(self.path, str) or not _FILE_SYSTEM_PATH.fullmatch(self.path):
            raise LifecycleConfigError(
                f"EfsMount path {self.path!r} is invalid: give an absolute path without spaces, at most 256 characters."
            )

    def render(self, ns: Any) -> Any:
        return ns.CustomFileSystemConfigProperty(
            efs_file_system_config=ns.EFSFileSystemConfigProperty(
                file_system_id=self.file_system_id, file_system_path=self.path
            )
        )


def _check_file_systems(file_systems: Sequence[EfsMount], where: str, limit: int) -> None:
    if len(file_systems) > limit:
        raise LifecycleConfigError(f"{where}: {len(file_systems)} custom file systems, CloudFormation takes {limit}.")
    if any(not isinstance(fs, EfsMount) for fs in file_systems):
        raise LifecycleConfigError(f"{where}: custom_file_systems takes EfsMount values (TeamFileSystem.mount()).")


@dataclass(frozen=True, kw_only=True)
class StudioUserSettings:
    """Settings per app type; ``None`` leaves an app type to Studio's defaults.

    ``storage``, ``custom_file_systems`` and ``posix_user`` apply to the user's private spaces.
    """

    execution_role: iam.IRole | None = None
    jupyter_server: StudioAppSettings | None = None
    kernel_gateway: StudioAppSettings | None = None
    jupyter_lab: StudioAppSettings | None = None
    code_editor: StudioAppSettings | None = None
    storage: SpaceStorage | None = None
    custom_file_systems: Sequence[EfsMount] = ()
    posix_user: PosixUser | None = None

    def per_app(self) -> dict[StudioAppType, StudioAppSettings]:
        pairs = {
            StudioAppType.JUPYTER_SERVER: self.jupyter_server,
            StudioAppType.KERNEL_GATEWAY: self.kernel_gateway,
            StudioAppType.JUPYTER_LAB: self.jupyter_lab,
            StudioAppType.CODE_EDITOR: self.code_editor,
        }
        return {app: settings for app, settings in pairs.items() if settings is not None}

    def validate(self, where: str) -> None:
        for app_type, settings in self.per_app().items():
            settings.validate(app_type, f"{where} {app_type.value}")
        _check_file_systems(self.custom_file_systems, where, 10)

    def has_space_settings(self) -> bool:
        return bool(self.storage or self.custom_file_systems or self.posix_user)

    def render(
        self, ns: Any, scope: Construct, execution_role_arn: str | None, security_group_ids: Sequence[str] = ()
    ) -> Any:
        fields = {
            StudioAppType.JUPYTER_SERVER: "jupyter_server_app_settings",
            StudioAppType.KERNEL_GATEWAY: "kernel_gateway_app_settings",
            StudioAppType.JUPYTER_LAB: "jupyter_lab_app_settings",
            StudioAppType.CODE_EDITOR: "code_editor_app_settings",
        }
        props: dict[str, Any] = {
            fields[app_type]: settings.render(app_type, ns, scope) for app_type, settings in self.per_app().items()
        }
        if execution_role_arn is not None:
            props["execution_role"] = execution_role_arn
        if security_group_ids:
            props["security_groups"] = list(security_group_ids)
        if self.storage is not None:
            props["space_storage_settings"] = self.storage.render(ns)
        if self.custom_file_systems:
            props["custom_file_system_configs"] = [fs.render(ns) for fs in self.custom_file_systems]
        if self.posix_user is not None:
            props["custom_posix_user_config"] = self.posix_user.render(ns)
        return ns.UserSettingsProperty(**props)


@dataclass(frozen=True, kw_only=True)
class StudioSpaceDefaults:
    """The domain's ``DefaultSpaceSettings``: what SageMaker applies to shared spaces (not to private ones).

    CloudFormation's ``DefaultSpaceSettings`` has no ``CodeEditorAppSettings``: shared Code Editor spaces
    follow the domain's default user settings. ``execution_role`` defaults to the domain's.
    """

    jupyter_lab: StudioAppSettings | None = None
    storage: SpaceStorage | None = None
    custom_file_systems: Sequence[EfsMount] = ()
    posix_user: PosixUser | None = None
    execution_role: iam.IRole | None = None

    def validate(self, where: str) -> None:
        if self.jupyter_lab is not None:
            self.jupyter_lab.validate(StudioAppType.JUPYTER_LAB, f"{where} JupyterLab")
        _check_file_systems(self.custom_file_systems, where, 2)

    def render(self, scope: Construct, execution_role_arn: str, security_group_ids: Sequence[str]) -> Any:
        from aws_cdk import aws_sagemaker as sagemaker

        ns = sagemaker.CfnDomain
        props: dict[str, Any] = {"execution_role": execution_role_arn, "security_groups": list(security_group_ids)}
        if self.jupyter_lab is not None:
            props["jupyter_lab_app_settings"] = self.jupyter_lab.render(StudioAppType.JUPYTER_LAB, ns, scope)
        if self.storage is not None:
            props["space_storage_settings"] = self.storage.render(ns)
        if self.custom_file_systems:
            props["custom_file_system_configs"] = [fs.render(ns) for fs in self.custom_file_systems]
        if self.posix_user is not None:
            props["custom_posix_user_config"] = self.posix_user.render(ns)
        return ns.DefaultSpaceSettingsProperty(**props)
