"""The Studio part of the configuration (context ``studioEnvironment``), validated into typed values.

```json
{
  "authMode": "IAM",
  "idleShutdown": {"timeout": "60m", "minimum": "60m", "maximum": "8h"},
  "lifecycleConfigs": [{"id": "LabDefault", "appType": "JupyterLab", "modules": [{"module": "..."}]}],
  "apps": {"JupyterLab": {"lifecycleConfigs": ["LabDefault"], "default": "LabDefault",
                          "defaultInstanceType": "ml.t3.medium"}},
  "userShards": 4,
  "users": [{"name": "alice", "apps": {"JupyterLab": {"defaultInstanceType": "ml.m5.large"}}}]
}
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs_lib import LifecycleConfigError, Module, Target
from constructs_lib.instance_types import studio_instance_type_problem
from constructs_lib.studio_lifecycle_config import StudioAppType
from constructs_lib.studio_settings import IdleShutdown
from stacks.config_values import ConfigError, expect, expect_object, json_text, parse_duration
from stacks.module_config import parse_modules

_object = expect_object
_typed = expect
DOMAIN = "AWS::SageMaker::Domain"
USER_PROFILE = "AWS::SageMaker::UserProfile"

STUDIO_CONTEXT_KEY = "studioEnvironment"
MAX_USER_SHARDS = 100
_ID = re.compile(r"[A-Z][A-Za-z0-9]{0,39}")
_USER = re.compile(r"(?=.{1,63}\Z)[a-zA-Z0-9](-*[a-zA-Z0-9])*")
APP_TYPES = {t.value: t for t in StudioAppType}


@dataclass(frozen=True, kw_only=True)
class LifecycleConfigSpec:
    id: str
    app_type: StudioAppType
    modules: tuple[Module, ...]


@dataclass(frozen=True, kw_only=True)
class AppSpec:
    """Names of lifecycle configs (by id), the default, the default instance type."""

    lifecycle_configs: tuple[str, ...] = ()
    default: str | None = None
    default_instance_type: str | None = None


@dataclass(frozen=True, kw_only=True)
class UserSpec:
    name: str
    apps: Mapping[StudioAppType, AppSpec] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class StudioEnvironmentConfig:
    auth_mode: str = "IAM"
    idle_shutdown: IdleShutdown | None = None
    lifecycle_configs: tuple[LifecycleConfigSpec, ...] = ()
    apps: Mapping[StudioAppType, AppSpec] = field(default_factory=dict)
    user_shards: int = 1
    users: tuple[UserSpec, ...] = ()


def _app_type(value: object, path: str) -> StudioAppType:
    if not isinstance(value, str) or value not in APP_TYPES:
        raise ConfigError(f"{path}: app type {value!r} is unknown; use one of {', '.join(APP_TYPES)}.")
    return APP_TYPES[value]


def _apps(
    raw: object, path: str, configs: Mapping[str, StudioAppType], resource: str = DOMAIN
) -> dict[StudioAppType, AppSpec]:
    data = _object(raw, path, set(APP_TYPES))
    apps: dict[StudioAppType, AppSpec] = {}
    for key, value in data.items():
        app_type = APP_TYPES[key]
        where = f"{path}.{key}"
        spec = _object(value, where, {"lifecycleConfigs", "default", "defaultInstanceType"})
        names = _typed(spec.get("lifecycleConfigs", []), list, f"{where}.lifecycleConfigs", "a list of config ids")
        for i, name in enumerate(names):
            if name not in configs:
                raise ConfigError(
                    f"{where}.lifecycleConfigs[{i}]: {name!r} is not a lifecycle config id; "
                    f"defined: {', '.join(sorted(configs)) or 'none'}."
                )
            if configs[name] is not app_type:
                raise ConfigError(f"{where}.lifecycleConfigs[{i}]: {name!r} is for {configs[name].value}, not {key}.")
        if len(set(names)) != len(names):
            raise ConfigError(f"{where}.lifecycleConfigs: lists a config twice.")
        default = spec.get("default")
        if default is not None and default not in names:
            raise ConfigError(
                f"{where}.default: {default!r} is not in lifecycleConfigs {names}; the default must be one of the "
                "configs users may pick."
            )
        instance_type = spec.get("defaultInstanceType")
        if instance_type is not None:
            problem = studio_instance_type_problem(instance_type, resource)
            if problem is not None:
                raise ConfigError(f"{where}.defaultInstanceType: {problem}")
        apps[app_type] = AppSpec(lifecycle_configs=tuple(names), default=default, default_instance_type=instance_type)
    return apps


def _idle(raw: object, path: str) -> IdleShutdown:
    data = _object(raw, path, {"timeout", "minimum", "maximum"}, {"timeout"})
    kwargs: dict[str, Any] = {k: parse_duration(v, f"{path}.{k}") for k, v in data.items()}
    try:
        return IdleShutdown(**kwargs)
    except LifecycleConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def parse_studio_config(
    raw: object, path: str = STUDIO_CONTEXT_KEY, *, base_dir: Path | None = None
) -> StudioEnvironmentConfig:
    """The Studio environment; script paths of module entries are relative to ``base_dir``."""
    keys = {"authMode", "idleShutdown", "lifecycleConfigs", "apps", "userShards", "users"}
    data = _object(raw, path, keys)
    auth = data.get("authMode", "IAM")
    if auth not in ("IAM", "SSO"):
        raise ConfigError(f'{path}.authMode: {json_text(auth)} is invalid; use "IAM" or "SSO".')
    configs: list[LifecycleConfigSpec] = []
    for i, item in enumerate(_typed(data.get("lifecycleConfigs", []), list, f"{path}.lifecycleConfigs", "a list")):
        where = f"{path}.lifecycleConfigs[{i}]"
        spec = _object(item, where, {"id", "appType", "modules"}, {"id", "appType", "modules"})
        config_id = _typed(spec["id"], str, f"{where}.id", "a string")
        if not _ID.fullmatch(config_id):
            raise ConfigError(f"{where}.id: {json_text(config_id)} is invalid: use PascalCase letters and digits.")
        if any(c.id == config_id for c in configs):
            raise ConfigError(f"{where}.id: {config_id!r} is used twice; ids must be unique.")
        modules = parse_modules(spec["modules"], f"{where}.modules", Target.STUDIO, base_dir)
        if not modules:
            raise ConfigError(f"{where}.modules: give at least one module.")
        configs.append(
            LifecycleConfigSpec(id=config_id, app_type=_app_type(spec["appType"], f"{where}.appType"), modules=modules)
        )
    by_id = {c.id: c.app_type for c in configs}
    apps = _apps(data.get("apps", {}), f"{path}.apps", by_id)
    idle = _idle(data["idleShutdown"], f"{path}.idleShutdown") if "idleShutdown" in data else None
    shards = _typed(data.get("userShards", 1), int, f"{path}.userShards", "a whole number")
    if not 1 <= shards <= MAX_USER_SHARDS:
        raise ConfigError(f"{path}.userShards: {shards} is out of range; give 1 to {MAX_USER_SHARDS}.")
    users: list[UserSpec] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(_typed(data.get("users", []), list, f"{path}.users", "a list")):
        where = f"{path}.users[{i}]"
        spec = _object(item, where, {"name", "apps"}, {"name"})
        name = spec["name"]
        if not isinstance(name, str) or not _USER.fullmatch(name):
            raise ConfigError(
                f"{where}.name: {json_text(name)} is invalid: use 1-63 letters, digits and '-', starting and ending "
                "with a letter or digit."
            )
        if name.lower() in seen:
            raise ConfigError(f"{where}.name: {name!r} is already users[{seen[name.lower()]}]; names must be unique.")
        seen[name.lower()] = i
        users.append(UserSpec(name=name, apps=_apps(spec.get("apps", {}), f"{where}.apps", by_id, USER_PROFILE)))
    return StudioEnvironmentConfig(
        auth_mode=auth,
        idle_shutdown=idle,
        lifecycle_configs=tuple(configs),
        apps=apps,
        user_shards=shards,
        users=tuple(users),
    )
