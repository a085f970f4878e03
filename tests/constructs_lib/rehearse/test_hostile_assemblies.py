"""The rehearsal CLI on hostile assemblies (the defects of the review tool's tests, on the default app's
real assembly): each ends before anything runs, in one line on stderr, exit status 2, no traceback, within
1 GiB of address space and 60 seconds; a bug is one line and status 3."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App, Stack

from constructs_lib import ArchiveLocation, Module, NotebookLifecycleConfig
from constructs_lib.rehearse import cli
from tests.constructs_lib.review.hostile import DEFECTS, copy, loader_with_asset, run_tool, xz_bomb

REHEARSE = "constructs_lib.rehearse"


def assert_refused(code: int, err: str, *needles: str) -> None:
    assert code == 2, err[-2000:]
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.startswith("rehearse: "), err
    for needle in needles:
        assert needle in err


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_a_hostile_assembly_is_refused_before_anything_runs(
    defect: str, default_assembly: Path, tmp_path: Path
) -> None:
    hostile = copy(default_assembly, tmp_path / "cdk.out")
    DEFECTS[defect](hostile)
    stack = "SageMakerNotebooks" if defect.startswith("S3 part") else "SageMakerStudio"  # where the defect is
    run = run_tool(REHEARSE, hostile, "--stack", stack, "--mode", "one-uid")
    assert_refused(run.code, run.err)
    assert run.out == ""


def test_two_modules_with_one_name_are_refused(default_assembly: Path, tmp_path: Path) -> None:
    hostile = copy(default_assembly, tmp_path / "cdk.out")
    DEFECTS["two modules with one name"](hostile)
    run = run_tool(REHEARSE, hostile, "--stack", "SageMakerStudio")
    assert_refused(run.code, run.err, "runs two modules named", "module names must be unique")


def test_an_s3_asset_xz_bomb_is_refused(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path / "cdk.out"))
    NotebookLifecycleConfig(
        Stack(app, "Big"),
        "Lifecycle",
        on_start=[Module(name="big", script="#!/bin/bash\necho big\n")],
        archive_location=ArchiveLocation.S3_ASSET,
    )
    app.synth()
    loader_with_asset(tmp_path / "cdk.out", xz_bomb(19 * (64 << 20)))
    run = run_tool(REHEARSE, tmp_path / "cdk.out")
    assert_refused(run.code, run.err, "unpacks to more than 33554432 bytes")


def test_an_internal_error_is_one_line_and_status_3(
    default_assembly: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "find_hooks", broken)
    monkeypatch.delenv("LCC_DEBUG", raising=False)
    assert cli.main([str(default_assembly)]) == 3
    assert capsys.readouterr().err == "rehearse: internal error: ZeroDivisionError: a bug\n"
