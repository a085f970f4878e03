"""The optional CDK Pipelines stack: stages deployed in the configured order, the decoded lifecycle review and
a manual approval before production, offline synth, cdk-nag clean; and its configuration errors by key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks.config import ConfigError
from stacks.pipeline_config import parse_pipeline
from stacks.pipeline_stack import review_command
from stacks.stages import parse_stages
from tests.conftest import REPO, cdk_synth

STAGES = {
    "Prod": {"account": "222222222222", "region": "eu-central-1"},
    "Dev": {"account": "111111111111", "region": "eu-west-1"},
}
PIPELINE = {
    "account": "333333333333",
    "region": "eu-west-1",
    "repository": "acme/sagemaker-notebooks",
    "branch": "main",
    "connectionArn": "arn:aws:codeconnections:eu-west-1:333333333333:connection/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab",
    "order": ["Dev", "Prod"],
}


@pytest.fixture(scope="module")
def pipeline_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    config = {k: context[k] for k in ("notebookEnvironment", "studioEnvironment")}
    config |= {"stages": STAGES, "pipeline": PIPELINE}
    work = tmp_path_factory.mktemp("pipeline")
    (work / "config.json").write_text(json.dumps(config))
    out = work / "cdk.out"
    result = cdk_synth(REPO, out, "-c", f"configFile={work / 'config.json'}")
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _pipeline(assembly: Path) -> dict[str, Any]:
    template = json.loads((assembly / "SageMakerPipeline.template.json").read_text())
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    return pipeline  # type: ignore[no-any-return]


def test_stages_deploy_in_the_configured_order_after_synth(pipeline_assembly: Path) -> None:
    names = [stage["Name"] for stage in _pipeline(pipeline_assembly)["Properties"]["Stages"]]
    # Assets: the Lambda code of the custom resource that strips the VPCs' default security groups.
    assert names == ["Source", "Build", "UpdatePipeline", "Assets", "Dev", "Prod"]
    assert _pipeline(pipeline_assembly)["Properties"]["PipelineType"] == "V2"


def test_production_waits_for_the_lifecycle_review_then_an_approval(pipeline_assembly: Path) -> None:
    stages = {stage["Name"]: stage["Actions"] for stage in _pipeline(pipeline_assembly)["Properties"]["Stages"]}
    prod = sorted(stages["Prod"], key=lambda a: a["RunOrder"])
    assert [(a["Name"], a["ActionTypeId"]["Provider"], a["RunOrder"]) for a in prod[:2]] == [
        ("ReviewLifecycleProd", "CodeBuild", 1),
        ("ApproveProd", "Manual", 2),
    ]
    assert min(a["RunOrder"] for a in prod if a["ActionTypeId"]["Provider"] == "CloudFormation") == 3
    assert not [a for a in stages["Dev"] if a["ActionTypeId"]["Provider"] in ("Manual", "CodeBuild")]
    template = json.loads((pipeline_assembly / "SageMakerPipeline.template.json").read_text())
    specs = [
        r["Properties"]["Source"]["BuildSpec"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CodeBuild::Project" and "ReviewLifecycleProd" in json.dumps(r)
    ]
    assert len(specs) == 1
    assert "python3 -m constructs_lib.review list cdk.out" in specs[0]


def test_each_stage_is_in_its_account_and_synth_needs_no_lookup(pipeline_assembly: Path) -> None:
    manifest = json.loads((pipeline_assembly / "manifest.json").read_text())
    assert "missing" not in manifest
    assert manifest["artifacts"]["SageMakerPipeline"]["environment"] == "aws://333333333333/eu-west-1"
    for stage, env in STAGES.items():
        nested = json.loads((pipeline_assembly / f"assembly-SageMakerPipeline-{stage}" / "manifest.json").read_text())
        assert "missing" not in nested
        stacks = [a for a in nested["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
        assert {a["environment"] for a in stacks} == {f"aws://{env['account']}/{env['region']}"}
    assert not (REPO / "cdk.context.json").exists()


def test_cdk_nag_is_clean_on_the_pipeline_and_every_stage(pipeline_assembly: Path) -> None:
    report = json.loads((pipeline_assembly / "validation-report.json").read_text())
    assert {(p["conclusion"], len(p["violations"])) for p in report["pluginReports"]} == {("success", 0)}


def test_the_review_step_command_reads_the_production_assembly(pipeline_assembly: Path, tmp_path: Path) -> None:
    # The step's layout: the source checkout, with the synth output linked in as cdk.out.
    (tmp_path / "constructs_lib").symlink_to(REPO / "constructs_lib")
    (tmp_path / "cdk.out").symlink_to(pipeline_assembly)
    command = review_command()
    result = subprocess.run(
        [sys.executable, *command.split()[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "idle-autostop" in result.stdout and "Prod" in result.stdout


def _stages() -> Any:
    return parse_stages(STAGES)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"account": "33333333333\n"}, r"pipeline\.account: .* 12-digit"),
        ({"region": "eu-west-1\n"}, r"pipeline\.region: "),
        ({"repository": "acme"}, r"pipeline\.repository: 'acme' is invalid: .*'owner/name'"),
        ({"connectionArn": "arn:aws:s3:::bucket"}, r"pipeline\.connectionArn: .*CodeConnections"),
        (
            {"order": ["Dev", "Staging"]},
            r"pipeline\.order\[1\]: 'Staging' is not a configured stage; use one of Dev, Prod",
        ),
        ({"order": ["Dev", "Dev"]}, r"pipeline\.order\[1\]: 'Dev' is listed twice"),
        ({"order": ["Dev"]}, r"pipeline\.order: stage 'Prod' is configured but not deployed"),
        ({"reviewBefore": "Prod"}, r"pipeline\.reviewBefore: expected a list"),
        ({"approvers": []}, r"pipeline\.approvers: unknown key"),
    ],
)
def test_bad_pipeline_configuration_names_the_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_pipeline(PIPELINE | change, _stages())


def test_a_pipeline_without_stages_says_to_add_them() -> None:
    with pytest.raises(ConfigError, match=r"pipeline: a pipeline deploys the configured stages.*add 'stages'"):
        parse_pipeline(PIPELINE, ())


def test_review_defaults_to_the_last_stage_and_order_defaults_to_the_stages() -> None:
    spec = parse_pipeline({k: v for k, v in PIPELINE.items() if k != "order"}, _stages())
    assert spec is not None
    assert [s.name for s in spec.stages] == ["Dev", "Prod"]
    assert spec.review_before == {"Prod"}
