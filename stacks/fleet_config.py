"""Notebook fleets: one notebook per owner from a template, like Studio users (``notebookEnvironment.fleets``).

```json
"fleets": [{
  "name": "analysts", "shards": 4,
  "notebook": {"instanceType": "ml.t3.medium", "onStart": [{"module": "idle-autostop"}],
               "permissions": {"s3": [{"bucket": "team-data", "prefix": "analysts/", "access": "read-write"}]},
               "kmsKeyArn": "arn:aws:kms:...", "tags": {"Project": "churn"}},
  "tags": {"CostCenter": "1234"},
  "owners": ["alice", {"owner": "bob", "instanceType": "ml.m5.xlarge", "tags": {"Team": "risk"}}]
}]
```

The template (``notebook``) takes every key a notebook in ``notebookEnvironment.notebooks`` takes except ``id``
and ``name`` (``permissions``, ``roleArn``, ``kmsKeyArn``, ``tags``, ``subnetIndex``, ``codeRepositories``, ...),
parsed by the same parser (``stacks.config.parse_notebook``), so values are checked the same way and errors
name the fleet's key (``notebookEnvironment.fleets[0].notebook.permissions.s3[0].bucket``). Each owner gets
the notebook ``<fleet>-<owner>`` (lower-cased) with a role of its own (unless ``roleArn``) holding exactly
the template's permissions. An owner entry may override any template key; ``tags`` are merged, every other
key replaces the template's. Tags, later winning: the environment's, the fleet's (on every resource of the
fleet's stacks), the template's, the owner's, then ``Fleet`` and ``Owner`` (reserved).
Notebooks are placed in shard stacks by a stable hash of the owner (``stacks.fleet_stack``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from stacks.config import NOTEBOOK_KEYS, NotebookSpec, parse_notebook
from stacks.config_values import ConfigError, expect, expect_object, json_text, key_path
from stacks.tags_config import MAX_TAGS, merged_tags, parse_tags

MAX_SHARDS = 100
_FLEET = re.compile(r"(?=.{1,24}\Z)[a-z0-9](-?[a-z0-9])*")
_OWNER = re.compile(r"(?=.{1,62}\Z)[A-Za-z0-9](-?[A-Za-z0-9])*")
RESERVED_TAGS = ("Fleet", "Owner")
"""Set on every fleet notebook by the fleet stack."""
TEMPLATE_KEYS = NOTEBOOK_KEYS - {"id", "name"}
_MODULE_KEYS = ("onStart", "onCreate")


@dataclass(frozen=True, kw_only=True)
class FleetNotebook:
    owner: str
    notebook: NotebookSpec
    """The owner's notebook: ``id`` is its construct ID, ``name`` its instance name, ``tags`` all its tags
    but ``Fleet`` and ``Owner``."""


@dataclass(frozen=True, kw_only=True)
class FleetSpec:
    name: str
    shards: int = 1
    notebooks: tuple[FleetNotebook, ...] = field(default_factory=tuple)
    tags: Mapping[str, str] = field(default_factory=dict)
    """The environment's and the fleet's tags, for every resource of the fleet's stacks."""
    removal_policy: str = "retain"
    """``notebookEnvironment.removalPolicy``."""

    @property
    def stack_prefix(self) -> str:
        """``SageMakerNotebookFleet<Name>``: the fleet name in PascalCase; shard stacks add two digits."""
        return "SageMakerNotebookFleet" + "".join(part[:1].upper() + part[1:] for part in self.name.split("-"))


def owner_construct_id(owner: str) -> str:
    """A construct ID from the owner alone (readable part plus a short hash of the lower-cased owner)."""
    readable = "".join(part[:1].upper() + part[1:].lower() for part in owner.split("-"))[:26]
    return f"Notebook{readable}{hashlib.sha256(owner.lower().encode()).hexdigest()[:6]}"


