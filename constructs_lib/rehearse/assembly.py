"""Finding the lifecycle hooks of a cloud assembly (``cdk.out``) or of one template, and reading
what a generated hook will run: its module plan and its user settings."""

from __future__ import annotations

import base64
import binascii
import json
import lzma
import re
import shlex
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs_lib.bundling.inspect import files_of, joined_content, loader_archive, staged_asset
from constructs_lib.errors import LifecycleConfigError

NOTEBOOK_CONFIG = "AWS::SageMaker::NotebookInstanceLifecycleConfig"
STUDIO_CONFIG = "AWS::SageMaker::StudioLifecycleConfig"
NOTEBOOK_HOOKS = ("OnCreate", "OnStart")
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


class AssemblyError(Exception):
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


def _content(value: object, where: str) -> bytes:
    """The script from a Content property: base64 text, ``{"Fn::Base64": text}``, or Fn::Base64 of a
    Fn::Join whose references (an S3 loader's bucket) become a placeholder."""
    if isinstance(value, dict) and set(value) == {"Fn::Base64"} and isinstance(value["Fn::Base64"], str):
        return value["Fn::Base64"].encode("utf-8")
    joined = joined_content(value)
    if joined is not None:
        return joined.encode("utf-8")
    if not isinstance(value, str):
        raise AssemblyError(
            f"{where}: the content is not a literal ({json.dumps(value)[:80]}); it cannot be rehearsed."
        )
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise AssemblyError(f"{where}: the content is not valid base64 ({err}).") from None


def _read_bundle(hook: Hook) -> Hook:
    """``hook`` with its bundle's plan and settings, or the target's defaults for a plain script."""
    settings = dict(DEFAULT_SETTINGS[hook.target])
    try:
        files = files_of(hook.script)
    except (LifecycleConfigError, ValueError, OSError, EOFError, tarfile.TarError, lzma.LZMAError, zlib.error) as err:
        if b"LCC_PAYLOAD" in hook.script:
            raise AssemblyError(f"{hook.label}: the bundle inside the script cannot be read ({err}).") from None
        return Hook(**{**hook.__dict__, "settings": settings, "bundle_hook": ""})
    for line in files.get("bundle.env", b"").decode("utf-8").splitlines():
        key, _, value = line.partition("=")
        if key:
            settings[key] = " ".join(shlex.split(value))
    modules = []
    for line in files.get("plan.tsv", b"").decode("utf-8").splitlines():
        index, name, user, mode, budget = line.split("\t")
        modules.append(PlannedModule(index, name, user, mode, int(budget)))
    match = _HOOK_NAME.search(hook.script)
    bundle_hook = match[1].decode() if match else hook.hook.lower()
    base = _BUNDLE_DIR.search(hook.script)
    bundle_dir = f"{base[1].decode()}/{bundle_hook}" if base else ""
    return Hook(
        **{
            **hook.__dict__,
            "settings": settings,
            "modules": tuple(modules),
            "bundle_hook": bundle_hook,
            "bundle_dir": bundle_dir,
        }
    )


_FETCH = re.compile(rb"^[^\n]*aws s3 cp [^\n]*\n", re.MULTILINE)


def _inlined(hook: Hook, directory: Path) -> Hook:
    """A loader hook (archive kept as an S3 asset) with the copy from S3 replaced by the staged asset
    inlined, so that the rest of the loader (checksum, unpacking, runner) runs as it would."""
    loader = loader_archive(hook.script)
    if loader is None:
        return hook
    digest = loader[0]
    data = staged_asset(directory, digest)
    match = _FETCH.search(hook.script)
    if data is not None and match is not None:
        inline = b"base64 -d >\"$d/a\" <<'LCC_PAYLOAD' || return 1\n" + base64.b64encode(data) + b"\nLCC_PAYLOAD\n"
        return Hook(**{**hook.__dict__, "script": hook.script[: match.start()] + inline + hook.script[match.end() :]})
    raise AssemblyError(f"{hook.label}: the loader's archive (sha256 {digest}) is not among the assets in {directory}.")


def hooks_of_template(template: dict[str, Any], stack: str) -> list[Hook]:
    """Every hook of every lifecycle config in one CloudFormation template."""
    hooks: list[Hook] = []
    for logical_id, resource in sorted((template.get("Resources") or {}).items()):
        kind = resource.get("Type")
        props = resource.get("Properties") or {}
        metadata = (resource.get("Metadata") or {}).get("LifecycleBundle") or {}
        where = f"{stack}/{logical_id}"
        if kind == NOTEBOOK_CONFIG:
            for name in NOTEBOOK_HOOKS:
                entries = props.get(name) or []
                if entries:
                    script = _content(entries[0].get("Content"), f"{where} {name}")
                    hooks.append(
                        Hook(
                            stack, logical_id, name, NOTEBOOK_TARGET, script,
                            str(props.get("NotebookInstanceLifecycleConfigName") or ""), metadata.get(name),
                        )
                    )  # fmt: skip
        elif kind == STUDIO_CONFIG:
            app_type = str(props.get("StudioLifecycleConfigAppType") or "JupyterServer")
            script = _content(props.get("StudioLifecycleConfigContent"), f"{where} {app_type}")
            config_name = props.get("StudioLifecycleConfigName")
            hooks.append(
                Hook(
                    stack, logical_id, app_type, STUDIO_TARGET, script,
                    config_name if isinstance(config_name, str) else "", metadata.get(app_type),
                )
            )  # fmt: skip
    return hooks


def _stacks(assembly: Path, prefix: str = "") -> list[tuple[str, set[str], Path]]:
    """(display name, names it answers to, template path) of every stack, nested stages included."""
    manifest_path = assembly / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise AssemblyError(f"{manifest_path}: not a cloud assembly manifest ({err}).") from None
    stacks = []
    for artifact_id, artifact in sorted((manifest.get("artifacts") or {}).items()):
        props = artifact.get("properties") or {}
        if artifact.get("type") == "aws:cloudformation:stack" and props.get("templateFile"):
            display = artifact.get("displayName") or f"{prefix}{artifact_id}"
            names = {artifact_id, display, str(props.get("stackName") or artifact_id)}
            stacks.append((display, names, assembly / props["templateFile"]))
        elif artifact.get("type") == "cdk:cloud-assembly" and props.get("directoryName"):
            stacks += _stacks(assembly / props["directoryName"], f"{prefix}{artifact_id}/")
    return stacks


def find_hooks(
    path: Path, *, stack: str | None = None, config: str | None = None, hook: str | None = None
) -> list[Hook]:
    """The hooks of a cloud assembly directory (or of one template file), narrowed by the selectors."""
    if path.is_file():
        candidates = [(path.name.removesuffix(".template.json").removesuffix(".json"), {path.name}, path)]
    elif path.is_dir():
        candidates = _stacks(path)
    else:
        raise AssemblyError(f"{path}: no such cloud assembly directory or template file.")
    if stack is not None:
        candidates = [c for c in candidates if stack in c[1] or stack == c[0]]
        if not candidates:
            names = ", ".join(sorted(c[0] for c in _stacks(path))) if path.is_dir() else "(one template)"
            raise AssemblyError(f"--stack {stack!r}: no such stack in {path}; stacks: {names}.")
    hooks: list[Hook] = []
    for display, _, template_path in candidates:
        try:
            template = json.loads(template_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise AssemblyError(f"{template_path}: cannot read the template ({err}).") from None
        hooks += [_inlined(h, template_path.parent) for h in hooks_of_template(template, display)]
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
