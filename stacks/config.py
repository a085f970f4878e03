"""The app's configuration: plain JSON (from cdk.json context or a file) validated into typed values.

Every error names the offending key by its path, for example
``notebookEnvironment.notebooks[0].onStart[2].idle``, says what is wrong and what is allowed.
Nothing here reads the environment: ``app.py`` passes the raw value in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_cdk import CfnResource, Stack

from constructs_lib import ArchiveLocation, Module, Target
from constructs_lib.catalogue import registered
from constructs_lib.instance_types import notebook_instance_type_problem
from constructs_lib.notebook_instance import platform_problem
from stacks.config_values import ConfigError, expect, expect_object, json_text, parse_duration
from stacks.module_config import parse_modules

if TYPE_CHECKING:
    from stacks.fleet_config import FleetSpec

CONTEXT_KEY = "notebookEnvironment"
MAX_STACK_RESOURCES = 500
"""CloudFormation's limit of resources per stack, checked at synth by ``check_stack_resources``."""

CATALOGUE: Mapping[str, Callable[..., Module]] = registered(Target.NOTEBOOK_INSTANCE)
"""Config name of a notebook module -> its factory (a live view; add with ``catalogue.register``)."""
STUDIO_CATALOGUE: Mapping[str, Callable[..., Module]] = registered(Target.STUDIO)
"""Config name of a Studio module -> its factory (a live view; add with ``catalogue.register``)."""

_ID = re.compile(r"[A-Z][A-Za-z0-9]{0,39}")
_NAME = re.compile(r"(?=.{1,63}\Z)[a-zA-Z0-9](-*[a-zA-Z0-9])*")

__all__ = ["CATALOGUE", "CONTEXT_KEY", "STUDIO_CATALOGUE", "ConfigError", "parse_config", "parse_duration"]


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
    fleets: tuple[FleetSpec, ...] = field(default_factory=tuple)


def check_stack_resources(stack: Stack, fix: str) -> int:
    """The number of resources in ``stack``; a ``ConfigError`` with ``fix`` when CloudFormation would refuse it."""
    count = sum(1 for c in stack.node.find_all() if isinstance(c, CfnResource))
    if count > MAX_STACK_RESOURCES:
        raise ConfigError(
            f"stack {stack.stack_name} would hold {count} resources; CloudFormation allows {MAX_STACK_RESOURCES} per "
            f"stack: {fix}"
        )
    return count


def parse_notebook(raw: object, path: str, base_dir: Path | None = None) -> NotebookSpec:
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
    data = expect_object(raw, path, keys, {"id"})
    notebook_id = expect(data["id"], str, f"{path}.id", "a string")
    if not _ID.fullmatch(notebook_id):
        raise ConfigError(f"{path}.id: {notebook_id!r} is invalid: use PascalCase letters and digits (construct ID).")
    spec: dict[str, Any] = {"id": notebook_id}
    if "name" in data:
        spec["name"] = expect(data["name"], str, f"{path}.name", "a string")
        if not _NAME.fullmatch(spec["name"]):
            raise ConfigError(
                f"{path}.name: {json_text(spec['name'])} is invalid: use 1-63 letters, digits and '-', starting and "
                "ending with a letter or digit."
            )
    platform = data.get("platformIdentifier", NotebookSpec.platform_identifier)
    problem = platform_problem(platform)
    if problem is not None:
        raise ConfigError(f"{path}.platformIdentifier: {problem}")
    spec["platform_identifier"] = platform
    instance_type = data.get("instanceType", NotebookSpec.instance_type)
    problem = notebook_instance_type_problem(instance_type, platform)
    if problem is not None:
        raise ConfigError(f"{path}.instanceType: {problem}")
    spec["instance_type"] = instance_type
    if "volumeSizeGiB" in data:
        spec["volume_size_gib"] = expect(data["volumeSizeGiB"], int, f"{path}.volumeSizeGiB", "a whole number")
        if not 5 <= spec["volume_size_gib"] <= 16384:
            raise ConfigError(f"{path}.volumeSizeGiB: {spec['volume_size_gib']} is out of range; give 5 to 16384.")
    if "rootAccess" in data:
        spec["root_access"] = expect(data["rootAccess"], bool, f"{path}.rootAccess", "true or false")
    if "archiveLocation" in data:
        locations = {location.value: location for location in ArchiveLocation}
        if data["archiveLocation"] not in locations:
            raise ConfigError(
                f"{path}.archiveLocation: {json_text(data['archiveLocation'])} is invalid; use one of "
                f"{', '.join(map(json_text, locations))}."
            )
        spec["archive_location"] = locations[data["archiveLocation"]]
    notebook = Target.NOTEBOOK_INSTANCE
    spec["on_start"] = parse_modules(data.get("onStart", []), f"{path}.onStart", notebook, base_dir)
    spec["on_create"] = parse_modules(data.get("onCreate", []), f"{path}.onCreate", notebook, base_dir)
    return NotebookSpec(**spec)


def parse_config(raw: object, path: str = CONTEXT_KEY, *, base_dir: Path | None = None) -> NotebookEnvironmentConfig:
    """The notebook environment; script paths of module entries are relative to ``base_dir``."""
    from stacks.fleet_config import parse_fleets

    data = expect_object(raw, path, {"privateNetwork", "notebooks", "fleets"}, set())
    if "notebooks" not in data and "fleets" not in data:
        raise ConfigError(f"{path}: give notebooks, fleets or both.")
    private = expect(data.get("privateNetwork", True), bool, f"{path}.privateNetwork", "true or false")
    notebooks_raw = expect(data.get("notebooks", []), list, f"{path}.notebooks", "a list")
    notebooks = tuple(parse_notebook(item, f"{path}.notebooks[{i}]", base_dir) for i, item in enumerate(notebooks_raw))
    ids = [n.id for n in notebooks]
    names = [n.name.lower() if n.name else None for n in notebooks]
    for i, notebook in enumerate(notebooks):
        if notebook.id in ids[:i]:
            raise ConfigError(f"{path}.notebooks[{i}].id: {notebook.id!r} is used twice; ids must be unique.")
        if names[i] is not None and names[i] in names[:i]:
            first = names.index(names[i])
            raise ConfigError(
                f"{path}.notebooks[{i}].name: {json_text(notebook.name)} is already the name of notebooks[{first}]; "
                "notebook instance names are unique in an account and region (and compared without case)."
            )
    taken = {name: f"{path}.notebooks[{i}]" for i, name in enumerate(names) if name is not None}
    fleets = parse_fleets(data.get("fleets", []), f"{path}.fleets", base_dir, taken)
    return NotebookEnvironmentConfig(private_network=private, notebooks=notebooks, fleets=fleets)
