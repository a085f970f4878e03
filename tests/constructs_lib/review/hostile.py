"""Hostile cloud assemblies, each a copy of a real synthesized one with one defect, and a way to run a
reading tool on one as a subprocess with bounded memory and time."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import lzma
import os
import resource
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs_lib.bundling.archive import Compression, Encoding, compress, escape_binary, tar_bytes
from constructs_lib.bundling.inspect import archive_of, unpack

REPO = Path(__file__).resolve().parents[3]
MEMORY_LIMIT = 1 << 30
"""Address space of a tool run on hostile input (RLIMIT_AS)."""
TIME_LIMIT = 60
STUDIO_STACK = "SageMakerStudio.template.json"
NOTEBOOK_STACK = "SageMakerNotebooks.template.json"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_tool(module: str, *argv: str | Path, env: dict[str, str] | None = None) -> Run:
    """``python -m module argv...`` with at most 1 GiB of address space and 60 seconds."""
    result = subprocess.run(
        [sys.executable, "-m", module, *map(str, argv)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        preexec_fn=_limits,
        env={**os.environ, **(env or {})},
    )
    return Run(result.returncode, result.stdout, result.stderr)


def copy(assembly: Path, target: Path) -> Path:
    shutil.copytree(assembly, target, symlinks=True)
    return target


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def save(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=1))


def lifecycle_resource(template: dict[str, Any], type_suffix: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for _, r in sorted(template["Resources"].items()) if r["Type"].endswith(type_suffix))
    return found


def studio_hook(assembly: Path) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """(template, the first Studio config resource, its decoded script)."""
    template = load(assembly / STUDIO_STACK)
    config = lifecycle_resource(template, "StudioLifecycleConfig")
    return template, config, base64.b64decode(config["Properties"]["StudioLifecycleConfigContent"])


def with_script(script: bytes, archive: bytes) -> bytes:
    """``script`` (an inline bundle) carrying ``archive`` instead of its own, checksum line updated."""
    old, encoding, _ = archive_of(script)
    encode = base64.b64encode if encoding is Encoding.BASE64 else escape_binary
    old_sha, new_sha = hashlib.sha256(old).hexdigest(), hashlib.sha256(archive).hexdigest()
    return script.replace(encode(old), encode(archive)).replace(old_sha.encode(), new_sha.encode())


def retar(members: list[tarfile.TarInfo], data: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info in members:
            tar.addfile(info, io.BytesIO(data[info.name]) if info.name in data else None)
    return buffer.getvalue()


def rebundle_studio(assembly: Path, change: Callable[[dict[str, bytes]], bytes | dict[str, bytes]]) -> None:
    """Replace the Studio hook's archive by one built from ``change(files)``: new files, or a raw tar."""
    template, config, script = studio_hook(assembly)
    archive, _, compression = archive_of(script)
    files = unpack(archive, compression)
    changed = change(files)
    raw = changed if isinstance(changed, bytes) else tar_bytes({p: (d, 0o755) for p, d in changed.items()})
    new = with_script(script, compress(raw, compression))
    config["Properties"]["StudioLifecycleConfigContent"] = base64.b64encode(new).decode()
    save(assembly / STUDIO_STACK, template)


