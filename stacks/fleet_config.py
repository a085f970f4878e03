"""Notebook fleets: one notebook per owner from a template, like Studio users (``notebookEnvironment.fleets``).

```json
"fleets": [{
  "name": "analysts", "shards": 4,
  "notebook": {"instanceType": "ml.t3.medium", "onStart": [{"module": "idle-autostop"}]},
  "tags": {"CostCenter": "1234"},
  "owners": ["alice", {"owner": "bob", "instanceType": "ml.m5.xlarge", "tags": {"Team": "risk"}}]
}]
```

Each owner gets the notebook ``<fleet>-<owner>`` (lower-cased), tagged ``Owner`` and ``Fleet`` plus the fleet's and
the owner's tags. An owner entry may override any key of the template notebook except ``id`` and ``name``.
Notebooks are placed in shard stacks by a stable hash of the owner (``stacks.fleet_stack``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from stacks.config import NotebookSpec, parse_notebook
from stacks.config_values import ConfigError, expect, expect_object, json_text

MAX_SHARDS = 100
_FLEET = re.compile(r"(?=.{1,24}\Z)[a-z0-9](-?[a-z0-9])*")
_OWNER = re.compile(r"(?=.{1,62}\Z)[A-Za-z0-9](-?[A-Za-z0-9])*")
_TAG_KEY = re.compile(r"(?!aws:)[A-Za-z0-9 _.:/=+@-]{1,128}")
_TAG_VALUE = re.compile(r"[A-Za-z0-9 _.:/=+@-]{0,256}")
_RESERVED_TAGS = frozenset({"Owner", "Fleet"})
_TEMPLATE_KEYS = {"instanceType", "platformIdentifier", "volumeSizeGiB", "rootAccess", "archiveLocation"}
_MODULE_KEYS = ("onStart", "onCreate")


@dataclass(frozen=True, kw_only=True)
class FleetNotebook:
    owner: str
    notebook: NotebookSpec
    """The owner's notebook: ``id`` is its construct ID, ``name`` its instance name."""
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class FleetSpec:
    name: str
    shards: int = 1
    notebooks: tuple[FleetNotebook, ...] = field(default_factory=tuple)

    @property
    def stack_prefix(self) -> str:
        """``SageMakerNotebookFleet<Name>``: the fleet name in PascalCase; shard stacks add two digits."""
        return "SageMakerNotebookFleet" + "".join(part[:1].upper() + part[1:] for part in self.name.split("-"))


def owner_construct_id(owner: str) -> str:
    """A construct ID from the owner alone (readable part plus a short hash of the lower-cased owner)."""
    readable = "".join(part[:1].upper() + part[1:].lower() for part in owner.split("-"))[:26]
    return f"Notebook{readable}{hashlib.sha256(owner.lower().encode()).hexdigest()[:6]}"


def _tags(raw: object, path: str) -> tuple[tuple[str, str], ...]:
    data = expect(raw, dict, path, "an object of tag names to values")
    if len(data) > 40:
        raise ConfigError(f"{path}: {len(data)} tags; give at most 40 (SageMaker takes 50, the fleet adds its own).")
    for key, value in data.items():
        if not _TAG_KEY.fullmatch(key) or key in _RESERVED_TAGS:
            raise ConfigError(
                f"{path}: tag name {json_text(key)} is invalid: use 1-128 letters, digits, spaces and _.:/=+@-, not "
                "starting with 'aws:'; Owner and Fleet are set by the fleet."
            )
        if not isinstance(value, str) or not _TAG_VALUE.fullmatch(value):
            raise ConfigError(
                f"{path}.{key}: {json_text(value)} is invalid: give a string of at most 256 letters, digits, "
                "spaces and _.:/=+@-."
            )
    return tuple(sorted(data.items()))


def _owner(
    raw: object, path: str, fleet: str, template: Mapping[str, object], base: NotebookSpec, base_dir: Path | None
) -> FleetNotebook:
    if isinstance(raw, str):
        raw = {"owner": raw}
    data = expect_object(raw, path, {"owner", "tags", *_TEMPLATE_KEYS, *_MODULE_KEYS}, {"owner"})
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
    overrides = {k: v for k, v in data.items() if k not in ("owner", "tags")}
    ident = owner_construct_id(owner)
    if overrides:
        merged = {k: v for k, v in {**template, **overrides}.items() if k not in _MODULE_KEYS}
        spec = parse_notebook(
            {**merged, **{k: overrides[k] for k in _MODULE_KEYS if k in overrides}, "id": "Owner"}, path, base_dir
        )
        spec = replace(
            spec,
            on_start=spec.on_start if "onStart" in overrides else base.on_start,
            on_create=spec.on_create if "onCreate" in overrides else base.on_create,
        )
    else:
        spec = base
    tags = _tags(data["tags"], f"{path}.tags") if "tags" in data else ()
    return FleetNotebook(owner=owner, notebook=replace(spec, id=ident, name=name), tags=tags)


def parse_fleet(raw: object, path: str, base_dir: Path | None = None) -> FleetSpec:
    data = expect_object(raw, path, {"name", "shards", "notebook", "owners", "tags"}, {"name", "notebook", "owners"})
    name = expect(data["name"], str, f"{path}.name", "a string")
    if not _FLEET.fullmatch(name):
        raise ConfigError(
            f"{path}.name: {json_text(name)} is invalid: use 1-24 lower-case letters, digits and single '-' inside."
        )
    shards = expect(data.get("shards", 1), int, f"{path}.shards", "a whole number")
    if not 1 <= shards <= MAX_SHARDS:
        raise ConfigError(f"{path}.shards: {shards} is out of range; give 1 to {MAX_SHARDS}.")
    template = expect_object(data["notebook"], f"{path}.notebook", {*_TEMPLATE_KEYS, *_MODULE_KEYS})
    base = parse_notebook({**template, "id": "Template"}, f"{path}.notebook", base_dir)
    fleet_tags = _tags(data["tags"], f"{path}.tags") if "tags" in data else ()
    owners_raw = expect(data["owners"], list, f"{path}.owners", "a list")
    notebooks: list[FleetNotebook] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(owners_raw):
        notebook = _owner(item, f"{path}.owners[{i}]", name, template, base, base_dir)
        key = notebook.owner.lower()
        if key in seen:
            raise ConfigError(
                f"{path}.owners[{i}].owner: {json_text(notebook.owner)} is already owners[{seen[key]}] (owners are "
                "compared without case)."
            )
        seen[key] = i
        tags = dict(fleet_tags) | dict(notebook.tags)
        notebooks.append(replace(notebook, tags=tuple(sorted(tags.items()))))
    return FleetSpec(name=name, shards=shards, notebooks=tuple(notebooks))


def parse_fleets(
    raw: object, path: str, base_dir: Path | None, notebook_names: dict[str, str]
) -> tuple[FleetSpec, ...]:
    """The fleets; ``notebook_names`` (lower-cased name -> where it is set) must not be taken again."""
    items = expect(raw, list, path, "a list")
    fleets = tuple(parse_fleet(item, f"{path}[{i}]", base_dir) for i, item in enumerate(items))
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
