"""Module entries of the configuration: catalogue (or registered) modules, and a team's own scripts.

An entry of ``onStart``, ``onCreate`` or a Studio config's ``modules`` is one of:

* ``{"module": "idle-autostop", "idle": "60m", "budget": "40s"}``: a factory registered with
  ``constructs_lib.catalogue.register`` (the catalogue's own included); options are its keyword-only
  parameters in camelCase, durations as strings; ``budget`` overrides the module's time budget.
* ``{"script": "team/company_ca.sh", "name": "company-ca", "runAs": "root", "mode": "blocking",
  "budget": "2m", "settings": {"PIP_INDEX_URL": "..."}, "files": {"company-ca.pem": "team/ca.pem"},
  "stripComments": false}``: one script file (only ``script`` and, on notebook instances, ``runAs`` are required).
* ``{"scripts": "team/on-start.d", "runAs": "root", "settings": {...}}``: every executable file of the folder
  in name order, like run-parts. Each script may carry a header line in its leading comment block,
  ``# lifecycle: runAs=root mode=background budget=20m name=company-ca files=ca.pem,other.pem``, whose values
  win over the entry's (``files`` are next to the script and found under ``$MODULE_DIR/files``).

Paths are relative to the configuration's base directory (the configFile's, else cdk.json's) and may not
leave it: no absolute paths, no ``..``, no symbolic links that lead outside.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import stat
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from aws_cdk import Duration

from constructs_lib import LifecycleConfigError, Mode, Module, RunAs, Target
from constructs_lib.bundling.limits import (
    MAX_BACKGROUND_BUDGET_SECONDS,
    MAX_BLOCKING_BUDGET_SECONDS,
    RESERVED_SETTING_NAMES,
)
from constructs_lib.catalogue import ArgumentError, registered, script_module
from stacks.config_values import (
    ConfigError,
    expect,
    expect_object,
    json_advice,
    json_text,
    key_path,
    parse_duration,
    snake_to_camel,
)

MAX_SCRIPT_BYTES = 256 * 1024
MAX_CARRIED_FILE_BYTES = 1024 * 1024
MAX_FOLDER_SCRIPTS = 64
TARGET_NAMES = {Target.NOTEBOOK_INSTANCE: "notebook instances", Target.STUDIO: "Studio"}
_MODULE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")
_SETTING = re.compile(r"[A-Z_][A-Z0-9_]*")
_FILE_PATH = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")
_HEADER = re.compile(r"#\s*lifecycle:\s*(.*)")
HEADER_KEYS = ("name", "runAs", "mode", "budget", "files")
RUN_AS = {user.value: user for user in RunAs}
MODES = {mode.value: mode for mode in Mode}


# -- entries -----------------------------------------------------------------------------------------
def parse_modules(
    raw: object, path: str, target: Target = Target.NOTEBOOK_INSTANCE, base_dir: Path | None = None
) -> tuple[Module, ...]:
    """The modules of one hook; names must be unique within it."""
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: expected a list of modules, got {json_text(raw)}.")
    modules: list[tuple[str, Module]] = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        if isinstance(item, Mapping) and "script" in item:
            found = [(where, parse_script_entry(item, where, target, base_dir))]
        elif isinstance(item, Mapping) and "scripts" in item:
            found = parse_folder_entry(item, where, target, base_dir)
        else:
            found = [(where, parse_module(item, where, target))]
        for found_where, module in found:
            for other_where, other in modules:
                if other.name == module.name:
                    raise ConfigError(
                        f"{found_where}: module name {module.name!r} is already used by {other_where}; names must "
                        'be unique within a hook (give "name").'
                    )
            modules.append((found_where, module))
    return tuple(module for _, module in modules)


def parse_module(raw: object, path: str, target: Target = Target.NOTEBOOK_INSTANCE) -> Module:
    """A registered module from ``{"module": NAME, option: value...}``."""
    registry = registered(target)
    choices = ", ".join(sorted(registry))
    if not isinstance(raw, Mapping) or not isinstance(raw.get("module"), str):
        raise ConfigError(
            f'{path}: give "module" (one of {choices}), "script" (a file) or "scripts" (a folder of scripts).'
        )
    name = raw["module"]
    factory = registry.get(name)
    if factory is None:
        for other, label in TARGET_NAMES.items():
            if other is not target and name in registered(other):
                raise ConfigError(f"{path}.module: {name!r} is made for {label}, not here; use one of {choices}.")
        raise ConfigError(f"{path}.module: unknown module {name!r}; use one of {choices}.")
    parameters = inspect.signature(factory).parameters
    camel = {p: snake_to_camel(p) for p in parameters}
    by_key = {key: parameters[p] for p, key in camel.items()}
    options = expect_object(raw, path, set(by_key) | {"module", "budget"})
    kwargs: dict[str, Any] = {}
    for key, value in options.items():
        if key in by_key:
            parameter = by_key[key]
            kwargs[parameter.name] = parse_duration(value, f"{path}.{key}") if _is_duration(parameter) else value
    for parameter in parameters.values():
        if parameter.default is inspect.Parameter.empty and parameter.name not in kwargs:
            raise ConfigError(f"{path}.{camel[parameter.name]}: required key is missing.")
    module = _call(factory, kwargs, path, options, camel)
    if "budget" in options and "budget" not in by_key:
        budget = parse_budget(options["budget"], f"{path}.budget", module.mode)
        module = dataclasses.replace(module, budget=budget)
    return module


def _is_duration(parameter: inspect.Parameter) -> bool:
    return "Duration" in str(parameter.annotation)


def _call(
    factory: Callable[..., Module],
    kwargs: Mapping[str, Any],
    path: str,
    options: Mapping[str, Any],
    camel: Mapping[str, str],
) -> Module:
    try:
        return factory(**kwargs)
    except ArgumentError as err:
        key = camel.get(err.argument, err.argument)
        parameter = inspect.signature(factory).parameters.get(err.argument)
        given = options[key] if parameter is not None and _is_duration(parameter) and key in options else err.value
        raise ConfigError(f"{path}.{key}: {json_text(given)} is invalid: {json_advice(err.allowed, camel)}") from None
    except (LifecycleConfigError, TypeError) as err:
        raise ConfigError(f"{path}: {json_advice(str(err), camel)}") from None


# -- a team's scripts --------------------------------------------------------------------------------
def parse_script_entry(raw: Mapping[str, Any], path: str, target: Target, base_dir: Path | None) -> Module:
    keys = {"script", "name", "runAs", "mode", "budget", "settings", "files", "stripComments"}
    data = expect_object(raw, path, keys, {"script"})
    base = _base(base_dir, f"{path}.script")
    file = resolve_inside(base, data["script"], f"{path}.script", directory=False)
    header = parse_header(read_text(file, f"{path}.script"), f"{path}.script")
    return _team_module(
        file,
        path,
        target,
        base,
        name=_option(data, "name", header, path),
        run_as=_option(data, "runAs", header, path),
        mode=_option(data, "mode", header, path),
        budget=_option(data, "budget", header, path),
        settings=data.get("settings", {}),
        files=_files_of(data.get("files", {}), f"{path}.files", base, header, file),
        strip_comments=data.get("stripComments"),
    )


def parse_folder_entry(
    raw: Mapping[str, Any], path: str, target: Target, base_dir: Path | None
) -> list[tuple[str, Module]]:
    keys = {"scripts", "runAs", "mode", "budget", "settings", "stripComments"}
    data = expect_object(raw, path, keys, {"scripts"})
    base = _base(base_dir, f"{path}.scripts")
    folder = resolve_inside(base, data["scripts"], f"{path}.scripts", directory=True)
    scripts = [entry for entry in sorted(folder.iterdir(), key=lambda p: p.name.encode()) if _runnable(entry, base)]
    if not scripts:
        raise ConfigError(
            f"{path}.scripts: {json_text(data['scripts'])} holds no executable script (chmod +x the ones to run; names "
            "starting with '.' or ending in '~' are skipped)."
        )
    if len(scripts) > MAX_FOLDER_SCRIPTS:
        raise ConfigError(f"{path}.scripts: {len(scripts)} scripts, more than {MAX_FOLDER_SCRIPTS}; split the folder.")
    modules = []
    for file in scripts:
        where = f"{path}.scripts ({data['scripts'].rstrip('/')}/{file.name})"
        header = parse_header(read_text(file, where), where)
        module = _team_module(
            file,
            where,
            target,
            base,
            name=header.get("name"),
            run_as=header.get("runAs", data.get("runAs")),
            mode=header.get("mode", data.get("mode")),
            budget=header.get("budget", data.get("budget")),
            settings=data.get("settings", {}),
            files=_files_of({}, where, base, header, file),
            strip_comments=data.get("stripComments"),
        )
        modules.append((where, module))
    return modules


def _option(data: Mapping[str, Any], key: str, header: Mapping[str, str], path: str) -> Any:
    """An entry's value, else the script header's (both at once is ambiguous)."""
    if key in data and key in header and data[key] != header[key]:
        raise ConfigError(
            f"{path}.{key}: {json_text(data[key])} differs from the script's header ({key}={header[key]}); keep one."
        )
    return data.get(key, header.get(key))


def _team_module(
    file: Path,
    path: str,
    target: Target,
    base: Path,
    *,
    name: object,
    run_as: object,
    mode: object,
    budget: object,
    settings: object,
    files: Mapping[str, bytes],
    strip_comments: object,
) -> Module:
    if name is None:
        name = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", file.name.rsplit(".", 1)[0].lower())).strip("-")[:48]
        where = f"{path}: the name made from the file name {file.name!r}"
    else:
        where = f"{path}.name"
    if not isinstance(name, str) or not _MODULE_NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: {json_text(name)} is invalid: give 1-48 characters of a-z, 0-9 and '-', starting with a "
            'letter or digit ("name").'
        )
    user = parse_run_as(run_as, f"{path}.runAs", target)
    parsed_mode = Mode.BLOCKING if mode is None else _choice(mode, MODES, f"{path}.mode")
    parsed_budget = None if budget is None else parse_budget(budget, f"{path}.budget", parsed_mode)
    values = parse_settings(settings, f"{path}.settings")
    strip = None if strip_comments is None else expect(strip_comments, bool, f"{path}.stripComments", "true or false")
    try:
        return script_module(
            name=name,
            script=read_text(file, path),
            user=user,
            mode=parsed_mode,
            budget=parsed_budget,
            settings=values,
            files=files,
            targets=(target,),
            strip_comments=strip,
            description=f"team script {file.relative_to(base).as_posix()}",
        )
    except LifecycleConfigError as err:
        raise ConfigError(f"{path}: {json_advice(str(err))}") from None


def parse_run_as(value: object, path: str, target: Target) -> RunAs:
    if target is Target.STUDIO:
        if value is None or value == RunAs.NOTEBOOK_USER.value:
            return RunAs.NOTEBOOK_USER
        if value == RunAs.ROOT.value:
            raise ConfigError(
                f'{path}: "root" is not possible in Studio, which runs lifecycle scripts as sagemaker-user; use '
                '"notebook-user" and sudo inside the script where the image allows it.'
            )
    elif value is None:
        raise ConfigError(
            f'{path}: required: say who runs the script, "root" or "notebook-user" (ec2-user), in the entry or '
            "in a header line of the script ('# lifecycle: runAs=notebook-user'); prefer notebook-user."
        )
    user: RunAs = _choice(value, RUN_AS, path)
    return user


def _choice(value: object, choices: Mapping[str, Any], path: str) -> Any:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{path}: {json_text(value)} is invalid; use one of {', '.join(map(json_text, choices))}.")
    return choices[value]


def parse_budget(value: object, path: str, mode: Mode) -> Duration:
    """A module's time budget: whole seconds, within what its mode allows."""
    budget = parse_duration(value, path)
    seconds = budget.to_seconds()
    limit = MAX_BLOCKING_BUDGET_SECONDS if mode is Mode.BLOCKING else MAX_BACKGROUND_BUDGET_SECONDS
    if not 1 <= seconds <= limit:
        advice = ' (long work belongs in the background: "mode": "background").' if mode is Mode.BLOCKING else "."
        raise ConfigError(
            f"{path}: {json_text(value)} is out of range for a {mode.value} module: give 1s to {limit}s{advice}"
        )
    return budget


