"""Reading a generated lifecycle script back: the archive inside it and the files inside that.

Everything here reads possibly hostile input with fixed bounds (see docs/review.md, "Hostile input"):

- an inline archive comes from a ``Content`` of at most 16384 characters, so it is at most 12288 bytes;
  an S3-asset archive is a staged file of at most :data:`MAX_ASSET_BYTES`;
- decompression is streamed and stops past :data:`MAX_UNPACKED_BYTES` of tar;
- the tar may hold only regular files of mode 0644 or 0755 with plain relative names, each once, at most
  :data:`MAX_MEMBERS` of them;
- ``plan.tsv`` must be exactly what the bundler writes: ``NN<TAB>name<TAB>user<TAB>mode<TAB>budget`` lines,
  indices 01, 02, ... in order, ASCII only, every module name once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import lzma
import os
import re
import stat
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from constructs_lib.bundling.archive import Compression, Encoding, unescape_binary
from constructs_lib.bundling.limits import CONTENT_LIMIT_CHARS, MAX_BACKGROUND_BUDGET_SECONDS
from constructs_lib.bundling.reader import InputError, inside, read_bytes
from constructs_lib.bundling.split import CARRIED_FILE
from constructs_lib.errors import LifecycleConfigError

MAX_UNPACKED_BYTES = 32 * 1024 * 1024
"""The tar inside a hook's archive. Real bundles unpack to 3-110 times their compressed size (measured: the
default app's largest hook, 11 kB -> 29 kB; 400 tiny background modules, 5.7 kB -> 620 kB), so an inline
archive (at most 12288 bytes) unpacks to about 1.4 MB at most; 32 MiB leaves over 20 times that, also for
an S3 asset of carried files, while keeping a reader below ~150 MB of memory. (A crafted 12 kB xz of zeros
would unpack to about 100 MB; a 300 kB one to several GB.)"""
MAX_ASSET_BYTES = 8 * 1024 * 1024
"""A staged S3-asset archive (compressed)."""
MAX_ASSET_FILES = 256
"""``asset.*`` entries of an assembly directory looked at when searching for an archive by its sha256."""
MAX_MEMBERS = 10_000
"""Entries of the tar (a module takes 2-4)."""

_HEREDOC = re.compile(rb"^(?P<cmd>.*)<<'(?P<delim>LCC_PAYLOAD_*)'.*$", re.MULTILINE)
_MEMBER = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")
_PLAN_LINE = re.compile(
    r"(?P<index>[0-9]{2,})\t(?P<name>[a-z0-9][a-z0-9-]{0,47})\t(?P<user>root|notebook-user)"
    r"\t(?P<mode>blocking|background)\t(?P<budget>[0-9]{1,6})"
)


def archive_of(script: bytes) -> tuple[bytes, Encoding, Compression]:
    """The compressed archive inlined in ``script``, with how it was encoded and compressed."""
    match = _HEREDOC.search(script)
    if match is None:
        raise LifecycleConfigError("this lifecycle script carries no bundle (no LCC_PAYLOAD here-document).")
    start = match.end() + 1
    end = script.find(b"\n" + match["delim"] + b"\n", start)
    if end < 0:
        raise LifecycleConfigError("the LCC_PAYLOAD here-document of this lifecycle script has no end.")
    payload = script[start:end]
    if match["cmd"].startswith(b"base64"):
        encoding, archive = Encoding.BASE64, base64.b64decode(payload)
    else:
        encoding, archive = Encoding.ESCAPED_BINARY, unescape_binary(payload)
    compression = Compression.GZIP if b"gzip -dc" in script[end:] else Compression.XZ
    return archive, encoding, compression


_LOADER_SHA = re.compile(rb'^echo "([0-9a-f]{64})  \$d/a"', re.MULTILINE)
_SIDE_SHA = re.compile(rb'^echo "([0-9a-f]{64})  \$d/s"', re.MULTILINE)


def _copied(script: bytes, pattern: re.Pattern[bytes], target: bytes) -> tuple[str, Compression] | None:
    match = pattern.search(script)
    if b"aws s3 cp " not in script or b'"$u" "' + target + b'"' not in script or match is None:
        return None
    compression = Compression.GZIP if b"gzip -dc" in script else Compression.XZ
    return match.group(1).decode("ascii"), compression


def loader_archive(script: bytes) -> tuple[str, Compression] | None:
    """For a loader script (archive kept as an S3 asset): the archive's sha256 and compression."""
    return _copied(script, _LOADER_SHA, b"$d/a")


