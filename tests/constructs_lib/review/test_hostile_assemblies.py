"""The review tool on hostile assemblies: each is a copy of the default app's real assembly with one
defect, read by the CLI in a subprocess with 1 GiB of address space and 60 seconds. Each must end in
exactly one line on stderr, exit status 2 and no traceback; a bug is one line and status 3."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from aws_cdk import App, Stack

from constructs_lib import ArchiveLocation, Module, NotebookLifecycleConfig
from constructs_lib.review import cli
from tests.constructs_lib.review.hostile import (
    DEFECTS,
    copy,
    gzip_of,
    loader_with_asset,
    run_tool,
    studio_hook,
    xz_bomb,
)

REVIEW = "constructs_lib.review"


def assert_refused(run: object, *needles: str) -> None:
    code, out, err = run.code, run.out, run.err  # type: ignore[attr-defined]
    assert code == 2, (code, out[-2000:], err[-2000:])
    assert "Traceback" not in err and "Traceback" not in out
    assert len(err.splitlines()) == 1 and err.endswith("\n"), err
    for needle in needles:
        assert needle in err


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_a_hostile_assembly_is_refused_in_one_line(defect: str, default_assembly: Path, tmp_path: Path) -> None:
    hostile = copy(default_assembly, tmp_path / "cdk.out")
    DEFECTS[defect](hostile)
    assert_refused(run_tool(REVIEW, "list", hostile))
    diff = run_tool(REVIEW, "diff", default_assembly, hostile, "--fail-on-change")
    assert_refused(diff)


def test_two_modules_with_one_name_are_not_shown_as_unchanged(default_assembly: Path, tmp_path: Path) -> None:
    hostile = copy(default_assembly, tmp_path / "cdk.out")
    DEFECTS["two modules with one name"](hostile)
    diff = run_tool(REVIEW, "diff", default_assembly, hostile)
    assert_refused(diff, "runs two modules named", "module names must be unique")


def test_errors_name_what_is_wrong(default_assembly: Path, tmp_path: Path) -> None:
    expected = {
        "templateFile naming a fifo": "not a regular file; refused.",
        "templateFile /dev/zero": "lies outside the assembly directory",
        "templateFile a link to /dev/zero": "lies outside the assembly directory",
        "deeply nested JSON": "nested deeper than 64 levels",
        "Fn::Join of one argument": "Fn::Join that is not [separator, [parts]]",
        "superscript digit in a plan index": "plan.tsv is not ASCII text.",
        "inline xz bomb (40 MiB of zeros)": "unpacks to more than 33554432 bytes",
        "logical ID with a terminal escape": "logical ID 'Lab\\x1b]0;owned\\x07' is not 1-255 letters and digits",
        "S3 part of a split hook missing": "the archive in S3 (sha256 ",
        "S3 part holding a script the inline archive has": (
            "'modules/07-idle-autostop/run', which the inline archive has"
        ),
        "S3 part holding a file outside the modules": "'hook.sh', which is not a module's carried file",
    }
    for number, (defect, needle) in enumerate(sorted(expected.items())):
        hostile = copy(default_assembly, tmp_path / f"cdk{number}.out")
        DEFECTS[defect](hostile)
        assert_refused(run_tool(REVIEW, "list", hostile), needle)


def s3_app(out: Path) -> Path:
    app = App(outdir=str(out))
    NotebookLifecycleConfig(
        Stack(app, "Big"),
        "Lifecycle",
        on_start=[Module(name="big", script="#!/bin/bash\necho big\n")],
        archive_location=ArchiveLocation.S3_ASSET,
    )
    app.synth()
    return out


@pytest.fixture(scope="module")
def s3_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return s3_app(tmp_path_factory.mktemp("s3") / "cdk.out")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """About 180 kB of concatenated xz streams that unpack to 1.2 GiB of zeros (more than the tool may map)."""
    return xz_bomb(19 * (64 << 20))


def test_an_s3_asset_xz_bomb_is_refused_within_bounded_memory(s3_assembly: Path, bomb: bytes, tmp_path: Path) -> None:
    assert len(bomb) < 400_000
    hostile = copy(s3_assembly, tmp_path / "cdk.out")
    loader_with_asset(hostile, bomb)
    assert_refused(run_tool(REVIEW, "list", hostile), "unpacks to more than 33554432 bytes; refused")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("truncated", lambda: b"\x5d\x00\x00\x10\x00" + b"\xff" * 8 + b"\x00" * 20),
        ("not compressed", lambda: b"just text"),
        ("gzip where xz is declared", lambda: gzip_of(b"x" * 100)),
        ("a device-sized asset", lambda: b"\x00" * (9 << 20)),
    ],
)
def test_broken_s3_assets_are_refused(s3_assembly: Path, tmp_path: Path, name: str, data: Callable[[], bytes]) -> None:
    hostile = copy(s3_assembly, tmp_path / "cdk.out")
    loader_with_asset(hostile, data())
    assert_refused(run_tool(REVIEW, "list", hostile))


def test_an_asset_link_out_of_the_assembly_is_passed_over(s3_assembly: Path, tmp_path: Path) -> None:
    outside = tmp_path / "real-asset"
    hostile = copy(s3_assembly, tmp_path / "cdk.out")
    (asset,) = hostile.glob("asset.*")
    outside.write_bytes(asset.read_bytes())
    asset.unlink()
    asset.symlink_to(outside)
    assert_refused(run_tool(REVIEW, "list", hostile), "is not among the assets")


# -- control characters in decoded content ---------------------------------------------------------------


ESCAPES = "echo '\x1b]0;owned\x07'\necho 'rm -rf /\x08\x08\x08\x08\x08\x08\x08\x08ls    '\necho '\u202eevil'\n"


def escaping_app(out: Path, script: str) -> Path:
    app = App(outdir=str(out))
    NotebookLifecycleConfig(
        Stack(app, "Notebooks"), "Notebook", on_start=[Module(name="greet", script=f"#!/bin/bash\n{script}")]
    )
    app.synth()
    return out


def test_control_characters_are_shown_escaped(tmp_path: Path) -> None:
    base = escaping_app(tmp_path / "base", "echo hi\n")
    head = escaping_app(tmp_path / "head", ESCAPES)
    for output in ("text", "markdown"):
        run = run_tool(REVIEW, "diff", base, head, "--format", output)
        assert run.code == 0, run.err
        assert "\x1b" not in run.out and "\x07" not in run.out and "\x08" not in run.out and "\u202e" not in run.out
        assert "+echo '\\x1b]0;owned\\x07'" in run.out
        assert "+echo 'rm -rf /" + "\\x08" * 8 + "ls    '" in run.out
        assert "+echo '\\u202eevil'" in run.out
    shown = run_tool(REVIEW, "show", head, "--config", "Notebook985EE735", "--hook", "OnStart", "--module", "greet")
    assert shown.out == f"#!/bin/bash\n{ESCAPES}"  # piped: byte for byte


# -- internal errors --------------------------------------------------------------------------------------


def test_an_internal_error_is_one_line_and_status_3(
    default_assembly: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(path: object) -> object:
        raise KeyError("a bug")

    monkeypatch.setattr(cli, "load_assembly", broken)
    monkeypatch.delenv("LCC_DEBUG", raising=False)
    assert cli.main(["list", str(default_assembly)]) == 3
    err = capsys.readouterr().err
    assert err == "sagemaker-lifecycle-review: internal error: KeyError: 'a bug'\n"
    monkeypatch.setenv("LCC_DEBUG", "1")
    assert cli.main(["list", str(default_assembly)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and err.endswith("internal error: KeyError: 'a bug'\n")


def test_the_real_assembly_still_reads(default_assembly: Path) -> None:
    _, _, script = studio_hook(default_assembly)
    assert base64.b64encode(script)
    run = run_tool(REVIEW, "list", default_assembly)
    assert (run.code, run.err) == (0, ""), run.err
    assert os.path.basename(str(default_assembly))
