"""Fixtures of the rehearsal tests: a deliberately broken app, and what "this machine" looks like."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from aws_cdk import App, Duration, Stack

from constructs_lib import Mode, Module, NotebookLifecycleConfig, RunAs

DAEMON_MARK = "31415"  # `sleep 31415`: the process a module leaves behind

# Files and directories a rehearsal would touch if it leaked out of its root.
WATCHED_FILES = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/hosts", "/etc/hostname")
WATCHED_TREES = ("/var/spool/cron", "/etc/profile.d", "/etc/sudoers.d", "/usr/local/lib/sagemaker-lifecycle")
LISTED_TREES = ("/home", "/opt", "/usr/local/lib")  # names only, two levels
WATCHED_PATHS = (
    "/var/lib/sagemaker-lifecycle",
    "/var/log/sagemaker-lifecycle",
    "/tmp/sagemaker-lifecycle",
    "/run/lcc-rehearse",
    "/run/systemd/system",
    "/usr/local/lib/sagemaker-lifecycle",
)


def _tree(top: str, depth: int = 3, content: bool = True) -> list[tuple[str, int, int, int, str]]:
    """(path, mode, uid, gid, content or link) of everything under ``top``, ``depth`` levels down."""
    rows = []
    base = top.rstrip("/").count("/")
    for dirpath, dirnames, filenames in os.walk(top):
        if dirpath.count("/") - base >= depth:
            dirnames[:] = []
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            if os.path.islink(path):
                content = "-> " + os.readlink(path)
            elif content and os.path.isfile(path) and info.st_size < 65536:
                content = Path(path).read_bytes().hex()
            else:
                content = ""
            rows.append((path, info.st_mode, info.st_uid, info.st_gid, content))
    return sorted(rows)


def host_state() -> dict[str, object]:
    """What a leaking rehearsal would change on this machine."""
    state: dict[str, object] = {"hostname": socket.gethostname()}
    for name in WATCHED_FILES:
        state[name] = Path(name).read_bytes() if os.path.exists(name) else None
    for top in WATCHED_TREES:
        state[top] = _tree(top)
    for top in LISTED_TREES:
        state[top] = _tree(top, depth=2, content=False)
    for path in WATCHED_PATHS:
        state[path] = os.path.lexists(path)
    state["/tmp"] = sorted(name for name in os.listdir("/tmp") if name.startswith("lcc-rehearse-"))
    return state


def rehearsal_processes() -> list[str]:
    """Live processes of a rehearsal (its temp dir or the control mount in their command line)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        command = raw.replace(b"\0", b" ").decode("utf-8", "replace")
        if state != "Z" and ("lcc-rehearse" in command or f"sleep {DAEMON_MARK}" in command):
            found.append(f"{entry}: {command}")
    return found


def broken_modules() -> list[Module]:
    return [
        Module(
            name="appends-condarc",
            user=RunAs.NOTEBOOK_USER,
            script='#!/bin/bash\necho "channels: [conda-forge]" >>"$NB_HOME/.condarc"\necho appended a line\n',
        ),
        Module(name="exits-one", script="#!/bin/bash\necho about to fail\nexit 1\n"),
        Module(
            name="sleeps-past-budget",
            budget=Duration.seconds(1),
            script="#!/bin/bash\necho going to sleep\nsleep 30\necho never printed\n",
        ),
        Module(
            name="starts-a-daemon",
            script=f"#!/bin/bash\nsetsid sleep {DAEMON_MARK} >/dev/null 2>&1 </dev/null &\necho daemon started\n",
        ),
        Module(name="calls-aws", script="#!/bin/bash\naws s3 ls s3://some-bucket\n"),
        Module(
            name="background-ok",
            mode=Mode.BACKGROUND,
            user=RunAs.NOTEBOOK_USER,
            budget=Duration.seconds(20),
            script='#!/bin/bash\nsleep 1\necho done >"$PERSIST_DIR/background-output"\necho background work done\n',
        ),
    ]


@pytest.fixture(scope="session")
def broken_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cloud assembly with a broken on-start hook (config Broken) and a slow one (config Slow)."""
    out = tmp_path_factory.mktemp("broken.out")
    app = App(outdir=str(out))
    stack = Stack(app, "Rehearsal")
    NotebookLifecycleConfig(stack, "Broken", on_start=broken_modules())
    NotebookLifecycleConfig(
        stack,
        "Slow",
        on_start=[
            Module(name="quick", script="#!/bin/bash\necho quick\n"),
            Module(name="slow", budget=Duration.seconds(60), script="#!/bin/bash\necho slow\nsleep 30\n"),
            Module(name="after-slow", script="#!/bin/bash\necho after\n"),
        ],
    )
    app.synth()
    return out


def logical_id(assembly: Path, prefix: str) -> str:
    import json

    template = json.loads((assembly / "Rehearsal.template.json").read_text())
    return next(key for key in template["Resources"] if key.startswith(prefix))
