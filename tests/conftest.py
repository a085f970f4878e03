"""Shared fixtures, each started once per session: the real CDK CLI synthesizing the default app,
a real Jupyter Server and moto's server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.bundling.inspect import (
    files_of,
    find_staged_asset,
    loader_archive,
    side_archive,
    side_files,
    unpack,
)
from tests.support.servers import JupyterServer, MotoServer, start_jupyter_server, start_moto, stop_process

REPO = Path(__file__).resolve().parents[1]
APP_FILES = ("app.py", "cdk.json", "stacks", "constructs_lib", "lifecycle_scripts")


def cdk_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment `make` gives: the project's Node and CDK CLI, then the venv, first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(REPO / "node_modules" / ".bin"), str(Path(sys.executable).parent), env["PATH"]])
    env.pop("CDK_CONTEXT_JSON", None)
    env.update(extra or {})
    return env


def cdk_synth(
    app_dir: Path, out: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``npx cdk synth`` with the pinned CLI, offline, into ``out``."""
    return subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--quiet", "--no-notices", "-o", str(out), *args],
        cwd=app_dir,
        env=cdk_env(env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def copy_app(target: Path) -> Path:
    """A copy of the app's files in ``target`` that uses this checkout's venv and node_modules."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    for name in APP_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(REPO / ".venv")
    (target / "node_modules").symlink_to(REPO / "node_modules")
    return target


@pytest.fixture(scope="session")
def default_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default app synthesized by the real CDK CLI (cdk-nag runs inside the app)."""
    out = tmp_path_factory.mktemp("cdk.out")
    result = cdk_synth(REPO, out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def hook_files(assembly: Path, script: bytes, bundle: dict[str, Any]) -> dict[str, bytes]:
    """Every file of a hook's bundle as the instance gets it, by where its manifest (``bundle``) says it is:
    inline; a loader's archive (a staged asset); or inline plus a split hook's S3 part (a staged asset)."""
    location = bundle["archiveLocation"]
    loader, side = loader_archive(script), side_archive(script)
    assert (loader is not None) == (location == "s3-asset") and (side is not None) == (location == "split")
    if loader is not None:
        return unpack(find_staged_asset(assembly, loader[0], assembly), loader[1])
    if side is not None:
        assert bundle["s3Part"]["archiveSha256"] == side[0]
        assert all("/files/" in path for path in bundle["s3Part"]["files"]), "only carried files go to S3"
    return side_files(script, assembly, assembly, files_of(script))


def templates_of(assembly: Path) -> dict[str, dict[str, object]]:
    """Every stack template in a cloud assembly (nested stages included), by file name."""
    return {path.name: json.loads(path.read_text()) for path in sorted(assembly.rglob("*.template.json"))}


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    server = start_jupyter_server(tmp_path_factory.mktemp("jupyter"))
    try:
        yield server
    finally:
        stop_process(server.process)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = start_moto(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        stop_process(server.process)