def side_archive(script: bytes) -> tuple[str, Compression] | None:
    """For a split hook (``ArchiveLocation.SPLIT``: scripts inline, the largest carried files in S3): the S3
    part's sha256 and compression; ``None`` for any other script."""
    return _copied(script, _SIDE_SHA, b"$d/s")


def find_staged_asset(directory: Path, digest: str, root: Path) -> bytes:
    """The staged asset of sha256 ``digest`` next to a template in ``directory``, or at the top of the assembly
    ``root`` (where a stage's assets are staged); :class:`InputError` when it is in neither."""
    data = staged_asset(directory, digest, root)
    if data is None and directory != root:
        data = staged_asset(root, digest, root)
    if data is None:
        raise InputError(f"the archive in S3 (sha256 {digest}) is not among the assets in {directory}.")
    return data


def side_files(script: bytes, directory: Path, root: Path, inline: dict[str, bytes]) -> dict[str, bytes]:
    """``inline`` (the files of a hook's inline archive) with those of its S3 part when it is a split hook,
    found among the staged assets by sha256 (see :func:`with_side_part`)."""
    side = side_archive(script)
    if side is None:
        return inline
    return with_side_part(inline, find_staged_asset(directory, side[0], root), side[1])


def with_side_part(inline: dict[str, bytes], part: bytes, compression: Compression) -> dict[str, bytes]:
    """``inline`` with the files of a split hook's S3 ``part``: unpacked with the same bounds, only modules'
    carried files, none that the inline archive has."""
    files = unpack(part, compression)
    twice = sorted(set(files) & set(inline))
    if twice:
        raise InputError(f"the S3 part also holds {twice[0]!r}, which the inline archive has; refused.")
    if not all(CARRIED_FILE.fullmatch(path) for path in files):
        odd = next(path for path in sorted(files) if not CARRIED_FILE.fullmatch(path))
        raise InputError(f"the S3 part holds {odd!r}, which is not a module's carried file; refused.")
    return {**inline, **files}


def files_of(script: bytes) -> dict[str, bytes]:
    """Every regular file of the bundle inlined in ``script``, by path inside the archive."""
    archive, _, compression = archive_of(script)
    return unpack(archive, compression)


def decompress_bounded(data: bytes, compression: Compression, limit: int = MAX_UNPACKED_BYTES) -> bytes:
    """``data`` decompressed as ``xz -dc`` / ``gzip -dc`` would (concatenated streams included), streamed and
    stopped with an error once the output passes ``limit`` bytes."""
    out = bytearray()
    rest = data
    while True:
        decompressor: lzma.LZMADecompressor | zlib._Decompress = (
            lzma.LZMADecompressor() if compression is Compression.XZ else zlib.decompressobj(wbits=31)
        )
        chunk = rest
        while True:
            try:
                piece = decompressor.decompress(chunk, max_length=1 << 20)
            except (lzma.LZMAError, zlib.error) as err:
                raise InputError(f"the archive does not decompress as {compression.value}: {err}") from None
            out += piece
            if len(out) > limit:
                raise InputError(f"the archive unpacks to more than {limit} bytes; refused (a decompression bomb?).")
            chunk = b"" if isinstance(decompressor, lzma.LZMADecompressor) else decompressor.unconsumed_tail
            if _finished(decompressor) or (not piece and _stalled(decompressor)):
                break
        if not _finished(decompressor):
            raise InputError(f"the archive is truncated: its {compression.value} stream does not end.")
        rest = decompressor.unused_data
        if not rest:
            return bytes(out)


