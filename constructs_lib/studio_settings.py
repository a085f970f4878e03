"""Per-app-type Studio settings shared by ``StudioDomain`` (defaults) and ``StudioUserProfile`` (overrides)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib.errors import LifecycleConfigError
from constructs_lib.studio_lifecycle_config import StudioAppType, StudioLifecycleConfig

IDLE_MIN_MINUTES = 60
IDLE_MAX_MINUTES = 525600
_INSTANCE_TYPE = re.compile(r"(system|ml\.[a-z0-9]+\.[a-z0-9]+)")
_BUILT_IN_IDLE = (StudioAppType.JUPYTER_LAB, StudioAppType.CODE_EDITOR)


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

    def validate(self, app_type: StudioAppType, where: str) -> None:
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
        props: dict[str, Any] = {}
        if spec:
            props["default_resource_spec"] = ns.ResourceSpecProperty(**spec)
        if self.all_configs():
            props["lifecycle_config_arns"] = [c.arn_in(scope) for c in self.all_configs()]
        if self.idle_shutdown is not None:
            props["app_lifecycle_management"] = ns.AppLifecycleManagementProperty(
                idle_settings=ns.IdleSettingsProperty(**self.idle_shutdown.render())
            )
        property_class = getattr(ns, f"{app_type.value}AppSettingsProperty")
        return property_class(**props)


@dataclass(frozen=True, kw_only=True)
class StudioUserSettings:
    """Settings per app type; ``None`` leaves an app type to Studio's defaults."""

    execution_role: iam.IRole | None = None
    jupyter_server: StudioAppSettings | None = None
    kernel_gateway: StudioAppSettings | None = None
    jupyter_lab: StudioAppSettings | None = None
    code_editor: StudioAppSettings | None = None

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
        return ns.UserSettingsProperty(**props)
