"""The review tool on the default app's real assembly and on an S3-asset (loader) bundle."""

from __future__ import annotations

import random
from pathlib import Path

from aws_cdk import App, Stack

from constructs_lib import ArchiveLocation, Module, NotebookLifecycleConfig
from constructs_lib.review.assembly import load_assembly
from constructs_lib.review.cli import main


def test_default_app_assembly_lists_without_errors(default_assembly: Path, capsys: object) -> None:
    assembly = load_assembly(default_assembly)
    assert assembly.errors == []
    hooks = {(h.stack, h.hook) for h in assembly.hooks}
    assert ("SageMakerNotebooks", "OnStart") in hooks and ("SageMakerStudio", "JupyterLab") in hooks
    assert main(["list", str(default_assembly)]) == 0


def s3_app(out: Path, text: str) -> None:
    rng = random.Random(5)
    noise = "".join(rng.choice("abcdefghij0123456789") for _ in range(30_000))
    app = App(outdir=str(out))
    stack = Stack(app, "Big")
    NotebookLifecycleConfig(
        stack,
        "Lifecycle",
        on_start=[Module(name="big", script=f"#!/bin/bash\n: '{noise}'\n{text}\n")],
        archive_location=ArchiveLocation.S3_ASSET,
    )
    app.synth()


def test_loader_bundles_are_read_from_the_staged_asset(tmp_path: Path, capsys: object) -> None:
    s3_app(tmp_path / "base", "echo one")
    s3_app(tmp_path / "head", "echo two")
    base = load_assembly(tmp_path / "base")
    assert base.errors == []
    (hook,) = base.hooks
    assert [m.name for m in hook.modules] == ["big"]
    assert main(["diff", str(tmp_path / "base"), str(tmp_path / "head"), "--fail-on-change"]) == 1
    output = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "-echo one" in output and "+echo two" in output


def test_a_missing_asset_is_an_input_error(tmp_path: Path) -> None:
    s3_app(tmp_path / "out", "echo one")
    for asset in (tmp_path / "out").glob("asset.*"):
        asset.unlink()
    assert main(["list", str(tmp_path / "out")]) == 2
