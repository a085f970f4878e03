"""Notebook data permissions, existing network, role and key, and tags from configuration, synthesized."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment, Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from constructs_lib.notebook_instance import spread_index
from stacks.config import ConfigError, parse_config
from stacks.notebook_stack import NotebookStack

NB = "AWS::SageMaker::NotebookInstance"
KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = "arn:aws:iam::111122223333:role/team-notebooks"
SUBNETS = ["subnet-0a1b2c3d4e5f60719", "subnet-0a1b2c3d4e5f6071a", "subnet-0a1b2c3d4e5f6071b"]
NETWORK = {"vpcId": "vpc-0a1b2c3d4e5f60718", "subnetIds": SUBNETS, "securityGroupIds": ["sg-0a1b2c3d4e5f6071b"]}
SCRIPT = [{"module": "conda-persistent-envs"}]


def environment(**changes: Any) -> dict[str, Any]:
    notebooks = [
        {
            "id": "Analytics",
            "name": "team-analytics",
            "onStart": SCRIPT,
            "tags": {"Project": "churn", "Team": "analytics-core"},
            "permissions": {
                "managedPolicies": ["arn:aws:iam::aws:policy/AmazonAthenaFullAccess"],
                "s3": [
                    {"bucket": "team-data", "prefix": "raw/", "access": "read"},
                    {"bucket": "team-scratch", "access": "read-write"},
                ],
                "kmsKeys": [KEY],
            },
            "codeRepositories": [{"url": "https://git.example.com/team/analytics.git", "branch": "main"}],
        },
        {"id": "Reporting", "name": "team-reporting", "onStart": SCRIPT, "roleArn": ROLE, "kmsKeyArn": KEY},
    ]
    raw: dict[str, Any] = {
        "network": NETWORK,
        "tags": {"CostCenter": "4711", "Team": "analytics"},
        "notebooks": notebooks,
    }
    raw.update(changes)
    return raw


def synth(raw: dict[str, Any], outdir: Path, env: Environment | None = None) -> tuple[NotebookStack, dict[str, Any]]:
    app = App(outdir=str(outdir))
    stack = NotebookStack(app, "SageMakerNotebooks", config=parse_config(raw), env=env)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises on any unacknowledged cdk-nag finding
    return stack, Template.from_stack(stack).to_json()


def policy_statements(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    found = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and resource["Properties"]["Roles"][0]["Ref"].startswith(role_prefix):
            found.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return found


def s3_arn(rest: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":s3:::{rest}"]]}


def test_permissions_become_exact_least_privilege_statements(tmp_path: Path) -> None:
    _, template = synth(environment(), tmp_path)
    found = policy_statements(template, "AnalyticsRole")
    data = [st for st in found if not str(st["Action"]).startswith(("logs:", "['logs:"))]
    assert data == [
        {
            "Action": "s3:ListBucket",
            "Condition": {"StringLike": {"s3:prefix": ["raw/", "raw/*"]}},
            "Effect": "Allow",
            "Resource": s3_arn("team-data"),
        },
        {"Action": "s3:GetObject", "Effect": "Allow", "Resource": s3_arn("team-data/raw/*")},
        {"Action": "s3:ListBucket", "Effect": "Allow", "Resource": s3_arn("team-scratch")},
        {
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Effect": "Allow",
            "Resource": s3_arn("team-scratch/*"),
        },
        {"Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Effect": "Allow", "Resource": KEY},
    ]
    (role,) = [
        r for k, r in template["Resources"].items() if k.startswith("AnalyticsRole") and r["Type"].endswith("Role")
    ]
    assert role["Properties"]["ManagedPolicyArns"] == ["arn:aws:iam::aws:policy/AmazonAthenaFullAccess"]
    assert not policy_statements(template, "Reporting")


def test_existing_network_role_and_key_are_used_by_id_without_lookups(tmp_path: Path) -> None:
    stack, template = synth(environment(), tmp_path, Environment(account="111122223333", region="eu-west-1"))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert "missing" not in manifest, "synth must make no context lookups"
    types = {r["Type"] for r in template["Resources"].values()}
    assert not {"AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::SecurityGroup"} & types
    instances = {
        r["Properties"]["NotebookInstanceName"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == NB
    }
    for notebook_id, name in (("Analytics", "team-analytics"), ("Reporting", "team-reporting")):
        assert instances[name]["SubnetId"] == SUBNETS[spread_index(notebook_id, 3)]
        assert instances[name]["SecurityGroupIds"] == ["sg-0a1b2c3d4e5f6071b"]
        assert instances[name]["DirectInternetAccess"] == "Disabled"
    assert instances["team-reporting"]["RoleArn"] == ROLE
    assert instances["team-reporting"]["KmsKeyId"] == "1234abcd-12ab-34cd-56ef-1234567890ab"
    assert [k for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"] == [
        stack.get_logical_id(stack.notebooks["Analytics"].role.node.default_child)  # type: ignore[arg-type]
    ]
    assert sum(r["Type"] == "AWS::KMS::Key" for r in template["Resources"].values()) == 1


def taggable(resource_type: str) -> bool:
    """CloudFormation's own schema (bundled with cfn-lint) says whether a type takes Tags."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    return "Tags" in PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema["properties"]


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}


