"""StudioSpace, the domain's DefaultSpaceSettings, storage, POSIX user, built-in configs, idle locks and the
Studio Classic deprecation warning; cfn-lint runs on the synthesized template."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Annotations, Match, Template

from constructs_lib import LifecycleConfigError, Module, RunAs
from constructs_lib.private_network import PrivateNotebookNetwork
from constructs_lib.studio_domain import StudioDomain, StudioUserProfile
from constructs_lib.studio_image import StudioCustomImage
from constructs_lib.studio_lifecycle_config import StudioAppType, StudioLifecycleConfig
from constructs_lib.studio_settings import (
    IdleShutdown,
    PosixUser,
    SpaceStorage,
    StudioAppSettings,
    StudioSpaceDefaults,
    StudioUserSettings,
)
from constructs_lib.studio_space import SpaceSharing, StudioSpace
from constructs_lib.team_file_system import TeamFileSystem

URI = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/lab:1.0"


def lcc(stack: Stack, app_type: StudioAppType, name: str) -> StudioLifecycleConfig:
    module = Module(name=name, script=f"#!/bin/bash\necho {name}\n", user=RunAs.NOTEBOOK_USER)
    return StudioLifecycleConfig(stack, f"Config{name.title()}", app_type=app_type, modules=[module])


class World:
    """A domain with a JupyterLab default, a second allowed config, a built-in one, an image and a team EFS."""

    def __init__(self, idle: IdleShutdown | None = None, user_storage: SpaceStorage | None = None) -> None:
        self.stack = Stack(App(), "Studio")
        network = PrivateNotebookNetwork(self.stack, "Network")
        self.lab = lcc(self.stack, StudioAppType.JUPYTER_LAB, "lab")
        self.other = lcc(self.stack, StudioAppType.JUPYTER_LAB, "other")
        self.unlisted = lcc(self.stack, StudioAppType.JUPYTER_LAB, "unlisted")
        self.built_in = lcc(self.stack, StudioAppType.JUPYTER_LAB, "builtin")
        self.editor = lcc(self.stack, StudioAppType.CODE_EDITOR, "editor")
        self.image = StudioCustomImage(
            self.stack, "Image", image_name="team-lab", base_image=URI, app_type=StudioAppType.JUPYTER_LAB
        )
        self.fs = TeamFileSystem(self.stack, "TeamFs", vpc=network.vpc)
        lab = StudioAppSettings(
            lifecycle_configs=[self.lab, self.other],
            default_lifecycle_config=self.lab,
            built_in_lifecycle_config=self.built_in,
            custom_images=[self.image],
            idle_shutdown=idle
            or IdleShutdown(timeout=Duration.hours(2), minimum=Duration.hours(1), maximum=Duration.hours(8)),
        )
        self.domain = StudioDomain(
            self.stack,
            "Domain",
            vpc=network.vpc,
            vpc_subnets=network.subnets,
            default_user_settings=StudioUserSettings(
                jupyter_lab=lab,
                code_editor=StudioAppSettings(default_lifecycle_config=self.editor, idle_shutdown=IdleShutdown()),
                storage=SpaceStorage(default_gib=5, maximum_gib=50),
                custom_file_systems=[self.fs.mount()],
                posix_user=PosixUser(uid=200001, gid=1001),
            ),
            default_space_settings=StudioSpaceDefaults(
                jupyter_lab=lab,
                storage=SpaceStorage(default_gib=10, maximum_gib=200),
                custom_file_systems=[self.fs.mount()],
                posix_user=PosixUser(),
            ),
        )
        self.fs.allow_nfs_from(*self.domain.security_groups)
        self.alice = StudioUserProfile(
            self.stack,
            "Alice",
            domain_id=self.domain.domain_id,
            user_profile_name="alice",
            settings=StudioUserSettings(storage=user_storage) if user_storage else None,
        )

    def space(self, name: str = "team", **kwargs: Any) -> StudioSpace:
        return StudioSpace(
            self.stack, f"Space{len(self.stack.node.children)}", domain=self.domain, space_name=name, **kwargs
        )

    def resources(self, kind: str) -> dict[str, Any]:
        return Template.from_stack(self.stack).find_resources(kind)


def test_shared_space_with_image_file_system_storage_and_idle_timeout() -> None:
    world = World()
    world.space(
        "team-lab",
        image=world.image,
        lifecycle_config=world.other,
        instance_type="ml.t3.medium",
        ebs_size_gib=200,
        idle_timeout=Duration.hours(3),
        custom_file_systems=[world.fs.mount()],
    )
    (space,) = world.resources("AWS::SageMaker::Space").values()
    props = space["Properties"]
    assert props["SpaceSharingSettings"] == {"SharingType": "Shared"} and "OwnershipSettings" not in props
    settings = props["SpaceSettings"]
    assert settings["AppType"] == "JupyterLab" and settings["RemoteAccess"] == "DISABLED"
    lab = settings["JupyterLabAppSettings"]
    assert lab["AppLifecycleManagement"] == {"IdleSettings": {"IdleTimeoutInMinutes": 180}}
    assert lab["DefaultResourceSpec"]["InstanceType"] == "ml.t3.medium"
    assert lab["DefaultResourceSpec"]["LifecycleConfigArn"] == {
        "Fn::GetAtt": [world.stack.get_logical_id(world.other.lifecycle_config), "StudioLifecycleConfigArn"]
    }
    assert json.dumps(lab["DefaultResourceSpec"]["SageMakerImageArn"]).endswith('":image/team-lab"]]}')
    assert settings["SpaceStorageSettings"] == {"EbsStorageSettings": {"EbsVolumeSizeInGb": 200}}
    fs_ref = {"Ref": world.stack.get_logical_id(world.fs.file_system.node.default_child)}  # type: ignore[arg-type]
    assert settings["CustomFileSystems"] == [{"EFSFileSystem": {"FileSystemId": fs_ref}}]


def test_private_space_follows_its_owner_and_waits_for_the_profile() -> None:
    world = World(user_storage=SpaceStorage(default_gib=5, maximum_gib=30))
    world.space("alice-lab", owner=world.alice, ebs_size_gib=30)
    (space,) = world.resources("AWS::SageMaker::Space").values()
    assert space["Properties"]["OwnershipSettings"] == {"OwnerUserProfileName": "alice"}
    assert space["Properties"]["SpaceSharingSettings"] == {"SharingType": "Private"}
    assert space["DependsOn"] == [world.stack.get_logical_id(world.alice.user_profile)]
    with pytest.raises(LifecycleConfigError, match=r"ebs_size_gib 31 is out of range: give 5 to 30 .*user 'alice'"):
        world.space("alice-big", owner=world.alice, ebs_size_gib=31)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"space_name": "bad_name"}, r"space_name 'bad_name' is invalid"),
        ({"sharing": SpaceSharing.PRIVATE}, r"a private space needs an owner"),
        ({"app_type": StudioAppType.KERNEL_GATEWAY}, r"spaces here run JupyterLab or CodeEditor"),
        ({"instance_type": "t3.medium"}, r"instance_type 't3.medium' is invalid"),
        ({"lifecycle_config": "unlisted"}, r"lifecycle_config '.*unlisted.*' is not among those the domain's default"),
        ({"lifecycle_config": "editor"}, r"is not among those"),
        ({"ebs_size_gib": 201}, r"ebs_size_gib 201 is out of range: give 5 to 200"),
        ({"ebs_size_gib": 4}, r"out of range"),
        ({"idle_timeout": Duration.minutes(30)}, r"outside the domain's bounds: give whole minutes from 60 to 480"),
        ({"idle_timeout": Duration.hours(9)}, r"from 60 to 480"),
        ({"idle_timeout": Duration.seconds(3630)}, r"whole minutes"),
        ({"custom_file_systems": "two"}, r"at most one custom file system"),
    ],
)
def test_space_values_outside_what_governs_it_fail_synth(kwargs: dict[str, Any], message: str) -> None:
    world = World()
    if kwargs.get("lifecycle_config") in ("unlisted", "editor"):
        kwargs["lifecycle_config"] = getattr(world, kwargs["lifecycle_config"])
    if kwargs.get("custom_file_systems") == "two":
        kwargs["custom_file_systems"] = [world.fs.mount(), world.fs.mount()]
    name = kwargs.pop("space_name", "team")
    with pytest.raises(LifecycleConfigError, match=message):
        world.space(name, **kwargs)


def test_an_image_or_file_system_not_offered_fails_synth() -> None:
    world = World()
    stray = StudioCustomImage(
        world.stack, "Stray", image_name="stray", base_image=URI, app_type=StudioAppType.JUPYTER_LAB
    )
    with pytest.raises(LifecycleConfigError, match=r"image 'stray' is not attached to the domain's default space"):
        world.space(image=stray)
    from constructs_lib.studio_settings import EfsMount

    with pytest.raises(LifecycleConfigError, match=r"file system 'fs-0123abcd' is not offered"):
        world.space(custom_file_systems=[EfsMount(file_system_id="fs-0123abcd")])


def test_idle_timeout_needs_the_domains_idle_shutdown_and_a_lock_allows_only_its_value() -> None:
    world = World(idle=IdleShutdown.locked(Duration.hours(2)))
    world.space("exact", idle_timeout=Duration.hours(2))
    with pytest.raises(LifecycleConfigError, match=r"from 120 to 120"):
        world.space("longer", idle_timeout=Duration.hours(3))
    settings = Template.from_stack(world.stack).find_resources("AWS::SageMaker::Domain")
    (domain,) = settings.values()
    idle = domain["Properties"]["DefaultUserSettings"]["JupyterLabAppSettings"]["AppLifecycleManagement"]
    assert idle["IdleSettings"] == {
        "LifecycleManagement": "ENABLED",
        "IdleTimeoutInMinutes": 120,
        "MinIdleTimeoutInMinutes": 120,
        "MaxIdleTimeoutInMinutes": 120,
    }


def test_domain_default_space_settings_user_storage_posix_and_built_in_config() -> None:
    world = World()
    (domain,) = world.resources("AWS::SageMaker::Domain").values()
    spaces = domain["Properties"]["DefaultSpaceSettings"]
    assert set(spaces) == {
        "ExecutionRole",
        "SecurityGroups",
        "JupyterLabAppSettings",
        "SpaceStorageSettings",
        "CustomFileSystemConfigs",
        "CustomPosixUserConfig",
    }, "no CodeEditorAppSettings: CloudFormation's DefaultSpaceSettings has none"
    assert spaces["CustomPosixUserConfig"] == {"Uid": 200001, "Gid": 1001}
    assert spaces["SpaceStorageSettings"] == {
        "DefaultEbsStorageSettings": {"DefaultEbsVolumeSizeInGb": 10, "MaximumEbsVolumeSizeInGb": 200}
    }
    users = domain["Properties"]["DefaultUserSettings"]
    assert users["SpaceStorageSettings"]["DefaultEbsStorageSettings"]["MaximumEbsVolumeSizeInGb"] == 50
    lab = users["JupyterLabAppSettings"]
    built_in = {"Fn::GetAtt": [world.stack.get_logical_id(world.built_in.lifecycle_config), "StudioLifecycleConfigArn"]}
    assert lab["BuiltInLifecycleConfigArn"] == built_in
    assert built_in not in lab["LifecycleConfigArns"], "the built-in config runs always: users do not pick it"
    assert lab["CustomImages"] == [{"AppImageConfigName": "team-lab", "ImageName": "team-lab"}]
    assert {"ImageVersion09A9D262", "ImageAppImageConfig11914FE8"} <= set(domain["DependsOn"]), "images are named"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            lambda w: StudioAppSettings(built_in_lifecycle_config=w.editor),
            r"built_in_lifecycle_config '.*' is for CodeEditor, not JupyterLab",
        ),
        (lambda w: StudioAppSettings(default_image=w.image), r"default_image 'team-lab' is not among custom_images"),
    ],
)
def test_app_settings_built_in_and_default_image_are_checked(settings: Any, message: str) -> None:
    world = World()
    with pytest.raises(LifecycleConfigError, match=message):
        StudioUserProfile(
            world.stack,
            "Bob",
            domain_id=world.domain.domain_id,
            user_profile_name="bob",
            settings=StudioUserSettings(jupyter_lab=settings(world)),
        )
    with pytest.raises(LifecycleConfigError, match=r"built_in_lifecycle_config exists for JupyterLab and CodeEditor"):
        StudioAppSettings(built_in_lifecycle_config=world.lab).validate(StudioAppType.KERNEL_GATEWAY, "x")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SpaceStorage(default_gib=4), r"default_gib 4 is invalid"),
        (lambda: SpaceStorage(default_gib=50, maximum_gib=20), r"default_gib 50 is over maximum_gib 20"),
        (lambda: PosixUser(uid=1000), r"uid 1000 is invalid: give a number from 10000"),
        (lambda: PosixUser(gid=100), r"gid 100 is invalid"),
    ],
)
def test_storage_and_posix_user_bounds(make: Any, message: str) -> None:
    with pytest.raises(LifecycleConfigError, match=message):
        make()


@pytest.mark.parametrize("app_type", [StudioAppType.KERNEL_GATEWAY, StudioAppType.JUPYTER_SERVER])
def test_studio_classic_configs_are_synthesized_with_a_warning_naming_the_deprecation(app_type: StudioAppType) -> None:
    stack = Stack(App(), "Classic")
    lcc(stack, app_type, "classic")
    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp(rf"{app_type.value} is a Studio Classic app type.*AppType has been deprecated")
    )
    assert Template.from_stack(stack).find_resources("AWS::SageMaker::StudioLifecycleConfig")


def test_jupyterlab_config_has_no_deprecation_warning() -> None:
    stack = Stack(App(), "Lab")
    lcc(stack, StudioAppType.JUPYTER_LAB, "lab")
    Annotations.from_stack(stack).has_no_warning("*", Match.string_like_regexp("Studio Classic"))


def cfn_lint(template: dict[str, Any], tmp_path: Path) -> list[str]:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
    )
    return [line for line in result.stdout.splitlines() if ":E" in line]


def test_cfn_lint_passes_and_the_only_silenced_check_is_the_documented_idle_setting(tmp_path: Path) -> None:
    """The CloudFormation reference documents SpaceJupyterLabAppSettings.AppLifecycleManagement; cfn-lint 1.58's
    schema lacks it. The documentation wins: the space carries a cfn-lint ignore for E3002, on that resource only."""
    world = World()
    team = world.space(
        "team-lab", idle_timeout=Duration.hours(3), image=world.image, custom_file_systems=[world.fs.mount()]
    )
    world.space("alice-lab", owner=world.alice)
    world.space("editor", app_type=StudioAppType.CODE_EDITOR, lifecycle_config=world.editor)
    template = Template.from_stack(world.stack).to_json()
    assert cfn_lint(template, tmp_path) == []
    ignored = {k for k, r in template["Resources"].items() if "cfn-lint" in r.get("Metadata", {})}
    assert ignored == {world.stack.get_logical_id(team.space)}
    for resource in template["Resources"].values():
        resource.get("Metadata", {}).pop("cfn-lint", None)
    errors = cfn_lint(template, tmp_path)
    assert len(errors) == 1 and "E3002" in errors[0] and "'AppLifecycleManagement' was unexpected" in errors[0]
