"""Activity outside Jupyter and the warning before a stop, with the carried program against the real Jupyter
Server and moto: a CPU-busy process of the notebook user (a real process under its own uid, no kernel
activity), a fake ``nvidia-smi`` reporting load, a shorter idle time for GPU instance types, the warning
window with and without activity, and the AWS CLI in place of botocore.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROLE_ARN, JupyterServer, MotoServer, Notebook, iso, parse_iso, utcnow

BUSY_UID = 4242  # no other process of this machine runs as this uid
AWS_CLI = os.path.realpath(shutil.which("aws") or "aws")  # this machine's AWS CLI (v1, botocore underneath)


def later(minutes: float, base: dt.datetime | None = None) -> str:
    return iso((base or utcnow()) + dt.timedelta(minutes=minutes))


@pytest.fixture
def busy_process() -> Iterator[subprocess.Popen[bytes]]:
    """A CPU-bound process of another user (``nohup python train.py &`` from a closed terminal)."""
    proc = subprocess.Popen(
        [
            "setpriv",
            f"--reuid={BUSY_UID}",
            f"--regid={BUSY_UID}",
            "--clear-groups",
            sys.executable,
            "-c",
            "while 1: pass",
        ]
    )
    yield proc
    proc.kill()
    proc.wait()


def test_a_cpu_busy_process_keeps_the_instance_up_and_its_end_lets_it_stop(
    jupyter: JupyterServer, notebook: Notebook, autostop: Any, busy_process: subprocess.Popen[bytes]
) -> None:
    jupyter.idle_kernel()  # hours idle by --now: only the process can keep it up
    cpu = ("--cpu-percent", "10", "--cpu-users", str(BUSY_UID), "--cpu-sample-seconds", "1")
    t0 = utcnow()
    now = later(120, t0)
    off = autostop("--now", now, "--dry-run", "--cpu-percent", "0")
    assert off.has("dry-run: would stop notebook instance"), off  # without the signal: stopped (the old bug)
    held = autostop("--now", now, *cpu)
    assert held.returncode == 0, held
    load = held.one(rf"^CPU of {BUSY_UID}: (\d+)% over 1 s$")
    assert int(load.group(1)) >= 10, held  # a full core when this shared machine is not loaded
    assert held.one(r"^not idle: idle for 0\.0 min < 60 \(last activity: process activity \(CPU \d+% >= 10%\) at")
    assert notebook.status() == "InService"
    busy_process.kill()
    busy_process.wait()
    # The next check (the earlier sample kept in the state dir) sees no load, but remembers the activity.
    soon = autostop("--now", later(150, t0), *cpu)
    assert soon.one(rf"^CPU of {BUSY_UID}: 0% over \d+ s$"), soon
    assert soon.one(r"^not idle: idle for 30\.0 min < 60 \(last activity: process activity"), soon
    stopped = autostop("--now", later(181, t0), *cpu)
    assert stopped.has("stop requested for notebook instance"), stopped
    assert notebook.status() == "Stopped"


def fake_nvidia_smi(directory: Path, output: str, mode: int = 0o755) -> Path:
    path = directory / "nvidia-smi"
    path.write_text(f"#!/bin/sh\necho ran >>{directory}/ran\nprintf '{output}'\n")
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("output", "outcome"),
    [
        ("3\\n87\\n", r"^not idle: idle for 0\.0 min < 60 \(last activity: process activity \(GPU 87% >= 10%\)"),
        ("0\\n4\\n", r"^dry-run: would stop notebook instance"),
        ("[N/A]\\n", r"^not stopping: GPU load unknown: nvidia-smi exit 0: b.\[N/A\]"),
    ],
    ids=["busy", "idle", "garbage"],
)
def test_gpu_load_from_nvidia_smi(
    jupyter: JupyterServer, notebook: Notebook, autostop: Any, tmp_path: Path, output: str, outcome: str
) -> None:
    jupyter.idle_kernel()
    smi = fake_nvidia_smi(tmp_path, output)
    run = autostop("--now", later(120), "--dry-run", "--gpu-percent", "10", "--nvidia-smi", str(smi))
    assert run.returncode == 0, run
    assert run.one(outcome), run
    assert notebook.status() == "InService"


def test_an_nvidia_smi_others_can_write_is_not_run(
    jupyter: JupyterServer, notebook: Notebook, autostop: Any, tmp_path: Path
) -> None:
    smi = fake_nvidia_smi(tmp_path, "0\\n", mode=0o777)
    run = autostop("--now", later(120), "--gpu-percent", "10", "--nvidia-smi", str(smi))
    assert run.one(rf"^not stopping: GPU load unknown: {smi} untrusted: not run$"), run
    assert not (tmp_path / "ran").exists()
    assert notebook.status() == "InService"


def test_gpu_instance_types_get_their_own_idle_time(
    jupyter: JupyterServer, moto_server: MotoServer, autostop: Any, tmp_path: Path
) -> None:
    client = moto_server.client("sagemaker")
    name = f"gpu-{os.getpid()}-{tmp_path.name[-12:]}".replace("_", "-")  # a valid notebook instance name
    arn = client.create_notebook_instance(NotebookInstanceName=name, InstanceType="ml.p3.2xlarge", RoleArn=ROLE_ARN)
    metadata = tmp_path / "gpu-resource-metadata.json"
    metadata.write_text(json.dumps({"ResourceName": name, "ResourceArn": arn["NotebookInstanceArn"]}))
    jupyter.idle_kernel()
    per_type = (
        "--idle-for",
        "ml.p3.16xlarge=20",
        "--idle-for",
        "ml.p*=30",
        "--idle-for",
        "ml.g*=25",
        "--grace-minutes",
        "0",
    )
    cpu_type = autostop("--now", later(45), "--dry-run", *per_type)
    assert cpu_type.one(r"^not idle: idle for 4\d\.\d min < 60"), cpu_type  # ml.t3.medium: the default 60
    gpu_type = autostop("--now", later(45), "--dry-run", *per_type, metadata_file=metadata)
    assert gpu_type.has("idle 30 min for ml.p3.2xlarge (ml.p*)"), gpu_type
    assert gpu_type.one(r"^dry-run: would stop notebook instance \S+: idle for 4\d\.\d min >= 30"), gpu_type


@pytest.fixture
def warned(tmp_path: Path) -> tuple[list[str], Path, Path]:
    """--warn-minutes 10 with a recording ``wall`` and a notice file: (options, wall's record, notice)."""
    record, notice = tmp_path / "wall.log", tmp_path / "home" / "IDLE-SHUTDOWN-NOTICE.txt"
    notice.parent.mkdir()
    wall = tmp_path / "wall"
    wall.write_text(f'#!/bin/sh\nprintf "%s\\n--\\n" "$*" >>{record}\n')
    wall.chmod(0o755)
    return (
        ["--warn-minutes", "10", "--wall", str(wall), "--notice-file", str(notice), "--grace-minutes", "0"],
        record,
        notice,
    )


WATCHED_UID = 4243  # no other terminal of this machine belongs to this uid


@pytest.fixture
def watched_terminal() -> Iterator[int]:
    """The master side of a real pty whose terminal (/dev/pts/N) the watched user owns, as Jupyter's are."""
    master, slave = os.openpty()
    os.fchown(slave, WATCHED_UID, -1)
    yield master
    os.close(master)
    os.close(slave)


def received(master: int, seconds: float = 2.0) -> bytes:
    data = b""
    while select.select([master], [], [], seconds)[0]:
        data += os.read(master, 4096)
        seconds = 0.2
    return data


def test_the_warning_comes_first_and_the_stop_follows_without_activity(
    jupyter: JupyterServer,
    notebook: Notebook,
    autostop: Any,
    warned: tuple[list[str], Path, Path],
    watched_terminal: int,
) -> None:
    options, record, notice = warned
    jupyter.idle_kernel()
    t0 = utcnow()
    # wall misses Jupyter's terminals (not in utmp): the program writes to the watched user's /dev/pts/N itself
    terminal = ["--cpu-users", str(WATCHED_UID), "--pts-dir", "/dev/pts"]
    first = autostop("--now", later(55, t0), *options, *terminal)
    shown = received(watched_terminal).decode()
    assert f"Idle shutdown: notebook instance {notebook.name} will stop at " in shown, shown
    stop_at = first.one(rf"^warned: notebook instance {notebook.name} will stop at (\S+): ")
    assert parse_iso(stop_at.group(1)) - t0 > dt.timedelta(minutes=64)
    assert f"will stop at {stop_at.group(1)}" in notice.read_text() and "cancels it" in notice.read_text()
    assert record.read_text().count("Idle shutdown: ") == 1
    held = autostop("--now", later(61, t0), *options)
    assert held.one(rf"^warned at \S+, stop at {stop_at.group(1)}: idle for 61\.\d min >= 60"), held
    assert notebook.status() == "InService"
    stopped = autostop("--now", later(65.5, t0), *options)
    assert stopped.has(f"stop requested for notebook instance {notebook.name}"), stopped
    assert not notice.exists() and notebook.status() == "Stopped"


def test_activity_after_the_warning_cancels_the_stop(
    jupyter: JupyterServer, notebook: Notebook, autostop: Any, warned: tuple[list[str], Path, Path]
) -> None:
    options, _, notice = warned
    kernel_id = jupyter.idle_kernel()
    t0 = utcnow()
    assert autostop("--now", later(55, t0), *options).has("warned: "), "no warning"
    assert notice.exists()
    channel = jupyter.connect(kernel_id)
    channel.execute("y = 2")  # the user comes back
    channel.close()
    t1 = utcnow()
    cancelled = autostop("--now", later(5, t1), *options)
    assert cancelled.one(r"^stop cancelled: activity since the warning at "), cancelled
    assert not notice.exists()
    # Idle again: a new warning, a new stop time; the old warning does not count.
    again = autostop("--now", later(66, t0), *options)
    assert again.has("warned: ") and not again.has("stop requested"), again
    assert notebook.status() == "InService"


def test_the_aws_cli_stands_in_for_botocore(
    jupyter: JupyterServer, notebook: Notebook, autostop: Any, fault_proxy: Any
) -> None:
    """A python without botocore reaches SageMaker through a (root- or self-owned) AWS CLI: retries included."""
    jupyter.idle_kernel()
    proxy = fault_proxy({"StopNotebookInstance": 1})
    run = autostop(
        "--now",
        later(120),
        "--aws",
        "cli",
        "--aws-cli",
        AWS_CLI,
        "--retry-base-seconds",
        "0.01",
        endpoint=proxy.url,
    )
    assert run.returncode == 0, run
    assert run.has("sagemaker:StopNotebookInstance throttled (ThrottlingException), attempt 1/5"), run
    assert proxy.calls == ["DescribeNotebookInstance", "StopNotebookInstance", "StopNotebookInstance"]
    assert notebook.status() == "Stopped"


def test_the_warning_is_written_only_to_the_watched_users_terminals(tmp_path: Path) -> None:
    """Planted in the pts directory: a link to a watched terminal (itself owned by the user) and a regular file
    of the user; in /dev/pts: a terminal of another user. None is written; the watched one is."""
    from types import SimpleNamespace

    from lifecycle_scripts.autostop import autostop as a

    ptys = [os.openpty() for _ in range(3)]
    (watched, watched_slave), (linked, linked_slave), (other, _) = ptys
    os.fchown(watched_slave, WATCHED_UID, -1)
    os.fchown(linked_slave, WATCHED_UID, -1)
    planted = tmp_path / "pts"
    planted.mkdir()
    (planted / "5").symlink_to(os.ttyname(linked_slave))
    os.lchown(planted / "5", WATCHED_UID, -1)
    (planted / "6").write_text("kept\n")
    os.chown(planted / "6", WATCHED_UID, -1)
    (planted / "7").mkdir()
    os.chown(planted / "7", WATCHED_UID, -1)
    try:
        started = time.monotonic()
        a.notify(SimpleNamespace(notice_file="", wall="", pts_dir=str(planted)), "test", {WATCHED_UID})
        assert received(linked, 0.3) == b"" and (planted / "6").read_text() == "kept\n"
        a.notify(SimpleNamespace(notice_file="", wall="", pts_dir=str(tmp_path / "none")), "test", {WATCHED_UID})
        os.fchown(linked_slave, 0, -1)  # from here on only `watched` is the user's
        a.notify(SimpleNamespace(notice_file="", wall="", pts_dir="/dev/pts"), "test", {WATCHED_UID})
        assert received(watched).startswith(b"Idle shutdown: test; any activity cancels it.")
        assert received(other, 0.3) == b"" and received(linked, 0.3) == b""  # not the link's target either
        assert time.monotonic() - started < 10
    finally:
        for fds in ptys:
            for fd in fds:
                os.close(fd)
