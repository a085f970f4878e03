"""The shell programs the rehearsal writes into the root pass bash -n and shellcheck."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from constructs_lib.rehearse.programs import DEFAULT_STUBS, ENV_PYTHON, STUB_BODIES, SUDO, stub_program, timeout_wrapper

SHELLCHECK = str(Path(sys.executable).parent / "shellcheck")
PROGRAMS = sorted({*DEFAULT_STUBS, *STUB_BODIES, "aws"})
assert "conda" in DEFAULT_STUBS


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


def test_sudo_of_the_sandbox_passes(tmp_path: Path) -> None:
    path = tmp_path / "sudo"
    path.write_text(SUDO)
    check(path)


def test_the_conda_stand_in_makes_an_environment_with_a_kernel(tmp_path: Path) -> None:
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    for name in ("conda", ENV_PYTHON):
        (bin_dir / name).write_text(stub_program(name, str(calls)))
        (bin_dir / name).chmod(0o755)
    prefix = tmp_path / "envs" / "analysis"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path / "home")}
    created = subprocess.run(
        ["conda", "create", "--yes", "--prefix", str(prefix), "python=3.11", "ipykernel"], env=env, capture_output=True
    )
    assert created.returncode == 0, created.stderr
    assert (
        prefix / "conda-meta" / "history"
    ).read_text() == f"# create --yes --prefix {prefix} python=3.11 ipykernel\n"
    install = [str(prefix / "bin/python"), "-m", "ipykernel", "install", "--user", "--name", "analysis"]
    assert subprocess.run([*install, "--display-name", "conda (analysis)"], env=env).returncode == 0
    spec = json.loads((tmp_path / "home/.local/share/jupyter/kernels/analysis/kernel.json").read_text())
    assert spec["display_name"] == "conda (analysis)" and spec["argv"][0] == str(prefix / "bin/python")
    assert [line.split("\t")[1] for line in calls.read_text().splitlines()] == ["conda", "python"]
    assert subprocess.run(["conda", "create", "--yes"], env=env, capture_output=True).returncode == 2  # no --prefix


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
