"""The readable manifest of a bundled hook, for the lifecycle config's ``Metadata`` (what reviewers read)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from constructs_lib.bundling import deploy_time
from constructs_lib.bundling.limits import CONTENT_LIMIT_CHARS
from constructs_lib.bundling.module import Mode

if TYPE_CHECKING:
    from constructs_lib.bundling.bundle import LifecycleBundle


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_of(bundle: LifecycleBundle) -> dict[str, Any]:
    """What is in ``bundle``: each module (user, mode, budget, size, sha256, settings, files), where the
    archive lives and its sha256 (and its S3 part's, for a split hook), the encoded length and the limit."""
    modules = []
    for module in bundle.modules:
        entry: dict[str, Any] = {
            "name": module.name,
            "user": module.user.value,
            "mode": module.mode.value,
            "budgetSeconds": module.budget_seconds,
            "scriptBytes": len(module.packed_script.encode("utf-8")),
            "sha256": _sha256(module.packed_script.encode("utf-8")),
        }
        if module.comments_stripped:
            entry["commentsStripped"] = True
        if module.minified:
            entry["minified"] = module.minified
        if module.literal_settings:
            entry["settings"] = module.literal_settings
        if module.deploy_time_settings:
            entry["deployTimeSettings"] = [
                {
                    "name": key,
                    "token": True,
                    "maxLength": longest,
                    "reference": deploy_time.reference_text(module.settings[key]),
                }
                for key, longest in module.deploy_time_settings.items()
            ]
        if module.files:
            entry["files"] = [
                {"path": rel, "bytes": len(data), "sha256": _sha256(data)} for rel, data in module.carried_files.items()
            ]
        modules.append(entry)
    return {
        "hook": bundle.hook,
        "target": bundle.target.value,
        "compression": bundle.compression.value,
        "encoding": bundle.encoding.value,
        "archiveLocation": bundle.archive_location.value,
        **(
            {"archiveLocationRequested": bundle.requested_archive_location.value}
            if bundle.requested_archive_location is not bundle.archive_location
            else {}
        ),
        "encodedLength": bundle.encoded_length,
        "limit": CONTENT_LIMIT_CHARS,
        "archiveSha256": _sha256(bundle.archive),
        **(
            {
                "s3Part": {
                    "archiveSha256": _sha256(bundle.side.archive),
                    "archiveBytes": len(bundle.side.archive),
                    "files": sorted(bundle.side.files),
                    "modules": list(bundle.side.modules),
                }
            }
            if bundle.side is not None
            else {}
        ),
        "blockingBudgetSeconds": sum(m.budget_seconds for m in bundle.modules if m.mode is Mode.BLOCKING),
        "modules": modules,
    }
