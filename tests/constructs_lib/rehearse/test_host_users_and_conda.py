"""The sandbox's users are its own: a machine that already has ec2-user and sagemaker-user (every
Amazon Linux build host) rehearses the same; the catalogue's conda modules pass without conda."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from constructs_lib.rehearse.cli import main
from tests.constructs_lib.rehearse.conftest import logical_id, rehearsal_processes, sandbox_processes

REPO = Path(__file__).resolve().parents[3]


def modules(report: dict[str, Any], run: int = 1) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in report["hooks"][0]["runs"][run - 1]["modules"]}


def check_conda_config(report: dict[str, Any]) -> None:
    hook = report["hooks"][0]
    assert report["ok"] is True, hook["problems"]
    assert hook["user"] == {"name": "ec2-user", "uid": 1000, "gid": 1000}
    first = modules(report)
    assert {m["status"] for m in first.values()} == {"ok"}
    home = {c["path"]: c for c in first["writes-home"]["changes"]}
    assert home["/home/ec2-user/.rehearsed"]["owner"] == "ec2-user:ec2-user"
    conda = first["conda-packages-analysis"]
    assert any(c.startswith("ec2-user: conda create --yes --quiet --prefix") for c in conda["calls"]), conda["calls"]
    kernel = "/home/ec2-user/.local/share/jupyter/kernels/analysis/kernel.json"
    assert kernel in {c["path"] for c in conda["changes"]}
    second = modules(report, 2)
    assert (
        "analysis: /home/ec2-user/SageMaker/.conda/envs/analysis already has numpy; nothing to install"
        in (second["conda-packages-analysis"]["logTail"])
    )


def test_the_catalogue_conda_modules_pass_without_conda(broken_assembly: Path, tmp_path: Path) -> None:
    assert shutil.which("conda") is None  # this machine has none: the stand-in makes the environment
    out = tmp_path / "report.json"
    started = time.monotonic()
    code = main([str(broken_assembly), "--config", logical_id(broken_assembly, "Conda"), "--json", str(out)])
    assert time.monotonic() - started < 60  # not the 2 x 600 s of a fixed wait for a marker
    assert code == 0
    check_conda_config(json.loads(out.read_text()))


def test_a_background_module_is_reported_after_its_own_budget(tmp_path: Path) -> None:
    from aws_cdk import App, Duration, Stack

    from constructs_lib import Mode, Module, NotebookLifecycleConfig

    app = App(outdir=str(tmp_path / "out"))
    hangs = Module(name="hangs", mode=Mode.BACKGROUND, budget=Duration.seconds(3), script="#!/bin/bash\nsleep 600\n")
    NotebookLifecycleConfig(Stack(app, "Hang"), "Lifecycle", on_start=[hangs])
    app.synth()
    out = tmp_path / "report.json"
    started = time.monotonic()
    assert main([str(tmp_path / "out"), "--json", str(out), "--background-wait", "600"]) == 1
    assert time.monotonic() - started < 60  # 2 runs x (3 s budget + grace), not 2 x 600 s
    hang = modules(json.loads(out.read_text()))["hangs"]
    assert (hang["status"], hang["exit"]) == ("over budget", 124)


def test_a_machine_with_its_own_ec2_user_and_sagemaker_user(broken_assembly: Path, tmp_path: Path) -> None:
    """Run the CLI in an outer bubblewrap whose /etc/passwd and /etc/group have both users (other uids)."""
    passwd, group = tmp_path / "passwd", tmp_path / "group"
    passwd.write_text(
        Path("/etc/passwd").read_text()
        + "ec2-user:x:1001:1001:EC2 Default User:/home/ec2-user:/bin/bash\n"
        + "sagemaker-user:x:1002:1002::/home/sagemaker-user:/bin/bash\n"
    )
    group.write_text(Path("/etc/group").read_text() + "ec2-user:x:1001:\nsagemaker-user:x:1002:\n")
    out = tmp_path / "report.json"
    outer = ["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(passwd), "/etc/passwd", "--ro-bind", str(group),
             "/etc/group", "--die-with-parent", "--"]  # fmt: skip
    probe = subprocess.run([*outer, "id", "-u", "ec2-user"], capture_output=True, text=True, timeout=30)
    assert probe.stdout == "1001\n"  # the host, as the rehearsal sees it, has its own ec2-user
    result = subprocess.run(
        [*outer, sys.executable, "-m", "constructs_lib.rehearse", str(broken_assembly), "--config",
         logical_id(broken_assembly, "Conda"), "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    check_conda_config(json.loads(out.read_text()))
    assert "writes-home: exit 0" in result.stderr  # progress per module, as it ran
    assert sandbox_processes() == [] and rehearsal_processes() == []


def test_one_uid_mode_passes_the_conda_config_with_files_of_root(broken_assembly: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    assert main([str(broken_assembly), "--config", logical_id(broken_assembly, "Conda"), "--mode", "one-uid",
                 "--json", str(out)]) == 0  # fmt: skip
    report = json.loads(out.read_text())
    home = {c["path"]: c for c in modules(report)["writes-home"]["changes"]}
    assert home["/home/ec2-user/.rehearsed"]["owner"] == "root:root"
