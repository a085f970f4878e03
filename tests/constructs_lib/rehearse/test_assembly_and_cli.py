"""Finding hooks in an assembly, the CLI's selectors and errors, and a plain (unbundled) script."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from constructs_lib.rehearse.assembly import AssemblyError, find_hooks
from constructs_lib.rehearse.cli import main
from tests.constructs_lib.rehearse.conftest import logical_id, rehearsal_processes


def test_hooks_are_decoded_with_their_plan(broken_assembly: Path) -> None:
    hooks = find_hooks(broken_assembly)
    assert [(h.stack, h.hook, h.target) for h in hooks] == [("Rehearsal", "OnStart", "notebook-instance")] * 4
    broken = next(h for h in hooks if h.config == logical_id(broken_assembly, "Broken"))
    assert broken.bundle_hook == "on-start"
    assert broken.bundle_dir == "/var/lib/sagemaker-lifecycle/on-start"
    assert broken.settings["NB_USER"] == "ec2-user"
    assert [(m.name, m.user, m.mode, m.budget_seconds) for m in broken.modules][:3] == [
        ("appends-condarc", "notebook-user", "blocking", 30),
        ("exits-one", "root", "blocking", 30),
        ("sleeps-past-budget", "root", "blocking", 1),
    ]
    assert broken.modules[-1].mode == "background"


def test_selectors_narrow_and_name_what_exists(broken_assembly: Path) -> None:
    assert len(find_hooks(broken_assembly, stack="Rehearsal", hook="onstart")) == 4
    with pytest.raises(AssemblyError, match=r"--stack 'Nope': no such stack .*; stacks: Rehearsal\."):
        find_hooks(broken_assembly, stack="Nope")
    with pytest.raises(AssemblyError, match=r"matches --hook OnCreate; hooks there: Rehearsal/Broken.* \(OnStart\)"):
        find_hooks(broken_assembly, hook="OnCreate")


def test_usage_errors_exit_2_with_a_message(
    broken_assembly: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "missing")]) == 2
    assert "no such cloud assembly directory or template file" in capsys.readouterr().err
    assert main([str(broken_assembly), "--config", "NoSuchConfig"]) == 2
    assert "no lifecycle hook in" in capsys.readouterr().err
    assert main([str(broken_assembly), "--stub", "/usr/bin/aws"]) == 2
    assert "give a command name, not a path" in capsys.readouterr().err


def test_a_plain_script_template_is_rehearsed_as_one_unit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = (
        "#!/bin/bash\n"
        "echo 'export A=1' >>/home/ec2-user/.bashrc\n"
        "install -m 0644 /dev/null /etc/profile.d/plain.sh\n"
        "exit 3\n"
    )
    template = {
        "Resources": {
            "Plain": {
                "Type": "AWS::SageMaker::NotebookInstanceLifecycleConfig",
                "Properties": {"OnCreate": [{"Content": base64.b64encode(script.encode()).decode()}]},
            }
        }
    }
    path = tmp_path / "Plain.template.json"
    path.write_text(json.dumps(template))
    out = tmp_path / "report.json"
    assert main([str(path), "--json", str(out)]) == 1
    hook = json.loads(out.read_text())["hooks"][0]
    assert hook["label"] == "Plain/Plain/OnCreate" and hook["runs"][0]["modules"] == []
    created = {c["path"]: c for c in hook["runs"][0]["hookChanges"]}
    assert created["/etc/profile.d/plain.sh"]["owner"] == "root:root"
    assert "hook: exited with status 3 in run 1 (creation) (SageMaker marks the instance Failed)" in hook["problems"]
    assert "(hook and runner): not idempotent: run 2 modified /home/ec2-user/.bashrc" in hook["problems"]
    assert rehearsal_processes() == []


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "constructs_lib.rehearse", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert result.stdout.startswith("usage: rehearse ")
    assert "--mode {auto,uid-range,one-uid}" in result.stdout