def _own_tags(raw: object, path: str) -> dict[str, str]:
    """Tags a fleet, template or owner sets: the notebooks' tag rules, without the fleet's own keys."""
    tags = parse_tags(raw, path)
    for key in tags:
        if key in RESERVED_TAGS:
            raise ConfigError(
                f"{key_path(path, key)}: tag key {json_text(key)} is set by the fleet (Fleet and Owner are "
                "reserved); choose another key."
            )
    return tags


def _check_tag_count(tags: Mapping[str, str], path: str) -> None:
    if len(tags) + len(RESERVED_TAGS) > MAX_TAGS:
        raise ConfigError(
            f"{path}: with the environment's and the fleet's tags and Fleet and Owner this makes "
            f"{len(tags) + len(RESERVED_TAGS)} tags; AWS allows at most {MAX_TAGS} on a resource."
        )


def _check_subnet_index(spec: NotebookSpec, path: str, subnet_count: int | None) -> None:
    if subnet_count is not None and spec.subnet_index is not None and not 0 <= spec.subnet_index < subnet_count:
        raise ConfigError(
            f"{path}.subnetIndex: {spec.subnet_index} is out of range; the network has {subnet_count} subnet(s), "
            "numbered from 0."
        )


@dataclass(frozen=True, kw_only=True)
class _Template:
    raw: Mapping[str, Any]
    spec: NotebookSpec
    inherited_tags: Mapping[str, str]
    """The environment's and the fleet's tags, under the template's."""
    base_dir: Path | None
    subnet_count: int | None


def _owner(raw: object, path: str, fleet: str, template: _Template) -> FleetNotebook:
    if isinstance(raw, str):
        raw = {"owner": raw}
    data = expect_object(raw, path, {"owner", *TEMPLATE_KEYS}, {"owner"})
    owner = expect(data["owner"], str, f"{path}.owner", "a string")
    if not _OWNER.fullmatch(owner):
        raise ConfigError(
            f"{path}.owner: {json_text(owner)} is invalid: use letters, digits and single '-' inside, 1-62 characters."
        )
    name = f"{fleet}-{owner}".lower()
    if len(name) > 63:
        raise ConfigError(
            f"{path}.owner: the notebook name {json_text(name)} has {len(name)} characters; a notebook instance name "
            "has at most 63: shorten the owner or the fleet name."
        )
    own_tags = _own_tags(data["tags"], f"{path}.tags") if "tags" in data else {}
    overrides = {k: v for k, v in data.items() if k not in ("owner", "tags")}
    base = template.spec
    if overrides:
        # The template's keys with the owner's over them, parsed as one notebook; the template's modules are
        # not parsed again (their errors were reported at the template's path, their bundles are shared).
        merged = {k: v for k, v in {**template.raw, **overrides}.items() if k not in _MODULE_KEYS}
        modules = {k: overrides[k] for k in _MODULE_KEYS if k in overrides}
        spec = parse_notebook({**merged, **modules, "id": "Owner"}, path, template.base_dir, template.inherited_tags)
        spec = replace(
            spec,
            on_start=spec.on_start if "onStart" in overrides else base.on_start,
            on_create=spec.on_create if "onCreate" in overrides else base.on_create,
            permissions=spec.permissions if "permissions" in overrides else base.permissions,
        )
        if "subnetIndex" in overrides:
            _check_subnet_index(spec, path, template.subnet_count)
    else:
        spec = base
    tags = merged_tags(spec.tags, own_tags, f"{path}.tags")
    _check_tag_count(tags, f"{path}.tags")
    return FleetNotebook(owner=owner, notebook=replace(spec, id=owner_construct_id(owner), name=name, tags=tags))


