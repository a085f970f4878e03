"""The app's configuration: plain JSON (from cdk.json context or a file) validated into typed values.

Every error names the offending key by its path, for example
``notebookEnvironment.notebooks[0].onStart[2].idle``, says what is wrong and what is allowed.
Nothing here reads the environment: ``app.py`` passes the raw value in.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration

from constructs_lib import ArchiveLocation, LifecycleConfigError, Module, catalogue
from constructs_lib.catalogue import studio_home

CONTEXT_KEY = "notebookEnvironment"
MAX_NOTEBOOKS = 30
"""Per stack: each notebook adds 6 resources and about 24 kB of template (its lifecycle content is up
to 16 kB); CloudFormation takes at most 500 resources and 1 MB, so 30 leaves room."""

# Config name of a catalogue module -> its factory.
CATALOGUE: dict[str, Callable[..., Module]] = {
    "conda-persistent-envs": catalogue.conda_persistent_envs,
    "conda-env-kernels": catalogue.conda_env_kernels,
    "stop-ssm-agent": catalogue.stop_ssm_agent,
    "persist-dotfolders": catalogue.persist_dotfolders,
    "persisted-bin-on-path": catalogue.persisted_bin_on_path,
    "environment-variables": catalogue.environment_variables,
    "idle-autostop": catalogue.idle_autostop,
    "conda-packages-background": catalogue.conda_packages_background,
    "git-config": catalogue.git_config,
}

# Config name of a Studio catalogue module -> its factory.
STUDIO_CATALOGUE: dict[str, Callable[..., Module]] = {
    "studio-conda-persistent-envs": studio_home.studio_conda_persistent_envs,
    "studio-conda-env-kernels": studio_home.studio_conda_env_kernels,
    "studio-environment-variables": studio_home.studio_environment_variables,
    "studio-idle-shutdown": catalogue.studio_idle_shutdown,
}

_DURATION = re.compile(r"([0-9]{1,6})\s*(s|m|h)")
_ID = re.compile(r"[A-Z][A-Za-z0-9]{0,39}")


class ConfigError(LifecycleConfigError):
    """A configuration value that cannot be used; the message starts with the key's path."""


@dataclass(frozen=True, kw_only=True)
class NotebookSpec:
    id: str
    name: str | None = None
    instance_type: str = "ml.t3.medium"
    platform_identifier: str = "notebook-al2023-v1"
    volume_size_gib: int = 20
    root_access: bool = False
    archive_location: ArchiveLocation = ArchiveLocation.INLINE
    on_start: tuple[Module, ...] = ()
    on_create: tuple[Module, ...] = ()


@dataclass(frozen=True, kw_only=True)
class NotebookEnvironmentConfig:
    private_network: bool = True
    notebooks: tuple[NotebookSpec, ...] = field(default_factory=tuple)


def _camel_to_snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _snake_to_camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _object(
    value: object, path: str, allowed: set[str], required: frozenset[str] | set[str] = frozenset()
) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: expected an object, got {type(value).__name__}.")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}: unknown key; allowed keys are {', '.join(sorted(allowed))}.")
    missing = sorted(required - set(value))
    if missing:
        raise ConfigError(f"{path}.{missing[0]}: required key is missing.")
    return value


