"""A hook that tries to leave the sandbox, change this machine's kernel settings or outlive the
rehearsal: every attempt fails, this machine is unchanged and nothing of the rehearsal survives."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.rehearse.cli import main
from constructs_lib.rehearse.sandbox import layout
from tests.constructs_lib.rehearse.conftest import (
    ESCAPE_MARKER,
    ESCAPE_TARGET,
    SURVIVOR_MARK,
    SYSCTLS,
    host_state,
    logical_id,
    rehearsal_processes,
    sandbox_processes,
)

ATTEMPTS = (
    "chroot",
    "sysctl",
    "proc-sys",
    "proc-1-root",
    "proc-self-root",
    "mknod",
    "remount",
    "mount-proc",
    "new-userns-remount",
)


def sysctls() -> dict[str, str]:
    return {name: Path(f"/proc/sys/{name}").read_text() for name in SYSCTLS}


def survivors() -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, NotADirectoryError):
            continue
        if f"sleep {SURVIVOR_MARK}" in command:
            found.append(f"{entry}: {command}")
    return found


@pytest.fixture(scope="module")
def escape_run(broken_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    shutil.rmtree(ESCAPE_TARGET, ignore_errors=True)
    os.makedirs(ESCAPE_TARGET)
    os.chmod(ESCAPE_TARGET, 0o777)  # world-writable: only the sandbox's isolation keeps it empty
    out = tmp_path_factory.mktemp("escapes") / "report.json"
    bound = [p for p in layout().read_only if os.path.isdir(p)]
    before = {"host": host_state(), "sysctl": sysctls(), "target": os.listdir(ESCAPE_TARGET)}
    try:
        code = main([str(broken_assembly), "--config", logical_id(broken_assembly, "Escapes"), "--json", str(out)])
        after = {"host": host_state(), "sysctl": sysctls(), "target": os.listdir(ESCAPE_TARGET)}
        markers = [p for p in bound if os.path.lexists(f"{p}/{ESCAPE_MARKER}")]
    finally:
        shutil.rmtree(ESCAPE_TARGET, ignore_errors=True)
    report = json.loads(out.read_text())["hooks"][0]
    log = [line for m in report["runs"][0]["modules"] for line in m["logTail"]]
    output = "\n".join(report["runs"][0]["output"])
    return {"code": code, "before": before, "after": after, "markers": markers, "log": log, "output": output,
            "report": report, "bound": bound}  # fmt: skip


def test_every_escape_is_blocked_inside(escape_run: dict[str, Any]) -> None:
    output = escape_run["output"]
    for name in ATTEMPTS:
        assert f"[tries-to-escape] {name}: blocked" in output, output
    assert "ESCAPED" not in output
    assert "[tries-to-escape] writable mounts: " in output
    assert "[tries-to-escape] interfaces: lo " in output  # no network but loopback
    assert "[tries-to-escape] capabilities of ec2-user: 0000000000000000" in output
    assert escape_run["code"] == 0, escape_run["report"]["problems"]


def test_this_machine_is_unchanged(escape_run: dict[str, Any]) -> None:
    assert escape_run["after"]["target"] == [] == escape_run["before"]["target"]
    assert escape_run["after"]["sysctl"] == escape_run["before"]["sysctl"]
    assert escape_run["after"]["host"] == escape_run["before"]["host"]
    assert len(escape_run["bound"]) > 10 and escape_run["markers"] == []


def test_nothing_outlives_the_rehearsal(escape_run: dict[str, Any]) -> None:
    hook = escape_run["report"]
    left = [p["command"] for p in hook["runs"][0]["leftRunning"]]
    assert left.count(f"sleep {SURVIVOR_MARK}") == 2  # seen and reported, then stopped
    assert survivors() == [] and sandbox_processes() == [] and rehearsal_processes() == []
