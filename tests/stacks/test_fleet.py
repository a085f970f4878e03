"""Notebook fleets: owners placed by a stable hash, shared configs per shard, limits checked at synth."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Match, Template

from stacks.config import ConfigError, parse_config
from stacks.fleet_stack import NotebookFleetStack, shard_of
from stacks.stages import add_stacks
from tests.conftest import REPO

DEFAULT = json.loads((REPO / "cdk.json").read_text())["context"]["notebookEnvironment"]
TEMPLATE = {k: v for k, v in DEFAULT["notebooks"][0].items() if k not in ("id", "name", "subnetIndex")}
NB = "AWS::SageMaker::NotebookInstance"
LC = "AWS::SageMaker::NotebookInstanceLifecycleConfig"
ROLE_ARN = "arn:aws:iam::111122223333:role/team/notebooks"
KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
EXISTING_NETWORK = {
    "vpcId": "vpc-0a1b2c3d4e5f60718",
    "subnetIds": ["subnet-0a1b2c3d4e5f60719", "subnet-0a1b2c3d4e5f6071a"],
    "securityGroupIds": ["sg-0a1b2c3d4e5f6071b"],
}


def fleet_raw(owners: list[Any], *, shards: int = 8, **fleet: Any) -> dict[str, Any]:
    raw = copy.deepcopy(DEFAULT)
    raw["fleets"] = [{"name": "analysts", "shards": shards, "notebook": copy.deepcopy(TEMPLATE), "owners": owners}]
    raw["fleets"][0].update(fleet)
    return raw


def build(raw: dict[str, Any], app: App | None = None) -> tuple[App, dict[str, NotebookFleetStack]]:
    app = app or App()
    add_stacks(app, parse_config(raw), None)
    fleets = {c.node.id: c for c in app.node.children if isinstance(c, NotebookFleetStack)}
    return app, fleets


def placement(fleets: dict[str, NotebookFleetStack]) -> dict[str, tuple[str, str, str]]:
    """Owner -> (stack, notebook logical ID, lifecycle config logical ID)."""
    return {
        owner: (
            stack_id,
            Stack.of(notebook).resolve(notebook.notebook_instance.logical_id),
            Stack.of(notebook).resolve(notebook.lifecycle_config.lifecycle_config.logical_id),  # type: ignore[union-attr]
        )
        for stack_id, stack in fleets.items()
        for owner, notebook in stack.notebooks.items()
    }


OWNERS = [f"user{i:03d}" for i in range(500)]


@pytest.fixture(scope="module")
def five_hundred(tmp_path_factory: pytest.TempPathFactory) -> tuple[App, dict[str, NotebookFleetStack], Path]:
    out = tmp_path_factory.mktemp("fleet500")
    app, fleets = build(fleet_raw(list(OWNERS)), App(outdir=str(out)))
    app.synth()
    return app, fleets, out


def test_one_owner_gets_one_notebook_with_tags_in_one_shard() -> None:
    _, fleets = build(fleet_raw([{"owner": "Alice", "tags": {"CostCenter": "1234"}}], shards=3))
    ((stack_id, stack),) = fleets.items()
    assert stack_id == f"SageMakerNotebookFleetAnalysts{shard_of('Alice', 3):02d}"
    template = Template.from_stack(stack).to_json()["Resources"]
    (notebook,) = [r for r in template.values() if r["Type"] == NB]
    assert notebook["Properties"]["NotebookInstanceName"] == "analysts-alice"
    assert notebook["Properties"]["Tags"] == [
        {"Key": "CostCenter", "Value": "1234"},
        {"Key": "Fleet", "Value": "analysts"},
        {"Key": "Owner", "Value": "Alice"},
    ]
    assert len([r for r in template.values() if r["Type"] == LC]) == 1
    (config_id,) = [k for k, r in template.items() if r["Type"] == LC]
    assert notebook["Properties"]["LifecycleConfigName"] == {
        "Fn::GetAtt": [config_id, "NotebookInstanceLifecycleConfigName"]
    }, "the config is referenced inside the shard stack, never imported"


def test_500_owners_fit_their_shards_and_501_reordered_move_nobody(
    five_hundred: tuple[App, dict[str, NotebookFleetStack], Path],
) -> None:
    _, fleets, out = five_hundred
    before = placement(fleets)
    assert len(before) == 500 and len(fleets) == 8
    for stack_id, stack in fleets.items():
        template = json.loads((out / f"{stack_id}.template.json").read_text())
        resources = template["Resources"]
        assert len(resources) < 500, stack_id
        assert (out / f"{stack_id}.template.json").stat().st_size < 1_000_000, stack_id
        assert len([r for r in resources.values() if r["Type"] == LC]) == 1, "one shared config per shard"
        assert len(stack.notebooks) == len([r for r in resources.values() if r["Type"] == NB])

    changed = [*reversed(OWNERS[1:]), "newcomer", "another"]  # one removed, two added, order reversed: 501
    _, after_fleets = build(fleet_raw(changed))
    after = placement(after_fleets)
    assert len(after) == 501
    assert {o: after[o] for o in OWNERS[1:]} == {o: before[o] for o in OWNERS[1:]}, "nobody else moved"


def test_instances_are_spread_over_both_subnets(
    five_hundred: tuple[App, dict[str, NotebookFleetStack], Path],
) -> None:
    _, fleets, out = five_hundred
    subnets: dict[str, int] = {}
    for stack_id in fleets:
        resources = json.loads((out / f"{stack_id}.template.json").read_text())["Resources"]
        for r in resources.values():
            if r["Type"] == NB:
                key = json.dumps(r["Properties"]["SubnetId"], sort_keys=True)
                subnets[key] = subnets.get(key, 0) + 1
    assert len(subnets) == 2 and min(subnets.values()) > 200, subnets


def test_fleet_templates_pass_cfn_lint_and_cdk_nag(tmp_path: Path) -> None:
    from aws_cdk import Validations
    from cdk_nag import AwsSolutionsChecks

    app = App(outdir=str(tmp_path))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    owners: list[Any] = ["alice", {"owner": "bob", "instanceType": "ml.m5.xlarge", "onStart": []}]
    raw = fleet_raw(owners, shards=1)
    raw["fleets"][0]["notebook"]["permissions"] = {  # each owner's role: acknowledged where it was asked for
        "managedPolicies": ["arn:aws:iam::aws:policy/AmazonAthenaFullAccess"],
        "s3": [{"bucket": "team-data", "prefix": "analysts/", "access": "read-write"}],
        "kmsKeys": [KEY_ARN],
    }
    build(raw, app)
    app.synth()  # cdk-nag findings make this raise
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--format",
            "parseable",
            *map(str, tmp_path.glob("*Fleet*.template.json")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert [line for line in result.stdout.splitlines() if ":E" in line] == [], result.stdout
    resources = json.loads((tmp_path / "SageMakerNotebookFleetAnalysts00.template.json").read_text())["Resources"]
    notebooks = {
        r["Properties"]["NotebookInstanceName"]: r["Properties"] for r in resources.values() if r["Type"] == NB
    }
    assert notebooks["analysts-bob"]["InstanceType"] == "ml.m5.xlarge"
    assert "LifecycleConfigName" not in notebooks["analysts-bob"], "bob overrode onStart with nothing"
    assert notebooks["analysts-alice"]["InstanceType"] == "ml.t3.medium"


def test_a_shard_over_500_resources_fails_with_the_shard_count_that_fits() -> None:
    raw = fleet_raw([f"u{i}" for i in range(130)], shards=1)
    raw["privateNetwork"] = False
    for notebook in raw["notebooks"]:
        notebook.pop("subnetIndex", None)  # no network, no subnet to pin
    with pytest.raises(
        ConfigError, match=r"would hold 521 resources; CloudFormation allows 500 .*set its shards to 2 or more"
    ):
        build(raw)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Analysts"}, r"fleets\[0\].name: \"Analysts\" is invalid"),
        ({"shards": 0}, r"fleets\[0\].shards: 0 is out of range; give 1 to 100"),
        ({"shards": True}, r"fleets\[0\].shards: expected a whole number"),
        ({"owners": ["alice", "ALICE"]}, r"owners\[1\].owner: \"ALICE\" is already owners\[0\]"),
        ({"owners": ["al ice"]}, r"owners\[0\].owner: \"al ice\" is invalid"),
        ({"owners": ["a" * 60]}, r"owners\[0\].owner: the notebook name \"analysts-a+\" has 69 characters"),
        ({"owners": [{"owner": "x", "id": "X"}]}, r"owners\[0\].id: unknown key"),
        ({"owners": [{"owner": "x", "instanceType": "ml.nope"}]}, r"owners\[0\].instanceType: "),
        (
            {"owners": [{"owner": "x", "tags": {"aws:x": "1"}}]},
            r"owners\[0\].tags\[\"aws:x\"\]: tag key \"aws:x\" is invalid",
        ),
        (
            {"owners": [{"owner": "x", "tags": {"Owner": "y"}}]},
            r"owners\[0\].tags.Owner: tag key \"Owner\" is set by the fleet",
        ),
        ({"tags": {"Fleet": "y"}}, r"fleets\[0\].tags.Fleet: tag key \"Fleet\" is set by the fleet"),
        ({"owners": [{"owner": "x", "tags": {"T": 1}}]}, r"owners\[0\].tags.T: expected a string, got 1"),
        ({"notebook": {"name": "x"}}, r"fleets\[0\].notebook.name: unknown key"),
        ({"owners": "alice"}, r"fleets\[0\].owners: expected a list"),
    ],
)
def test_bad_fleet_values_name_their_key(change: dict[str, Any], message: str) -> None:
    raw = fleet_raw(["alice"])
    raw["fleets"][0].update(change)
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_fleet_notebook_names_may_not_take_a_listed_notebooks_name() -> None:
    raw = fleet_raw(["alice"])
    raw["notebooks"][0]["name"] = "Analysts-Alice"
    with pytest.raises(
        ConfigError, match=r"fleets\[0\].owners\[0\].owner: the notebook name \"analysts-alice\" is already taken"
    ):
        parse_config(raw)


def test_shard_of_is_stable_and_moves_only_into_a_new_shard() -> None:
    owners = [f"owner{i}" for i in range(2000)]
    at_8 = {o: shard_of(o, 8) for o in owners}
    at_9 = {o: shard_of(o, 9) for o in owners}
    moved = [o for o in owners if at_8[o] != at_9[o]]
    assert all(at_9[o] == 8 for o in moved), "raising shards only moves owners into the new shard"
    assert 150 < len(moved) < 300, len(moved)  # about 1/9 of 2000
    assert shard_of("Alice", 8) == shard_of("alice", 8)


# A fleet template takes what a single notebook takes (permissions, roleArn, kmsKeyArn, tags, subnetIndex, ...).


def light_raw(notebook: dict[str, Any], owners: list[Any], **environment: Any) -> dict[str, Any]:
    """A fleet without modules (nothing to bundle) and no single notebooks."""
    return {"fleets": [{"name": "analysts", "shards": 1, "notebook": notebook, "owners": owners}], **environment}


def only_fleet_stack(raw: dict[str, Any]) -> NotebookFleetStack:
    _, fleets = build(raw)
    (stack,) = fleets.values()
    return stack


def _arn(resource: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":s3:::{resource}"]]}


def _s3_statements(bucket: str, prefix: str, actions: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "Action": "s3:ListBucket",
            "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}},
            "Effect": "Allow",
            "Resource": _arn(bucket),
        },
        {  # CloudFormation's JSON: a single action is a string
            "Action": actions if len(actions) > 1 else actions[0],
            "Effect": "Allow",
            "Resource": _arn(f"{bucket}/{prefix}*"),
        },
    ]


def test_template_s3_read_write_on_a_prefix_gives_each_owner_role_exactly_that_access() -> None:
    grant = {"bucket": "team-data", "prefix": "analysts/", "access": "read-write"}
    carol = {"owner": "carol", "permissions": {"s3": [{"bucket": "team-data", "prefix": "carol/"}]}}
    stack = only_fleet_stack(light_raw({"permissions": {"s3": [grant]}}, ["alice", "bob", carol]))
    template = Template.from_stack(stack)
    resources = template.to_json()["Resources"]
    template.resource_count_is("AWS::IAM::Role", 3)
    expected = {
        "alice": _s3_statements("team-data", "analysts/", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]),
        "bob": _s3_statements("team-data", "analysts/", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]),
        "carol": _s3_statements("team-data", "carol/", ["s3:GetObject"]),  # the owner's permissions replace
    }
    for owner, statements in expected.items():
        notebook = stack.notebooks[owner]
        role_id = stack.resolve(notebook.role.node.default_child.logical_id)  # type: ignore[union-attr]
        template.has_resource_properties(
            NB, {"RoleArn": {"Fn::GetAtt": [role_id, "Arn"]}, "NotebookInstanceName": f"analysts-{owner}"}
        )
        template.has_resource_properties(
            "AWS::IAM::Policy",
            {"Roles": [{"Ref": role_id}], "PolicyDocument": {"Statement": Match.array_with(statements)}},
        )
        (policy,) = [
            r
            for r in resources.values()
            if r["Type"] == "AWS::IAM::Policy" and r["Properties"]["Roles"] == [{"Ref": role_id}]
        ]
        s3 = [st for st in policy["Properties"]["PolicyDocument"]["Statement"] if "s3:" in json.dumps(st["Action"])]
        assert s3 == statements, f"{owner}: no other S3 access"


def test_an_existing_role_and_key_are_used_and_none_is_created() -> None:
    stack = only_fleet_stack(light_raw({"roleArn": ROLE_ARN, "kmsKeyArn": KEY_ARN}, ["alice", "bob"]))
    template = Template.from_stack(stack)
    for kind in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::KMS::Key"):
        template.resource_count_is(kind, 0)
    template.resource_count_is(NB, 2)
    key_id = KEY_ARN.rpartition("/")[2]  # as for a single notebook, the imported key's ID
    template.all_resources_properties(NB, {"RoleArn": ROLE_ARN, "KmsKeyId": key_id})


def test_tags_reach_each_instance_and_the_shards_own_resources() -> None:
    raw = light_raw(
        {"tags": {"Project": "churn", "Team": "ml"}},
        ["alice", {"owner": "bob", "tags": {"Project": "risk"}}],
        tags={"CostCenter": "4711", "Team": "analytics"},
    )
    raw["fleets"][0]["tags"] = {"Budget": "b1"}
    template = Template.from_stack(only_fleet_stack(raw)).to_json()["Resources"]
    tags = {
        r["Properties"]["NotebookInstanceName"]: {t["Key"]: t["Value"] for t in r["Properties"]["Tags"]}
        for r in template.values()
        if r["Type"] == NB
    }
    common = {"Budget": "b1", "CostCenter": "4711", "Fleet": "analysts", "Team": "ml"}
    assert tags == {
        "analysts-alice": {**common, "Owner": "alice", "Project": "churn"},
        "analysts-bob": {**common, "Owner": "bob", "Project": "risk"},
    }
    for r in template.values():  # roles and keys carry the notebook's tags; the shard's group the fleet's
        found = {t["Key"]: t["Value"] for t in r["Properties"].get("Tags", [])}
        if r["Type"] == "AWS::EC2::SecurityGroup":
            assert found == {"Budget": "b1", "CostCenter": "4711", "Team": "analytics"}
        elif r["Type"] in ("AWS::IAM::Role", "AWS::KMS::Key"):
            assert found in tags.values(), r


def test_an_existing_network_gives_its_security_groups_and_subnet_index_pins() -> None:
    owners = ["alice", "bob", {"owner": "carol", "subnetIndex": 0}]
    raw = light_raw({"subnetIndex": 1}, owners, network=EXISTING_NETWORK, removalPolicy="destroy")
    template = Template.from_stack(only_fleet_stack(raw))
    template.resource_count_is("AWS::EC2::SecurityGroup", 0)
    subnets = {
        r["Properties"]["NotebookInstanceName"]: r["Properties"]["SubnetId"]
        for r in template.find_resources(NB).values()
    }
    assert subnets == {
        "analysts-alice": "subnet-0a1b2c3d4e5f6071a",
        "analysts-bob": "subnet-0a1b2c3d4e5f6071a",
        "analysts-carol": "subnet-0a1b2c3d4e5f60719",
    }
    template.all_resources_properties(NB, {"SecurityGroupIds": ["sg-0a1b2c3d4e5f6071b"]})
    template.all_resources(
        "AWS::KMS::Key", {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
    )  # removalPolicy reaches the fleet


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"permissions": {"s3": [{"bucket": "Team_Data"}]}},
            r"notebook\.permissions\.s3\[0\]\.bucket: \"Team_Data\" is not",
        ),
        (
            {"permissions": {"s3": [{"bucket": "team", "access": "w"}]}},
            r"notebook\.permissions\.s3\[0\]\.access: \"w\"",
        ),
        ({"permissions": {"s3": [{"bucket": "team", "prefix": "a*"}]}}, r"notebook\.permissions\.s3\[0\]\.prefix: "),
        ({"permissions": {"kmsKeys": ["alias/team"]}}, r"notebook\.permissions\.kmsKeys\[0\]: \"alias/team\" is not"),
        ({"permissions": {"iam": []}}, r"notebook\.permissions\.iam: unknown key"),
        ({"roleArn": "team-role"}, r"notebook\.roleArn: \"team-role\" is not an IAM role ARN"),
        (
            {"roleArn": ROLE_ARN, "permissions": {"s3": [{"bucket": "team"}]}},
            r"notebook\.permissions: cannot be granted to the existing role given in roleArn",
        ),
        ({"kmsKeyArn": "key"}, r"notebook\.kmsKeyArn: \"key\" is not a KMS key ARN"),
        ({"tags": {"Owner": "x"}}, r"notebook\.tags\.Owner: tag key \"Owner\" is set by the fleet"),
        ({"tags": {f"k{i}": "v" for i in range(49)}}, r"notebook\.tags: .* this makes 51 tags"),
        ({"subnetIndex": 2}, r"notebook\.subnetIndex: 2 is out of range; the network has 2 subnet"),
        ({"name": "x"}, r"notebook\.name: unknown key"),
    ],
)
def test_a_bad_template_value_names_the_fleet_path(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"^notebookEnvironment\.fleets\[0\]\." + message):
        parse_config(light_raw(change, ["alice"]))


@pytest.mark.parametrize(
    ("owner", "message"),
    [
        ({"permissions": {"managedPolicies": ["AdministratorAccess"]}}, r"permissions\.managedPolicies\[0\]: "),
        ({"subnetIndex": -1}, r"subnetIndex: -1 is out of range"),
        ({"tags": {f"k{i}": "v" for i in range(49)}}, r"tags: .* this makes 51 tags"),
    ],
)
def test_a_bad_owner_value_names_the_owner_path(owner: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"^notebookEnvironment\.fleets\[0\]\.owners\[1\]\." + message):
        parse_config(light_raw({}, ["alice", {"owner": "bob", **owner}]))


def test_a_bad_template_key_through_the_cli_is_one_line_naming_the_fleet_path(tmp_path: Path) -> None:
    from tests.conftest import cdk_synth

    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"notebookEnvironment": light_raw({"permissions": {"s3": [{"bucket": "s3://x"}]}}, ["a"])})
    )
    result = cdk_synth(REPO, tmp_path / "out", "-c", f"configFile={config}")
    assert result.returncode != 0
    assert [line for line in result.stderr.splitlines() if line.startswith("error: ")] == [
        'error: notebookEnvironment.fleets[0].notebook.permissions.s3[0].bucket: "s3://x" is not an S3 bucket name '
        "(3-63 lower-case letters, digits, '.' and '-'; a name, not an ARN or URL)."
    ], result.stderr
    assert "Traceback" not in result.stderr


def test_a_full_shard_counts_the_resources_its_notebooks_really_make() -> None:
    repository = {"url": "https://git.example.com/team/analytics.git"}  # one more resource per notebook
    raw = light_raw({"codeRepositories": [repository]}, [f"u{i}" for i in range(101)], privateNetwork=False)
    with pytest.raises(
        ConfigError, match=r"would hold 505 resources; .* got 101 \(5 resources each\); set its shards to 2 or more"
    ):
        build(raw)
