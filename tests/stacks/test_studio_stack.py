"""Studio stacks from configuration: sharding, stable logical IDs, app settings, and config errors."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from stacks.config import ConfigError
from stacks.studio_config import UserSpec, parse_studio_config
from stacks.studio_stack import MAX_USERS_PER_SHARD, StudioUsersStack, add_studio, shard_of
from tests.conftest import REPO

DEFAULT = json.loads((REPO / "cdk.json").read_text())["context"]["studioEnvironment"]


def config(**changes: Any) -> dict[str, Any]:
    """The default configuration with ``changes``; new users without new spaces keep only the shared spaces."""
    raw = copy.deepcopy(DEFAULT)
    raw.update(changes)
    if "users" in changes and "spaces" not in changes:
        names = {user.get("name") for user in changes["users"]}
        raw["spaces"] = [space for space in raw["spaces"] if space.get("owner") in (None, *names)]
    return raw


def synth(raw: dict[str, Any], outdir: Path) -> dict[str, dict[str, Any]]:
    app = App(outdir=str(outdir))
    add_studio(app, parse_studio_config(raw))
    app.synth()
    return {p.stem.replace(".template", ""): json.loads(p.read_text()) for p in outdir.glob("*.template.json")}


def profiles(templates: dict[str, dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """user name -> (stack, logical ID)."""
    found = {}
    for stack, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::SageMaker::UserProfile":
                found[resource["Properties"]["UserProfileName"]] = (stack, logical_id)
    return found


@pytest.fixture(scope="module")
def two_thousand(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    users = [{"name": f"user-{i:04d}"} for i in range(2000)]
    return synth(config(users=users, userShards=10), tmp_path_factory.mktemp("users2000"))


def test_two_thousand_users_fit_in_valid_stacks_well_under_the_limits(two_thousand: dict[str, dict[str, Any]]) -> None:
    assert len(profiles(two_thousand)) == 2000
    user_stacks = {k: v for k, v in two_thousand.items() if k.startswith("SageMakerStudioUsers")}
    assert len(user_stacks) == 10
    for name, template in two_thousand.items():
        assert len(template["Resources"]) < 300, name
        assert len(json.dumps(template)) < 1_000_000, name


def test_adding_a_user_moves_and_replaces_nobody(two_thousand: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    users = [{"name": f"user-{i:04d}"} for i in range(2001)]
    after = profiles(synth(config(users=users, userShards=10), tmp_path))
    before = profiles(two_thousand)
    assert {name: after[name] for name in before} == before
    assert "user-2000" in after


def test_removing_or_reordering_users_moves_nobody(tmp_path: Path) -> None:
    names = [f"person-{i}" for i in range(40)]
    first = profiles(synth(config(users=[{"name": n} for n in names], userShards=4), tmp_path / "a"))
    shuffled = [{"name": n} for n in reversed(names) if n != "person-7"]
    second = profiles(synth(config(users=shuffled, userShards=4), tmp_path / "b"))
    assert {n: first[n] for n in second} == second


def test_shard_is_a_pure_function_of_the_name() -> None:
    assert shard_of("alice", 8) == shard_of("Alice", 8) == shard_of("alice", 8)
    assert {shard_of(f"u{i}", 8) for i in range(200)} == set(range(8))


def test_default_lifecycle_config_is_in_the_list_for_domain_and_users(tmp_path: Path) -> None:
    raw = config(
        users=[
            {
                "name": "alice",
                "apps": {"JupyterLab": {"lifecycleConfigs": ["LabDefault"], "default": "LabDefault"}},
            }
        ]
    )
    templates = synth(raw, tmp_path)
    (domain,) = [r for r in templates["SageMakerStudio"]["Resources"].values() if r["Type"] == "AWS::SageMaker::Domain"]
    for key in ("JupyterLabAppSettings", "CodeEditorAppSettings"):
        settings = domain["Properties"]["DefaultUserSettings"][key]
        assert settings["DefaultResourceSpec"]["LifecycleConfigArn"] in settings["LifecycleConfigArns"]
        assert settings["AppLifecycleManagement"]["IdleSettings"]["IdleTimeoutInMinutes"] == 60
    (stack, logical_id) = profiles(templates)["alice"]
    user = templates[stack]["Resources"][logical_id]["Properties"]["UserSettings"]["JupyterLabAppSettings"]
    assert user["DefaultResourceSpec"]["LifecycleConfigArn"] in user["LifecycleConfigArns"]
    assert "Fn::ImportValue" not in json.dumps(user), "config ARNs are built from names, never imported"


def test_changing_a_script_renames_the_config_and_repoints_domain_and_users(tmp_path: Path) -> None:
    users = [{"name": "alice", "apps": {"JupyterLab": {"lifecycleConfigs": ["LabDefault"], "default": "LabDefault"}}}]
    before = synth(config(users=users), tmp_path / "before")
    changed = config(users=users)
    changed["lifecycleConfigs"][0]["modules"][2]["variables"] = {"PIP_DISABLE_PIP_VERSION_CHECK": "0"}
    after = synth(changed, tmp_path / "after")
    old = before["SageMakerStudio"]["Resources"]
    new = after["SageMakerStudio"]["Resources"]
    assert old.keys() == new.keys()
    differing = sorted(k for k in old if old[k] != new[k])
    lab = [k for k in old if k.startswith("LabDefault")]
    assert differing == lab, "only the changed config differs in the domain stack (the domain refers to it by GetAtt)"
    old_name = old[lab[0]]["Properties"]["StudioLifecycleConfigName"]
    new_name = new[lab[0]]["Properties"]["StudioLifecycleConfigName"]
    assert old_name != new_name and old_name.rsplit("-", 1)[0] == new_name.rsplit("-", 1)[0]
    stack, logical_id = profiles(after)["alice"]
    assert new_name in json.dumps(after[stack]["Resources"][logical_id]) and old_name not in json.dumps(after[stack])


def test_studio_templates_never_mention_ec2_user(tmp_path: Path) -> None:
    import base64

    templates = synth(config(), tmp_path)
    for resource in templates["SageMakerStudio"]["Resources"].values():
        if resource["Type"] == "AWS::SageMaker::StudioLifecycleConfig":
            script = base64.b64decode(resource["Properties"]["StudioLifecycleConfigContent"])
            from constructs_lib.bundling.inspect import files_of

            for path, data in files_of(script).items():
                assert b"ec2-user" not in data, path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"idleShutdown": {"timeout": "30m"}}, r"idleShutdown: IdleShutdown timeout 30 minutes is out of range"),
        ({"idleShutdown": {"timeout": "400d"}}, r"idleShutdown.timeout: expected a duration"),
        (
            {"apps": {"JupyterLab": {"lifecycleConfigs": [], "default": "LabDefault"}}},
            r"apps.JupyterLab.default: 'LabDefault' is not in lifecycleConfigs \[\]",
        ),
        ({"users": [{"name": "bob"}, {"name": "Bob"}]}, r"users\[1\].name: 'Bob' is already users\[0\]"),
        ({"users": [{"name": "bad_name"}]}, r'users\[0\].name: "bad_name" is invalid'),
        ({"users": [{"name": "alice"}, {"name": "alice\n"}]}, r'users\[1\].name: "alice\\n" is invalid'),
        ({"users": [{"name": "alice\n"}]}, r'users\[0\].name: "alice\\n" is invalid'),
        (
            {"lifecycleConfigs": [{"id": "Lab\n", "appType": "JupyterLab", "modules": []}]},
            r'lifecycleConfigs\[0\].id: "Lab\\n" is invalid',
        ),
        (
            {"apps": {"JupyterLab": {"defaultInstanceType": "ml.t3.meduim"}}},
            r"apps.JupyterLab.defaultInstanceType: 'ml.t3.meduim' is not a Studio app instance type of "
            r"AWS::SageMaker::Domain; did you mean 'ml.t3.medium'",
        ),
        (
            {"users": [{"name": "bob", "apps": {"CodeEditor": {"defaultInstanceType": "ml.m5.large\n"}}}]},
            r"users\[0\].apps.CodeEditor.defaultInstanceType: .* is not a Studio app instance type of "
            r"AWS::SageMaker::UserProfile",
        ),
        (
            {
                "lifecycleConfigs": [
                    {"id": "Lab", "appType": "JupyterLab", "modules": [{"script": "x.sh", "runAs": "root"}]}
                ]
            },
            r"lifecycleConfigs\[0\].modules\[0\].script: script paths need the configuration's directory",
        ),
        (
            {"lifecycleConfigs": [{"id": "Lab", "appType": "JupyterLab", "modules": [{"module": "idle-autostop"}]}]},
            r"lifecycleConfigs\[0\].modules\[0\].module: 'idle-autostop' is made for notebook instances",
        ),
        (
            {"apps": {"JupyterLab": {"lifecycleConfigs": ["CodeEditorDefault"]}}},
            r"'CodeEditorDefault' is for CodeEditor, not JupyterLab",
        ),
        ({"userShards": 0}, r"userShards: 0 is out of range"),
        ({"surprise": 1}, r"studioEnvironment.surprise: unknown key"),
    ],
)
def test_bad_configuration_names_the_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_studio_config(config(**change))


def test_a_shard_over_its_limit_fails_at_parse_and_the_stack_keeps_its_own_guard() -> None:
    users = [{"name": f"u{i}"} for i in range(MAX_USERS_PER_SHARD + 1)]
    with pytest.raises(ConfigError, match=r"would hold 401 users, over 400; raise userShards"):
        parse_studio_config(config(users=users, userShards=1))
    specs = [UserSpec(name=f"u{i}") for i in range(MAX_USERS_PER_SHARD + 1)]
    with pytest.raises(
        ConfigError, match=r"would hold 401 users, over 400; raise userShards \(a domain holds at most "
    ):
        StudioUsersStack(App(), "SageMakerStudioUsers00", domain_id="d-abc123", users=specs, lifecycle_configs={})


def test_profile_logical_ids_are_those_of_the_former_wrapper_construct(tmp_path: Path) -> None:
    found = profiles(synth(config(), tmp_path))
    assert found == {
        "data-scientist-1": (
            f"SageMakerStudioUsers0{shard_of('data-scientist-1', 2)}",
            "UserDataScientist1b19351E36955B8",
        ),
        "data-scientist-2": (
            f"SageMakerStudioUsers0{shard_of('data-scientist-2', 2)}",
            "UserDataScientist2d5e6f6521C3387",
        ),
    }


def test_configs_that_user_stacks_name_are_retained_when_replaced(tmp_path: Path) -> None:
    templates = synth(config(), tmp_path)
    configs = [r for r in templates["SageMakerStudio"]["Resources"].values() if r["Type"].endswith("LifecycleConfig")]
    assert configs and {r.get("DeletionPolicy") for r in configs} == {"Retain"}


def spaces_of(templates: dict[str, dict[str, Any]]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """space name -> (stack, logical ID, resource)."""
    return {
        r["Properties"]["SpaceName"]: (stack, logical_id, r)
        for stack, template in templates.items()
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::SageMaker::Space"
    }


def test_default_configuration_shows_a_shared_space_with_image_and_team_fs_and_a_private_space_per_user(
    tmp_path: Path,
) -> None:
    templates = synth(config(), tmp_path)
    spaces = spaces_of(templates)
    shared = [
        name for name, (_, _, r) in spaces.items() if r["Properties"]["SpaceSharingSettings"]["SharingType"] == "Shared"
    ]
    assert shared == ["team-lab"] and spaces["team-lab"][0] == "SageMakerStudio"
    team = spaces["team-lab"][2]["Properties"]["SpaceSettings"]
    assert json.dumps(team["JupyterLabAppSettings"]["DefaultResourceSpec"]["SageMakerImageArn"]).endswith(
        'image/team-lab"]]}'
    )
    efs = [k for k, r in templates["SageMakerStudio"]["Resources"].items() if r["Type"] == "AWS::EFS::FileSystem"]
    assert team["CustomFileSystems"] == [{"EFSFileSystem": {"FileSystemId": {"Ref": efs[0]}}}]
    users = {u["name"] for u in DEFAULT["users"]}
    owners = profiles(templates)
    private = {
        r["Properties"]["OwnershipSettings"]["OwnerUserProfileName"]: (stack, r)
        for stack, _, r in spaces.values()
        if r["Properties"]["SpaceSharingSettings"]["SharingType"] == "Private"
    }
    assert set(private) == users
    for user, (stack, resource) in private.items():
        assert stack == owners[user][0], "a private space lives in its owner's shard"
        assert resource["DependsOn"] == [owners[user][1]], "and is created after the profile"
        assert "CustomFileSystems" in resource["Properties"]["SpaceSettings"]
    (domain,) = [r for r in templates["SageMakerStudio"]["Resources"].values() if r["Type"] == "AWS::SageMaker::Domain"]
    space_defaults = domain["Properties"]["DefaultSpaceSettings"]
    assert space_defaults["CustomFileSystemConfigs"] == [
        {"EFSFileSystemConfig": {"FileSystemId": {"Ref": efs[0]}, "FileSystemPath": "/"}}
    ]
    assert space_defaults["CustomPosixUserConfig"] == {"Uid": 200001, "Gid": 1001}
    lab = domain["Properties"]["DefaultUserSettings"]["JupyterLabAppSettings"]
    assert "LabBuiltIn" in lab["BuiltInLifecycleConfigArn"]["Fn::GetAtt"][0]
    assert lab["CustomImages"] == [{"AppImageConfigName": "team-lab", "ImageName": "team-lab"}]
    ingress = [
        r for r in templates["SageMakerStudio"]["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"
    ]
    assert [
        (r["Properties"]["FromPort"], r["Properties"]["SourceSecurityGroupId"]["Fn::GetAtt"][0]) for r in ingress
    ] == [(2049, domain["Properties"]["DefaultUserSettings"]["SecurityGroups"][0]["Fn::GetAtt"][0])], (
        "NFS from the domain's group to the file system's group, nothing else"
    )


def test_studio_templates_pass_cfn_lint(tmp_path: Path) -> None:
    import subprocess
    import sys

    synth(config(), tmp_path)
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--format",
            "parseable",
            *map(str, tmp_path.glob("*.template.json")),
        ],
        capture_output=True,
        text=True,
    )
    assert [line for line in result.stdout.splitlines() if ":E" in line] == [], result.stdout


def test_adding_users_and_spaces_moves_no_space(tmp_path: Path) -> None:
    users = [{"name": f"user-{i:02d}"} for i in range(20)]
    spaces = [{"name": f"lab-{i:02d}", "owner": f"user-{i:02d}"} for i in range(20)] + [{"name": "shared-a"}]
    before = spaces_of(synth(config(users=users, spaces=spaces, userShards=4), tmp_path / "a"))
    more_users = [{"name": "newcomer"}, *users]
    more_spaces = [{"name": "lab-new", "owner": "newcomer"}, {"name": "shared-b"}, *reversed(spaces)]
    after = spaces_of(synth(config(users=more_users, spaces=more_spaces, userShards=4), tmp_path / "b"))
    assert {name: after[name][:2] for name in before} == {name: where[:2] for name, where in before.items()}
    assert after["shared-a"][0] == after["shared-b"][0] == "SageMakerStudio"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"spaces": [{"name": "ghost-lab", "owner": "ghost"}]}, r"spaces\[0\].owner: 'ghost' is not a user"),
        ({"spaces": [{"name": "a"}, {"name": "A"}]}, r"spaces\[1\].name: 'A' is used twice"),
        ({"spaces": [{"name": "a", "image": "Nope"}]}, r"spaces\[0\].image: 'Nope' is not a JupyterLab image id"),
        (
            {"spaces": [{"name": "a", "appType": "CodeEditor", "lifecycleConfig": "LabDefault"}]},
            r"'LabDefault' is not a CodeEditor lifecycle config id",
        ),
        ({"idleShutdown": {"timeout": "2h", "locked": True, "maximum": "8h"}}, r"idleShutdown.locked: a locked"),
        ({"teamFileSystem": {"fileSystemId": "fs-0123abcd"}}, r"give fileSystemId and securityGroupId together"),
        ({"teamFileSystem": {"posixUser": {"uid": 5}}}, r"teamFileSystem.posixUser: PosixUser uid 5 is invalid"),
        ({"storage": {"defaultGiB": 50, "maximumGiB": 10}}, r"storage: SpaceStorage default_gib 50 is over"),
        (
            {"apps": {"KernelGateway": {"builtInLifecycleConfig": "LabDefault"}}},
            r"apps.KernelGateway.builtInLifecycleConfig: only JupyterLab and CodeEditor",
        ),
        ({"apps": {"JupyterLab": {"defaultImage": "TeamLab"}}}, r"defaultImage: 'TeamLab' is not among customImages"),
        (
            {"customImages": [{"id": "X", "imageName": "x", "baseImage": "x", "appType": "JupyterLab"}, {"id": "X"}]},
            r"customImages\[1\]",
        ),
    ],
)
def test_bad_studio_space_configuration_names_the_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_studio_config(config(**change))


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"name": "big", "ebsGiB": 500}, r"spaces \(big\): .*ebs_size_gib 500 is out of range: give 5 to 100"),
        ({"name": "slow", "idleTimeout": "9h"}, r"spaces \(slow\): .*outside the domain's bounds: .* from 60 to 480"),
        (
            {"name": "lab-x", "owner": "data-scientist-1", "lifecycleConfig": "LabBuiltIn"},
            r"spaces \(lab-x\): .*'sagemakerstudio-labbuiltin-.*' is not among those user 'data-scientist-1'",
        ),
    ],
)
def test_spaces_outside_their_bounds_fail_synth(space: dict[str, Any], message: str) -> None:
    raw = config()
    raw["spaces"] = [*raw["spaces"], space]
    with pytest.raises(ConfigError, match=message):
        add_studio(App(), parse_studio_config(raw))


def test_a_locked_idle_timeout_sets_minimum_and_maximum() -> None:
    parsed = parse_studio_config(config(idleShutdown={"timeout": "2h", "locked": True}))
    assert parsed.idle_shutdown is not None and parsed.idle_shutdown.bounds_minutes == (120, 120)


ROLE_ARN = "arn:aws:iam::111122223333:role/StudioExecution"
KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
POLICY_ARN = "arn:aws:iam::aws:policy/AmazonSageMakerCanvasFullAccess"
TEAM_TAGS = {"CostCenter": "1234", "Team": "analytics"}


def sso_team(**changes: Any) -> dict[str, Any]:
    """SSO users (one with its own tags), permissions and tags for the execution role and every resource."""
    raw = config(
        authMode="SSO",
        users=[
            {"name": "data-scientist-1", "ssoUserName": "ds1@example.com", "tags": {"Owner": "ds1"}},
            {"name": "data-scientist-2", "ssoUserName": "ds2@example.com"},
        ],
        permissions={
            "managedPolicies": [POLICY_ARN],
            "s3": [
                {"bucket": "team-data", "prefix": "projects/", "access": "read-write"},
                {"bucket": "reference-data", "access": "read"},
            ],
            "kmsKeys": [KEY_ARN],
        },
        tags=TEAM_TAGS,
        userShards=3,
    )
    raw.update(changes)
    return raw


def synth_checked(raw: dict[str, Any], outdir: Path, stage_env: Any = None) -> dict[str, dict[str, Any]]:
    """Synth with cdk-nag (raises on any unsuppressed finding), optionally inside a stage with an account."""
    from aws_cdk import Environment, Stage, Validations
    from cdk_nag import AwsSolutionsChecks

    app = App(outdir=str(outdir))
    scope = Stage(app, "Prod", env=Environment(account="111122223333", region="eu-west-1")) if stage_env else app
    add_studio(scope, parse_studio_config(raw))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    return {
        re.sub(r"^Prod|[0-9A-F]{8}$", "", p.stem.replace(".template", "")): json.loads(p.read_text())
        for p in outdir.rglob("*.template.json")
    }


@pytest.fixture(scope="module")
def sso_templates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    out = tmp_path_factory.mktemp("sso")
    return out, synth_checked(sso_team(), out)


def test_sso_users_get_their_identity_center_user_names(
    sso_templates: tuple[Path, dict[str, dict[str, Any]]],
) -> None:
    _, templates = sso_templates
    (domain,) = [r for r in templates["SageMakerStudio"]["Resources"].values() if r["Type"] == "AWS::SageMaker::Domain"]
    assert domain["Properties"]["AuthMode"] == "SSO"
    found = {
        r["Properties"]["UserProfileName"]: (
            r["Properties"]["SingleSignOnUserIdentifier"],
            r["Properties"]["SingleSignOnUserValue"],
        )
        for t in templates.values()
        for r in t["Resources"].values()
        if r["Type"] == "AWS::SageMaker::UserProfile"
    }
    assert found == {
        "data-scientist-1": ("UserName", "ds1@example.com"),
        "data-scientist-2": ("UserName", "ds2@example.com"),
    }


def execution_role_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    (domain,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Domain"]
    role = domain["Properties"]["DefaultUserSettings"]["ExecutionRole"]
    policies = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and r["Properties"]["Roles"] == [{"Ref": role["Fn::GetAtt"][0]}]
    ]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def s3_arn(resource: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":s3:::{resource}"]]}


EXPECTED_PERMISSION_STATEMENTS = [
    {
        "Action": "s3:ListBucket",
        "Condition": {"StringLike": {"s3:prefix": ["projects/", "projects/*"]}},
        "Effect": "Allow",
        "Resource": s3_arn("team-data"),
    },
    {
        "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        "Effect": "Allow",
        "Resource": s3_arn("team-data/projects/*"),
    },
    {"Action": "s3:ListBucket", "Effect": "Allow", "Resource": s3_arn("reference-data")},
    {"Action": "s3:GetObject", "Effect": "Allow", "Resource": s3_arn("reference-data/*")},
    {"Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Effect": "Allow", "Resource": KEY_ARN},
]


def test_studio_permissions_reach_the_execution_role_as_exact_statements(
    sso_templates: tuple[Path, dict[str, dict[str, Any]]],
) -> None:
    _, templates = sso_templates
    template = templates["SageMakerStudio"]
    statements = execution_role_statements(template)
    assert [s for s in statements if s not in EXPECTED_PERMISSION_STATEMENTS and "logs:" not in json.dumps(s)] == []
    assert [s for s in statements if s in EXPECTED_PERMISSION_STATEMENTS] == EXPECTED_PERMISSION_STATEMENTS
    (domain,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Domain"]
    role = template["Resources"][domain["Properties"]["DefaultUserSettings"]["ExecutionRole"]["Fn::GetAtt"][0]]
    assert role["Properties"]["ManagedPolicyArns"] == [POLICY_ARN]


def tag_property(resource_type: str) -> str | None:
    """The property that holds tags, where CloudFormation's own resource schema (cfn-lint's copy) has one."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    tagging = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema.get("tagging", {})
    prop = str(tagging.get("tagProperty", "/properties/Tags")).removeprefix("/properties/")
    return prop if tagging.get("taggable") else None


