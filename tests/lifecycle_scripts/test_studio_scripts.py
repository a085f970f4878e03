"""studio_idle_shutdown run for real: a bundled Studio 'jupyterlab' hook, as sagemaker-user, in a sandbox.

The module starts a detached loop (``setsid nohup``) that runs the real ``autostop.py --target studio``
with the python found at ``$LCC_ROOT/opt/conda/bin/python`` (here a wrapper of this interpreter, which
has boto3). The sandbox has app metadata but no Jupyter server, so the program's first check logs
"jupyter not usable" and nothing is called in AWS. Every loop a test starts is killed in the fixture's
teardown (found by its command line, which names the sandbox's pid file).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_cdk import Duration

from constructs_lib import LifecycleBundle, Target
from constructs_lib.catalogue import studio_idle_shutdown
from tests.support.sandbox import Sandbox

from .conftest import free_port

LIB = Path("home/sagemaker-user/.local/lib/sagemaker-lifecycle")
LOG = Path("home/sagemaker-user/.lifecycle/logs/idle-shutdown.log")


def loops(sandbox: Sandbox) -> list[int]:
    """Pids of the running loops of this sandbox: their command line names its pid file."""
    marker = str(sandbox.root / LIB / "idle-shutdown.pid").encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes():
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(proc.name))
        except OSError:  # gone meanwhile
            continue
    return sorted(found)


def wait_until(predicate: object, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path, user="sagemaker-user", persist_subdir="")
    conda_python = box.root / "opt" / "conda" / "bin" / "python"
    conda_python.parent.mkdir(parents=True)
    conda_python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    conda_python.chmod(0o755)
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:app/d-abc123def456/alice/jupyterlab/default"
    metadata = {"AppType": "JupyterLab", "DomainId": "d-abc123def456", "UserProfileName": "alice"}
    metadata.update(ResourceName="default", ResourceArn=arn)
    (box.root / "opt" / "ml" / "metadata" / "resource-metadata.json").write_text(json.dumps(metadata))
    try:
        yield box
    finally:
        for pid in loops(box):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)  # the loop leads its own process group (setsid)
        assert wait_until(lambda: not loops(box), 10), f"loops still running: {loops(box)}"


def hook(**options: object) -> LifecycleBundle:
    module = studio_idle_shutdown(
        jupyter_url=f"http://127.0.0.1:{free_port()}/jupyterlab/default",  # nothing listens there
        check_every=Duration.minutes(1),
        **options,  # type: ignore[arg-type]
    )
    return LifecycleBundle(hook="jupyterlab", modules=[module], target=Target.STUDIO)


def run(sandbox: Sandbox, bundle: LifecycleBundle) -> str:
    result = sandbox.run_hook(bundle.script, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "[studio-idle-shutdown] end: ok, exit 0," in result.stdout, result.stdout
    return result.stdout


def test_the_loop_starts_detached_and_checks_at_once(sandbox: Sandbox) -> None:
    output = run(sandbox, hook())
    program = sandbox.root / LIB / "autostop.py"
    assert program.read_bytes() == studio_idle_shutdown().files["autostop.py"]
    assert wait_until(lambda: len(loops(sandbox)) == 1)
    (pid,) = loops(sandbox)
    assert (sandbox.root / LIB / "idle-shutdown.pid").read_text().strip() == str(pid)
    assert os.getsid(pid) == pid  # setsid: its own session, so the hook's end does not take it down
    assert f"idle-shutdown loop started (pid {pid}, python /opt/conda/bin/python): every 1m, idle 60m" in output
    log = sandbox.root / LOG
    assert wait_until(lambda: log.exists() and "autostop: " in log.read_text())
    # the first check ran the program in Studio mode, with the app's metadata found under $LCC_ROOT
    assert "autostop: not stopping: jupyter not usable: GET /api/status: " in log.read_text(), log.read_text()


def test_a_second_run_replaces_the_loop(sandbox: Sandbox) -> None:
    bundle = hook(dry_run=True)
    run(sandbox, bundle)
    assert wait_until(lambda: len(loops(sandbox)) == 1)
    (first,) = loops(sandbox)
    output = run(sandbox, bundle)
    assert f"stopped the earlier loop (pid {first})" in output
    assert wait_until(lambda: len(loops(sandbox)) == 1 and loops(sandbox) != [first])
    (second,) = loops(sandbox)
    assert second != first  # the earlier loop is gone: exactly one loop runs
    assert (sandbox.root / LIB / "idle-shutdown.pid").read_text().strip() == str(second)


def test_without_boto3_nothing_starts(sandbox: Sandbox) -> None:
    (sandbox.root / "opt" / "conda" / "bin" / "python").write_text(
        '#!/bin/sh\necho "No module named boto3" >&2\nexit 1\n'
    )
    sandbox.add_fake("python3", "exit 1")  # python3 on PATH without boto3 either
    result = sandbox.run_hook(hook().script, timeout=60)
    assert result.returncode == 0, result.stderr  # a failing module never fails the hook
    assert "NOT started: no python that reaches AWS (botocore or an AWS CLI; tried /opt/conda/bin/python, python3)" in (
        result.stdout
    )
    assert "[studio-idle-shutdown] end: failed with exit status 1" in result.stdout
    assert loops(sandbox) == []
