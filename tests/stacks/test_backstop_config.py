"""The idle backstop from configuration: for the notebooks' stack and for the Studio domain's stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stacks.backstop_config import parse_backstop
from stacks.config_values import ConfigError
from tests.conftest import REPO, cdk_synth, templates_of

BACKSTOP = {
    "maxRunning": "12h",
    "workingHours": {"timeZone": "Europe/Berlin", "start": "07:00", "end": "20:00", "weekdays": ["Mon", "Fri"]},
    "schedule": "15m",
    "dryRun": False,
}


@pytest.fixture(scope="module")
def backstop_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    config = {k: context[k] for k in ("notebookEnvironment", "studioEnvironment")}
    config["notebookEnvironment"] = config["notebookEnvironment"] | {"idleBackstop": BACKSTOP}
    config["studioEnvironment"] = config["studioEnvironment"] | {"idleBackstop": BACKSTOP | {"dryRun": True}}
    work = tmp_path_factory.mktemp("backstop")
    (work / "config.json").write_text(json.dumps(config))
    out = work / "cdk.out"
    result = cdk_synth(REPO, out, "-c", f"configFile={work / 'config.json'}")
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _environment(template: dict[str, Any]) -> dict[str, str]:
    (function,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "MAX_KEEP_RUNNING_MINUTES" in json.dumps(r)
    ]
    return function["Properties"]["Environment"]["Variables"]  # type: ignore[no-any-return]


def test_each_stack_gets_its_backstop_with_the_configured_policy(backstop_assembly: Path) -> None:
    templates = templates_of(backstop_assembly)
    notebooks = _environment(templates["SageMakerNotebooks.template.json"])  # type: ignore[arg-type]
    studio = _environment(templates["SageMakerStudio.template.json"])  # type: ignore[arg-type]
    hours = '{"end":"20:00","start":"07:00","timeZone":"Europe/Berlin","weekdays":["Mon","Fri"]}'
    assert {k: notebooks[k] for k in ("DRY_RUN", "MAX_NOTEBOOK_RUNNING_MINUTES", "WORKING_HOURS")} == {
        "DRY_RUN": "false",
        "MAX_NOTEBOOK_RUNNING_MINUTES": "720",
        "WORKING_HOURS": hours,
    }
    assert notebooks["NOTEBOOK_NAMES"].startswith("sagemakernotebooks-datascience-")
    assert {k: studio[k] for k in ("DRY_RUN", "MAX_APP_AGE_MINUTES", "WORKING_HOURS")} == {
        "DRY_RUN": "true",
        "MAX_APP_AGE_MINUTES": "720",
        "WORKING_HOURS": hours,
    }
    assert studio["STUDIO_DOMAIN_ARN"] == {"Fn::GetAtt": ["Domain66AC69E0", "DomainArn"]}  # type: ignore[comparison-overlap]
    rules = [
        r
        for r in templates["SageMakerNotebooks.template.json"]["Resources"].values()  # type: ignore[union-attr]
        if r["Type"] == "AWS::Events::Rule"
    ]
    assert [r["Properties"]["ScheduleExpression"] for r in rules] == ["rate(15 minutes)"]


def test_cdk_nag_stays_clean_with_both_backstops(backstop_assembly: Path) -> None:
    report = json.loads((backstop_assembly / "validation-report.json").read_text())
    assert {(p["conclusion"], len(p["violations"])) for p in report["pluginReports"]} == {("success", 0)}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, r'idleBackstop: give "maxRunning" \(such as "12h"\), "workingHours", or both'),
        ({"maxRunning": "12h\n"}, r"idleBackstop.maxRunning: "),
        ({"maxRunning": "12h", "dryRun": "yes"}, r"idleBackstop.dryRun: expected true or false"),
        ({"workingHours": {"timeZone": "Mars/Olympus"}}, r"idleBackstop.workingHours: .*time_zone 'Mars/Olympus'"),
        ({"workingHours": {"start": "07:00"}}, r"idleBackstop.workingHours.timeZone: required key is missing"),
        ({"maxRunning": "12h", "forever": True}, r"idleBackstop.forever: unknown key"),
    ],
)
def test_bad_backstop_configuration_names_the_key(raw: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_backstop(raw, "notebookEnvironment.idleBackstop")