def xz_bomb(unpacked: int, stream: int = 64 << 20) -> bytes:
    """Concatenated .xz streams of zeros (valid for ``xz -dc``) that unpack to ``unpacked`` bytes."""
    compressor = lzma.LZMACompressor(format=lzma.FORMAT_XZ, preset=0)
    chunk = bytes(1 << 20)
    one = b"".join(compressor.compress(chunk) for _ in range(stream >> 20)) + compressor.flush()
    return one * (unpacked // stream)


def lzma_zeros(size: int) -> bytes:
    """A .lzma stream (the bundler's format) of ``size`` zero bytes."""
    compressor = lzma.LZMACompressor(format=lzma.FORMAT_ALONE, preset=0)
    chunk = bytes(1 << 20)
    return b"".join(compressor.compress(chunk) for _ in range(size >> 20)) + compressor.flush()


def loader_with_asset(assembly: Path, data: bytes) -> None:
    """The S3-loader hook of ``assembly`` pointing at a staged asset holding ``data``."""
    (asset,) = assembly.glob("asset.*")
    template_path = next(assembly.glob("*.template.json"))
    text = template_path.read_text()
    old_sha = hashlib.sha256(asset.read_bytes()).hexdigest()
    asset.write_bytes(data)
    template_path.write_text(text.replace(old_sha, hashlib.sha256(data).hexdigest()))


def gzip_of(data: bytes) -> bytes:
    return compress(data, Compression.GZIP)


# -- the defects ---------------------------------------------------------------------------------------


def _studio(assembly: Path, change: Callable[[dict[str, Any]], None]) -> None:
    template = load(assembly / STUDIO_STACK)
    change(lifecycle_resource(template, "StudioLifecycleConfig"))
    save(assembly / STUDIO_STACK, template)


def _manifest(assembly: Path, change: Callable[[dict[str, Any]], None]) -> None:
    manifest = load(assembly / "manifest.json")
    change(manifest)
    save(assembly / "manifest.json", manifest)


def _template_file(name: str) -> Callable[[Path], None]:
    def change(assembly: Path) -> None:
        _manifest(assembly, lambda m: m["artifacts"]["SageMakerStudio"]["properties"].update(templateFile=name))

    return change


def _plan(change: Callable[[list[str]], list[str]]) -> Callable[[Path], None]:
    """Rewrite the Studio hook's plan.tsv lines (and add any module directory a new line names)."""

    def rebuild(files: dict[str, bytes]) -> dict[str, bytes]:
        lines = change(files["plan.tsv"].decode().splitlines())
        files["plan.tsv"] = ("\n".join(lines) + "\n").encode()
        for line in lines:
            index, name = line.split("\t")[:2]
            if index.isascii():
                files.setdefault(f"modules/{index}-{name}/run", b"#!/bin/bash\nid\n")
        return files

    return lambda assembly: rebundle_studio(assembly, rebuild)


def _raw_tar(extra: tarfile.TarInfo) -> Callable[[Path], None]:
    def rebuild(files: dict[str, bytes]) -> bytes:
        members = []
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            members.append(info)
        return retar([*members, extra], files)

    return lambda assembly: rebundle_studio(assembly, rebuild)


def _symlink_member() -> tarfile.TarInfo:
    info = tarfile.TarInfo("modules/01-escape")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc"
    return info


def _absolute_member() -> tarfile.TarInfo:
    info = tarfile.TarInfo("/etc/cron.d/evil")
    return info


def _fifo_template(assembly: Path) -> None:
    os.mkfifo(assembly / "evil.template.json")
    _template_file("evil.template.json")(assembly)


def _link_to_dev_zero(assembly: Path) -> None:
    (assembly / "zero.template.json").symlink_to("/dev/zero")
    _template_file("zero.template.json")(assembly)


def _outside(assembly: Path) -> None:
    shutil.copy(assembly / STUDIO_STACK, assembly.parent / "outside.template.json")
    _template_file("../outside.template.json")(assembly)


def _duplicate_keys(assembly: Path) -> None:
    path = assembly / STUDIO_STACK
    text = path.read_text()
    path.write_text(text.replace('"Resources": {', '"Resources": {}, "Resources": {', 1))


def _oversized_template(assembly: Path) -> None:
    path = assembly / STUDIO_STACK
    path.write_text(path.read_text() + " " * (2 << 20))


def _nested_outside(assembly: Path) -> None:
    """A stage whose directory is a (valid) assembly beside this one, not inside it."""
    shutil.copytree(assembly, assembly.parent / "elsewhere")
    stage = {"type": "cdk:cloud-assembly", "properties": {"directoryName": "../elsewhere", "displayName": "Up"}}
    _manifest(assembly, lambda m: m["artifacts"].update(Up=stage))


def _deep_metadata(assembly: Path) -> None:
    nested: list[Any] = []
    for _ in range(100):
        nested = [nested]
    _studio(assembly, lambda r: r["Metadata"].update(Deep=nested))


def _inline_bomb(assembly: Path) -> None:
    template, config, script = studio_hook(assembly)
    new = with_script(script, lzma_zeros(40 << 20))
    config["Properties"]["StudioLifecycleConfigContent"] = base64.b64encode(new).decode()
    save(assembly / STUDIO_STACK, template)


def _rename_first(name: str) -> Callable[[Path], None]:
    def change(assembly: Path) -> None:
        template = load(assembly / STUDIO_STACK)
        logical_id = next(k for k, r in template["Resources"].items() if r["Type"].endswith("StudioLifecycleConfig"))
        template["Resources"][name] = template["Resources"].pop(logical_id)
        save(assembly / STUDIO_STACK, template)

    return change


def _s3_part(data: Callable[[], bytes] | None) -> Callable[[Path], None]:
    """The default notebook's split hook (scripts inline, the auto-stop program in S3) with its staged S3 part
    replaced by ``data()`` (None: removed), the hook's checksum line naming the new part."""

    def change(assembly: Path) -> None:
        template = load(assembly / NOTEBOOK_STACK)
        config = lifecycle_resource(template, "NotebookInstanceLifecycleConfig")
        old = config["Metadata"]["LifecycleBundle"]["OnStart"]["s3Part"]["archiveSha256"]
        (asset,) = [p for p in assembly.glob("asset.*") if p.is_file() and sha256_of(p.read_bytes()) == old]
        if data is None:
            asset.unlink()
            return
        new = data()
        asset.write_bytes(new)
        hook = config["Properties"]["OnStart"][0]
        script = base64.b64decode(hook["Content"]).replace(old.encode(), sha256_of(new).encode())
        hook["Content"] = base64.b64encode(script).decode()
        save(assembly / NOTEBOOK_STACK, template)

    return change


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _xz_tar(files: dict[str, bytes]) -> Callable[[], bytes]:
    return lambda: compress(tar_bytes({path: (data, 0o644) for path, data in files.items()}), Compression.XZ)


def _s3_part_retarred(mode: int, *directories: tuple[str, int]) -> Callable[[Path], None]:
    """The default split hook's S3 part with its own files (so the manifest still agrees) at ``mode``, after
    the ``directories`` entries (name, mode)."""

    def change(assembly: Path) -> None:
        template = load(assembly / NOTEBOOK_STACK)
        config = lifecycle_resource(template, "NotebookInstanceLifecycleConfig")
        old = config["Metadata"]["LifecycleBundle"]["OnStart"]["s3Part"]["archiveSha256"]
        (asset,) = [p for p in assembly.glob("asset.*") if p.is_file() and sha256_of(p.read_bytes()) == old]
        files = unpack(asset.read_bytes(), Compression.XZ)
        infos = []
        for name, dir_mode in directories:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, dir_mode
            infos.append(info)
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(files[name]), mode
            infos.append(info)
        _s3_part(lambda: compress(retar(infos, files), Compression.XZ))(assembly)

    return change


DEFECTS: dict[str, Callable[[Path], None]] = {
    "deeply nested JSON": lambda a: (a / STUDIO_STACK).write_text("[" * 200_000 + "]" * 200_000),
    "JSON nested 100 deep in Metadata": _deep_metadata,
    "duplicate JSON keys": _duplicate_keys,
    "template above 1 MiB": _oversized_template,
    "Properties as a list": lambda a: _studio(a, lambda r: r.update(Properties=[r["Properties"]])),
    "Resources as a list": lambda a: save(a / STUDIO_STACK, {"Resources": [1, 2]}),
    "Fn::Join of one argument": lambda a: _studio(
        a, lambda r: r["Properties"].update(StudioLifecycleConfigContent={"Fn::Base64": {"Fn::Join": [""]}})
    ),
    "Fn::Join parts not a list": lambda a: _studio(
        a, lambda r: r["Properties"].update(StudioLifecycleConfigContent={"Fn::Base64": {"Fn::Join": ["", "x"]}})
    ),
    "Content above 16384 characters": lambda a: _studio(
        a,
        lambda r: r["Properties"].update(StudioLifecycleConfigContent=base64.b64encode(b"#" * 13_000).decode()),
    ),
    "unknown Studio app type": lambda a: _studio(
        a, lambda r: r["Properties"].update(StudioLifecycleConfigAppType="Jupyter\x1b[2J")
    ),
    "logical ID with a terminal escape": _rename_first("Lab\x1b]0;owned\x07"),
    "artifacts as a list": lambda a: _manifest(a, lambda m: m.update(artifacts=[])),
    "templateFile naming a fifo": _fifo_template,
    "templateFile /dev/zero": _template_file("/dev/zero"),
    "templateFile a link to /dev/zero": _link_to_dev_zero,
    "templateFile outside the assembly": _outside,
    "stage directory outside the assembly": _nested_outside,
    "Arabic-Indic digit in a plan index": _plan(lambda lines: ["\u0660" + lines[0][1:], *lines[1:]]),
    "superscript digit in a plan index": _plan(lambda lines: ["0\u00b2" + lines[0][2:], *lines[1:]]),
    "two modules with one name": _plan(
        lambda lines: [*lines, f"{len(lines) + 1:02d}\t{lines[0].split(chr(9))[1]}\troot\tblocking\t30"]
    ),
    "plan line split by a vertical tab": _plan(lambda lines: [lines[0] + "\x0b02\tx\troot\tblocking\t1"]),
    "tar member that is a symlink": _raw_tar(_symlink_member()),
    "tar member with an absolute path": _raw_tar(_absolute_member()),
    "inline xz bomb (40 MiB of zeros)": _inline_bomb,
    "S3 part of a split hook missing": _s3_part(None),
    "S3 part holding a script the inline archive has": _s3_part(_xz_tar({"modules/07-idle-autostop/run": b"id\n"})),
    "S3 part holding a file outside the modules": _s3_part(_xz_tar({"hook.sh": b"#!/bin/bash\nid\n"})),
    "S3 part not compressed": _s3_part(lambda: b"just text"),
    # GNU tar run as root, as the hook is, replaces runner.sh by the directory and gives modules/ mode 0777.
    "S3 part with a directory over the runner": _s3_part_retarred(0o644, ("runner.sh", 0o755)),
    "S3 part with a world-writable directory": _s3_part_retarred(0o644, ("modules", 0o777)),
    "S3 part with world-writable setuid files": _s3_part_retarred(0o6777),
}
