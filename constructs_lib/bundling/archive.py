"""Reproducible archives: the same files give the same bytes on any machine, day, umask or mtime."""

from __future__ import annotations

import gzip
import io
import lzma
import tarfile
from collections.abc import Mapping
from enum import Enum

FIXED_MTIME = 946684800
"""2000-01-01T00:00:00Z, the modification time of every archive entry."""


class Compression(Enum):
    """How the bundle's archive is compressed before it is inlined as base64."""

    XZ = "xz"
    """LZMA (``.lzma`` container, smallest header); unpacked with ``xz`` or Python's ``lzma``."""
    GZIP = "gzip"
    """Gzip without name or time in its header; unpacked with ``gzip``, present everywhere."""


class Encoding(Enum):
    """How the compressed archive is inlined in the lifecycle script.

    SageMaker base64-encodes the whole script again, so an inline base64 archive is paid for
    twice. ``ESCAPED_BINARY`` inlines the raw bytes (only NUL and the escape byte are escaped)
    and decodes them with ``sed`` and ``head``: about a third more capacity.
    """

    AUTO = "auto"
    """Base64 when the script fits that way, else escaped binary."""
    BASE64 = "base64"
    ESCAPED_BINARY = "escaped-binary"


_ESC = 0x01


def escape_binary(data: bytes) -> bytes:
    """NUL -> ESC 'N', ESC -> ESC 'E': the bytes bash keeps in a quoted here-document."""
    return data.replace(bytes([_ESC]), bytes([_ESC]) + b"E").replace(b"\x00", bytes([_ESC]) + b"N")


def unescape_binary(data: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(data):
        if data[i] == _ESC:
            out.append(0 if data[i + 1 : i + 2] == b"N" else _ESC)
            i += 2
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def write_archive_command(encoding: Encoding, archive: str, delimiter: str) -> str:
    """The shell command that reads the here-document and writes the compressed archive."""
    if encoding is Encoding.BASE64:
        return f"base64 -d >\"{archive}\" <<'{delimiter}'"
    return f"LC_ALL=C sed 's/\\x01N/\\x00/g;s/\\x01E/\\x01/g' <<'{delimiter}' | head -c -1 >\"{archive}\""


class ArchiveLocation(Enum):
    """Where the hook's archive of modules lives."""

    INLINE = "inline"
    """In the lifecycle script itself (the default; fails synth above the size limit)."""
    S3_ASSET = "s3-asset"
    """A CDK asset in the bootstrap bucket, fetched and verified by a small loader script; the
    instance's role may read that one object and the instance needs a route to S3."""
    AUTO = "auto"
    """Inline while the script fits the limit; else inline with the modules' largest carried files in an
    S3 asset (``SPLIT``) while that fits; else an S3 asset. Synth says which."""
    SPLIT = "split"
    """Chosen by ``AUTO`` only (a notebook hook whose scripts fit inline but not with their carried files):
    the runner, the plan and every module's script and settings inline; the largest carried files (for
    example the auto-stop program) in a small S3 asset that the hook copies and checks by sha256 before the
    runner starts. Without S3 the modules whose files are there are skipped, said in the log; the others
    run."""


BUCKET_PLACEHOLDER = "@BUCKET@"
KEY_PLACEHOLDER = "@KEY@"
REGION_PLACEHOLDER = "@REGION@"
MAX_REGION_CHARS = 20
MAX_BUCKET_CHARS = 63
MAX_KEY_CHARS = 128
SIDE_BUCKET_PLACEHOLDER = "@SIDE_BUCKET@"
SIDE_KEY_PLACEHOLDER = "@SIDE_KEY@"
"""Upper bounds for the asset's bucket name and object key, which are known only at deploy time."""


def tar_bytes(files: Mapping[str, tuple[bytes, int]]) -> bytes:
    """A tar of ``files`` (path -> (data, mode)) with sorted entries, root owner and fixed mtime.

    No directory entries: ``tar -x`` creates the parents, 0755 under the ``umask 022`` that the hook and the
    loader set before unpacking (a directory entry costs a 512-byte header in the archive).
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for path, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.mtime = FIXED_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = mode
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def compress(data: bytes, compression: Compression) -> bytes:
    """Compress deterministically (no name or time stored)."""
    if compression is Compression.XZ:
        # Preset 9e, but a 1 MiB dictionary: archives are far smaller, and the instance then needs
        # 1 MiB rather than 64 MiB to unpack (the dictionary size is written in the header). pb=0 suits
        # text (no 2-, 4- or 8-byte alignment to model).
        lzma_filter = {"id": lzma.FILTER_LZMA1, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": 1 << 20, "pb": 0}
        return lzma.compress(data, format=lzma.FORMAT_ALONE, filters=[lzma_filter])
    return gzip.compress(data, compresslevel=9, mtime=0)


def decompress(data: bytes, compression: Compression) -> bytes:
    if compression is Compression.XZ:
        return lzma.decompress(data)
    return gzip.decompress(data)


def unpack_command(compression: Compression, archive: str) -> str:
    """The shell pipeline head that writes the decompressed archive to stdout on the instance."""
    if compression is Compression.GZIP:
        return f'gzip -dc "{archive}"'
    fallback = "import lzma,sys;sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())"
    return f'{{ if command -v xz >/dev/null; then xz -dc "{archive}"; else python3 -c "{fallback}" "{archive}"; fi; }}'