def _typed(value: object, kind: type, path: str, what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{path}: expected {what}, got {value!r}.")
    return value


def parse_duration(value: object, path: str) -> Duration:
    """``"90s"``, ``"60m"``, ``"2h"``."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(f"{path}: expected a duration such as '90s', '60m' or '2h', got {value!r}.")
    amount, unit = int(match[1]), match[2]
    return {"s": Duration.seconds, "m": Duration.minutes, "h": Duration.hours}[unit](amount)


def parse_module(
    raw: object,
    path: str,
    registry: Mapping[str, Callable[..., Module]] = CATALOGUE,
    others: tuple[Mapping[str, Callable[..., Module]], str] = ({}, ""),
) -> Module:
    """A catalogue module from ``{"module": NAME, option: value...}``; ``others`` names the registry of
    the other target (and that target), to explain a module used in the wrong place."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("module"), str):
        raise ConfigError(f"{path}.module: required; one of {', '.join(sorted(registry))}.")
    name = raw["module"]
    factory = registry.get(name)
    if factory is None and name in others[0]:
        raise ConfigError(
            f"{path}.module: {name!r} is made for {others[1]}, not here; use one of {', '.join(sorted(registry))}."
        )
    if factory is None:
        raise ConfigError(f"{path}.module: unknown module {name!r}; use one of {', '.join(sorted(registry))}.")
    parameters = inspect.signature(factory).parameters
    allowed = {_snake_to_camel(p) for p in parameters}
    options = _object(raw, path, allowed | {"module"})
    kwargs: dict[str, Any] = {}
    for key, value in options.items():
        if key == "module":
            continue
        parameter = parameters[_camel_to_snake(key)]
        if "Duration" in str(parameter.annotation):
            value = parse_duration(value, f"{path}.{key}")
        kwargs[parameter.name] = value
    try:
        return factory(**kwargs)
    except LifecycleConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    except TypeError as err:
        raise ConfigError(f"{path}: {err}") from None


def parse_modules(
    raw: object,
    path: str,
    registry: Mapping[str, Callable[..., Module]] = CATALOGUE,
    others: tuple[Mapping[str, Callable[..., Module]], str] = ({}, ""),
) -> tuple[Module, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: expected a list of modules, got {type(raw).__name__}.")
    return tuple(parse_module(item, f"{path}[{i}]", registry, others) for i, item in enumerate(raw))


def parse_notebook(raw: object, path: str) -> NotebookSpec:
    keys = {
        "id",
        "name",
        "instanceType",
        "platformIdentifier",
        "volumeSizeGiB",
        "rootAccess",
        "archiveLocation",
        "onStart",
        "onCreate",
    }
    data = _object(raw, path, keys, {"id"})
    notebook_id = _typed(data["id"], str, f"{path}.id", "a string")
    if not _ID.fullmatch(notebook_id):
        raise ConfigError(f"{path}.id: {notebook_id!r} is invalid: use PascalCase letters and digits (construct ID).")
    spec: dict[str, Any] = {"id": notebook_id}
    if "name" in data:
        spec["name"] = _typed(data["name"], str, f"{path}.name", "a string")
    if "instanceType" in data:
        spec["instance_type"] = _typed(data["instanceType"], str, f"{path}.instanceType", "a string")
    if "platformIdentifier" in data:
        spec["platform_identifier"] = _typed(data["platformIdentifier"], str, f"{path}.platformIdentifier", "a string")
    if "volumeSizeGiB" in data:
        spec["volume_size_gib"] = _typed(data["volumeSizeGiB"], int, f"{path}.volumeSizeGiB", "a whole number")
    if "rootAccess" in data:
        spec["root_access"] = _typed(data["rootAccess"], bool, f"{path}.rootAccess", "true or false")
    if "archiveLocation" in data:
        locations = {location.value: location for location in ArchiveLocation}
        if data["archiveLocation"] not in locations:
            raise ConfigError(
                f"{path}.archiveLocation: {data['archiveLocation']!r} is invalid; use one of {', '.join(locations)}."
            )
        spec["archive_location"] = locations[data["archiveLocation"]]
    studio = (STUDIO_CATALOGUE, "Studio")
    spec["on_start"] = parse_modules(data.get("onStart", []), f"{path}.onStart", CATALOGUE, studio)
    spec["on_create"] = parse_modules(data.get("onCreate", []), f"{path}.onCreate", CATALOGUE, studio)
    return NotebookSpec(**spec)


def parse_config(raw: object, path: str = CONTEXT_KEY) -> NotebookEnvironmentConfig:
    data = _object(raw, path, {"privateNetwork", "notebooks"}, {"notebooks"})
    private = _typed(data.get("privateNetwork", True), bool, f"{path}.privateNetwork", "true or false")
    notebooks_raw = _typed(data["notebooks"], list, f"{path}.notebooks", "a list")
    if len(notebooks_raw) > MAX_NOTEBOOKS:
        raise ConfigError(
            f"{path}.notebooks: {len(notebooks_raw)} notebooks do not fit one stack's template (at most 1 MB, about "
            f"24 kB each); keep to {MAX_NOTEBOOKS} per configuration, or split them over several configFiles."
        )
    notebooks = tuple(parse_notebook(item, f"{path}.notebooks[{i}]") for i, item in enumerate(notebooks_raw))
    ids = [n.id for n in notebooks]
    for i, notebook_id in enumerate(ids):
        if notebook_id in ids[:i]:
            raise ConfigError(f"{path}.notebooks[{i}].id: {notebook_id!r} is used twice; ids must be unique.")
    return NotebookEnvironmentConfig(private_network=private, notebooks=notebooks)