def _finished(decompressor: lzma.LZMADecompressor | zlib._Decompress) -> bool:
    return decompressor.eof


def _stalled(decompressor: lzma.LZMADecompressor | zlib._Decompress) -> bool:
    """No more output can come without more input."""
    if isinstance(decompressor, lzma.LZMADecompressor):
        return decompressor.needs_input
    return not decompressor.unconsumed_tail


def unpack(archive: bytes, compression: Compression) -> dict[str, bytes]:
    """Every regular file of a compressed bundle archive, by path inside it (bounded, see the module doc)."""
    tar_data = decompress_bounded(archive, compression)
    files: dict[str, bytes] = {}
    seen: set[str] = set()
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_data), mode="r:") as tar:
            for count, member in enumerate(tar, start=1):
                if count > MAX_MEMBERS:
                    raise InputError(f"the archive has more than {MAX_MEMBERS} entries; refused.")
                name = member.name
                if not _MEMBER.fullmatch(name) or any(part in (".", "..") for part in name.split("/")):
                    raise InputError(f"the archive has an entry named {name!r}: not a plain relative path; refused.")
                if name in seen:
                    raise InputError(f"the archive has the entry {name!r} twice; refused.")
                seen.add(name)
                # Only what the bundler writes: regular files of mode 0644 or 0755, no directory entries. The
                # hook's tar runs as root and keeps an entry's mode: a directory entry could replace runner.sh
                # or make modules/ world-writable, a file could be setuid; none of that shows in a file's text.
                if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE) or member.issparse():
                    raise InputError(f"the archive entry {name!r} is not a regular file; refused.")
                if member.mode not in (0o644, 0o755):
                    raise InputError(
                        f"the archive entry {name!r} has mode {member.mode:04o}, not 0644 or 0755; refused."
                    )
                if member.size > len(tar_data):
                    raise InputError(f"the archive entry {name!r} claims {member.size} bytes; refused.")
                extracted = tar.extractfile(member)
                data = extracted.read() if extracted is not None else b""
                if len(data) != member.size:
                    raise InputError(f"the archive entry {name!r} is truncated; refused.")
                files[name] = data
    except (tarfile.TarError, EOFError, ValueError, OSError) as err:
        raise InputError(f"the archive is not a valid tar: {err}") from None
    return files


@dataclass(frozen=True)
class PlanEntry:
    """One line of a bundle's plan.tsv."""

    index: str
    name: str
    user: str
    mode: str
    budget_seconds: int

    @property
    def directory(self) -> str:
        return f"modules/{self.index}-{self.name}"


def read_plan(files: dict[str, bytes]) -> list[PlanEntry]:
    """The modules the runner will run, from the bundle's plan.tsv, checked to be exactly what the bundler
    writes (so that what a tool shows is what the runner's ``read``/``awk`` will run)."""
    plan = files.get("plan.tsv")
    if plan is None:
        raise InputError("the bundle has no plan.tsv.")
    try:
        text = plan.decode("ascii")
    except UnicodeDecodeError:
        raise InputError("plan.tsv is not ASCII text.") from None
    if text and not text.endswith("\n"):
        raise InputError("plan.tsv does not end with a line break (the runner would skip its last line).")
    entries: list[PlanEntry] = []
    names: set[str] = set()
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        match = _PLAN_LINE.fullmatch(line)
        if match is None:
            raise InputError(f"plan.tsv line {number} {line!r} is not 'index, name, user, mode, budget'.")
        if match["index"] != f"{number:02d}":
            raise InputError(f"plan.tsv line {number} has index {match['index']!r}, not {number:02d}.")
        name, budget = match["name"], int(match["budget"])
        if name in names:
            raise InputError(f"plan.tsv runs two modules named {name!r}; module names must be unique.")
        if not 1 <= budget <= MAX_BACKGROUND_BUDGET_SECONDS:
            raise InputError(f"plan.tsv line {number}: budget {budget}s is out of range.")
        names.add(name)
        entry = PlanEntry(match["index"], name, match["user"], match["mode"], budget)
        if f"{entry.directory}/run" not in files:
            raise InputError(f"module {name!r} is in plan.tsv but {entry.directory}/run is missing.")
        entries.append(entry)
    return entries


