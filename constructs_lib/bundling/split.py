"""The S3 part of a split notebook hook (``ArchiveLocation.SPLIT``): the modules' largest carried files.

A hook whose scripts fit inline but not with their carried files (the auto-stop program is 17 kB) keeps the
runner, the plan and every module's script and settings inline, and those files in a small archive that is a
CDK asset. The hook copies it from the bootstrap bucket of the instance's own account and region (read from
``/opt/ml/metadata/resource-metadata.json`` on the instance, so that no deploy-time value enters the script
and the inline archive can stay escaped binary), checks its sha256 and unpacks it over the bundle. Without
it, only the modules whose files are there are taken out of the plan.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from constructs_lib.bundling.archive import (
    MAX_BUCKET_CHARS,
    MAX_KEY_CHARS,
    SIDE_BUCKET_PLACEHOLDER,
    SIDE_KEY_PLACEHOLDER,
    Compression,
    compress,
    tar_bytes,
    unpack_command,
)
from constructs_lib.bundling.runner_text import runner_file

CARRIED_FILE = re.compile(r"modules/[0-9]{2,}-(?P<name>[a-z0-9][a-z0-9-]{0,47})/files/.+")
"""A module's carried file inside the bundle: what may move to the S3 part."""
SIDE_TEMPLATE = "side.sh.in"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_SUBSTITUTED_BUCKET = re.compile(r"(?P<prefix>[a-z0-9][a-z0-9.-]*-)\$\{AWS::AccountId\}-\$\{AWS::Region\}")
_KEY = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")


@dataclass(frozen=True)
class SidePart:
    """The carried files of a split hook that live in S3: ``files`` (path -> (data, mode)), their compressed
    ``archive``, and the ``modules`` (names) that need them."""

    files: Mapping[str, tuple[bytes, int]]
    archive: bytes
    modules: tuple[str, ...]

    @classmethod
    def of(cls, files: Mapping[str, tuple[bytes, int]], compression: Compression) -> SidePart:
        names = set()
        for path in files:
            match = CARRIED_FILE.fullmatch(path)
            if match is None:
                raise ValueError(f"{path!r} is not a module's carried file")
            names.add(match["name"])
        return cls(dict(files), compress(tar_bytes(files), compression), tuple(sorted(names)))

    @property
    def extra_bytes(self) -> int:
        """How much longer the script can get once the bucket and key are filled in, at their longest."""
        return MAX_BUCKET_CHARS - len(SIDE_BUCKET_PLACEHOLDER) + MAX_KEY_CHARS - len(SIDE_KEY_PLACEHOLDER)

    def block(self, compression: Compression) -> str:
        """The hook's lines that copy, check and unpack this part (bucket and key still placeholders)."""
        template = runner_file(SIDE_TEMPLATE)
        lines = [line for line in template.splitlines() if not line.startswith("#")]
        # The name field only (a module may be called "root" or "blocking", words of the other fields).
        removals = " ".join(f"-e '/^[0-9]*\\t{name}\\t/d'" for name in self.modules)
        text = "\n".join(lines)
        for key, value in {
            "@SIDE_SHA256@": hashlib.sha256(self.archive).hexdigest(),
            "@SIDE_DECOMPRESS@": unpack_command(compression, "$d/s"),
            "@SKIPPED@": ", ".join(self.modules),
            "@SED@": removals,
        }.items():
            text = text.replace(key, value)
        return text


def bucket_expression(resolved: object) -> str | None:
    """The bucket of an asset as the hook computes it on the instance: the name itself when it is a literal,
    ``<prefix>${c}-${r}`` (account and region read at run time) for the default synthesizer's
    ``Fn::Sub`` of ``<prefix>${AWS::AccountId}-${AWS::Region}``; ``None`` for anything else (a bucket that
    only CloudFormation can name: the hook then becomes a loader of the whole archive)."""
    if isinstance(resolved, str):
        return resolved if _BUCKET.fullmatch(resolved) else None
    if isinstance(resolved, dict) and list(resolved) == ["Fn::Sub"] and isinstance(resolved["Fn::Sub"], str):
        match = _SUBSTITUTED_BUCKET.fullmatch(resolved["Fn::Sub"])
        if match is not None and len(match["prefix"]) + 12 + 1 + 20 <= MAX_BUCKET_CHARS:
            return match["prefix"] + "${c}-${r}"
    return None


def filled(script: bytes, bucket: str, key: str) -> bytes:
    """``script`` with the S3 part's bucket (from :func:`bucket_expression`) and object key filled in."""
    if len(key) > MAX_KEY_CHARS or not _KEY.fullmatch(key):
        raise ValueError(f"asset key {key!r} is not plain")
    return script.replace(SIDE_BUCKET_PLACEHOLDER.encode(), bucket.encode()).replace(
        SIDE_KEY_PLACEHOLDER.encode(), key.encode()
    )