@pytest.mark.parametrize("network", ["existing", "private"])
def test_tags_reach_every_taggable_resource_and_a_notebooks_own_win(tmp_path: Path, network: str) -> None:
    raw = environment()
    if network == "private":
        del raw["network"]
    _, template = synth(raw, tmp_path)
    walked = 0
    for logical_id, resource in template["Resources"].items():
        if not taggable(resource["Type"]):
            continue
        walked += 1
        tags = tags_of(resource)
        assert tags.get("CostCenter") == "4711", logical_id
        shared = resource["Type"] == "AWS::SageMaker::NotebookInstanceLifecycleConfig" and len(
            [r for r in template["Resources"].values() if r["Type"] == NB]
        ) > len([r for r in template["Resources"].values() if r["Type"] == resource["Type"]])
        if logical_id.startswith("Analytics") and not shared:  # the notebook's key, role, repository, instance
            assert tags["Project"] == "churn" and tags["Team"] == "analytics-core", logical_id
        else:
            assert tags["Team"] == "analytics" and "Project" not in tags, logical_id
    types = {r["Type"] for r in template["Resources"].values() if taggable(r["Type"])}
    assert {NB, "AWS::SageMaker::CodeRepository", "AWS::IAM::Role", "AWS::KMS::Key"} <= types
    assert "AWS::SageMaker::NotebookInstanceLifecycleConfig" in types
    assert walked >= 6  # the two notebooks share one lifecycle config


def test_cfn_lint_is_clean_on_a_stack_with_all_of_it(tmp_path: Path) -> None:
    raw = environment()
    raw["removalPolicy"] = "destroy"
    raw["notebooks"][0]["minimumImdsVersion"] = "2"
    raw["notebooks"][0]["ipAddressType"] = "ipv4"
    _, template = synth(raw, tmp_path)
    path = tmp_path / "all.template.json"
    path.write_text(json.dumps(template))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
    )
    assert ":E" not in result.stdout and result.returncode in (0, 4, 8, 12), result.stdout + result.stderr
    keys = [r for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    assert [k["DeletionPolicy"] for k in keys] == ["Delete"]


@pytest.mark.parametrize(
    "raw",
    [
        {"notebooks": [], "tags": {f"k{i}": "v" for i in range(100_000)}},
        {"notebooks": [], "tags": {"k": "v" * 1_000_000}},
        {"notebooks": [{"id": "A", "permissions": {"s3": [{"bucket": "b" * 100_000}]}}]},
        {"notebooks": [{"id": "A", "permissions": {"s3": [{"bucket": "abc", "prefix": "p/" * 500_000}]}}]},
        {"notebooks": [{"id": "A", "permissions": {"kmsKeys": ["arn:aws:kms:" + "a-" * 200_000]}}]},
        {"notebooks": [{"id": "A", "permissions": {"s3": [{"bucket": "abc"}] * 100_000}}]},
        {"notebooks": [], "network": {"vpcId": "vpc-12345678", "subnetIds": ["subnet-12345678"] * 100_000}},
        {"notebooks": [{"id": "A", "permissions": {"s3": [[[[[[[[[[]]]]]]]]]]}}]},
        {"notebooks": [{"id": "A", "codeRepositories": [{"url": "https://" + "a" * 1_000_000}]}]},
        {"notebooks": [{"id": "A", "tags": {"\u0000": "x"}}]},
    ],
)
def test_hostile_values_fail_fast_with_one_line(raw: dict[str, Any]) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert time.monotonic() - started < 2
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400, message


def test_subnet_index_pins_a_notebook_where_the_spread_would_move_it(tmp_path: Path) -> None:
    """A notebook deployed before the spread sits in the first subnet; moving it would replace it."""
    raw = environment()
    del raw["network"]
    raw["notebooks"][0].update(subnetIndex=0)
    assert spread_index("Analytics", 2) == 1  # the hash alone would move it to the second subnet
    _, template = synth(raw, tmp_path / "private")
    subnets = {
        r["Properties"]["NotebookInstanceName"]: r["Properties"]["SubnetId"]["Ref"]
        for r in template["Resources"].values()
        if r["Type"] == NB
    }
    assert subnets["team-analytics"].startswith("NetworkVpcnotebooksSubnet1")
    assert subnets["team-reporting"].startswith(f"NetworkVpcnotebooksSubnet{spread_index('Reporting', 2) + 1}")
    existing = environment()
    existing["notebooks"][1].update(subnetIndex=2)
    _, template = synth(existing, tmp_path / "existing")
    (reporting,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == NB and "RoleArn" in r["Properties"] and r["Properties"]["RoleArn"] == ROLE
    ]
    assert reporting["Properties"]["SubnetId"] == SUBNETS[2]
    existing["notebooks"][1].update(subnetIndex=3)
    with pytest.raises(ConfigError, match=r"notebooks\[1\].subnetIndex: 3 is out of range; the network has 3 subnet"):
        parse_config(existing)
    raw["privateNetwork"] = False
    with pytest.raises(ConfigError, match=r"notebooks\[0\].subnetIndex: 0 is out of range; the network has 0"):
        parse_config(raw)