DEPLOY_TIME = "<deploy-time value>"
"""Stands for a reference (bucket, key, region) in a Content that is filled in at deploy time."""


def joined_content(content: object) -> str | None:
    """The script of a Content that is Fn::Base64 of an empty-separator Fn::Join (an S3 loader names its
    bucket that way), each reference shown as ``DEPLOY_TIME``; ``None`` for any other Content."""
    if not (isinstance(content, dict) and list(content) == ["Fn::Base64"]):
        return None
    join = content["Fn::Base64"]
    if not (isinstance(join, dict) and list(join) == ["Fn::Join"]):
        return None
    arguments = join["Fn::Join"]
    if not (isinstance(arguments, list) and len(arguments) == 2 and isinstance(arguments[1], list)):
        raise InputError("Content has an Fn::Join that is not [separator, [parts]].")
    separator, parts = arguments
    if separator != "":
        return None
    return "".join(part if isinstance(part, str) else DEPLOY_TIME for part in parts)


MAX_SCRIPT_BYTES = CONTENT_LIMIT_CHARS // 4 * 3
"""The longest script whose base64 fits in a Content (12288 bytes)."""


def script_of(content: object) -> tuple[bytes, int]:
    """The script of a ``Content`` value and its encoded length: base64 text, ``{"Fn::Base64": text}``, or
    Fn::Base64 of an empty-separator Fn::Join (references shown as ``DEPLOY_TIME``). A script that SageMaker's
    limit would refuse is refused here too, so nothing larger is ever decoded."""
    if isinstance(content, str):
        if len(content) > CONTENT_LIMIT_CHARS:
            raise InputError(
                f"Content is {len(content)} characters, above SageMaker's limit of {CONTENT_LIMIT_CHARS}; refused."
            )
        try:
            return base64.b64decode(content, validate=True), len(content)
        except (binascii.Error, ValueError) as err:
            raise InputError(f"Content is not valid base64: {err}") from None
    if isinstance(content, dict) and list(content) == ["Fn::Base64"] and isinstance(content["Fn::Base64"], str):
        text = content["Fn::Base64"]
    else:
        joined = joined_content(content)
        if joined is None:
            raise InputError("Content is not a literal string, so it cannot be decoded before deployment.")
        text = joined
    if len(text) > MAX_SCRIPT_BYTES:
        raise InputError(
            f"Content is a script of over {MAX_SCRIPT_BYTES} bytes, above SageMaker's limit of "
            f"{CONTENT_LIMIT_CHARS} encoded characters; refused."
        )
    script = text.encode("utf-8")
    length = encoded_length(len(script))
    if length > CONTENT_LIMIT_CHARS:
        raise InputError(
            f"Content is {length} characters after encoding, above SageMaker's limit of {CONTENT_LIMIT_CHARS}; refused."
        )
    return script, length


def encoded_length(size: int) -> int:
    """Characters of the base64 of ``size`` bytes (what AWS counts)."""
    return 4 * ((size + 2) // 3)


def staged_asset(directory: Path, digest: str, root: Path | None = None) -> bytes | None:
    """The content of the asset file staged in a cloud assembly directory whose sha256 is ``digest``.

    Only regular files named ``asset.*`` directly in ``directory`` (inside ``root``), of at most
    :data:`MAX_ASSET_BYTES`, are looked at; links, fifos, devices and larger files are passed over.
    """
    root = root or directory
    inside(directory, root, "assembly")
    candidates = sorted(entry.name for entry in os.scandir(directory) if entry.name.startswith("asset."))
    for name in candidates[:MAX_ASSET_FILES]:
        path = directory / name
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ASSET_BYTES:
            continue
        data = read_bytes(path, root, limit=MAX_ASSET_BYTES, what="asset")
        if hashlib.sha256(data).hexdigest() == digest:
            return data
    return None