def parse_settings(raw: object, path: str) -> dict[str, str]:
    """Environment variables of a team script: upper-case names the runner does not use, string values."""
    settings = expect(raw, Mapping, path, "an object of NAME: string values")
    for key, value in settings.items():
        if not _SETTING.fullmatch(key) or key in RESERVED_SETTING_NAMES or key.startswith("LCC_"):
            raise ConfigError(
                f"{key_path(path, key)}: the name is invalid: use upper-case letters, digits and '_', not starting "
                f"with a digit, and none of {', '.join(sorted(RESERVED_SETTING_NAMES))} or LCC_*."
            )
        if not isinstance(value, str) or "\x00" in value:
            raise ConfigError(
                f"{key_path(path, key)}: expected a string (without NUL characters), got {json_text(value)}."
            )
    return dict(settings)


def parse_header(text: str, path: str) -> dict[str, str]:
    """The ``# lifecycle: key=value ...`` line of a script's leading comment block, if any."""
    header: dict[str, str] = {}
    for line in text.split("\n")[1:]:
        if not line.startswith("#"):
            break
        match = _HEADER.fullmatch(line.strip())
        if match is None:
            continue
        if header:
            raise ConfigError(f"{path}: the script has two '# lifecycle:' header lines; keep one.")
        for token in match[1].split():
            key, sep, value = token.partition("=")
            if key not in HEADER_KEYS or not sep or not value:
                raise ConfigError(
                    f"{path}: header item {token!r} is invalid: write key=value with a key of {', '.join(HEADER_KEYS)} "
                    "(for example '# lifecycle: runAs=root budget=20s')."
                )
            if key in header:
                raise ConfigError(f"{path}: header key {key!r} is given twice.")
            header[key] = value
    return header