def tags_of(resource: dict[str, Any], prop: str) -> dict[str, str]:
    raw = resource["Properties"].get(prop, [])
    return dict(raw) if isinstance(raw, dict) else {t["Key"]: t["Value"] for t in raw}


def test_team_tags_reach_every_taggable_resource_and_user_tags_their_profile_and_space(
    sso_templates: tuple[Path, dict[str, dict[str, Any]]],
) -> None:
    _, templates = sso_templates
    assert len(templates) == 3, "the Studio stack and two user shards"
    seen: set[str] = set()
    for stack, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            prop = None if resource["Type"].startswith("Custom::") else tag_property(resource["Type"])
            if prop is None:
                continue
            seen.add(resource["Type"])
            tags = tags_of(resource, prop)
            assert {k: tags.get(k) for k in TEAM_TAGS} == TEAM_TAGS, (stack, logical_id)
            owner = resource["Properties"].get("UserProfileName") or resource["Properties"].get(
                "OwnershipSettings", {}
            ).get("OwnerUserProfileName")
            assert ("Owner" in tags) == (owner == "data-scientist-1"), (stack, logical_id)
            if owner == "data-scientist-1":
                assert tags["Owner"] == "ds1"
    assert {"AWS::SageMaker::Domain", "AWS::SageMaker::UserProfile", "AWS::SageMaker::Space"} <= seen
    assert {"AWS::KMS::Key", "AWS::IAM::Role", "AWS::EC2::VPC", "AWS::EFS::FileSystem"} <= seen


