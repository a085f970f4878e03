"""The Studio part of the configuration (context ``studioEnvironment``), validated into typed values.

```json
{
  "authMode": "IAM",
  "idleShutdown": {"timeout": "60m", "minimum": "60m", "maximum": "8h"},
  "lifecycleConfigs": [{"id": "LabDefault", "appType": "JupyterLab", "modules": [{"module": "..."}]}],
  "apps": {"JupyterLab": {"lifecycleConfigs": ["LabDefault"], "default": "LabDefault",
                          "defaultInstanceType": "ml.t3.medium"}},
  "userShards": 4,
  "userProfileQuota": 1000,
  "users": [{"name": "alice", "apps": {"JupyterLab": {"defaultInstanceType": "ml.m5.large"}}}]
}
```

``userProfileQuota`` (optional): the applied value of SageMaker's Service Quotas quota "Maximum number of Studio
user profiles allowed per account"; synth refuses more users than that, and more than the shards hold
(``stacks.studio_capacity``).

Identity, permissions, tags and an existing network (``ssoUserName`` and ``tags`` per user, ``permissions``,
``tags``, ``network``, ``kmsKeyArn``, ``executionRoleArn``): see ``stacks.studio_access_config``.

Spaces, images and the team file system (all optional)::

  "storage": {"defaultGiB": 5, "maximumGiB": 100},
  "teamFileSystem": {"path": "/", "posixUser": {"uid": 200001, "gid": 1001}}   (new, encrypted EFS; or
                    "fileSystemId": "fs-...", "securityGroupId": "sg-..." for an existing one),
  "customImages": [{"id": "TeamLab", "imageName": "team-lab", "appType": "JupyterLab",
                    "baseImage": "<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>",
                    "containerArguments": [], "containerEntrypoint": [], "environment": {},
                    "kernelSpecs": [{"name": "python3", "displayName": "Python 3"}]}],
  "apps": {"JupyterLab": {..., "builtInLifecycleConfig": "LabBuiltIn", "customImages": ["TeamLab"],
                          "defaultImage": "TeamLab"}},
  "idleShutdown": {"timeout": "2h", "locked": true}     (minimum = maximum = timeout: users cannot change it),
  "spaces": [{"name": "team-lab", "appType": "JupyterLab", "image": "TeamLab", "instanceType": "ml.t3.medium",
              "lifecycleConfig": "LabDefault", "ebsGiB": 20, "idleTimeout": "2h", "teamFileSystem": true,
              "remoteAccess": false},
             {"name": "alice-lab", "owner": "alice"}]   (an owner makes a private space)
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
from constructs_lib.studio_settings import IdleShutdown, PosixUser, SpaceStorage
from stacks.backstop_config import BackstopSpec, parse_backstop
from stacks.config import NetworkSpec
from stacks.config_values import ConfigError, expect, expect_object, json_text, parse_duration
from stacks.module_config import parse_modules
from stacks.permissions_config import DataPermissions
from stacks.studio_access_config import parse_sso_user_name, parse_studio_access, parse_user_tags
from stacks.studio_capacity import MAX_USER_SHARDS, check_user_capacity, parse_user_profile_quota
from stacks.tags_config import parse_tags

_object = expect_object
_typed = expect
DOMAIN = "AWS::SageMaker::Domain"
USER_PROFILE = "AWS::SageMaker::UserProfile"

STUDIO_CONTEXT_KEY = "studioEnvironment"
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
    built_in: str | None = None
    custom_images: tuple[str, ...] = ()
    default_image: str | None = None


@dataclass(frozen=True, kw_only=True)
class UserSpec:
    name: str
    apps: Mapping[StudioAppType, AppSpec] = field(default_factory=dict)
    storage: SpaceStorage | None = None
    sso_user_name: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ImageSpec:
    id: str
    image_name: str
    base_image: str
    app_type: StudioAppType
    container_arguments: tuple[str, ...] = ()
    container_entrypoint: tuple[str, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    kernel_specs: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True, kw_only=True)
class TeamFileSystemSpec:
    """A new encrypted EFS file system, or an existing one (``file_system_id`` with ``security_group_id``)."""

    file_system_id: str | None = None
    security_group_id: str | None = None
    path: str = "/"
    posix_user: PosixUser = field(default_factory=PosixUser)


@dataclass(frozen=True, kw_only=True)
class SpaceSpec:
    name: str
    owner: str | None = None
    app_type: StudioAppType = StudioAppType.JUPYTER_LAB
    instance_type: str | None = None
    lifecycle_config: str | None = None
    image: str | None = None
    ebs_gib: int | None = None
    idle_timeout: Any = None
    team_file_system: bool = True
    remote_access: bool = False


@dataclass(frozen=True, kw_only=True)
class StudioEnvironmentConfig:
    auth_mode: str = "IAM"
    idle_shutdown: IdleShutdown | None = None
    lifecycle_configs: tuple[LifecycleConfigSpec, ...] = ()
    apps: Mapping[StudioAppType, AppSpec] = field(default_factory=dict)
    user_shards: int = 1
    user_profile_quota: int | None = None
    users: tuple[UserSpec, ...] = ()
    storage: SpaceStorage | None = None
    team_file_system: TeamFileSystemSpec | None = None
    custom_images: tuple[ImageSpec, ...] = ()
    spaces: tuple[SpaceSpec, ...] = ()
    idle_backstop: BackstopSpec | None = None
    permissions: DataPermissions = field(default_factory=DataPermissions)
    tags: Mapping[str, str] = field(default_factory=dict)
    network: NetworkSpec | None = None
    kms_key_arn: str | None = None
    execution_role_arn: str | None = None


def _app_type(value: object, path: str) -> StudioAppType:
    if not isinstance(value, str) or value not in APP_TYPES:
        raise ConfigError(f"{path}: app type {value!r} is unknown; use one of {', '.join(APP_TYPES)}.")
    return APP_TYPES[value]


def _apps(
    raw: object,
    path: str,
    configs: Mapping[str, StudioAppType],
    images: Mapping[str, StudioAppType] | None = None,
    resource: str = DOMAIN,
) -> dict[StudioAppType, AppSpec]:
    data = _object(raw, path, set(APP_TYPES))
    apps: dict[StudioAppType, AppSpec] = {}
    for key, value in data.items():
        app_type = APP_TYPES[key]
        where = f"{path}.{key}"
        spec = _object(
            value,
            where,
            {
                "lifecycleConfigs",
                "default",
                "defaultInstanceType",
                "builtInLifecycleConfig",
                "customImages",
                "defaultImage",
            },
        )
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
        built_in, attached, default_image = _built_in_and_images(spec, where, app_type, configs, images or {})
        apps[app_type] = AppSpec(
            lifecycle_configs=tuple(names),
            default=default,
            default_instance_type=instance_type,
            built_in=built_in,
            custom_images=attached,
            default_image=default_image,
        )
    return apps


def _built_in_and_images(
    spec: Mapping[str, Any],
    where: str,
    app_type: StudioAppType,
    configs: Mapping[str, StudioAppType],
    images: Mapping[str, StudioAppType],
) -> tuple[str | None, tuple[str, ...], str | None]:
    built_in = spec.get("builtInLifecycleConfig")
    if built_in is not None:
        if app_type not in (StudioAppType.JUPYTER_LAB, StudioAppType.CODE_EDITOR):
            raise ConfigError(f"{where}.builtInLifecycleConfig: only JupyterLab and CodeEditor have a built-in config.")
        if configs.get(built_in) is not app_type:
            raise ConfigError(
                f"{where}.builtInLifecycleConfig: {built_in!r} is not a {app_type.value} lifecycle config id."
            )
    attached = _typed(spec.get("customImages", []), list, f"{where}.customImages", "a list of image ids")
    for i, image in enumerate(attached):
        if images.get(image) is not app_type:
            raise ConfigError(
                f"{where}.customImages[{i}]: {image!r} is not a {app_type.value} image id; "
                f"defined: {', '.join(sorted(images)) or 'none'}."
            )
    default_image = spec.get("defaultImage")
    if default_image is not None and default_image not in attached:
        raise ConfigError(f"{where}.defaultImage: {default_image!r} is not among customImages {attached}.")
    return built_in, tuple(attached), default_image


def _idle(raw: object, path: str) -> IdleShutdown:
    data = _object(raw, path, {"timeout", "minimum", "maximum", "locked"}, {"timeout"})
    locked = _typed(data.get("locked", False), bool, f"{path}.locked", "true or false")
    if locked and ("minimum" in data or "maximum" in data):
        raise ConfigError(f"{path}.locked: a locked timeout sets minimum and maximum itself; remove them.")
    kwargs: dict[str, Any] = {k: parse_duration(v, f"{path}.{k}") for k, v in data.items() if k != "locked"}
    try:
        return IdleShutdown.locked(kwargs["timeout"]) if locked else IdleShutdown(**kwargs)
    except LifecycleConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def parse_studio_config(
    raw: object, path: str = STUDIO_CONTEXT_KEY, *, base_dir: Path | None = None
) -> StudioEnvironmentConfig:
    """The Studio environment; script paths of module entries are relative to ``base_dir``."""
    keys = {"authMode", "idleShutdown", "lifecycleConfigs", "apps", "userShards", "userProfileQuota", "users"}
    keys |= {"storage", "teamFileSystem", "customImages", "spaces"}
    keys |= {"idleBackstop"}
    keys |= {"permissions", "tags", "network", "kmsKeyArn", "executionRoleArn"}
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
    images = _images(data.get("customImages", []), f"{path}.customImages")
    image_types = {image.id: image.app_type for image in images}
    apps = _apps(data.get("apps", {}), f"{path}.apps", by_id, image_types)
    idle = _idle(data["idleShutdown"], f"{path}.idleShutdown") if "idleShutdown" in data else None
    shards = _typed(data.get("userShards", 1), int, f"{path}.userShards", "a whole number")
    if not 1 <= shards <= MAX_USER_SHARDS:
        raise ConfigError(f"{path}.userShards: {shards} is out of range; give 1 to {MAX_USER_SHARDS}.")
    users: list[UserSpec] = []
    seen: dict[str, int] = {}
    sso_names: dict[str, str] = {}  # lower-cased SSO user name -> user, kept as users are read (not rebuilt per user)
    global_tags = parse_tags(data["tags"], f"{path}.tags") if "tags" in data else {}
    for i, item in enumerate(_typed(data.get("users", []), list, f"{path}.users", "a list")):
        where = f"{path}.users[{i}]"
        spec = _object(item, where, {"name", "apps", "storage", "ssoUserName", "tags"}, {"name"})
        name = spec["name"]
        if not isinstance(name, str) or not _USER.fullmatch(name):
            raise ConfigError(
                f"{where}.name: {json_text(name)} is invalid: use 1-63 letters, digits and '-', starting and ending "
                "with a letter or digit."
            )
        if name.lower() in seen:
            raise ConfigError(f"{where}.name: {name!r} is already users[{seen[name.lower()]}]; names must be unique.")
        seen[name.lower()] = i
        users.append(
            UserSpec(
                name=name,
                apps=_apps(spec.get("apps", {}), f"{where}.apps", by_id, image_types, USER_PROFILE),
                storage=_storage(spec["storage"], f"{where}.storage") if "storage" in spec else None,
                sso_user_name=parse_sso_user_name(spec, where, auth, sso_names),
                tags=parse_user_tags(spec, where, global_tags),
            )
        )
        if users[-1].sso_user_name:
            sso_names[users[-1].sso_user_name.lower()] = name
    quota = parse_user_profile_quota(data, path)
    check_user_capacity([user.name for user in users], shards, quota, path)
    team = _team_file_system(data["teamFileSystem"], f"{path}.teamFileSystem") if "teamFileSystem" in data else None
    spaces = _spaces(data.get("spaces", []), f"{path}.spaces", by_id, image_types, users, team is not None)
    return StudioEnvironmentConfig(
        auth_mode=auth,
        idle_shutdown=idle,
        lifecycle_configs=tuple(configs),
        apps=apps,
        user_shards=shards,
        user_profile_quota=quota,
        users=tuple(users),
        storage=_storage(data["storage"], f"{path}.storage") if "storage" in data else None,
        team_file_system=team,
        custom_images=images,
        spaces=spaces,
        idle_backstop=parse_backstop(data["idleBackstop"], f"{path}.idleBackstop") if "idleBackstop" in data else None,
        **parse_studio_access(data, path, global_tags),
    )


def _validated(path: str, make: Any, **kwargs: Any) -> Any:
    try:
        return make(**kwargs)
    except LifecycleConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def _storage(raw: object, path: str) -> SpaceStorage:
    data = _object(raw, path, {"defaultGiB", "maximumGiB"}, {"defaultGiB", "maximumGiB"})
    storage: SpaceStorage = _validated(
        path, SpaceStorage, default_gib=data["defaultGiB"], maximum_gib=data["maximumGiB"]
    )
    return storage


def _strings(raw: object, path: str) -> tuple[str, ...]:
    items = _typed(raw, list, path, "a list of strings")
    for i, item in enumerate(items):
        _typed(item, str, f"{path}[{i}]", "a string")
    return tuple(items)


def _images(raw: object, path: str) -> tuple[ImageSpec, ...]:
    keys = {"id", "imageName", "baseImage", "appType", "containerArguments", "containerEntrypoint", "environment"}
    images: list[ImageSpec] = []
    for i, item in enumerate(_typed(raw, list, path, "a list")):
        where = f"{path}[{i}]"
        spec = _object(item, where, keys | {"kernelSpecs"}, {"id", "imageName", "baseImage", "appType"})
        image_id = _typed(spec["id"], str, f"{where}.id", "a string")
        if not _ID.fullmatch(image_id) or any(image.id == image_id for image in images):
            raise ConfigError(f"{where}.id: {image_id!r} is invalid or used twice: use unique PascalCase ids.")
        environment = _object(spec.get("environment", {}), f"{where}.environment", set(spec.get("environment", {})))
        kernels = []
        for k, kernel in enumerate(_typed(spec.get("kernelSpecs", []), list, f"{where}.kernelSpecs", "a list")):
            data = _object(kernel, f"{where}.kernelSpecs[{k}]", {"name", "displayName"}, {"name"})
            kernels.append((data["name"], data.get("displayName")))
        images.append(
            ImageSpec(
                id=image_id,
                image_name=_typed(spec["imageName"], str, f"{where}.imageName", "a string"),
                base_image=_typed(spec["baseImage"], str, f"{where}.baseImage", "a string"),
                app_type=_app_type(spec["appType"], f"{where}.appType"),
                container_arguments=_strings(spec.get("containerArguments", []), f"{where}.containerArguments"),
                container_entrypoint=_strings(spec.get("containerEntrypoint", []), f"{where}.containerEntrypoint"),
                environment=dict(environment),
                kernel_specs=tuple(kernels),
            )
        )
    return tuple(images)


def _team_file_system(raw: object, path: str) -> TeamFileSystemSpec:
    data = _object(raw, path, {"fileSystemId", "securityGroupId", "path", "posixUser"})
    if ("fileSystemId" in data) != ("securityGroupId" in data):
        raise ConfigError(
            f"{path}: give fileSystemId and securityGroupId together (an existing file system), or neither."
        )
    fs_id, sg_id = data.get("fileSystemId"), data.get("securityGroupId")
    if fs_id is not None and (not isinstance(fs_id, str) or not re.fullmatch(r"fs-[0-9a-f]{8,17}", fs_id)):
        raise ConfigError(f"{path}.fileSystemId: {fs_id!r} is invalid: give an id such as 'fs-0123abcd'.")
    if sg_id is not None and (not isinstance(sg_id, str) or not re.fullmatch(r"sg-[0-9a-f]{8,17}", sg_id)):
        raise ConfigError(f"{path}.securityGroupId: {sg_id!r} is invalid: give an id such as 'sg-0123abcd'.")
    posix = _object(data.get("posixUser", {}), f"{path}.posixUser", {"uid", "gid"})
    return TeamFileSystemSpec(
        file_system_id=fs_id,
        security_group_id=sg_id,
        path=_typed(data.get("path", "/"), str, f"{path}.path", "a string"),
        posix_user=_validated(f"{path}.posixUser", PosixUser, **posix),
    )


def _some(names: list[str], limit: int = 5) -> str:
    """A short list for an error message, whatever the number of names."""
    shown = ", ".join(names[:limit]) or "none defined"
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _spaces(
    raw: object,
    path: str,
    configs: Mapping[str, StudioAppType],
    images: Mapping[str, StudioAppType],
    users: list[UserSpec],
    has_team_fs: bool,
) -> tuple[SpaceSpec, ...]:
    keys = {"name", "owner", "appType", "instanceType", "lifecycleConfig", "image", "ebsGiB", "idleTimeout"}
    user_names = {user.name for user in users}
    spaces: list[SpaceSpec] = []
    for i, item in enumerate(_typed(raw, list, path, "a list")):
        where = f"{path}[{i}]"
        spec = _object(item, where, keys | {"teamFileSystem", "remoteAccess"}, {"name"})
        name = spec["name"]
        if not isinstance(name, str) or not _USER.fullmatch(name):
            raise ConfigError(f"{where}.name: {name!r} is invalid: use 1-63 letters, digits and '-'.")
        if any(space.name.lower() == name.lower() for space in spaces):
            raise ConfigError(f"{where}.name: {name!r} is used twice; space names are unique in a domain.")
        owner = spec.get("owner")
        if owner is not None and owner not in user_names:
            raise ConfigError(
                f"{where}.owner: {owner!r} is not a user of this configuration; a private space names an existing "
                f"user ({_some(sorted(user_names))})."
            )
        app_type = _app_type(spec.get("appType", "JupyterLab"), f"{where}.appType")
        config = spec.get("lifecycleConfig")
        if config is not None and configs.get(config) is not app_type:
            raise ConfigError(f"{where}.lifecycleConfig: {config!r} is not a {app_type.value} lifecycle config id.")
        image = spec.get("image")
        if image is not None and images.get(image) is not app_type:
            raise ConfigError(f"{where}.image: {image!r} is not a {app_type.value} image id.")
        team = _typed(spec.get("teamFileSystem", has_team_fs), bool, f"{where}.teamFileSystem", "true or false")
        if team and not has_team_fs:
            raise ConfigError(f"{where}.teamFileSystem: no teamFileSystem is configured.")
        ebs = spec.get("ebsGiB")
        spaces.append(
            SpaceSpec(
                name=name,
                owner=owner,
                app_type=app_type,
                instance_type=_typed(spec["instanceType"], str, f"{where}.instanceType", "a string")
                if "instanceType" in spec
                else None,
                lifecycle_config=config,
                image=image,
                ebs_gib=_typed(ebs, int, f"{where}.ebsGiB", "a whole number") if ebs is not None else None,
                idle_timeout=parse_duration(spec["idleTimeout"], f"{where}.idleTimeout")
                if "idleTimeout" in spec
                else None,
                team_file_system=team,
                remote_access=_typed(spec.get("remoteAccess", False), bool, f"{where}.remoteAccess", "true or false"),
            )
        )
    return tuple(spaces)