def _files_of(raw: object, path: str, base: Path, header: Mapping[str, str], script: Path) -> dict[str, bytes]:
    """Carried files: the entry's ``{"bundle path": "file"}`` and the header's ``files=`` (next to the script)."""
    entries = dict(expect(raw, Mapping, path, 'an object of "path in the bundle": "file"'))
    folder = script.parent.relative_to(base)
    for name in filter(None, header.get("files", "").split(",")):
        if name in entries:
            raise ConfigError(f"{path}: file {name!r} is named twice.")
        entries[name] = (PurePosixPath(folder.as_posix()) / name).as_posix()
    files = {}
    for rel, source in entries.items():
        where = key_path(path, rel) if raw else f"{path}: header files={rel}"
        if not _FILE_PATH.fullmatch(rel):
            raise ConfigError(
                f"{where}: the path in the bundle is invalid: give a relative path of letters, digits, '.', '_' "
                "and '-' (no '..', no leading '/' or '.'); the script finds it under $MODULE_DIR/files."
            )
        file = resolve_inside(base, source, where, directory=False)
        files[rel] = read_bytes(file, where, MAX_CARRIED_FILE_BYTES)
    return files


# -- files -------------------------------------------------------------------------------------------
def _base(base_dir: Path | None, path: str) -> Path:
    if base_dir is None:
        raise ConfigError(f"{path}: script paths need the configuration's directory; the app gives it (base_dir).")
    return base_dir.resolve()


