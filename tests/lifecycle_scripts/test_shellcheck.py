"""Every shell script we ship or generate passes bash -n and shellcheck."""

import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from constructs_lib import Compression, Encoding, LifecycleBundle, Module
from constructs_lib.bundling.inspect import files_of

SHELLCHECK = str(Path(sys.executable).parent / "shellcheck")
SCRIPTS = sorted(
    str(path.relative_to(Path(str(resources.files("lifecycle_scripts")))))
    for path in Path(str(resources.files("lifecycle_scripts"))).rglob("*.sh")
)


def check(path: Path) -> None:
    syntax = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    lint = subprocess.run([SHELLCHECK, "--shell=bash", "-x", str(path)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_catalogue_is_found() -> None:
    assert "runner/runner.sh" in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_shipped_script_passes(script: str) -> None:
    check(Path(str(resources.files("lifecycle_scripts"))) / script)


@pytest.mark.parametrize("encoding", list(Encoding))
@pytest.mark.parametrize("compression", list(Compression))
def test_generated_hook_and_its_runner_pass(tmp_path: Path, encoding: Encoding, compression: Compression) -> None:
    bundle = LifecycleBundle(
        hook="on-start",
        modules=[Module(name="hello", script="#!/bin/bash\necho hi\n")],
        encoding=encoding,
        compression=compression,
        description="team: data science\nticket: DS-1",
    )
    hook = tmp_path / "on-start.sh"
    hook.write_bytes(bundle.script)
    check(hook)
    runner = tmp_path / "runner.sh"
    runner.write_bytes(files_of(bundle.script)["runner.sh"])
    check(runner)
