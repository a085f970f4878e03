"""The shell programs the rehearsal writes into the root pass bash -n and shellcheck."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from constructs_lib.rehearse.engine import DEFAULT_STUBS, STUB_BODIES, stub_program, timeout_wrapper

SHELLCHECK = str(Path(sys.executable).parent / "shellcheck")
PROGRAMS = sorted({*DEFAULT_STUBS, *STUB_BODIES, "aws"})


def check(path: Path) -> None:
    syntax = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    lint = subprocess.run([SHELLCHECK, "--shell=bash", str(path)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("name", PROGRAMS)
def test_stand_in_passes(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(stub_program(name, "/run/lcc-rehearse/calls.log"))
    check(path)


def test_timeout_wrapper_passes(tmp_path: Path) -> None:
    path = tmp_path / "timeout"
    path.write_text(timeout_wrapper("/usr/bin/timeout", "/run/lcc-rehearse/ctl"))
    check(path)


def test_a_stand_in_records_each_argument_quoted(tmp_path: Path) -> None:
    calls = tmp_path / "calls.log"
    path = tmp_path / "systemctl"
    path.write_text(stub_program("systemctl", str(calls)))
    path.chmod(0o755)
    shown = subprocess.run([str(path), "show", "-p", "LoadState", "a b"], capture_output=True, text=True)
    assert (shown.returncode, shown.stdout) == (0, "LoadState=loaded\n")
    user, program, *args = calls.read_text().rstrip("\n").split("\t")
    assert (user, program, args) == ("root", "systemctl", ["show", "-p", "LoadState", "a\\ b"])


def test_the_wrapper_is_the_real_timeout_outside_the_runner(tmp_path: Path) -> None:
    path = tmp_path / "timeout"
    path.write_text(timeout_wrapper("/usr/bin/timeout", str(tmp_path / "ctl")))
    path.chmod(0o755)
    result = subprocess.run([str(path), "5", "env", "-i", "MODULE_NAME=x", "true"], capture_output=True, text=True)
    assert result.returncode == 0  # no control fifo: straight to the real timeout
    assert subprocess.run([str(path), "0.1", "sleep", "5"]).returncode == 124