def resolve_inside(base: Path, value: object, path: str, *, directory: bool) -> Path:
    """``value``, a relative path, as a file (or folder) inside ``base``, symbolic links followed."""
    what = "folder" if directory else "file"
    if not isinstance(value, str) or not value or "\x00" in value or "\\" in value:
        raise ConfigError(f"{path}: give the {what}'s path relative to the configuration file, got {json_text(value)}.")
    relative = PurePosixPath(value)
    if relative.is_absolute() or ".." in relative.parts:
        raise ConfigError(
            f"{path}: {json_text(value)} leaves the configuration's directory; give a path inside it, without '..' "
            "or a leading '/'."
        )
    try:
        real = (base / relative).resolve(strict=True)
    except FileNotFoundError:
        raise ConfigError(f"{path}: {json_text(value)} does not exist (relative to {str(base)!r}).") from None
    except (OSError, RuntimeError) as err:
        raise ConfigError(f"{path}: {json_text(value)} cannot be read: {err}.") from None
    if not real.is_relative_to(base):
        raise ConfigError(
            f"{path}: {json_text(value)} is a symbolic link that leads outside the configuration's directory."
        )
    if directory and not real.is_dir():
        raise ConfigError(f"{path}: {json_text(value)} is not a folder.")
    if not directory and not stat.S_ISREG(real.stat().st_mode):
        raise ConfigError(f"{path}: {json_text(value)} is not a regular file.")
    return real


def _runnable(entry: Path, base: Path) -> bool:
    """run-parts' choice: executable regular files, hidden and backup files skipped."""
    if entry.name.startswith(".") or entry.name.endswith("~"):
        return False
    try:
        real = entry.resolve(strict=True)
        mode = real.stat().st_mode
    except (OSError, RuntimeError):
        return False
    return real.is_relative_to(base) and stat.S_ISREG(mode) and bool(mode & 0o111)


def read_bytes(file: Path, path: str, limit: int) -> bytes:
    try:
        with file.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read {file.name!r}: {err.strerror}.") from None
    if len(data) > limit:
        raise ConfigError(f"{path}: {file.name!r} is larger than {limit} bytes.")
    return data


def read_text(file: Path, path: str) -> str:
    data = read_bytes(file, path, MAX_SCRIPT_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: {file.name!r} is not UTF-8 text.") from None
    if not text.startswith("#!"):
        raise ConfigError(f"{path}: {file.name!r} has no shebang; start it with a line such as '#!/bin/bash'.")
    return text
