"""Namespace mode without root: an unprivileged user namespace (here: the engine run as nobody)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from constructs_lib.rehearse import engine
from constructs_lib.rehearse.assembly import Hook, find_hooks
from constructs_lib.rehearse.cli import NAMESPACE_FLAGS, spec_for, stubs_for
from constructs_lib.rehearse.report import hook_report
from tests.constructs_lib.rehearse.conftest import host_state, rehearsal_processes

NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
PYTHON = "/usr/bin/python3"  # the engine needs only the standard library


def unprivileged_namespaces() -> str:
    """Why this test cannot run here, or '' when it can."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None or not os.access(PYTHON, os.X_OK):
        return "needs root (to become nobody), setpriv and /usr/bin/python3"
    probe = subprocess.run(
        [*NOBODY, "unshare", *NAMESPACE_FLAGS, "--user", "--map-root-user", "true"], capture_output=True
    )
    return "" if probe.returncode == 0 else f"unprivileged user namespaces are disabled: {probe.stderr.decode()}"


@pytest.mark.skipif(bool(unprivileged_namespaces()), reason=unprivileged_namespaces() or "available")
def test_the_default_notebook_hook_passes_in_a_user_namespace(default_assembly: Path) -> None:
    hook = find_hooks(default_assembly, hook="OnStart")[0]
    base = Path(tempfile.mkdtemp(prefix="rehearse-userns-"))  # pytest's own temp root is private to root
    try:
        check_user_namespace(hook, base / "work")
    finally:
        shutil.rmtree(base)


def check_user_namespace(hook: Hook, work: Path) -> None:
    (work / "control" / "hooks").mkdir(parents=True)
    (work / "control" / "hooks" / f"{hook.slug}.sh").write_bytes(hook.script)
    shutil.copy(engine.__file__, work / "engine.py")
    stubs = stubs_for("namespace", True, [])
    spec = spec_for(hook, work, mode="namespace", userns=True, stubs=stubs, keep=None, limit=300, wait=60)
    (work / "spec.json").write_text(json.dumps(spec))
    subprocess.run(["chown", "-R", "65534:65534", str(work)], check=True)
    work.parent.chmod(0o755)
    before = host_state()
    command = [*NOBODY, "unshare", *NAMESPACE_FLAGS, "--user", "--map-root-user", PYTHON, "-I"]
    result = subprocess.run(
        [*command, str(work / "engine.py"), str(work / "spec.json")], capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = hook_report(
        hook, json.loads((work / "control" / "result.json").read_text()), mode="namespace-user", stubs=stubs, limit=300
    )
    assert report["problems"] == [] and report["idempotent"] is True
    assert {"sudo", "chown", "crontab"} <= set(report["stubs"])
    first = {m["name"]: m for m in report["runs"][0]["modules"]}
    paths = {c["path"] for m in first.values() for c in m["changes"]}
    assert {"/home/ec2-user/.condarc", "/etc/profile.d/persisted-bin.sh"} <= paths
    assert host_state() == before
    assert rehearsal_processes() == []
