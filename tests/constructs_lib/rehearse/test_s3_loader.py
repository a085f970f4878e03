"""A hook whose archive is an S3 asset is rehearsed with the staged asset in place of the copy from S3."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import App, Stack

from constructs_lib import ArchiveLocation, Module, NotebookLifecycleConfig, RunAs
from constructs_lib.rehearse.assembly import find_hooks
from constructs_lib.rehearse.cli import main


def test_s3_loader_hook_is_rehearsed_with_its_staged_archive(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path / "out"))
    NotebookLifecycleConfig(
        Stack(app, "Loader"),
        "Lifecycle",
        on_start=[Module(name="hello", script="#!/bin/bash\necho hello from s3\n", user=RunAs.NOTEBOOK_USER)],
        archive_location=ArchiveLocation.S3_ASSET,
    )
    app.synth()
    (hook,) = find_hooks(tmp_path / "out")
    assert b"aws s3 cp" not in hook.script and b"sha256sum -c" in hook.script
    assert [m.name for m in hook.modules] == ["hello"]
    report = tmp_path / "report.json"
    assert main([str(tmp_path / "out"), "--json", str(report)]) == 0
    text = report.read_text()
    assert "hello from s3" in text
    assert json.loads(text)
