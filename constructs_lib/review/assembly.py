"""Reading the lifecycle configs of a synthesized cloud assembly, decoded from their ``Content``.

The template's ``Content`` is what CloudFormation deploys, so it is the truth: every script, setting
and carried file shown by the review tool is unpacked from it. The readable manifest in the resource's
``Metadata`` is only checked against it; any disagreement is an error of the assembly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import lzma
import shlex
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs_lib.bundling.archive import escape_binary
from constructs_lib.bundling.inspect import (
    DEPLOY_TIME,
    archive_of,
    files_of,
    joined_content,
    loader_archive,
    staged_asset,
    unpack,
)
from constructs_lib.bundling.limits import CONTENT_LIMIT_CHARS, HOOK_TIMEOUT_SECONDS, RESERVED_SECONDS

NOTEBOOK_TYPE = "AWS::SageMaker::NotebookInstanceLifecycleConfig"
STUDIO_TYPE = "AWS::SageMaker::StudioLifecycleConfig"
NOTEBOOK_HOOKS = ("OnCreate", "OnStart")
BLOCKING_LIMIT_SECONDS = HOOK_TIMEOUT_SECONDS - RESERVED_SECONDS
"""What a hook's blocking modules may take together (the hook's time limit less the runner's reserve)."""
NEAR_LIMIT = 0.9
"""Above this share of a limit, a size or a budget is flagged."""
PAYLOAD_PLACEHOLDER = b"<archive: see the modules and runner.sh>"
SHA_PLACEHOLDER = b"<archive sha256>"


class ReviewError(Exception):
    """Input the tool cannot use: the message names the path and what is wrong with it."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ModuleView:
    """One module of a hook as unpacked from the archive."""

    index: int
    name: str
    user: str
    mode: str
    budget_seconds: int
    script: bytes
    settings: Mapping[str, str]
    files: Mapping[str, bytes]
    """Carried files by path relative to the module's ``files/`` directory."""

    @property
    def sha256(self) -> str:
        return sha256(self.script)

    def manifest_entry(self) -> dict[str, Any]:
        """The manifest entry the bundler writes for a module like this one."""
        entry: dict[str, Any] = {
            "name": self.name,
            "user": self.user,
            "mode": self.mode,
            "budgetSeconds": self.budget_seconds,
            "scriptBytes": len(self.script),
            "sha256": self.sha256,
        }
        if self.settings:
            entry["settings"] = dict(self.settings)
        if self.files:
            entry["files"] = [
                {"path": rel, "bytes": len(data), "sha256": sha256(data)} for rel, data in sorted(self.files.items())
            ]
        return entry


@dataclass(frozen=True)
class HookView:
    """One hook of one lifecycle config: a notebook config's OnStart or OnCreate, or a Studio config."""

    stack: str
    logical_id: str
    kind: str
    """``notebook`` or ``studio``."""
    hook: str
    """``OnStart`` / ``OnCreate`` for notebook configs, the app type (``JupyterLab`` ...) for Studio."""
    name: str | None
    """The config's name when the template gives it literally."""
    template: Path
    content_length: int
    """Characters of the template's ``Content`` (what AWS checks against the limit)."""
    script: bytes
    bundled: bool
    """False for a plain script that carries no bundle (not built by constructs_lib)."""
    compression: str = ""
    encoding: str = ""
    archive_sha256: str = ""
    archive_files: Mapping[str, bytes] = field(default_factory=dict)
    modules: tuple[ModuleView, ...] = ()
    manifest: Mapping[str, Any] | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.stack, self.logical_id, self.hook)

    @property
    def label(self) -> str:
        return f"{self.stack}/{self.logical_id} {self.hook}"

    @property
    def limit(self) -> int:
        limit = (self.manifest or {}).get("limit")
        return limit if isinstance(limit, int) else CONTENT_LIMIT_CHARS

    @property
    def blocking_seconds(self) -> int:
        return sum(m.budget_seconds for m in self.modules if m.mode == "blocking")

    @property
    def runner(self) -> bytes | None:
        return self.archive_files.get("runner.sh")

    @property
    def stub(self) -> bytes:
        """The hook script outside the archive: the payload and its checksum replaced by placeholders."""
        if not self.bundled:
            return self.script
        if loader_archive(self.script) is not None:
            return self.script.replace(self.archive_sha256.encode("ascii"), SHA_PLACEHOLDER)
        archive, _, _ = archive_of(self.script)
        payload = base64.b64encode(archive) if self.encoding == "base64" else escape_binary(archive)
        return self.script.replace(payload, PAYLOAD_PLACEHOLDER, 1).replace(
            self.archive_sha256.encode("ascii"), SHA_PLACEHOLDER
        )

    def module(self, name: str) -> ModuleView | None:
        return next((m for m in self.modules if m.name == name), None)