def test_sso_permissions_and_tags_pass_cfn_lint(sso_templates: tuple[Path, dict[str, dict[str, Any]]]) -> None:
    out, _ = sso_templates
    assert cfn_lint_errors(out) == []


def cfn_lint_errors(out: Path) -> list[str]:
    import subprocess
    import sys

    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--format",
            "parseable",
            *map(str, out.rglob("*.template.json")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return [line for line in result.stdout.splitlines() if ":E" in line]


def test_existing_network_key_and_role_are_imported_by_id_with_no_lookup_in_a_stage(tmp_path: Path) -> None:
    raw = sso_team(
        network={
            "vpcId": "vpc-0123abcd",
            "subnetIds": ["subnet-0123abcd", "subnet-4567cdef"],
            "securityGroupIds": ["sg-0123abcd"],
        },
        kmsKeyArn=KEY_ARN,
        executionRoleArn=ROLE_ARN,
    )
    del raw["permissions"]  # a role the stack does not own gets none
    templates = synth_checked(raw, tmp_path, stage_env=True)
    for manifest in tmp_path.rglob("manifest.json"):
        assert "missing" not in json.loads(manifest.read_text()), "no context lookup at synth"
    assert not (tmp_path / "cdk.context.json").exists()
    studio = templates["SageMakerStudio"]["Resources"]
    types = {r["Type"] for r in studio.values()}
    assert not types & {"AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::KMS::Key"}
    created = sorted(k for k, r in studio.items() if r["Type"] in ("AWS::EC2::SecurityGroup", "AWS::IAM::Role"))
    assert [re.sub(r"[0-9A-F]{8}$", "", k) for k in created] == ["ImageTeamLabRole", "TeamFileSystemSecurityGroup"], (
        "only the image's role and the file system's group: no domain group, no execution role"
    )
    (domain,) = [r["Properties"] for r in studio.values() if r["Type"] == "AWS::SageMaker::Domain"]
    assert domain["VpcId"] == "vpc-0123abcd"
    assert domain["SubnetIds"] == ["subnet-0123abcd", "subnet-4567cdef"]
    assert domain["KmsKeyId"] == KEY_ARN
    assert domain["DefaultUserSettings"]["ExecutionRole"] == ROLE_ARN
    assert domain["DefaultUserSettings"]["SecurityGroups"] == ["sg-0123abcd"]
    (policy,) = [
        r["Properties"]
        for r in studio.values()
        if r["Type"] == "AWS::IAM::Policy" and r["Properties"]["Roles"] == ["StudioExecution"]
    ]
    actions = sorted(a for s in policy["PolicyDocument"]["Statement"] for a in s["Action"])
    assert actions == sorted(
        ["logs:CreateLogGroup", "logs:DescribeLogStreams", "logs:CreateLogStream", "logs:PutLogEvents"]
    )
    efs_targets = [r["Properties"] for r in studio.values() if r["Type"] == "AWS::EFS::MountTarget"]
    assert sorted(t["SubnetId"] for t in efs_targets) == ["subnet-0123abcd", "subnet-4567cdef"]
    assert cfn_lint_errors(tmp_path) == []


PERMISSIONS = "studioEnvironment.permissions"
NETWORK = "studioEnvironment.network"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"authMode": "SSO"}, r"users\[0\].ssoUserName: required key is missing: an SSO \(IAM Identity Center\)"),
        (
            {"users": [{"name": "a", "ssoUserName": "a@example.com"}]},
            r'users\[0\].ssoUserName: the domain uses authMode "IAM"; remove it',
        ),
        (
            {"authMode": "SSO", "users": [{"name": "a", "ssoUserName": "a@example.com\n"}]},
            r'users\[0\].ssoUserName: "a@example.com\\n" is invalid',
        ),
        ({"authMode": "SSO", "users": [{"name": "a", "ssoUserName": ["a"]}]}, r"users\[0\].ssoUserName: .* is invalid"),
        ({"authMode": "SSO", "users": [{"name": "a", "ssoUserName": ""}]}, r'users\[0\].ssoUserName: "" is invalid'),
        (
            {
                "authMode": "SSO",
                "users": [{"name": "a", "ssoUserName": "x@e.com"}, {"name": "b", "ssoUserName": "X@e.com"}],
            },
            r"users\[1\].ssoUserName: 'X@e.com' is already user 'a''s",
        ),
        ({"tags": {"aws:team": "x"}}, r'studioEnvironment.tags\["aws:team"\]: tag key "aws:team" is invalid'),
        ({"tags": {"Team": "x\n"}}, r'studioEnvironment.tags.Team: tag value "x\\n" is invalid'),
        ({"tags": {"Team\n": "x"}}, r'studioEnvironment.tags\["Team\\n"\]: tag key "Team\\n" is invalid'),
        ({"tags": {"Team": 5}}, r"studioEnvironment.tags.Team: expected a string, got 5"),
        ({"tags": {f"k{i}": "v" for i in range(51)}}, r"studioEnvironment.tags: 51 tags; AWS allows at most 50"),
        ({"tags": ["Team"]}, r"studioEnvironment.tags: expected an object"),
        ({"users": [{"name": "a", "tags": {"": "x"}}]}, r'users\[0\].tags\[""\]: tag key "" is invalid'),
        (
            {
                "tags": {f"k{i}": "v" for i in range(30)},
                "users": [{"name": "a", "tags": {f"u{i}": "v" for i in range(30)}}],
            },
            r"users\[0\].tags: with the global tags this makes 60 tags",
        ),
        ({"permissions": {"s3": [{"bucket": "Team_Data"}]}}, rf'{PERMISSIONS}.s3\[0\].bucket: "Team_Data" is not'),
        ({"permissions": {"s3": [{"bucket": "team-data\n"}]}}, r's3\[0\].bucket: "team-data\\n" is not an S3 bucket'),
        ({"permissions": {"s3": [{"bucket": "team-data", "prefix": "a/*"}]}}, r's3\[0\].prefix: "a/\*" is invalid'),
        ({"permissions": {"s3": [{"bucket": "team-data", "prefix": "/a"}]}}, r's3\[0\].prefix: "/a" is invalid'),
        ({"permissions": {"s3": [{"bucket": "team-data", "prefix": "a\n"}]}}, r's3\[0\].prefix: "a\\n" is invalid'),
        (
            {"permissions": {"s3": [{"bucket": "team-data", "access": "write"}]}},
            r's3\[0\].access: "write" is invalid; use "read" or "read-write"',
        ),
        (
            {"permissions": {"managedPolicies": [POLICY_ARN + "\n"]}},
            rf"{PERMISSIONS}.managedPolicies\[0\]: .* is not an IAM managed policy ARN",
        ),
        ({"permissions": {"managedPolicies": ["ReadOnlyAccess"]}}, r'managedPolicies\[0\]: "ReadOnlyAccess" is not'),
        ({"permissions": {"managedPolicies": [POLICY_ARN, POLICY_ARN]}}, r"managedPolicies\[1\]: .* is listed twice"),
        ({"permissions": {"kmsKeys": ["alias/team"]}}, rf'{PERMISSIONS}.kmsKeys\[0\]: "alias/team" is not a KMS'),
        ({"permissions": {"iam": []}}, rf"{PERMISSIONS}.iam: unknown key"),
        ({"kmsKeyArn": KEY_ARN + "\n"}, r"studioEnvironment.kmsKeyArn: .* is invalid"),
        ({"executionRoleArn": "StudioExecution"}, r'studioEnvironment.executionRoleArn: "StudioExecution" is invalid'),
        ({"executionRoleArn": ROLE_ARN + "\n"}, r"studioEnvironment.executionRoleArn: .* is invalid"),
        (
            {"executionRoleArn": ROLE_ARN, "permissions": {"s3": [{"bucket": "team-data"}]}},
            rf"{PERMISSIONS}: cannot be granted to the existing role given in executionRoleArn",
        ),
        ({"network": {"vpcId": "vpc-0123abcd\n", "subnetIds": ["subnet-0123abcd"]}}, rf"{NETWORK}.vpcId: .* is not"),
        ({"network": {"vpcId": "vpc-0123abcd", "subnetIds": []}}, rf"{NETWORK}.subnetIds: give at least one subnet"),
        ({"network": {"vpcId": "vpc-0123abcd"}}, rf"{NETWORK}.subnetIds: required key is missing"),
        (
            {"network": {"vpcId": "vpc-0123abcd", "subnetIds": ["subnet-0123abcd"], "securityGroupIds": ["sg-1\n"]}},
            rf"{NETWORK}.securityGroupIds\[0\]: .* is not a security group ID",
        ),
        (
            {"network": {"vpcId": "vpc-0123abcd", "subnetIds": ["subnet-0123abcd", "subnet-0123abcd"]}},
            rf'{NETWORK}.subnetIds\[1\]: "subnet-0123abcd" is listed twice',
        ),
    ],
)
def test_bad_identity_permissions_tags_and_network_name_the_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_studio_config(config(**change))


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"authMode": "SSO", "users": [{"name": "a", "ssoUserName": "a" * 5_000_000}]}, "users[0].ssoUserName"),
        ({"authMode": "SSO", "users": [{"name": "a", "ssoUserName": "a@b\u0000c"}]}, "users[0].ssoUserName"),
        ({"authMode": "SSO", "users": [{"name": "a", "ssoUserName": nested(900)}]}, "users[0].ssoUserName"),
        ({"tags": {"Team": "v" * 5_000_000}}, "tags.Team"),
        ({"tags": {f"k{i}": "v" for i in range(200_000)}}, "tags"),
        ({"tags": {"Team": "$(reboot)`id`"}}, "tags.Team"),
        ({"executionRoleArn": "arn:aws:iam::111122223333:role/" + "r" * 5_000_000}, "executionRoleArn"),
        ({"kmsKeyArn": nested(900)}, "kmsKeyArn"),
        ({"network": {"vpcId": "vpc-0123abcd", "subnetIds": ["subnet-0123abcd"] * 100_000}}, "network.subnetIds"),
        ({"network": nested(900)}, "network"),
    ],
)
def test_hostile_access_values_fail_fast_with_a_one_line_error(change: dict[str, Any], key: str) -> None:
    import time

    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        parse_studio_config(config(**change))
    message = str(caught.value)
    assert time.monotonic() - started < 5
    assert message.startswith(f"studioEnvironment.{key}") and "\n" not in message and len(message) < 400, message


def test_a_users_own_tag_wins_over_the_team_tag_of_the_same_key(tmp_path: Path) -> None:
    raw = sso_team()
    raw["users"][0]["tags"] = {"Team": "forecasting"}
    templates = synth(raw, tmp_path)
    for template in templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] in ("AWS::SageMaker::UserProfile", "AWS::SageMaker::Space"):
                props = resource["Properties"]
                owner = props.get("UserProfileName") or props.get("OwnershipSettings", {}).get("OwnerUserProfileName")
                expected = "forecasting" if owner == "data-scientist-1" else "analytics"
                assert tags_of(resource, "Tags")["Team"] == expected, owner
