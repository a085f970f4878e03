"""Runtime prop type checks: a Python type error names the construct, the prop, what is expected and what
was given, before jsii turns it into a deep serialization error or a wrong template."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_cdk import App, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2

from constructs_lib import (
    Compression,
    LifecycleConfigError,
    Module,
    RunAs,
    StudioAppType,
    StudioCustomImage,
    StudioLifecycleConfig,
    StudioSpace,
    TeamFileSystem,
)
from constructs_lib._props import check_type, type_name
from tests.constructs_lib.test_studio_space import URI, World


def test_check_type_message_names_construct_prop_expectation_and_given_type() -> None:
    message = "StudioSpace instance_type: expected str such as 'ml.t3.medium', got ec2.InstanceType"
    with pytest.raises(LifecycleConfigError, match=f"^{re.escape(message)}$"):
        check_type("StudioSpace", "instance_type", ec2.InstanceType("t3.micro"), str, "such as 'ml.t3.medium'")


@pytest.mark.parametrize(
    ("value", "expected", "optional", "given"),
    [
        (True, int, False, "got bool"),
        (None, str, False, "expected str, got None"),
        (Duration.minutes(5), int, True, "expected int, got Duration"),
        (RemovalPolicy.DESTROY, (str, int), False, "expected str or int, got RemovalPolicy.DESTROY"),
        (Compression.GZIP, StudioAppType, False, "got Compression.GZIP"),
        ("60", Duration, False, "expected Duration, got str"),
    ],
)
def test_check_type_rejects(value: object, expected: Any, optional: bool, given: str) -> None:
    with pytest.raises(LifecycleConfigError, match=re.escape(given) + "$"):
        check_type("X", "p", value, expected, optional=optional)


@pytest.mark.parametrize(
    ("value", "expected", "optional"),
    [
        (None, str, True),
        (3, int, False),
        (True, bool, False),
        (True, (bool, int), False),
        (Duration.hours(1), Duration, False),
    ],
)
def test_check_type_accepts(value: object, expected: Any, optional: bool) -> None:
    check_type("X", "p", value, expected, optional=optional)


def test_type_names_read_like_cdk_code() -> None:
    assert type_name(ec2.InstanceType) == "ec2.InstanceType"
    assert type_name(Duration) == "Duration"
    assert type_name(str) == "str"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"instance_type": ec2.InstanceType("t3.medium")}, "instance_type: expected str such as 'ml.t3.medium'"),
        ({"ebs_size_gib": True}, "ebs_size_gib: expected int (GiB), got bool"),
        ({"ebs_size_gib": 20.0}, "ebs_size_gib: expected int (GiB), got float"),
        ({"idle_timeout": 120}, "idle_timeout: expected Duration such as Duration.hours(2), got int"),
        ({"remote_access": "yes"}, "remote_access: expected bool, got str"),
        ({"display_name": 7}, "display_name: expected str, got int"),
        ({"custom_file_systems": "fs-0123abcd"}, "custom_file_systems: expected list or tuple of EfsMount, got str"),
        ({"custom_file_systems": ["fs-0123abcd"]}, "custom_file_systems item: expected EfsMount"),
        ({"app_type": "JupyterLab"}, "app_type: expected StudioAppType such as StudioAppType.JUPYTER_LAB, got str"),
        ({"lifecycle_config": "lab"}, "lifecycle_config: expected StudioLifecycleConfig, got str"),
        ({"owner": "alice"}, "owner: expected StudioUserProfile or UserProfileResource, got str"),
    ],
)
def test_studio_space_type_errors_name_the_prop(kwargs: dict[str, Any], message: str) -> None:
    world = World()
    with pytest.raises(LifecycleConfigError, match=f"^StudioSpace {re.escape(message)}"):
        world.space(**kwargs)


def test_studio_space_domain_must_be_a_studio_domain() -> None:
    world = World()
    with pytest.raises(LifecycleConfigError, match=r"^StudioSpace domain: expected StudioDomain, got str$"):
        StudioSpace(world.stack, "Bad", domain="d-123", space_name="team")


def module() -> Module:
    return Module(name="hello", script="#!/bin/bash\necho hello\n", user=RunAs.NOTEBOOK_USER)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"modules": module()}, "modules: expected list or tuple of Module, got Module"),
        ({"modules": ["hello"]}, "modules item: expected Module"),
        ({"name_prefix": 5}, "name_prefix: expected str such as 'team-lab', got int"),
        ({"compression": "xz"}, "compression: expected Compression such as Compression.XZ, got str"),
        ({"description": None}, "description: expected str, got None"),
    ],
)
def test_studio_lifecycle_config_type_errors_name_the_prop(kwargs: dict[str, Any], message: str) -> None:
    props: dict[str, Any] = {"app_type": StudioAppType.JUPYTER_LAB, "modules": [module()], **kwargs}
    with pytest.raises(LifecycleConfigError, match=f"^StudioLifecycleConfig {re.escape(message)}"):
        StudioLifecycleConfig(Stack(), "Lab", **props)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_name": 1}, "image_name: expected str such as 'team-lab', got int"),
        ({"display_name": ["Team"]}, "display_name: expected str, got list"),
        ({"kernel_specs": "python3"}, "kernel_specs: expected list or tuple of KernelSpec, got str"),
        ({"file_system": "/home"}, "file_system: expected ImageFileSystem, got str"),
    ],
)
def test_studio_custom_image_type_errors_name_the_prop(kwargs: dict[str, Any], message: str) -> None:
    props: dict[str, Any] = {
        "image_name": "team-lab",
        "base_image": URI,
        "app_type": StudioAppType.JUPYTER_LAB,
        **kwargs,
    }
    with pytest.raises(LifecycleConfigError, match=f"^StudioCustomImage {re.escape(message)}"):
        StudioCustomImage(Stack(), "Image", **props)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": None}, "path: expected str such as '/team', got None"),
        ({"posix_user": 200001}, "posix_user: expected PosixUser, got int"),
        ({"removal_policy": "retain"}, "removal_policy: expected RemovalPolicy such as RemovalPolicy.RETAIN, got str"),
    ],
)
def test_team_file_system_type_errors_name_the_prop(kwargs: dict[str, Any], message: str) -> None:
    stack = Stack(App(), "Fs")
    vpc = ec2.Vpc(stack, "Vpc")
    with pytest.raises(LifecycleConfigError, match=f"^TeamFileSystem {re.escape(message)}"):
        TeamFileSystem(stack, "Fs", vpc=vpc, **kwargs)
