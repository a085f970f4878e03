"""Bounded, fail-closed reading of a cloud assembly that may be hostile (a pull request's ``cdk.out``).

The review and rehearsal tools read files, JSON and lifecycle resources only through this module:

- files are opened with ``O_NOFOLLOW`` and ``O_NONBLOCK``, must be regular files inside the assembly
  directory (after resolving every link) and no larger than a cap, checked before reading;
- JSON must be UTF-8, within a size cap, without duplicate keys and nested at most :data:`MAX_JSON_DEPTH` deep;
- every shape that is indexed into (a resource, its ``Properties``, a hook list, ``Fn::Join``) is checked.

Any violation raises :class:`InputError` with a one-line message; the tools turn it into exit status 2.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_MANIFEST_BYTES = 32 * 1024 * 1024
"""An assembly's ``manifest.json`` (it carries construct metadata of every stack: large apps reach a few MB)."""
MAX_TEMPLATE_BYTES = 1024 * 1024
"""A stack template: CloudFormation accepts at most 1 MB, so a larger one could not be deployed anyway."""
MAX_JSON_DEPTH = 64
"""Nesting of JSON values; synthesized templates and manifests nest about 12 deep."""
MAX_STACKS = 1000
"""Stacks in one assembly, stages included (an account holds 2000 stacks; 500 resources each)."""
MAX_STAGE_DEPTH = 16
"""Stages nested in stages."""

NOTEBOOK_TYPE = "AWS::SageMaker::NotebookInstanceLifecycleConfig"
STUDIO_TYPE = "AWS::SageMaker::StudioLifecycleConfig"
NOTEBOOK_HOOKS = ("OnCreate", "OnStart")
STUDIO_APP_TYPES = ("CodeEditor", "JupyterLab", "JupyterServer", "KernelGateway")
_LOGICAL_ID = re.compile(r"[A-Za-z0-9]{1,255}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class InputError(Exception):
    """Input a tool cannot use safely: the message (one line) names the path and what is wrong."""


def visible(text: str, keep: str = "") -> str:
    """``text`` with control characters (terminal escapes, line breaks not in ``keep``, bidirectional
    overrides) written as ``\\xNN``/``\\uNNNN`` escapes, so that it cannot act on a terminal or forge lines."""

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        if char in keep:
            return char
        return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"

    return _CONTROL.sub(escape, text)


def inside(path: Path, root: Path, what: str) -> Path:
    """``path`` with every link resolved; refused unless it lies inside ``root`` (also resolved)."""
    try:
        resolved, top = path.resolve(), root.resolve()
    except (OSError, RuntimeError) as err:
        raise InputError(f"{what} {path}: cannot resolve the path ({err}).") from None
    if resolved != top and top not in resolved.parents:
        raise InputError(f"{what} {path}: it lies outside the assembly directory {root}; refused.")
    return resolved


def read_bytes(path: Path, root: Path, *, limit: int, what: str) -> bytes:
    """The content of the regular file ``path`` inside ``root``, at most ``limit`` bytes.

    Links are resolved first and the result must stay inside ``root``; the final open does not follow a
    link (so one swapped in meanwhile is refused) and does not block (a fifo is refused, not waited on).
    """
    resolved = inside(path, root, what)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    try:
        fd = os.open(resolved, flags)
    except FileNotFoundError:
        raise InputError(f"{what} {path}: no such file.") from None
    except OSError as err:
        raise InputError(f"{what} {path}: cannot open it ({err.strerror}).") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{what} {path}: not a regular file; refused.")
        if info.st_size > limit:
            raise InputError(f"{what} {path}: {info.st_size} bytes, above the limit of {limit} bytes; refused.")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise InputError(f"{what} {path}: grew above the limit of {limit} bytes while read; refused.")
        return b"".join(chunks)
    except OSError as err:
        raise InputError(f"{what} {path}: cannot read it ({err.strerror}).") from None
    finally:
        os.close(fd)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def json_depth(value: object) -> int:
    """How deeply ``value`` nests lists and objects (iteratively: no recursion limit to hit)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def parse_json(data: bytes, what: str) -> Any:
    """``data`` as JSON: UTF-8, no duplicate keys, nested at most :data:`MAX_JSON_DEPTH` deep."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{what}: not UTF-8 text ({err}).") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise InputError(f"{what}: not valid JSON: nested deeper than {MAX_JSON_DEPTH} levels.") from None
    except ValueError as err:
        raise InputError(f"{what}: not valid JSON: {visible(str(err))}") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise InputError(f"{what}: not valid JSON: nested deeper than {MAX_JSON_DEPTH} levels.")
    return value


def read_json(path: Path, root: Path, *, limit: int, what: str) -> Any:
    return parse_json(read_bytes(path, root, limit=limit, what=what), f"{what} {path}")


# -- the stacks of an assembly -------------------------------------------------------------------------


@dataclass(frozen=True)
class StackTemplate:
    display: str
    """The stack's display name (``Prod/Studio`` for a stack in the stage ``Prod``)."""
    names: frozenset[str]
    """Every name the stack answers to: artifact id, display name, stack name."""
    template: Path


def _text_or(value: object, default: str) -> str:
    return value if isinstance(value, str) and value else default


def stack_templates(directory: Path, root: Path | None = None) -> list[StackTemplate]:
    """Every stack of the cloud assembly at ``directory`` and of its stages, in artifact order.

    Every path the manifests name must stay inside ``root`` (default: ``directory``).
    """
    found: list[StackTemplate] = []
    _collect(directory, root or directory, "", set(), found, 0)
    return found