def parse_fleet(
    raw: object,
    path: str,
    base_dir: Path | None = None,
    *,
    global_tags: Mapping[str, str] | None = None,
    subnet_count: int | None = None,
    removal_policy: str = "retain",
) -> FleetSpec:
    """One fleet; ``subnet_count`` (the network's subnets) bounds ``subnetIndex`` when given."""
    data = expect_object(raw, path, {"name", "shards", "notebook", "owners", "tags"}, {"name", "notebook", "owners"})
    name = expect(data["name"], str, f"{path}.name", "a string")
    if not _FLEET.fullmatch(name):
        raise ConfigError(
            f"{path}.name: {json_text(name)} is invalid: use 1-24 lower-case letters, digits and single '-' inside."
        )
    shards = expect(data.get("shards", 1), int, f"{path}.shards", "a whole number")
    if not 1 <= shards <= MAX_SHARDS:
        raise ConfigError(f"{path}.shards: {shards} is out of range; give 1 to {MAX_SHARDS}.")
    fleet_tags = _own_tags(data["tags"], f"{path}.tags") if "tags" in data else {}
    stack_tags = merged_tags(global_tags or {}, fleet_tags, f"{path}.tags")
    where = f"{path}.notebook"
    raw_template = expect_object(data["notebook"], where, set(TEMPLATE_KEYS))
    if "tags" in raw_template:
        _own_tags(raw_template["tags"], f"{where}.tags")
    spec = parse_notebook({**raw_template, "id": "Template"}, where, base_dir, stack_tags)
    _check_tag_count(spec.tags, f"{where}.tags")
    _check_subnet_index(spec, where, subnet_count)
    template = _Template(
        raw=raw_template, spec=spec, inherited_tags=stack_tags, base_dir=base_dir, subnet_count=subnet_count
    )
    owners_raw = expect(data["owners"], list, f"{path}.owners", "a list")
    notebooks: list[FleetNotebook] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(owners_raw):
        notebook = _owner(item, f"{path}.owners[{i}]", name, template)
        key = notebook.owner.lower()
        if key in seen:
            raise ConfigError(
                f"{path}.owners[{i}].owner: {json_text(notebook.owner)} is already owners[{seen[key]}] (owners are "
                "compared without case)."
            )
        seen[key] = i
        notebooks.append(notebook)
    return FleetSpec(
        name=name, shards=shards, notebooks=tuple(notebooks), tags=stack_tags, removal_policy=removal_policy
    )


def parse_fleets(
    raw: object,
    path: str,
    base_dir: Path | None,
    notebook_names: dict[str, str],
    *,
    global_tags: Mapping[str, str] | None = None,
    subnet_count: int | None = None,
    removal_policy: str = "retain",
) -> tuple[FleetSpec, ...]:
    """The fleets; ``notebook_names`` (lower-cased name -> where it is set) must not be taken again."""
    items = expect(raw, list, path, "a list")
    fleets = tuple(
        parse_fleet(
            item,
            f"{path}[{i}]",
            base_dir,
            global_tags=global_tags,
            subnet_count=subnet_count,
            removal_policy=removal_policy,
        )
        for i, item in enumerate(items)
    )
    taken = dict(notebook_names)
    prefixes: dict[str, int] = {}
    for i, fleet in enumerate(fleets):
        if fleet.stack_prefix in prefixes:
            other = prefixes[fleet.stack_prefix]
            raise ConfigError(
                f"{path}[{i}].name: {json_text(fleet.name)} gives the same stack names as fleets[{other}] "
                f"({fleet.stack_prefix}NN); choose another name."
            )
        prefixes[fleet.stack_prefix] = i
        for j, notebook in enumerate(fleet.notebooks):
            assert notebook.notebook.name is not None
            where = f"{path}[{i}].owners[{j}]"
            if notebook.notebook.name in taken:
                raise ConfigError(
                    f"{where}.owner: the notebook name {json_text(notebook.notebook.name)} is already taken by "
                    f"{taken[notebook.notebook.name]}; notebook instance names are unique in an account and region."
                )
            taken[notebook.notebook.name] = where
    return fleets
