"""Every hook of the default app, synthesized by the real CDK CLI, rehearsed for real: all pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from constructs_lib.rehearse.cli import main
from tests.conftest import templates_of
from tests.constructs_lib.rehearse.conftest import host_state, rehearsal_processes

LIFECYCLE_TYPES = ("AWS::SageMaker::NotebookInstanceLifecycleConfig", "AWS::SageMaker::StudioLifecycleConfig")


@pytest.fixture(scope="module")
def default_rehearsal(default_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("rehearse-default") / "report.json"
    before = host_state()
    code = main([str(default_assembly), "--json", str(out)])
    return {"code": code, "report": json.loads(out.read_text()), "before": before, "after": host_state()}


def expected_hooks(assembly: Path) -> set[tuple[str, str]]:
    hooks = set()
    for template in templates_of(assembly).values():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == LIFECYCLE_TYPES[0]:
                hooks |= {(logical_id, h) for h in ("OnCreate", "OnStart") if resource["Properties"].get(h)}
            elif resource["Type"] == LIFECYCLE_TYPES[1]:
                hooks.add((logical_id, resource["Properties"]["StudioLifecycleConfigAppType"]))
    return hooks


def test_every_hook_of_the_default_app_is_rehearsed_and_passes(
    default_rehearsal: dict[str, object], default_assembly: Path
) -> None:
    report = default_rehearsal["report"]
    assert isinstance(report, dict)
    problems = {h["label"]: h["problems"] for h in report["hooks"]}
    assert default_rehearsal["code"] == 0, problems
    assert report["ok"] is True
    assert {(h["config"], h["hook"]) for h in report["hooks"]} == expected_hooks(default_assembly)
    assert {h["target"] for h in report["hooks"]} == {"notebook-instance", "studio"}
    for hook in report["hooks"]:
        assert hook["mode"] == "uid-range"  # CI runs as root: real distinct users in the sandbox
        assert [run["name"] for run in hook["runs"]] == ["creation", "start"]
        assert hook["idempotent"] is True
        for run in hook["runs"]:
            assert run["hookExit"] == 0
            assert run["blockingSeconds"] < run["limitSeconds"]
            assert [m["status"] for m in run["modules"]] == ["ok"] * len(run["modules"])
            for module in run["modules"]:
                assert module["seconds"] <= module["budgetSeconds"]


def test_the_notebook_hook_ran_as_on_an_instance(default_rehearsal: dict[str, object]) -> None:
    report = default_rehearsal["report"]
    assert isinstance(report, dict)
    hook = next(h for h in report["hooks"] if h["hook"] == "OnStart")
    first = {m["name"]: m for m in hook["runs"][0]["modules"]}
    # The notebook user is the sandbox's own (uid 1000, whatever this machine has) and owns what it wrote.
    assert hook["user"] == {"name": "ec2-user", "uid": 1000, "gid": 1000}
    condarc = next(c for c in first["conda-persistent-envs"]["changes"] if c["path"] == "/home/ec2-user/.condarc")
    assert (condarc["change"], condarc["owner"], condarc["mode"]) == ("created", "ec2-user:ec2-user", "0644")
    # systemctl is a recording stand-in; the real crontab wrote the user's spool inside the root.
    assert "root: systemctl stop amazon-ssm-agent" in first["stop-ssm-agent"]["calls"]
    if "idle-autostop" in first:
        # Root's own cron entry with the root-owned system python (ec2-user's crontab is not used).
        changes = {c["path"]: c for c in first["idle-autostop"]["changes"]}
        entry = changes.get("/etc/cron.d/sagemaker-lifecycle-autostop")
        assert entry and entry["owner"].startswith("root") and entry["mode"] == "0644", first["idle-autostop"]
        assert not [p for p in changes if p.startswith("/var/spool/cron/")]
    second = {m["name"]: m for m in hook["runs"][1]["modules"]}
    assert all(not m["changes"] for m in second.values()), {n: m["changes"] for n, m in second.items()}


def test_this_machine_is_left_unchanged(default_rehearsal: dict[str, object]) -> None:
    assert default_rehearsal["after"] == default_rehearsal["before"]
    assert rehearsal_processes() == []
