"""Reading the lifecycle configs of a synthesized cloud assembly, decoded from their ``Content``.

The template's ``Content`` is what CloudFormation deploys, so it is the truth: every script, setting
and carried file shown by the review tool is unpacked from it. The readable manifest in the resource's
``Metadata`` is only checked against it; any disagreement is an error of the assembly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs_lib.bundling.archive import escape_binary
from constructs_lib.bundling.inspect import (
    DEPLOY_TIME,
    archive_of,
    find_staged_asset,
    loader_archive,
    read_plan,
    script_of,
    side_archive,
    side_files,
    unpack,
)
from constructs_lib.bundling.limits import CONTENT_LIMIT_CHARS, HOOK_TIMEOUT_SECONDS, RESERVED_SECONDS
from constructs_lib.bundling.reader import (
    MAX_TEMPLATE_BYTES,
    InputError,
    RawHook,
    lifecycle_hooks,
    read_json,
    stack_templates,
    visible,
)

_SETTING = re.compile(r"[A-Z_][A-Z0-9_]*")
BLOCKING_LIMIT_SECONDS = HOOK_TIMEOUT_SECONDS - RESERVED_SECONDS
"""What a hook's blocking modules may take together (the hook's time limit less the runner's reserve)."""
NEAR_LIMIT = 0.9
"""Above this share of a limit, a size or a budget is flagged."""
PAYLOAD_PLACEHOLDER = b"<archive: see the modules and runner.sh>"
SHA_PLACEHOLDER = b"<archive sha256>"
S3_KEY_PLACEHOLDER = b"<S3 part key>"
_S3_PART_KEY = re.compile(rb'^(u="s3://[^"/\n]*/)[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*"$', re.MULTILINE)
"""A split hook's S3 part line with a plain key (what the bundler writes): any other key, which bash could
read as more than a name, stays in the stub for the diff to show."""


class ReviewError(InputError):
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
        stub = self.script.replace(payload, PAYLOAD_PLACEHOLDER, 1).replace(
            self.archive_sha256.encode("ascii"), SHA_PLACEHOLDER
        )
        side = side_archive(self.script)
        if side is None:
            return stub
        # A split hook's S3 part: its checksum and object key (the asset's hash) follow its content, which the
        # files show; in the script they would only repeat that change.
        stub = stub.replace(side[0].encode("ascii"), SHA_PLACEHOLDER)
        return _S3_PART_KEY.sub(lambda m: m[1] + S3_KEY_PLACEHOLDER + b'"', stub, count=1)

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


def _stacks_of(path: Path) -> tuple[Path, list[tuple[str, Path]]]:
    """The directory every read must stay in, and (stack display name, template path) of every stack."""
    if path.is_dir():
        return path, [(s.display, s.template) for s in stack_templates(path)]
    if path.name == "manifest.json":
        return path.parent, [(s.display, s.template) for s in stack_templates(path.parent)]
    root = path.resolve().parent
    return root, [(visible(path.name.removesuffix(".json").removesuffix(".template")), root / path.resolve().name)]


def load_assembly(path: str | Path) -> Assembly:
    """Every lifecycle hook in the cloud assembly at ``path``.

    ``path`` is an assembly directory (``cdk.out``), its ``manifest.json``, or a single template file
    (its stack is named after the file). Raises :class:`~constructs_lib.bundling.reader.InputError` (a
    :class:`ReviewError` or one of the shared reader's) for input that cannot be read or has the wrong
    shape; problems of single hooks (a manifest that disagrees with the content, content that does not
    decode) are collected in ``errors``.
    """
    path = Path(path)
    if not os.path.lexists(path):
        raise ReviewError(f"assembly {path}: no such file or directory.")
    root, stacks = _stacks_of(path)
    assembly = Assembly(path=path, stacks=sorted(name for name, _ in stacks))
    for stack, template_path in stacks:
        what = f"stack {stack}: template"
        template = read_json(template_path, root, limit=MAX_TEMPLATE_BYTES, what=what)
        for raw in lifecycle_hooks(template, f"{what} {template_path}"):
            where = f"{stack}/{raw.logical_id} {raw.hook} ({template_path})"
            try:
                assembly.hooks.append(_decode(stack, raw, template_path, root))
            except InputError as err:
                assembly.errors.append(f"{where}: {err}")
    assembly.hooks.sort(key=lambda hook: hook.key)
    for hook in assembly.hooks:
        assembly.errors.extend(f"{hook.label}: {problem}" for problem in check_manifest(hook))
    return assembly


