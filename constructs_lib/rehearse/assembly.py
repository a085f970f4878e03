"""Finding the lifecycle hooks of a cloud assembly (``cdk.out``) or of one template, and reading
what a generated hook will run: its module plan and its user settings.

The assembly may be hostile: it is read only through the bounded readers of ``constructs_lib.bundling``
(regular files inside the assembly, capped sizes and nesting, checked shapes, streamed decompression,
a strict plan), and whatever they refuse is an :class:`AssemblyError` (exit status 2).
"""

from __future__ import annotations

import base64
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs_lib.bundling.inspect import (
    archive_of,
    files_of,
    find_staged_asset,
    loader_archive,
    read_plan,
    script_of,
    side_archive,
    unpack,
    with_side_part,
)
from constructs_lib.bundling.reader import (
    MAX_TEMPLATE_BYTES,
    InputError,
    lifecycle_hooks,
    read_json,
    stack_templates,
    visible,
)
from constructs_lib.errors import LifecycleConfigError

NOTEBOOK_TARGET = "notebook-instance"
STUDIO_TARGET = "studio"

# Where SageMaker's own scripts live and run, when a hook is a plain script without a bundle.
DEFAULT_SETTINGS = {
    NOTEBOOK_TARGET: {
        "NB_USER": "ec2-user",
        "NB_HOME": "/home/ec2-user",
        "PERSIST_DIR": "/home/ec2-user/SageMaker",
        "LOG_DIR": "/var/log/sagemaker-lifecycle",
    },
    STUDIO_TARGET: {
        "NB_USER": "sagemaker-user",
        "NB_HOME": "/home/sagemaker-user",
        "PERSIST_DIR": "/home/sagemaker-user",
        "LOG_DIR": "/tmp/sagemaker-lifecycle/logs",
    },
}
_HOOK_NAME = re.compile(rb"^h=([A-Za-z0-9-]+)$", re.MULTILINE)
_BUNDLE_DIR = re.compile(rb'^d="\$\{LCC_ROOT-\}(/[^"$]+)/\$h"$', re.MULTILINE)


class AssemblyError(InputError):
    """The assembly, a template or a selection cannot be used; the message says why."""


@dataclass(frozen=True)
class PlannedModule:
    """One line of the bundle's plan.tsv."""

    index: str
    name: str
    user: str
    mode: str
    budget_seconds: int


@dataclass(frozen=True)
class Hook:
    """One hook of one lifecycle config, decoded."""

    stack: str
    config: str
    hook: str
    """``OnStart``, ``OnCreate``, or the Studio app type."""
    target: str
    script: bytes
    config_name: str = ""
    manifest: dict[str, Any] | None = None
    bundle_hook: str = ""
    """The hook's name inside the bundle (``on-start``, ``jupyterlab``); empty for a plain script."""
    bundle_dir: str = ""
    """Where the bundle is unpacked on the instance (``/var/lib/sagemaker-lifecycle/on-start``)."""
    modules: tuple[PlannedModule, ...] = ()
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.stack}/{self.config}/{self.hook}"

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "-", self.label)


def _read_bundle(hook: Hook) -> Hook:
    """``hook`` with its bundle's plan and settings, or the target's defaults for a plain script."""
    settings = dict(DEFAULT_SETTINGS[hook.target])
    if b"LCC_PAYLOAD" not in hook.script:
        return Hook(**{**hook.__dict__, "settings": settings, "bundle_hook": ""})
    try:
        archive, _, compression = archive_of(hook.script)
        files = unpack(archive, compression)
        modules = tuple(
            PlannedModule(entry.index, entry.name, entry.user, entry.mode, entry.budget_seconds)
            for entry in read_plan(files)
        )
        for line in files.get("bundle.env", b"").decode("utf-8").splitlines():
            key, _, value = line.partition("=")
            if key:
                settings[key] = " ".join(shlex.split(value))
    except (InputError, LifecycleConfigError, ValueError) as err:
        raise AssemblyError(f"{hook.label}: the bundle inside the script cannot be read ({err}).") from None
    match = _HOOK_NAME.search(hook.script)
    bundle_hook = match[1].decode() if match else hook.hook.lower()
    base = _BUNDLE_DIR.search(hook.script)
    bundle_dir = f"{base[1].decode()}/{bundle_hook}" if base else ""
    return Hook(
        **{
            **hook.__dict__,
            "settings": settings,
            "modules": modules,
            "bundle_hook": bundle_hook,
            "bundle_dir": bundle_dir,
        }
    )


