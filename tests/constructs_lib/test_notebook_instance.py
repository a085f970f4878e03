"""NotebookInstance: secure defaults, validation, and least-privilege grants."""

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Fn, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk.assertions import Annotations, Match, Template

from constructs_lib import CodeRepository, LifecycleConfigError, Module, NotebookInstance, NotebookLifecycleConfig
from constructs_lib.notebook_instance import spread_index
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


# -- instance properties, imports and the L2 surface (issue 10) ----------------------------------
SECRET = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:team-git-AbCdEf"


def test_imdsv2_is_required_by_default_and_v1_only_when_asked() -> None:
    s = stack()
    NotebookInstance(s, "Default", name="nb-default")
    NotebookInstance(s, "Legacy", name="nb-legacy", minimum_imds_version="1")
    found = {
        p["Properties"]["NotebookInstanceName"]: p["Properties"]["InstanceMetadataServiceConfiguration"]
        for p in Template.from_stack(s).find_resources(NB).values()
    }
    assert found == {
        "nb-default": {"MinimumInstanceMetadataServiceVersion": "2"},
        "nb-legacy": {"MinimumInstanceMetadataServiceVersion": "1"},
    }


def test_code_repositories_first_is_default_others_additional_and_the_secret_is_granted() -> None:
    s = stack()
    repositories = [
        CodeRepository(url="https://git.example.com/team/a.git", branch="main", secret_arn=SECRET),
        CodeRepository(url="https://github.com/org/b.git"),
    ]
    notebook = NotebookInstance(s, "Notebook", name="nb", code_repositories=repositories)
    template = Template.from_stack(s)
    template.resource_count_is("AWS::SageMaker::CodeRepository", 2)
    template.has_resource_properties(
        "AWS::SageMaker::CodeRepository",
        {"GitConfig": {"RepositoryUrl": "https://git.example.com/team/a.git", "Branch": "main", "SecretArn": SECRET}},
    )
    template.has_resource_properties(
        "AWS::SageMaker::CodeRepository", {"GitConfig": {"RepositoryUrl": "https://github.com/org/b.git"}}
    )
    ids = [s.get_logical_id(r) for r in notebook.code_repositories]
    template.has_resource_properties(
        NB,
        {
            "DefaultCodeRepository": {"Fn::GetAtt": [ids[0], "CodeRepositoryName"]},
            "AdditionalCodeRepositories": [{"Fn::GetAtt": [ids[1], "CodeRepositoryName"]}],
        },
    )
    (secret,) = [st for st in statements(template) if "secretsmanager" in str(st["Action"])]
    assert secret == {"Action": "secretsmanager:GetSecretValue", "Effect": "Allow", "Resource": SECRET}


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"minimum_imds_version": "3"}, "minimum_imds_version '3' is invalid"),
        ({"minimum_imds_version": 2}, 'minimum_imds_version must be "1" or "2", got int'),
        ({"ip_address_type": "ipv6"}, "ip_address_type 'ipv6' is invalid"),
        ({"ip_address_type": "dualstack"}, "'dualstack' cannot be deployed yet: .* no such property"),
        ({"code_repositories": [CodeRepository(url="http://git.example.com/a.git")]}, r"\[0\] url .* https://"),
        ({"code_repositories": [CodeRepository(url="https://x/a.git", branch="a b")]}, r"\[0\] branch 'a b'"),
        ({"code_repositories": [CodeRepository(url="https://x/a.git", secret_arn="s")]}, r"\[0\] secret_arn 's'"),
        ({"code_repositories": [CodeRepository(url="https://x/a.git")] * 2}, r"\[1\] url .* listed twice"),
        (
            {"code_repositories": [CodeRepository(url=f"https://x/{i}.git") for i in range(5)]},
            "5 entries: .* one default and at most 3 additional",
        ),
        ({"code_repositories": "https://x/a.git"}, "code_repositories 'https://x/a.git' is invalid"),
        ({"instance_type": ec2.InstanceType("t3.medium")}, "instance_type must be a string .*, got InstanceType"),
        ({"volume_size_gib": True}, "volume_size_gib must be a whole number, got bool"),
        ({"role": "arn:aws:iam::111122223333:role/x"}, "role must be an aws_iam.IRole, got str"),
        ({"vpc": "vpc-12345678"}, "vpc must be an aws_ec2.IVpc, got str"),
        ({"removal_policy": "destroy"}, "removal_policy must be an aws_cdk.RemovalPolicy, got str"),
    ],
)
def test_bad_instance_options_fail_naming_the_prop(props: dict[str, object], message: str) -> None:
    with pytest.raises(LifecycleConfigError, match=message):
        NotebookInstance(stack(), "Notebook", **props)  # type: ignore[arg-type]


