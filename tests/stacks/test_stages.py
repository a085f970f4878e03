"""Deployment stages: the same stacks per account and region, synthesized offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stacks.config import ConfigError
from stacks.stages import parse_stages
from tests.conftest import REPO, cdk_synth

STAGES = {
    "Dev": {"account": "111111111111", "region": "eu-west-1"},
    "Prod": {"account": "222222222222", "region": "eu-central-1"},
}


def test_each_stage_gets_every_stack_in_its_account_and_region_without_lookups(tmp_path: Path) -> None:
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    config = {k: context[k] for k in ("notebookEnvironment", "studioEnvironment")}
    config["stages"] = STAGES
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    out = tmp_path / "cdk.out"
    result = cdk_synth(REPO, out, "-c", f"configFile={config_file}")
    assert result.returncode == 0, result.stderr
    assert not (REPO / "cdk.context.json").exists(), "synth must not store context lookups"
    contents = {}
    for stage, env in STAGES.items():
        manifest = json.loads((out / f"assembly-{stage}" / "manifest.json").read_text())
        assert "missing" not in manifest, "synth must not need context lookups"
        stacks = {k: v for k, v in manifest["artifacts"].items() if v["type"] == "aws:cloudformation:stack"}
        assert {v["displayName"] for v in stacks.values()} >= {
            f"{stage}/SageMakerNotebooks",
            f"{stage}/SageMakerStudio",
        }
        assert {v["environment"] for v in stacks.values()} == {f"aws://{env['account']}/{env['region']}"}
        (notebooks,) = [k for k, v in stacks.items() if v["displayName"] == f"{stage}/SageMakerNotebooks"]
        template = json.loads((out / f"assembly-{stage}" / f"{notebooks}.template.json").read_text())
        # The archive (an S3 asset in each stage's own bootstrap bucket, so the loaders differ) is the same.
        contents[stage] = sorted(
            json.dumps(r["Metadata"]["LifecycleBundle"]["OnStart"]["archiveSha256"])
            for r in template["Resources"].values()
            if r["Type"] == "AWS::SageMaker::NotebookInstanceLifecycleConfig"
        )
    assert contents["Dev"] == contents["Prod"], "the same lifecycle content goes to every stage"
    # The CLI does not fail on cdk-nag's report in stages; the app does, and the constructs' acknowledgments
    # name the stage's account and region.
    report = json.loads((out / "validation-report.json").read_text())
    assert {(p["conclusion"], len(p["violations"])) for p in report["pluginReports"]} == {("success", 0)}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"dev": {"account": "111111111111", "region": "eu-west-1"}}, r'stages.dev: stage name "dev" is invalid'),
        ({"Dev": {"account": 111111111111, "region": "eu-west-1"}}, r"stages.Dev.account: 111111111111 is invalid"),
        ({"Dev": {"account": "11111111111", "region": "eu-west-1"}}, r"stages.Dev.account"),
        ({"Dev": {"account": "111111111111", "region": "Ireland"}}, r'stages.Dev.region: "Ireland" is invalid'),
        ({"Dev": {"account": "111111111111"}}, r"stages.Dev.region: required key is missing"),
        ({"Dev\n": {"account": "111111111111", "region": "eu-west-1"}}, r"stage name \"Dev\\n\" is invalid"),
        ({"Dev": {"account": "111111111111\n", "region": "eu-west-1"}}, r"stages.Dev.account: .* is invalid"),
        ({"Dev": {"account": "111111111111", "region": "eu-west-1\n"}}, r"stages.Dev.region: .* is invalid"),
        ([], r"stages: expected an object"),
    ],
)
def test_bad_stages_name_the_key(raw: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_stages(raw)


def test_no_stages_means_environment_agnostic() -> None:
    assert parse_stages(None) == ()