@dataclass
class Assembly:
    """Every lifecycle hook of a cloud assembly, sorted, and the problems found while decoding them."""

    path: Path
    hooks: list[HookView] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stacks: list[str] = field(default_factory=list)

    def by_key(self) -> dict[tuple[str, str, str], HookView]:
        return {hook.key: hook for hook in self.hooks}


# -- reading the assembly ----------------------------------------------------------------------------


def _read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReviewError(f"{what} {path}: no such file.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ReviewError(f"{what} {path}: cannot read it: {err}") from None
    try:
        return json.loads(text)
    except ValueError as err:
        raise ReviewError(f"{what} {path}: not valid JSON: {err}") from None


def _stack_templates(directory: Path, seen: set[Path]) -> Iterator[tuple[str, Path]]:
    """(stack display name, template path) of every stack in the assembly at ``directory`` and its stages."""
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise ReviewError(
            f"assembly {directory}: no manifest.json there; give the output directory of `cdk synth -o DIR`."
        )
    manifest = _read_json(manifest_path, "assembly manifest")
    artifacts = manifest.get("artifacts") if isinstance(manifest, dict) else None
    if not isinstance(artifacts, dict):
        raise ReviewError(f"assembly manifest {manifest_path}: it has no 'artifacts' object.")
    seen.add(directory.resolve())
    for artifact_id, artifact in sorted(artifacts.items()):
        if not isinstance(artifact, dict):
            continue
        properties = artifact.get("properties") or {}
        if artifact.get("type") == "aws:cloudformation:stack" and isinstance(properties.get("templateFile"), str):
            name = artifact.get("displayName")
            yield (name if isinstance(name, str) else artifact_id), directory / properties["templateFile"]
        elif artifact.get("type") == "cdk:cloud-assembly" and isinstance(properties.get("directoryName"), str):
            nested = directory / properties["directoryName"]
            if nested.resolve() not in seen:
                yield from _stack_templates(nested, seen)


def load_assembly(path: str | Path) -> Assembly:
    """Every lifecycle hook in the cloud assembly at ``path``.

    ``path`` is an assembly directory (``cdk.out``), its ``manifest.json``, or a single template file
    (its stack is named after the file). Raises :class:`ReviewError` for input that cannot be read;
    problems of single hooks (a manifest that disagrees with the content, content that does not
    decode) are collected in ``errors``.
    """
    path = Path(path)
    if not path.exists():
        raise ReviewError(f"assembly {path}: no such file or directory.")
    if path.is_dir():
        stacks = list(_stack_templates(path, set()))
    elif path.name == "manifest.json":
        stacks = list(_stack_templates(path.parent, set()))
    else:
        stacks = [(path.name.removesuffix(".json").removesuffix(".template"), path)]
    assembly = Assembly(path=path, stacks=sorted(name for name, _ in stacks))
    for stack, template_path in stacks:
        template = _read_json(template_path, f"stack {stack}: template")
        resources = template.get("Resources") if isinstance(template, dict) else None
        if not isinstance(resources, dict):
            continue
        for logical_id, resource in resources.items():
            if isinstance(resource, dict) and resource.get("Type") in (NOTEBOOK_TYPE, STUDIO_TYPE):
                for hook_name, content, manifest in _hooks_of(resource):
                    where = f"{stack}/{logical_id} {hook_name} ({template_path})"
                    try:
                        assembly.hooks.append(
                            _decode(stack, logical_id, resource, hook_name, content, manifest, template_path)
                        )
                    except ReviewError as err:
                        assembly.errors.append(f"{where}: {err}")
    assembly.hooks.sort(key=lambda hook: hook.key)
    for hook in assembly.hooks:
        assembly.errors.extend(f"{hook.label}: {problem}" for problem in check_manifest(hook))
    return assembly


def _hooks_of(resource: Mapping[str, Any]) -> Iterator[tuple[str, object, object]]:
    """(hook name, Content value, manifest or None) of each hook of a lifecycle-config resource."""
    properties = resource.get("Properties") or {}
    metadata = resource.get("Metadata") or {}
    bundles = metadata.get("LifecycleBundle") if isinstance(metadata, dict) else None
    bundles = bundles if isinstance(bundles, dict) else {}
    if resource.get("Type") == NOTEBOOK_TYPE:
        for hook in NOTEBOOK_HOOKS:
            value = properties.get(hook)
            if value:
                first = value[0] if isinstance(value, list) and value else {}
                yield hook, first.get("Content") if isinstance(first, dict) else None, bundles.get(hook)
    else:
        app_type = properties.get("StudioLifecycleConfigAppType")
        if not isinstance(app_type, str):
            app_type = next(iter(sorted(bundles)), "Studio")
        yield app_type, properties.get("StudioLifecycleConfigContent"), bundles.get(app_type)


def _script_of(content: object) -> tuple[bytes, int]:
    """The script and the encoded length of a ``Content`` value (a literal, or Fn::Base64 of a literal)."""
    if isinstance(content, str):
        try:
            return base64.b64decode(content, validate=True), len(content)
        except (binascii.Error, ValueError) as err:
            raise ReviewError(f"Content is not valid base64: {err}") from None
    if isinstance(content, dict) and list(content) == ["Fn::Base64"] and isinstance(content["Fn::Base64"], str):
        script = content["Fn::Base64"].encode("utf-8")
        return script, len(base64.b64encode(script))
    joined = joined_content(content)
    if joined is not None:
        script = joined.encode("utf-8")
        return script, len(base64.b64encode(script))
    raise ReviewError("Content is not a literal string, so it cannot be decoded at review time.")


def _name_of(resource: Mapping[str, Any]) -> str | None:
    properties = resource.get("Properties") or {}
    key = (
        "NotebookInstanceLifecycleConfigName" if resource.get("Type") == NOTEBOOK_TYPE else "StudioLifecycleConfigName"
    )
    name = properties.get(key)
    return name if isinstance(name, str) else None


def _decode(
    stack: str,
    logical_id: str,
    resource: Mapping[str, Any],
    hook: str,
    content: object,
    manifest: object,
    template: Path,
) -> HookView:
    script, content_length = _script_of(content)
    common: dict[str, Any] = {
        "stack": stack,
        "logical_id": logical_id,
        "kind": "notebook" if resource.get("Type") == NOTEBOOK_TYPE else "studio",
        "hook": hook,
        "name": _name_of(resource),
        "template": template,
        "content_length": content_length,
        "script": script,
        "manifest": manifest if isinstance(manifest, dict) else None,
    }
    loader = loader_archive(script)
    if loader is not None:
        digest, compression = loader
        archive = staged_asset(template.parent, digest)
        if archive is None:
            raise ReviewError(f"the loader's archive (sha256 {digest}) is not among the assets in {template.parent}.")
        try:
            files = unpack(archive, compression)
        except (ValueError, EOFError, lzma.LZMAError, tarfile.TarError, OSError) as err:
            raise ReviewError(f"the archive asset cannot be unpacked: {err}") from None
        if isinstance(common["manifest"], dict) and DEPLOY_TIME.encode() in script:
            # The bucket name is known only at deploy time: the manifest counts it at its longest.
            common["content_length"] = common["manifest"].get("encodedLength", common["content_length"])
        return HookView(
            bundled=True,
            compression=compression.value,
            encoding=str(common["manifest"].get("encoding", "base64")) if common["manifest"] else "base64",
            archive_sha256=digest,
            archive_files=files,
            modules=_modules_of(files),
            **common,
        )
    if b"<<'LCC_PAYLOAD" not in script:
        return HookView(bundled=False, **common)
    try:
        archive, encoding, compression = archive_of(script)
        files = files_of(script)
    except (ValueError, EOFError, lzma.LZMAError, tarfile.TarError, OSError) as err:
        raise ReviewError(f"the bundle in Content cannot be unpacked: {err}") from None
    return HookView(
        bundled=True,
        compression=compression.value,
        encoding=encoding.value,
        archive_sha256=sha256(archive),
        archive_files=files,
        modules=_modules_of(files),
        **common,
    )


def _modules_of(files: Mapping[str, bytes]) -> tuple[ModuleView, ...]:
    plan = files.get("plan.tsv")
    if plan is None:
        raise ReviewError("the bundle has no plan.tsv.")
    modules = []
    for line in plan.decode("utf-8", "replace").splitlines():
        fields = line.split("\t")
        if len(fields) != 5 or not fields[0].isdigit() or not fields[4].isdigit():
            raise ReviewError(f"plan.tsv line {line!r} is not 'index, name, user, mode, budget'.")
        index, name, user, mode, budget = fields
        base = f"modules/{index}-{name}"
        script = files.get(f"{base}/run")
        if script is None:
            raise ReviewError(f"module {name!r} is in plan.tsv but {base}/run is missing.")
        prefix = f"{base}/files/"
        modules.append(
            ModuleView(
                index=int(index),
                name=name,
                user=user,
                mode=mode,
                budget_seconds=int(budget),
                script=script,
                settings=_settings_of(files.get(f"{base}/settings.sh", b""), name),
                files={p.removeprefix(prefix): d for p, d in sorted(files.items()) if p.startswith(prefix)},
            )
        )
    return tuple(modules)


def _settings_of(settings_sh: bytes, module: str) -> dict[str, str]:
    """Parse the ``export KEY=<shell-quoted value>`` lines the bundler writes."""
    try:
        words = shlex.split(settings_sh.decode("utf-8"), posix=True)
    except (ValueError, UnicodeDecodeError) as err:
        raise ReviewError(f"module {module!r}: settings.sh cannot be parsed: {err}") from None
    settings: dict[str, str] = {}
    for export, assignment in zip(words[::2], words[1::2], strict=False):
        key, sep, value = assignment.partition("=")
        if export != "export" or not sep:
            raise ReviewError(f"module {module!r}: settings.sh has {export} {assignment!r}, not 'export KEY=VALUE'.")
        settings[key] = value
    if len(words) % 2:
        raise ReviewError(f"module {module!r}: settings.sh ends with a lone {words[-1]!r}.")
    return dict(sorted(settings.items()))


# -- the manifest against the content -----------------------------------------------------------------


UNDERIVABLE_KEYS = frozenset({"commentsStripped"})
"""Manifest keys about how a module was packed, which the decoded archive cannot confirm or deny."""


def check_manifest(hook: HookView) -> list[str]:
    """How the Metadata manifest of ``hook`` disagrees with what its Content carries (empty when it agrees)."""
    manifest = hook.manifest
    if manifest is None or not hook.bundled:
        return []
    problems = []
    if manifest.get("archiveSha256") != hook.archive_sha256:
        problems.append(
            f"manifest archiveSha256 {manifest.get('archiveSha256')} does not match the archive decoded from "
            f"Content ({hook.archive_sha256}); the Metadata does not describe what would be deployed."
        )
    decoded: dict[str, object] = {
        "encodedLength": hook.content_length,
        "compression": hook.compression,
        "encoding": hook.encoding,
        "blockingBudgetSeconds": hook.blocking_seconds,
    }
    for key, value in decoded.items():
        if manifest.get(key) != value:
            problems.append(f"manifest {key} is {manifest.get(key)!r} but the decoded Content gives {value!r}.")
    listed = manifest.get("modules")
    entries = [m for m in listed if isinstance(m, dict)] if isinstance(listed, list) else []
    names = [m.get("name") for m in entries]
    if names != [m.name for m in hook.modules]:
        problems.append(
            f"manifest lists modules {names} but the decoded Content runs {[m.name for m in hook.modules]}."
        )
        return problems
    for entry, module in zip(entries, hook.modules, strict=True):
        expected = module.manifest_entry()
        given = dict(entry)
        if isinstance(given.get("files"), list):
            given["files"] = sorted(given["files"], key=lambda f: str(f.get("path")) if isinstance(f, dict) else "")
        for key in sorted((set(expected) | set(given)) - UNDERIVABLE_KEYS):
            if given.get(key) != expected.get(key):
                problems.append(
                    f"manifest module {module.name!r} {key} is {given.get(key)!r} but the decoded Content "
                    f"gives {expected.get(key)!r}."
                )
    return problems


def usage(value: int, limit: int) -> float:
    return value / limit if limit else 0.0
