"""NotebookInstance: secure defaults, validation, and least-privilege grants."""

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from constructs_lib import LifecycleConfigError, Module, NotebookInstance, NotebookLifecycleConfig
from constructs_lib.private_network import PrivateNotebookNetwork

NB = "AWS::SageMaker::NotebookInstance"


def stack() -> Stack:
    return Stack(App(), "Test")


def statements(template: Template) -> list[dict[str, object]]:
    found = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def arn_suffix(statement: dict[str, object]) -> list[str]:
    resources = statement["Resource"]
    resources = resources if isinstance(resources, list) else [resources]
    return [r["Fn::Join"][1][-1] for r in resources]  # type: ignore[index]


def test_secure_defaults_in_a_private_network() -> None:
    s = stack()
    network = PrivateNotebookNetwork(s, "Network")
    notebook = NotebookInstance(s, "Notebook", vpc=network.vpc, vpc_subnets=network.subnets)
    template = Template.from_stack(s)
    template.has_resource_properties(
        NB,
        {
            "DirectInternetAccess": "Disabled",
            "RootAccess": "Disabled",
            "PlatformIdentifier": "notebook-al2023-v1",
            "InstanceType": "ml.t3.medium",
            "VolumeSizeInGB": 20,
            "KmsKeyId": {"Ref": Match.string_like_regexp("^NotebookKey")},
            "SubnetId": {"Ref": Match.string_like_regexp("^NetworkVpcnotebooksSubnet1")},
            "SecurityGroupIds": [{"Fn::GetAtt": [Match.string_like_regexp("^NotebookSecurityGroup"), "GroupId"]}],
            "NotebookInstanceName": "test-notebook-0c9b0f33",
        },
    )
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": Match.object_like(
                {"Statement": [Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})]}
            ),
            "ManagedPolicyArns": Match.absent(),
        },
    )
    assert notebook.notebook_instance_name == notebook.notebook_instance_name.lower()


def test_role_may_only_write_its_own_lifecycle_logs_without_auto_stop() -> None:
    s = stack()
    NotebookInstance(s, "Notebook", name="team-nb")
    found = statements(Template.from_stack(s))
    actions = sorted(a for st in found for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]]))
    assert not [a for a in actions if a.startswith("sagemaker:")]
    logs = [st for st in found if "logs:PutLogEvents" in st["Action"]]
    assert arn_suffix(logs[0]) == [":log-group:/aws/sagemaker/NotebookInstances:log-stream:team-nb/*"]
    assert all("*" not in a for a in actions if not a.startswith("kms:"))


def test_auto_stop_module_grants_exactly_describe_and_stop_on_this_instance_in_both_cases() -> None:
    s = stack()
    config = NotebookLifecycleConfig(s, "Config", on_start=[Module(name="idle-autostop", script="#!/bin/sh\n")])
    NotebookInstance(s, "Notebook", name="Team-NB", lifecycle_config=config)
    found = statements(Template.from_stack(s))
    (stop,) = [st for st in found if "sagemaker:StopNotebookInstance" in st["Action"]]
    assert stop["Action"] == ["sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"]
    assert arn_suffix(stop) == [":notebook-instance/Team-NB", ":notebook-instance/team-nb"]


def test_grant_auto_stop_to_another_principal() -> None:
    s = stack()
    notebook = NotebookInstance(s, "Notebook", name="nb")
    other = iam.Role(s, "Other", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    notebook.grant_auto_stop(other)
    template = Template.from_stack(s)
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": Match.string_like_regexp("^Other")}],
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {"Action": ["sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"]}
                    )
                ]
            },
        },
    )


def test_lifecycle_config_is_attached_and_instance_waits_for_its_role_policy() -> None:
    s = stack()
    config = NotebookLifecycleConfig(s, "Config", on_start=[Module(name="hello", script="#!/bin/sh\n")])
    NotebookInstance(s, "Notebook", lifecycle_config=config)
    template = Template.from_stack(s)
    template.has_resource_properties(
        NB,
        {
            "LifecycleConfigName": {
                "Fn::GetAtt": [Match.string_like_regexp("^Config"), "NotebookInstanceLifecycleConfigName"]
            }
        },
    )
    (instance,) = template.find_resources(NB).values()
    assert any(d.startswith("NotebookRoleDefaultPolicy") for d in instance["DependsOn"])


def test_given_role_and_key_are_used_instead_of_new_ones() -> None:
    s = stack()
    role = iam.Role.from_role_arn(s, "Existing", "arn:aws:iam::111122223333:role/existing", mutable=False)
    NotebookInstance(s, "Notebook", role=role)
    template = Template.from_stack(s)
    template.resource_count_is("AWS::IAM::Role", 0)
    template.has_resource_properties(
        NB, {"RoleArn": "arn:aws:iam::111122223333:role/existing", "DirectInternetAccess": "Enabled"}
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"name": "bad_name"}, "name 'bad_name' is invalid"),
        ({"name": "x" * 64}, "is invalid"),
        ({"name": "nb\n"}, r"name 'nb\\n' is invalid"),
        ({"instance_type": "t3.medium"}, "instance_type 't3.medium' is not a notebook instance type"),
        (
            {"instance_type": "ml.t3.meduim"},
            "'ml.t3.meduim' is not a notebook instance type; did you mean 'ml.t3.medium'",
        ),
        ({"instance_type": "ml.t3.medium\n"}, "is not a notebook instance type"),
        ({"instance_type": "ml.p3.2xlarge"}, "'ml.p3.2xlarge' is not offered on notebook-al2023-v1"),
        ({"platform_identifier": "notebook-al1-v1"}, "platform_identifier 'notebook-al1-v1' is Amazon Linux 1"),
        (
            {"platform_identifier": "notebook-al2-v3"},
            "Amazon Linux 2, whose support ended .*2026-06-30.*: from 2026-07-01 .* Use 'notebook-al2023-v1'",
        ),
        ({"platform_identifier": "notebook-al2023-v1\n"}, "is unknown: use 'notebook-al2023-v1'"),
        ({"volume_size_gib": 4}, "volume_size_gib 4 is out of range"),
        ({"volume_size_gib": 16385}, "volume_size_gib 16385 is out of range"),
        ({"direct_internet_access": False}, "direct_internet_access=False needs a vpc"),
    ],
)
def test_bad_props_fail_naming_the_prop(props: dict[str, object], message: str) -> None:
    with pytest.raises(LifecycleConfigError, match=message):
        NotebookInstance(stack(), "Notebook", **props)  # type: ignore[arg-type]


def test_security_groups_without_vpc_are_rejected() -> None:
    s = stack()
    vpc = ec2.Vpc(s, "Vpc")
    sg = ec2.SecurityGroup(s, "Sg", vpc=vpc)
    with pytest.raises(LifecycleConfigError, match="security_groups need a vpc"):
        NotebookInstance(s, "Notebook", security_groups=[sg])


def test_names_longer_than_63_characters_are_rejected_even_with_dashes() -> None:
    with pytest.raises(LifecycleConfigError, match="is invalid"):
        NotebookInstance(stack(), "Notebook", name="a" + "-" * 100 + "b")
    with pytest.raises(LifecycleConfigError, match="is invalid"):
        NotebookLifecycleConfig(stack(), "Config", name="a" + "-" * 62 + "b")
