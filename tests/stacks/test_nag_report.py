"""cdk-nag's report is enforced after synth, also when the CDK CLI runs the app (it does not fail on it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stacks.nag_report import NagFindings, raise_on_findings


def _report(tmp_path: Path, conclusion: str, violations: list[dict[str, object]]) -> Path:
    report = {"pluginReports": [{"pluginName": "AwsSolutions", "conclusion": conclusion, "violations": violations}]}
    (tmp_path / "validation-report.json").write_text(json.dumps(report))
    return tmp_path


def test_a_finding_fails_with_rule_and_path(tmp_path: Path) -> None:
    violation = {"ruleName": "AwsSolutions-S1", "violatingConstructs": [{"constructPath": "Dev/Stack/Bucket"}]}
    with pytest.raises(NagFindings, match=r"1 unacknowledged finding\(s\): AwsSolutions-S1: Dev/Stack/Bucket"):
        raise_on_findings(_report(tmp_path, "failure", [violation]))


def test_a_clean_report_or_none_passes(tmp_path: Path) -> None:
    raise_on_findings(tmp_path)
    raise_on_findings(_report(tmp_path, "success", []))


def test_warnings_of_a_validation_plugin_do_not_fail(tmp_path: Path) -> None:
    warning = {"ruleName": "W2001", "severity": "warning", "violatingConstructs": [{"constructPath": "Stack"}]}
    raise_on_findings(_report(tmp_path, "success", [warning]))
