"""StudioCustomImage (Image, ImageVersion, AppImageConfig, a pull-only role) and TeamFileSystem (encrypted EFS,
NFS from the domain's groups, import by id)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Annotations, Match, Template

from constructs_lib import LifecycleConfigError
from constructs_lib.private_network import PrivateNotebookNetwork
from constructs_lib.studio_image import ImageFileSystem, KernelSpec, StudioCustomImage
from constructs_lib.studio_lifecycle_config import StudioAppType
from constructs_lib.team_file_system import TeamFileSystem

URI = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/lab:1.0"


def image(**kwargs: Any) -> tuple[Stack, StudioCustomImage]:
    stack = Stack(App(), "Images")
    props: dict[str, Any] = {"image_name": "team-lab", "base_image": URI, "app_type": StudioAppType.JUPYTER_LAB}
    props.update(kwargs)
    return stack, StudioCustomImage(stack, "Image", **props)


def test_jupyterlab_image_from_an_ecr_uri_with_container_config() -> None:
    stack, made = image(
        container_arguments=["--ServerApp.port=8888"],
        container_entrypoint=["entrypoint-jupyter-server"],
        environment={"TEAM": "data", "A_FLAG": "1"},
    )
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SageMaker::ImageVersion", {"ImageName": "team-lab", "BaseImage": URI})
    template.has_resource_properties(
        "AWS::SageMaker::AppImageConfig",
        {
            "AppImageConfigName": "team-lab",
            "JupyterLabAppImageConfig": {
                "ContainerConfig": {
                    "ContainerArguments": ["--ServerApp.port=8888"],
                    "ContainerEntrypoint": ["entrypoint-jupyter-server"],
                    "ContainerEnvironmentVariables": [
                        {"Key": "A_FLAG", "Value": "1"},
                        {"Key": "TEAM", "Value": "data"},
                    ],
                }
            },
        },
    )
    (version,) = template.find_resources("AWS::SageMaker::ImageVersion").values()
    assert stack.get_logical_id(made.image) in version["DependsOn"], "the version waits for its image"


def test_the_image_role_may_pull_from_that_repository_only() -> None:
    stack, _ = image()
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})]
            }
        },
    )
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Action"] for s in statements] == [
        "ecr:GetAuthorizationToken",
        ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    ]
    assert statements[0]["Resource"] == "*"
    assert statements[1]["Resource"] == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":ecr:eu-west-1:123456789012:repository/team/lab"]]
    }


def test_kernel_gateway_image_has_kernel_specs_file_system_and_a_deprecation_warning() -> None:
    stack, _ = image(
        app_type=StudioAppType.KERNEL_GATEWAY,
        kernel_specs=[KernelSpec(name="python3", display_name="Team Python")],
        file_system=ImageFileSystem(mount_path="/root", uid=0, gid=0),
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::AppImageConfig",
        {
            "KernelGatewayImageConfig": {
                "KernelSpecs": [{"Name": "python3", "DisplayName": "Team Python"}],
                "FileSystemConfig": {"MountPath": "/root", "DefaultUid": 0, "DefaultGid": 0},
            }
        },
    )
    Annotations.from_stack(stack).has_warning("*", Match.string_like_regexp("KernelGateway is a Studio Classic"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_name": "Team-Lab"}, r"image_name 'Team-Lab' is invalid"),
        ({"image_name": "team--lab"}, r"image_name 'team--lab' is invalid"),
        ({"image_name": "a" * 64}, r"image_name"),
        ({"app_image_config_name": "bad.name"}, r"app_image_config_name 'bad.name' is invalid"),
        ({"base_image": "docker.io/library/python:3.11"}, r"base_image .* is invalid: give an ECR image URI"),
        ({"base_image": URI.replace(":1.0", "")}, r"with a tag or digest"),
        ({"base_image": URI + "\n"}, r"base_image"),
        ({"app_type": StudioAppType.JUPYTER_SERVER}, r"app_type .* is invalid"),
        ({"kernel_specs": [KernelSpec(name="python3")]}, r"kernel_specs are for KernelGateway images only"),
        ({"container_entrypoint": ["a", "b"]}, r"container_entrypoint takes at most 1"),
        ({"environment": {"BAD-NAME": "x"}}, r"environment name 'BAD-NAME' is invalid"),
        ({"environment": {"EMPTY": " "}}, r"environment EMPTY must be 1-256 characters"),
        ({"app_type": StudioAppType.KERNEL_GATEWAY}, r"give exactly one KernelSpec"),
    ],
)
def test_bad_image_props_fail_synth(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(LifecycleConfigError, match=message):
        image(**kwargs)


def test_kernel_spec_and_image_file_system_are_validated() -> None:
    with pytest.raises(LifecycleConfigError, match="KernelSpec name"):
        KernelSpec(name="bad name")
    with pytest.raises(LifecycleConfigError, match="uid 0 or 1000, gid 0 or 100"):
        ImageFileSystem(uid=5)


def test_team_file_system_is_encrypted_retained_and_open_to_nfs_from_the_domain_only() -> None:
    stack = Stack(App(), "Fs")
    network = PrivateNotebookNetwork(stack, "Network")
    fs = TeamFileSystem(stack, "Team", vpc=network.vpc)
    studio_group = ec2.SecurityGroup(stack, "Studio", vpc=network.vpc)
    fs.allow_nfs_from(studio_group)
    template = Template.from_stack(stack)
    (efs,) = template.find_resources("AWS::EFS::FileSystem").values()
    assert efs["Properties"]["Encrypted"] is True and efs["DeletionPolicy"] == "Retain"
    assert len(template.find_resources("AWS::EFS::MountTarget")) == 2
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "IpProtocol": "tcp",
            "FromPort": 2049,
            "ToPort": 2049,
            "SourceSecurityGroupId": {"Fn::GetAtt": [stack.get_logical_id(studio_group.node.default_child), "GroupId"]},  # type: ignore[arg-type]
        },
    )
    ingress = template.find_resources("AWS::EC2::SecurityGroupIngress")
    assert len(ingress) == 1, "nothing but the domain's group reaches the file system"
    assert fs.mount().path == "/" and fs.posix_user.uid == 200001


def test_an_existing_file_system_is_imported_by_id() -> None:
    stack = Stack(App(), "Fs")
    group = ec2.SecurityGroup.from_security_group_id(stack, "Group", "sg-0123456789abcdef0")
    fs = TeamFileSystem.from_file_system_id(
        stack, "Team", file_system_id="fs-0123abcd", security_group=group, path="/team"
    )
    assert fs.mount().file_system_id == "fs-0123abcd" and fs.mount().path == "/team"
    assert not Template.from_stack(stack).find_resources("AWS::EFS::FileSystem")
    for bad, message in (("fs-XYZ", "file_system_id 'fs-XYZ' is invalid"), ("fs-0123abcd", "path 'team' is invalid")):
        with pytest.raises(LifecycleConfigError, match=message):
            TeamFileSystem.from_file_system_id(
                stack, f"Bad{len(message)}", file_system_id=bad, security_group=group, path="team"
            )
