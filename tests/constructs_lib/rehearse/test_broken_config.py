"""A deliberately broken configuration: every problem is reported with its module's name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.rehearse.cli import main
from tests.constructs_lib.rehearse.conftest import DAEMON_MARK, host_state, logical_id, rehearsal_processes


def rehearse(assembly: Path, tmp: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    out = tmp / "report.json"
    before = host_state()
    code = main([str(assembly), "--json", str(out), *args])
    text = capsys.readouterr().out
    return {"code": code, "text": text, "report": json.loads(out.read_text()), "before": before, "after": host_state()}


@pytest.fixture(scope="module")
def namespace_run(broken_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("broken-namespace") / "report.json"
    keep = tmp_path_factory.mktemp("broken-keep")
    before = host_state()
    config = logical_id(broken_assembly, "Broken")
    code = main([str(broken_assembly), "--config", config, "--stub", "aws", "--json", str(out), "--keep", str(keep)])
    return {"code": code, "report": json.loads(out.read_text()), "before": before, "after": host_state(), "keep": keep}


def problems_of(run: dict[str, Any]) -> list[str]:
    return [p for hook in run["report"]["hooks"] for p in hook["problems"]]


def modules_of(run: dict[str, Any], number: int) -> dict[str, dict[str, Any]]:
    hook = run["report"]["hooks"][0]
    return {m["name"]: m for m in hook["runs"][number - 1]["modules"]}


def check_the_problems_are_named(run: dict[str, Any]) -> None:
    problems = problems_of(run)
    assert run["code"] == 1
    assert "exits-one: failed with exit status 1 in run 1 (creation)" in problems
    assert "exits-one: failed with exit status 1 in run 2 (start)" in problems
    assert any(p.startswith("sleeps-past-budget: exceeded its budget of 1s and was killed") for p in problems)
    assert "appends-condarc: not idempotent: run 2 modified /home/ec2-user/.condarc" in problems
    # Nothing else is blamed: the good modules pass.
    blamed = {p.split(":")[0] for p in problems}
    assert blamed == {"exits-one", "sleeps-past-budget", "appends-condarc"}, problems
    first = modules_of(run, 1)
    assert first["exits-one"]["status"] == "failed" and first["exits-one"]["exit"] == 1
    assert first["exits-one"]["logTail"][0] == "about to fail"
    assert first["sleeps-past-budget"]["status"] == "over budget" and first["sleeps-past-budget"]["exit"] == 124
    assert first["background-ok"]["status"] == "ok"
    assert first["background-ok"]["marker"].startswith("exit=0 seconds=")
    created = {c["path"] for c in first["background-ok"]["changes"]}
    assert "/home/ec2-user/SageMaker/background-output" in created
    change = run["report"]["hooks"][0]["idempotenceChanges"][0]
    assert change["modules"] == ["appends-condarc"]
    assert change["diff"][-2:] == [" channels: [conda-forge]", "+channels: [conda-forge]"]


def test_each_problem_names_its_module(namespace_run: dict[str, Any]) -> None:
    check_the_problems_are_named(namespace_run)
    assert namespace_run["report"]["hooks"][0]["mode"] == "uid-range"


def test_files_are_attributed_to_the_module_that_wrote_them(namespace_run: dict[str, Any]) -> None:
    first = modules_of(namespace_run, 1)
    condarc = first["appends-condarc"]["changes"]
    assert [(c["path"], c["change"], c["owner"], c["mode"]) for c in condarc] == [
        ("/home/ec2-user/.condarc", "created", "ec2-user:ec2-user", "0644")
    ]
    assert first["exits-one"]["changes"] == []
    second = modules_of(namespace_run, 2)
    assert [(c["path"], c["change"]) for c in second["appends-condarc"]["changes"]] == [
        ("/home/ec2-user/.condarc", "modified")
    ]


def test_stubs_record_calls_and_leftover_processes_are_reported(namespace_run: dict[str, Any]) -> None:
    hook = namespace_run["report"]["hooks"][0]
    assert "aws" in hook["stubs"] and "systemctl" in hook["stubs"]
    assert modules_of(namespace_run, 1)["calls-aws"]["calls"] == ["root: aws s3 ls s3://some-bucket"]
    left = hook["runs"][0]["leftRunning"]
    assert [(p["command"], p["modules"]) for p in left] == [(f"sleep {DAEMON_MARK}", ["starts-a-daemon"])]
    assert len(hook["killedAtEnd"]) == 2  # one daemon per run, stopped when the rehearsal ended


def test_keep_holds_the_report_outputs_and_changed_files(namespace_run: dict[str, Any]) -> None:
    keep: Path = namespace_run["keep"]
    hook_dir = next(p for p in keep.iterdir() if p.is_dir())
    assert (keep / "report.txt").read_text().count("FAIL") >= 1
    assert json.loads((keep / "report.json").read_text())["ok"] is False
    assert "[exits-one] about to fail" in (hook_dir / "run-1.out").read_text()
    assert (hook_dir / "changed/home/ec2-user/.condarc").read_text() == "channels: [conda-forge]\n" * 2
    assert "\taws\ts3\tls\t" in (hook_dir / "calls.log").read_text()


def test_the_broken_rehearsal_leaves_this_machine_unchanged(namespace_run: dict[str, Any]) -> None:
    assert namespace_run["after"] == namespace_run["before"]
    assert rehearsal_processes() == []


def test_one_uid_mode_reports_the_same_problems(
    broken_assembly: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without root the sandbox has one uid: the same problems, with sudo, chown and crontab stand-ins."""
    config = logical_id(broken_assembly, "Broken")
    run = rehearse(broken_assembly, tmp_path, capsys, "--config", config, "--mode", "one-uid", "--stub", "aws")
    check_the_problems_are_named(run)
    hook = run["report"]["hooks"][0]
    assert hook["mode"] == "one-uid" and "mode: bubblewrap sandbox with one uid" in run["text"]
    assert {"sudo", "chown", "crontab"} <= set(hook["stubs"])
    condarc = modules_of(run, 1)["appends-condarc"]["changes"][0]
    assert condarc["owner"] == "root:root"  # one uid: the notebook user's files are root's
    assert run["after"] == run["before"]
    assert rehearsal_processes() == []


def test_a_hook_over_the_time_limit_is_killed_and_reported(
    broken_assembly: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = logical_id(broken_assembly, "Slow")
    run = rehearse(broken_assembly, tmp_path, capsys, "--config", config, "--hook-limit", "2")
    assert run["code"] == 1
    hook = run["report"]["hooks"][0]
    first = hook["runs"][0]
    assert first["timedOut"] is True and 2 <= first["blockingSeconds"] < 6
    assert [m["status"] for m in first["modules"]] == ["ok", "killed", "did not run"]
    problems = hook["problems"]
    assert "slow: was running when the hook reached the 2s limit and was killed in run 1 (creation)" in problems
    assert any(p.startswith("hook: blocked for") and "over the 2s limit" in p for p in problems)
    assert "KILLED at the limit" in run["text"]
    assert rehearsal_processes() == []


def test_the_text_report_names_modules_and_the_verdict(
    broken_assembly: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], namespace_run: dict[str, Any]
) -> None:
    from constructs_lib.rehearse.report import render_text

    text = render_text(namespace_run["report"]["hooks"])
    assert "FAILED        exits-one" in text
    assert "OVER BUDGET   sleeps-past-budget" in text
    assert "~ /home/ec2-user/.condarc  file ec2-user:ec2-user 0644  [appends-condarc]" in text
    assert "result: FAIL (5 problems)" in text
