"""Beyond the size limit: the archive as a CDK asset in S3 and a small, verifying loader script."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Annotations, Match, Template

from constructs_lib import (
    ArchiveLocation,
    LifecycleBundle,
    LifecycleConfigError,
    Module,
    NotebookInstance,
    NotebookLifecycleConfig,
)
from constructs_lib.bundling.archive import BUCKET_PLACEHOLDER, KEY_PLACEHOLDER
from tests.support.sandbox import Sandbox

SHELLCHECK = str(Path(sys.executable).parent / "shellcheck")


def big_modules() -> list[Module]:
    """About 40 kB of scripts that do not compress: far beyond one inline lifecycle script."""
    rng = random.Random(3)
    modules = []
    for index in range(4):
        noise = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10_000))
        modules.append(Module(name=f"big-{index}", script=f"#!/bin/bash\n: '{noise}'\necho big {index} ran\n"))
    return modules


def synth(tmp_path: Path) -> tuple[dict[str, Any], Path, NotebookLifecycleConfig]:
    app = App(outdir=str(tmp_path / "out"))
    stack = Stack(app, "Big")
    config = NotebookLifecycleConfig(
        stack, "Lifecycle", on_start=big_modules(), archive_location=ArchiveLocation.S3_ASSET
    )
    NotebookInstance(stack, "Notebook", name="big-nb", lifecycle_config=config)
    app.synth()
    return json.loads((tmp_path / "out" / "Big.template.json").read_text()), tmp_path / "out", config


def test_inline_fails_but_the_s3_asset_mode_synthesizes(tmp_path: Path) -> None:
    with pytest.raises(LifecycleConfigError, match="above the SageMaker limit"):
        LifecycleBundle(hook="on-start", modules=big_modules())
    template, out, _ = synth(tmp_path)
    (resource,) = [r for r in template["Resources"].values() if r["Type"].endswith("LifecycleConfig")]
    content = resource["Properties"]["OnStart"][0]["Content"]
    assert list(content) == ["Fn::Base64"] and "Fn::Join" in content["Fn::Base64"]
    manifest = resource["Metadata"]["LifecycleBundle"]["OnStart"]
    assert manifest["archiveLocation"] == "s3-asset"
    assert manifest["encodedLength"] < 4000 <= 16384, "the loader is small; its length counts the longest bucket"
    shipped = [
        p for p in out.glob("asset.*") if hashlib.sha256(p.read_bytes()).hexdigest() == manifest["archiveSha256"]
    ]
    assert len(shipped) == 1, "the archive is staged in the cloud assembly as the asset"


def test_the_role_may_read_exactly_the_archive_object(tmp_path: Path) -> None:
    template, _, config = synth(tmp_path)
    statements = [
        s
        for p in template["Resources"].values()
        if p["Type"] == "AWS::IAM::Policy"
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "s3:GetObject" in json.dumps(s["Action"])
    ]
    (statement,) = statements
    assert statement["Action"] == "s3:GetObject"
    resource = json.dumps(statement["Resource"])
    assert config.archive_assets["OnStart"].s3_object_key in resource
    assert "/*" not in resource


def loader_script(bundle: LifecycleBundle) -> bytes:
    return (
        bundle.script.replace(BUCKET_PLACEHOLDER.encode(), b"test-bucket")
        .replace(KEY_PLACEHOLDER.encode(), b"assets/archive.xz")
        .replace(b"@REGION@", b"eu-west-1")
    )


@pytest.fixture
def s3_sandbox(tmp_path: Path) -> tuple[Sandbox, LifecycleBundle, Path]:
    sandbox = Sandbox(tmp_path / "sb")
    bundle = LifecycleBundle(hook="on-start", modules=big_modules(), archive_location=ArchiveLocation.S3_ASSET)
    store = tmp_path / "s3"
    (store / "test-bucket" / "assets").mkdir(parents=True)
    (store / "test-bucket" / "assets" / "archive.xz").write_bytes(bundle.archive)
    # `aws s3 cp [--only-show-errors] s3://BUCKET/KEY DEST` served from a local directory.
    sandbox.add_fake(
        "aws",
        f'src="${{@: -2:1}}"; dest="${{@: -1}}"; path="{store}/${{src#s3://}}"\n'
        '[ -f "$path" ] || { echo "fatal error: NoSuchKey" >&2; exit 1; }\ncp "$path" "$dest"',
    )
    return sandbox, bundle, store


def test_loader_copies_verifies_and_runs_the_modules(s3_sandbox: tuple[Sandbox, LifecycleBundle, Path]) -> None:
    sandbox, bundle, _ = s3_sandbox
    result = sandbox.run_hook(loader_script(bundle))
    assert result.returncode == 0, result.stderr
    for index in range(4):
        assert f"[on-start] [big-{index}] big {index} ran" in result.stdout
    (call,) = sandbox.calls("aws")
    assert call[1:-1] == [
        "s3", "cp", "--only-show-errors", "--region", "eu-west-1", "--cli-connect-timeout", "10",
        "--cli-read-timeout", "30", "s3://test-bucket/assets/archive.xz",
    ]  # fmt: skip


def test_loader_refuses_a_tampered_archive(s3_sandbox: tuple[Sandbox, LifecycleBundle, Path]) -> None:
    sandbox, bundle, store = s3_sandbox
    stored = store / "test-bucket" / "assets" / "archive.xz"
    stored.write_bytes(stored.read_bytes()[:-1] + b"x")
    result = sandbox.run_hook(loader_script(bundle))
    assert result.returncode == 0
    assert "archive checksum mismatch for s3://test-bucket/assets/archive.xz" in result.stdout
    assert "could not load the bundle: no module ran" in result.stdout and "[big-0]" not in result.stdout


def test_loader_without_a_route_to_s3_says_so_and_exits_0(s3_sandbox: tuple[Sandbox, LifecycleBundle, Path]) -> None:
    sandbox, bundle, store = s3_sandbox
    (store / "test-bucket" / "assets" / "archive.xz").unlink()
    result = sandbox.run_hook(loader_script(bundle))
    assert result.returncode == 0
    assert (
        "could not copy s3://test-bucket/assets/archive.xz within 2 minutes (is there a route to S3?)" in result.stdout
    )


def test_loader_passes_bash_n_and_shellcheck(tmp_path: Path) -> None:
    bundle = LifecycleBundle(hook="on-start", modules=big_modules()[:1], archive_location=ArchiveLocation.S3_ASSET)
    path = tmp_path / "loader.sh"
    path.write_bytes(loader_script(bundle))
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    lint = subprocess.run([SHELLCHECK, str(path)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


def test_staging_writes_nothing_through_a_link_planted_at_the_old_predictable_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared_tmp = tmp_path / "shared-tmp"
    shared_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(shared_tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    victim = tmp_path / "victim"
    victim.write_text("the developer's file\n")
    digest = LifecycleBundle(
        hook="on-start", modules=big_modules(), archive_location=ArchiveLocation.S3_ASSET
    ).manifest["archiveSha256"]
    planted = shared_tmp / "sagemaker-lifecycle-archives" / str(digest)
    planted.mkdir(parents=True)
    (planted / "on-start.xz").symlink_to(victim)
    (shared_tmp / "sagemaker-lifecycle-archives" / "other").symlink_to(tmp_path, target_is_directory=True)
    _, out, config = synth(tmp_path)
    assert victim.read_text() == "the developer's file\n"
    assert sorted(p.name for p in shared_tmp.iterdir() if p.name.startswith("sagemaker-lifecycle")) == [
        "sagemaker-lifecycle-archives"
    ], "the private staging directory is removed once CDK has copied the archive"
    staged = out / config.archive_assets["OnStart"].asset_path
    assert hashlib.sha256(staged.read_bytes()).hexdigest() == digest


def test_staging_creates_its_file_exclusively_without_following_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[tuple[str, int]] = []
    real_open = os.open

    def recording_open(path: str, flags: int, *args: Any, **kwargs: Any) -> int:
        opened.append((str(path), flags))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    synth(tmp_path)
    (archive_open,) = [(p, f) for p, f in opened if p.endswith("/on-start.xz")]
    path, flags = archive_open
    required = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    assert flags & required == required
    assert Path(path).parent.name.startswith("sagemaker-lifecycle-") and not Path(path).parent.exists()


def test_auto_location_says_at_synth_where_each_hook_went(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path / "out"))
    stack = Stack(app, "Auto")
    small = [Module(name="hello", script="#!/bin/bash\necho hello\n")]
    config = NotebookLifecycleConfig(
        stack, "Lifecycle", on_start=big_modules(), on_create=small, archive_location=ArchiveLocation.AUTO
    )
    NotebookInstance(stack, "Notebook", name="auto-nb", lifecycle_config=config)
    annotations = Annotations.from_stack(stack)
    annotations.has_info(
        "/Auto/Lifecycle", Match.string_like_regexp(r"hook 'on-start' \(archiveLocation auto\): \d+ characters inline")
    )
    annotations.has_info(
        "/Auto/Lifecycle", Match.string_like_regexp(r"hook 'on-create' \(archiveLocation auto\): inline, \d+ of 16384")
    )
    assert list(config.archive_assets) == ["OnStart"], "only the hook that does not fit goes to S3"
    template = Template.from_stack(stack)
    (resource,) = template.find_resources("AWS::SageMaker::NotebookInstanceLifecycleConfig").values()
    assert "Fn::Join" in resource["Properties"]["OnStart"][0]["Content"]["Fn::Base64"]
    assert isinstance(resource["Properties"]["OnCreate"][0]["Content"], str)
    assert resource["Metadata"]["LifecycleBundle"]["OnStart"]["archiveLocationRequested"] == "auto"