_FETCH = re.compile(rb"^[^\n]*aws s3 cp [^\n]*\n", re.MULTILINE)


def _inlined(hook: Hook, directory: Path, root: Path) -> Hook:
    """A hook that copies an archive from S3 (a loader: the whole archive; a split hook: the modules' largest
    carried files) with the copy replaced by the staged asset inlined, so that the rest of the hook (checksum,
    unpacking, runner) runs as it would."""
    loader, side = loader_archive(hook.script), side_archive(hook.script)
    found, target = (loader, b"$d/a") if loader is not None else (side, b"$d/s")
    if found is None:
        return hook
    try:
        data = find_staged_asset(directory, found[0], root)
        if side is not None:  # read as the review tool reads it: bounded, only carried files, none twice
            with_side_part(files_of(hook.script), data, side[1])
    except (InputError, LifecycleConfigError, ValueError) as err:
        raise AssemblyError(f"{hook.label}: {err}") from None
    match = _FETCH.search(hook.script)
    if match is None:
        raise AssemblyError(f"{hook.label}: the copy from S3 is not one line of its own.")
    inline = (
        b'base64 -d >"' + target + b"\" <<'LCC_PAYLOAD' || return 1\n" + base64.b64encode(data) + b"\nLCC_PAYLOAD\n"
    )
    return Hook(**{**hook.__dict__, "script": hook.script[: match.start()] + inline + hook.script[match.end() :]})


def hooks_of_template(template: object, stack: str) -> list[Hook]:
    """Every hook of every lifecycle config in one CloudFormation template (shapes checked)."""
    hooks: list[Hook] = []
    for raw in lifecycle_hooks(template, f"stack {stack}"):
        try:
            script, _ = script_of(raw.content)
        except InputError as err:
            raise AssemblyError(f"{stack}/{raw.logical_id} {raw.hook}: {err}") from None
        target = NOTEBOOK_TARGET if raw.kind == "notebook" else STUDIO_TARGET
        hooks.append(Hook(stack, raw.logical_id, raw.hook, target, script, raw.name or "", raw.manifest))
    return hooks


def find_hooks(
    path: Path, *, stack: str | None = None, config: str | None = None, hook: str | None = None
) -> list[Hook]:
    """The hooks of a cloud assembly directory (or of one template file), narrowed by the selectors."""
    if path.is_dir():
        root = path
        candidates = [(s.display, set(s.names), s.template) for s in stack_templates(path)]
    elif path.is_file():
        root = path.resolve().parent
        display = visible(path.name.removesuffix(".template.json").removesuffix(".json"))
        candidates = [(display, {path.name}, root / path.resolve().name)]
    else:
        raise AssemblyError(f"{path}: no such cloud assembly directory or template file.")
    if stack is not None:
        everything = candidates
        candidates = [c for c in candidates if stack in c[1] or stack == c[0]]
        if not candidates:
            names = ", ".join(sorted(c[0] for c in everything)) if path.is_dir() else "(one template)"
            raise AssemblyError(f"--stack {stack!r}: no such stack in {path}; stacks: {names}.")
    hooks: list[Hook] = []
    for display, _, template_path in candidates:
        template = read_json(template_path, root, limit=MAX_TEMPLATE_BYTES, what="template")
        hooks += [_inlined(h, template_path.parent, root) for h in hooks_of_template(template, display)]
    available = sorted({f"{h.stack}/{h.config} ({h.hook})" for h in hooks})
    if config is not None:
        hooks = [h for h in hooks if h.config == config or h.config_name == config]
    if hook is not None:
        hooks = [h for h in hooks if h.hook.lower() == hook.lower()]
    if not hooks:
        selection = " ".join(
            f"{flag} {value}" for flag, value in (("--stack", stack), ("--config", config), ("--hook", hook)) if value
        )
        raise AssemblyError(
            f"no lifecycle hook in {path}"
            + (f" matches {selection}; hooks there: {', '.join(available) or 'none'}." if selection else ".")
        )
    return [_read_bundle(h) for h in hooks]