def _decode(stack: str, raw: RawHook, template: Path, root: Path) -> HookView:
    script, content_length = script_of(raw.content)
    common: dict[str, Any] = {
        "stack": stack,
        "logical_id": raw.logical_id,
        "kind": raw.kind,
        "hook": raw.hook,
        "name": raw.name,
        "template": template,
        "content_length": content_length,
        "script": script,
        "manifest": raw.manifest,
    }
    manifest = raw.manifest
    loader, side = loader_archive(script), side_archive(script)
    if manifest is not None and (DEPLOY_TIME.encode() in script or loader is not None or side is not None):
        # Values filled in at deploy time (an S3 loader's bucket, deploy-time settings) or a bucket and key that
        # only the asset fixed (a split hook's S3 part): the manifest counts them at their longest (also when a
        # stage's account and region make the bucket name a literal).
        length = manifest.get("encodedLength")
        if isinstance(length, int) and content_length <= length <= CONTENT_LIMIT_CHARS:
            common["content_length"] = length
    if loader is not None:
        digest, compression = loader
        files = unpack(find_staged_asset(template.parent, digest, root), compression)
        return HookView(
            bundled=True,
            compression=compression.value,
            encoding=str(manifest.get("encoding", "base64")) if manifest else "base64",
            archive_sha256=digest,
            archive_files=files,
            modules=_modules_of(files),
            **common,
        )
    if b"<<'LCC_PAYLOAD" not in script:
        return HookView(bundled=False, **common)
    try:
        archive, encoding, compression = archive_of(script)
    except (ValueError, binascii.Error) as err:
        raise ReviewError(f"the bundle in Content cannot be read: {err}") from None
    digest = sha256(archive)
    if f'echo "{digest}  $d/a"'.encode() not in script:
        raise ReviewError(
            "the hook's checksum line does not name the sha256 of its archive: on an instance nothing would run."
        )
    files = side_files(script, template.parent, root, unpack(archive, compression))
    return HookView(
        bundled=True,
        compression=compression.value,
        encoding=encoding.value,
        archive_sha256=digest,
        archive_files=files,
        modules=_modules_of(files),
        **common,
    )


def _modules_of(files: Mapping[str, bytes]) -> tuple[ModuleView, ...]:
    modules = []
    for entry in read_plan(dict(files)):
        base = entry.directory
        prefix = f"{base}/files/"
        modules.append(
            ModuleView(
                index=int(entry.index),
                name=entry.name,
                user=entry.user,
                mode=entry.mode,
                budget_seconds=entry.budget_seconds,
                script=files[f"{base}/run"],
                settings=_settings_of(files.get(f"{base}/settings.sh"), entry.name),
                files={p.removeprefix(prefix): d for p, d in sorted(files.items()) if p.startswith(prefix)},
            )
        )
    return tuple(modules)


def _settings_of(settings_sh: bytes | None, module: str) -> dict[str, str]:
    """Parse the ``export KEY=<shell-quoted value>`` lines the bundler writes. The runner sources the file
    with bash, so anything but that exact form (which reads the same to bash and to shlex) is refused."""
    if settings_sh is None:
        return {}
    try:
        words = shlex.split(settings_sh.decode("utf-8"), posix=True)
    except (ValueError, UnicodeDecodeError) as err:
        raise ReviewError(f"module {module!r}: settings.sh cannot be parsed: {err}") from None
    settings: dict[str, str] = {}
    lines = []
    for export, assignment in zip(words[::2], words[1::2], strict=False):
        key, sep, value = assignment.partition("=")
        if export != "export" or not sep or not _SETTING.fullmatch(key) or key in settings:
            raise ReviewError(f"module {module!r}: settings.sh has {export!r} {assignment!r}, not 'export KEY=VALUE'.")
        settings[key] = value
        lines.append(f"export {key}={shlex.quote(value)}")
    if len(words) % 2:
        raise ReviewError(f"module {module!r}: settings.sh ends with a lone {words[-1]!r}.")
    if ("\n".join(lines) + "\n").encode("utf-8") != settings_sh:
        raise ReviewError(
            f"module {module!r}: settings.sh is not in the form the bundler writes (one 'export KEY=quoted "
            "value' per line); bash could read it otherwise than shown."
        )
    return dict(sorted(settings.items()))


# -- the manifest against the content -----------------------------------------------------------------


UNDERIVABLE_KEYS = frozenset({"commentsStripped", "minified", "deployTimeSettings"})
"""Manifest keys about how a module was packed or filled in at deploy time, which the decoded archive cannot
confirm or deny (deploy-time settings are in the hook script, outside the archive)."""


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
