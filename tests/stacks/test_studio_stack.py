"""Studio stacks from configuration: sharding, stable logical IDs, app settings, and config errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from stacks.config import ConfigError
from stacks.studio_config import parse_studio_config
from stacks.studio_stack import MAX_USERS_PER_SHARD, add_studio, shard_of
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


def test_a_shard_over_its_limit_fails_synth() -> None:
    users = [{"name": f"u{i}"} for i in range(MAX_USERS_PER_SHARD + 1)]
    with pytest.raises(ConfigError, match=r"would hold 401 users, over 400; raise userShards"):
        add_studio(App(), parse_studio_config(config(users=users, userShards=1)))


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