def _collect(directory: Path, root: Path, prefix: str, seen: set[Path], found: list[StackTemplate], depth: int) -> None:
    manifest_path = directory / "manifest.json"
    if depth == 0 and not manifest_path.is_file():
        raise InputError(
            f"assembly {directory}: no manifest.json there; give the output directory of `cdk synth -o DIR`."
        )
    if depth > MAX_STAGE_DEPTH:
        raise InputError(f"assembly {directory}: stages nest deeper than {MAX_STAGE_DEPTH} levels; refused.")
    seen.add(inside(directory, root, "assembly"))
    manifest = read_json(manifest_path, root, limit=MAX_MANIFEST_BYTES, what="assembly manifest")
    artifacts = manifest.get("artifacts") if isinstance(manifest, dict) else None
    if not isinstance(artifacts, dict):
        raise InputError(f"assembly manifest {manifest_path}: it has no 'artifacts' object.")
    for artifact_id, artifact in sorted(artifacts.items()):
        if not isinstance(artifact, dict):
            raise InputError(f"assembly manifest {manifest_path}: artifact {artifact_id!r} is not an object.")
        properties = artifact.get("properties", {})
        if not isinstance(properties, dict):
            raise InputError(
                f"assembly manifest {manifest_path}: artifact {artifact_id!r} properties is not an object."
            )
        kind = artifact.get("type")
        if kind == "aws:cloudformation:stack":
            template_file = properties.get("templateFile")
            if not isinstance(template_file, str) or not template_file:
                raise InputError(f"assembly manifest {manifest_path}: stack {artifact_id!r} has no templateFile.")
            display = visible(_text_or(artifact.get("displayName"), f"{prefix}{artifact_id}"))
            stack_name = _text_or(properties.get("stackName"), artifact_id)
            template = directory / template_file
            inside(template, root, f"stack {display}: template")
            found.append(StackTemplate(display, frozenset({artifact_id, display, stack_name}), template))
            if len(found) > MAX_STACKS:
                raise InputError(f"assembly {root}: more than {MAX_STACKS} stacks; refused.")
        elif kind == "cdk:cloud-assembly":
            nested_name = properties.get("directoryName")
            if not isinstance(nested_name, str) or not nested_name:
                raise InputError(f"assembly manifest {manifest_path}: stage {artifact_id!r} has no directoryName.")
            nested = directory / nested_name
            if inside(nested, root, "nested assembly") not in seen:
                _collect(nested, root, f"{prefix}{artifact_id}/", seen, found, depth + 1)


# -- the lifecycle resources of a template ----------------------------------------------------------


@dataclass(frozen=True)
class RawHook:
    """One hook of a lifecycle-config resource, shapes checked, its Content not yet decoded."""

    logical_id: str
    kind: str
    """``notebook`` or ``studio``."""
    hook: str
    """``OnStart`` / ``OnCreate``, or the Studio app type."""
    content: object
    name: str | None
    manifest: dict[str, Any] | None


def _object(value: object, where: str, default: dict[str, Any] | None = None) -> dict[str, Any]:
    if value is None and default is not None:
        return default
    if not isinstance(value, dict):
        raise InputError(f"{where} is a {type(value).__name__}, not an object.")
    return value


def resources_of(template: object, where: str) -> dict[str, Any]:
    """The ``Resources`` object of a template (empty when it has none)."""
    return _object(_object(template, where).get("Resources"), f"{where}: Resources", {})


def lifecycle_hooks(template: object, where: str) -> Iterator[RawHook]:
    """Every hook of every lifecycle-config resource of ``template``, sorted by logical ID."""
    for logical_id, resource in sorted(resources_of(template, where).items()):
        resource = _object(resource, f"{where}: resource {logical_id!r}")
        kind = resource.get("Type")
        if kind not in (NOTEBOOK_TYPE, STUDIO_TYPE):
            continue
        if not _LOGICAL_ID.fullmatch(logical_id):
            raise InputError(f"{where}: logical ID {logical_id!r} is not 1-255 letters and digits.")
        here = f"{where}: {logical_id}"
        properties = _object(resource.get("Properties"), f"{here} Properties", {})
        metadata = _object(resource.get("Metadata"), f"{here} Metadata", {})
        bundles = _object(metadata.get("LifecycleBundle"), f"{here} Metadata.LifecycleBundle", {})
        if kind == NOTEBOOK_TYPE:
            name = properties.get("NotebookInstanceLifecycleConfigName")
            for hook in NOTEBOOK_HOOKS:
                entries = properties.get(hook)
                if entries is None:
                    continue
                if not isinstance(entries, list) or len(entries) > 1:
                    raise InputError(f"{here} {hook} is not a list of at most one {{Content}} object.")
                if entries:
                    entry = _object(entries[0], f"{here} {hook}[0]")
                    yield _raw(logical_id, "notebook", hook, entry.get("Content"), name, bundles.get(hook), here)
        else:
            app_type = properties.get("StudioLifecycleConfigAppType")
            if app_type not in STUDIO_APP_TYPES:
                raise InputError(
                    f"{here} StudioLifecycleConfigAppType {app_type!r} is not one of {', '.join(STUDIO_APP_TYPES)}."
                )
            content = properties.get("StudioLifecycleConfigContent")
            name = properties.get("StudioLifecycleConfigName")
            yield _raw(logical_id, "studio", str(app_type), content, name, bundles.get(app_type), here)


def _raw(logical_id: str, kind: str, hook: str, content: object, name: object, manifest: object, here: str) -> RawHook:
    if content is None:
        raise InputError(f"{here} {hook}: it has no Content.")
    if manifest is not None and not isinstance(manifest, dict):
        raise InputError(f"{here} Metadata.LifecycleBundle.{hook} is not an object.")
    return RawHook(logical_id, kind, hook, content, visible(name) if isinstance(name, str) else None, manifest)
