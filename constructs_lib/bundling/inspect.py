"""Reading a generated lifecycle script back: the archive inside it and the files inside that."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tarfile
from pathlib import Path

from constructs_lib.bundling.archive import Compression, Encoding, decompress, unescape_binary
from constructs_lib.errors import LifecycleConfigError

_HEREDOC = re.compile(rb"^(?P<cmd>.*)<<'(?P<delim>LCC_PAYLOAD_*)'.*$", re.MULTILINE)


def archive_of(script: bytes) -> tuple[bytes, Encoding, Compression]:
    """The compressed archive inlined in ``script``, with how it was encoded and compressed."""
    match = _HEREDOC.search(script)
    if match is None:
        raise LifecycleConfigError("this lifecycle script carries no bundle (no LCC_PAYLOAD here-document).")
    start = match.end() + 1
    end = script.index(b"\n" + match["delim"] + b"\n", start)
    payload = script[start:end]
    if match["cmd"].startswith(b"base64"):
        encoding, archive = Encoding.BASE64, base64.b64decode(payload)
    else:
        encoding, archive = Encoding.ESCAPED_BINARY, unescape_binary(payload)
    compression = Compression.GZIP if b"gzip -dc" in script[end:] else Compression.XZ
    return archive, encoding, compression


_LOADER_SHA = re.compile(rb'^echo "([0-9a-f]{64})  \$d/a"', re.MULTILINE)


def loader_archive(script: bytes) -> tuple[str, Compression] | None:
    """For a loader script (archive kept as an S3 asset): the archive's sha256 and compression."""
    match = _LOADER_SHA.search(script)
    if b"aws s3 cp" not in script or match is None:
        return None
    compression = Compression.GZIP if b"gzip -dc" in script else Compression.XZ
    return match.group(1).decode("ascii"), compression


def files_of(script: bytes) -> dict[str, bytes]:
    """Every regular file of the bundle inlined in ``script``, by path inside the archive."""
    archive, _, compression = archive_of(script)
    return unpack(archive, compression)


def unpack(archive: bytes, compression: Compression) -> dict[str, bytes]:
    """Every regular file of a compressed bundle archive, by path inside it."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(decompress(archive, compression)), mode="r:") as tar:
        for member in tar.getmembers():
            if member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None
                files[member.name] = extracted.read()
    return files


DEPLOY_TIME = "<deploy-time value>"
"""Stands for a reference (bucket, key, region) in a Content that is filled in at deploy time."""


def joined_content(content: object) -> str | None:
    """The script of a Content that is Fn::Base64 of an empty-separator Fn::Join (an S3 loader names its
    bucket that way), each reference shown as ``DEPLOY_TIME``; ``None`` for any other Content."""
    if not (isinstance(content, dict) and list(content) == ["Fn::Base64"]):
        return None
    join = content["Fn::Base64"]
    if not (isinstance(join, dict) and list(join) == ["Fn::Join"] and isinstance(join["Fn::Join"], list)):
        return None
    separator, parts = join["Fn::Join"]
    if separator != "" or not isinstance(parts, list):
        return None
    return "".join(part if isinstance(part, str) else DEPLOY_TIME for part in parts)


def staged_asset(directory: Path, digest: str) -> bytes | None:
    """The content of the asset file staged in a cloud assembly directory whose sha256 is ``digest``."""
    for path in sorted(directory.glob("asset.*")):
        if path.is_file():
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() == digest:
                return data
    return None