@pytest.mark.parametrize(("policy", "expected"), [(None, "Retain"), (RemovalPolicy.DESTROY, "Delete")])
def test_the_key_is_retained_unless_the_removal_policy_says_otherwise(
    policy: RemovalPolicy | None, expected: str
) -> None:
    s = stack()
    network = PrivateNotebookNetwork(s, "Network", **({"removal_policy": policy} if policy else {}))
    NotebookInstance(
        s, "Notebook", vpc=network.vpc, vpc_subnets=network.subnets, **({"removal_policy": policy} if policy else {})
    )
    template = Template.from_stack(s)
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": expected, "UpdateReplacePolicy": expected})
    template.has_resource("AWS::Logs::LogGroup", {"DeletionPolicy": expected})


def test_grant_principal_and_connections_are_the_role_and_security_group() -> None:
    s = stack()
    network = PrivateNotebookNetwork(s, "Network")
    notebook = NotebookInstance(s, "Notebook", name="nb", vpc=network.vpc, vpc_subnets=network.subnets)
    assert notebook.grant_principal is notebook.role
    iam.Grant.add_to_principal(grantee=notebook, actions=["s3:GetObject"], resource_arns=["arn:aws:s3:::b/k"])
    network.endpoint_security_group.connections.allow_from(notebook, ec2.Port.tcp(443), "notebook")
    template = Template.from_stack(s)
    assert {"Action": "s3:GetObject", "Effect": "Allow", "Resource": "arn:aws:s3:::b/k"} in statements(template)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "GroupId": {"Fn::GetAtt": [Match.string_like_regexp("^NetworkEndpoint"), "GroupId"]},
            "FromPort": 443,
            "SourceSecurityGroupId": {"Fn::GetAtt": [Match.string_like_regexp("^NotebookSecurityGroup"), "GroupId"]},
        },
    )
    assert NotebookInstance(s, "Public").connections.security_groups == []


def test_notebooks_spread_over_subnets_by_a_stable_hash_and_adding_one_moves_none() -> None:
    def placement(ids: list[str]) -> dict[str, str]:
        s = stack()
        vpc = ec2.Vpc.from_vpc_attributes(s, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["eu-west-1a"])
        subnets = [ec2.Subnet.from_subnet_id(s, f"S{i}", f"subnet-0000000{i}") for i in range(3)]
        for notebook_id in ids:
            NotebookInstance(s, notebook_id, vpc=vpc, vpc_subnets=ec2.SubnetSelection(subnets=subnets))
        found = Template.from_stack(s).find_resources(NB)
        return {logical[:-8]: r["Properties"]["SubnetId"] for logical, r in found.items()}

    ids = [f"Notebook{i}" for i in range(12)]
    before = placement(ids)
    assert len(set(before.values())) == 3, before
    assert all(before[i] == f"subnet-0000000{spread_index(i, 3)}" for i in ids)
    after = placement([*ids[:5], "Added", *ids[5:]])
    assert {k: v for k, v in after.items() if k != "Added"} == before


