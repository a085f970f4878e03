"""``rehearse --then USER SCRIPT``: steps run in the same sandbox after the two runs, as root or the notebook
user, each reported and bounded by --hook-limit; bad steps are refused before anything runs."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import pytest

from constructs_lib.rehearse.cli import main
from constructs_lib.rehearse.report import render_text
from tests.constructs_lib.rehearse.conftest import DAEMON_MARK, rehearsal_processes, sandbox_processes

HOOK = "#!/bin/bash\necho hook ran >/home/ec2-user/SageMaker/hook-ran\n"


def plain_template(tmp_path: Path) -> Path:
    template = {
        "Resources": {
            "Plain": {
                "Type": "AWS::SageMaker::NotebookInstanceLifecycleConfig",
                "Properties": {"OnStart": [{"Content": base64.b64encode(HOOK.encode()).decode()}]},
            }
        }
    }
    path = tmp_path / "Plain.template.json"
    path.write_text(json.dumps(template))
    return path


def test_bad_steps_are_refused_with_one_line_and_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = plain_template(tmp_path)
    script = tmp_path / "step.sh"
    script.write_text("echo never\n")
    big = tmp_path / "big.sh"
    big.write_bytes(b"#" * ((1 << 20) + 1))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # nobody writes: reading it would hang
    cases = {
        ("admin", str(script)): "the user is root or notebook-user",
        ("root", str(tmp_path / "missing.sh")): "No such file or directory",
        ("root", str(tmp_path)): "not a regular file",
        ("root", str(fifo)): "not a regular file",
        ("root", str(big)): "larger than 1 MiB",
    }
    for (user, path), message in cases.items():
        started = time.monotonic()
        assert main([str(template), "--then", user, path]) == 2, (user, path)
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("rehearse: --then ") and message in err, err
        assert time.monotonic() - started < 5
    assert main([str(template), "--mode", "one-uid", "--then", "notebook-user", str(script)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--then notebook-user needs --mode uid-range" in err, err


def test_steps_run_in_order_in_the_same_sandbox_as_their_users(tmp_path: Path) -> None:
    """(As root, as CI runs: the sandbox has real distinct users.)"""
    steps = {
        "user.sh": "id -u\npwd\ncat SageMaker/hook-ran\ntouch ~/from-the-user\n"
        f"setsid sleep {DAEMON_MARK} </dev/null >/dev/null 2>&1 &\n",
        "root.sh": "id -u\npwd\nstat -c '%U %n' /home/ec2-user/from-the-user\nexit 4\n",
        "slow.sh": "echo going to sleep\nsleep 60\n",
        "after.sh": "echo after the slow one\n",
    }
    for name, text in steps.items():
        (tmp_path / name).write_text(text)
    out = tmp_path / "report.json"
    argv = [str(plain_template(tmp_path)), "--json", str(out), "--hook-limit", "3"]
    for user, name in (("notebook-user", "user.sh"), ("root", "root.sh"), ("root", "slow.sh"), ("root", "after.sh")):
        argv += ["--then", user, str(tmp_path / name)]
    started = time.monotonic()
    assert main(argv) == 1
    assert time.monotonic() - started < 30  # the slow step was killed at the 3 s limit
    (hook,) = json.loads(out.read_text())["hooks"]
    then = hook["then"]
    assert [(s["step"], s["user"], s["exit"], s["timedOut"]) for s in then] == [
        (1, "ec2-user", 0, False),
        (2, "root", 4, False),
        (3, "root", -9, True),
        (4, "root", 0, False),
    ]
    assert then[0]["output"] == ["1000", "/home/ec2-user", "hook ran"]
    assert then[1]["output"] == ["0", "/root", "ec2-user /home/ec2-user/from-the-user"]
    assert then[2]["output"] == ["going to sleep"] and then[3]["output"] == ["after the slow one"]
    assert hook["problems"] == [
        "then 2 (root): exited with status 4",
        "then 3 (root): killed at the 3s limit",
    ]
    assert "then 2 (root): exit 4 after " in render_text([hook])
    assert rehearsal_processes() == [] and sandbox_processes() == []  # the step's daemon died with the sandbox