def test_a_given_role_that_is_not_created_here_gets_a_synth_warning_naming_its_needs() -> None:
    s = stack()
    role = iam.Role.from_role_arn(s, "Existing", "arn:aws:iam::111122223333:role/existing", mutable=False)
    NotebookInstance(s, "Notebook", name="nb", role=role)
    warnings = Annotations.from_stack(s).find_warning("/Test/Notebook", Match.any_value())
    (warning,) = warnings
    assert "sagemaker.amazonaws.com" in warning.entry.data and "nb/*" in warning.entry.data
    NotebookInstance(s, "Own", name="own")
    assert not Annotations.from_stack(s).find_warning("/Test/Own", Match.any_value())


def test_imports_by_name_and_arn() -> None:
    s = stack()
    by_name = NotebookInstance.from_notebook_instance_name(s, "ByName", "team-nb")
    by_arn = NotebookInstance.from_notebook_instance_arn(
        s, "ByArn", "arn:aws:sagemaker:eu-west-1:111122223333:notebook-instance/team-nb"
    )
    assert by_arn.notebook_instance_name == "team-nb" == by_name.notebook_instance_name
    assert s.resolve(by_name.notebook_instance_arn) == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":sagemaker:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":notebook-instance/team-nb",
            ],
        ]
    }
    token = NotebookInstance.from_notebook_instance_arn(s, "Token", Fn.import_value("NotebookArn"))
    assert "Fn::Select" in str(s.resolve(token.notebook_instance_name))
    for bad in ("arn:aws:sagemaker:eu-west-1:111122223333:notebook-instance/", "team-nb", "arn:aws:s3:::b"):
        with pytest.raises(LifecycleConfigError, match=r"from_notebook_instance_arn arn .* is not a notebook instance"):
            NotebookInstance.from_notebook_instance_arn(s, f"Bad{len(bad)}", bad)
    with pytest.raises(LifecycleConfigError, match="from_notebook_instance_name name 'a_b' is invalid"):
        NotebookInstance.from_notebook_instance_name(s, "BadName", "a_b")


def test_an_imported_lifecycle_config_is_attached_by_name_without_grants() -> None:
    s = stack()
    config = NotebookLifecycleConfig.from_lifecycle_config_name(s, "Config", "team-on-start")
    NotebookInstance(s, "Notebook", name="nb", lifecycle_config=config)
    template = Template.from_stack(s)
    template.has_resource_properties(NB, {"LifecycleConfigName": "team-on-start"})
    template.resource_count_is("AWS::SageMaker::NotebookInstanceLifecycleConfig", 0)
    assert not [st for st in statements(template) if "sagemaker:" in str(st["Action"])]
    with pytest.raises(LifecycleConfigError, match="from_lifecycle_config_name name 'bad name' is invalid"):
        NotebookLifecycleConfig.from_lifecycle_config_name(s, "Bad", "bad name")


def test_cfn_lint_accepts_a_notebook_with_every_option(tmp_path: Path) -> None:
    s = stack()
    network = PrivateNotebookNetwork(s, "Network")
    NotebookInstance(
        s,
        "Notebook",
        name="nb",
        vpc=network.vpc,
        vpc_subnets=network.subnets,
        ip_address_type="ipv4",
        code_repositories=[CodeRepository(url="https://git.example.com/a.git", branch="main", secret_arn=SECRET)],
        removal_policy=RemovalPolicy.DESTROY,
    )
    template = tmp_path / "nb.template.json"
    template.write_text(json.dumps(Template.from_stack(s).to_json()))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", str(template)],
        capture_output=True,
        text=True,
    )
    assert ":E" not in result.stdout and result.returncode in (0, 4, 8, 12), result.stdout + result.stderr


def test_cloudformation_still_has_no_ip_address_type_for_notebooks() -> None:
    """Pins the fact behind refusing 'dualstack': when this fails, wire IpAddressType through."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", NB).schema
    assert "InstanceMetadataServiceConfiguration" in schema["properties"]
    assert "IpAddressType" not in schema["properties"]
    assert "ip_address_type" not in inspect.signature(sagemaker.CfnNotebookInstance.__init__).parameters
