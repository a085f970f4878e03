"""StudioDomain and StudioUserProfile: lifecycle configs per app type, defaults, idle shutdown, validation."""

from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Match, Template

from constructs_lib import LifecycleConfigError, Module, RunAs
from constructs_lib.private_network import PrivateNotebookNetwork
from constructs_lib.studio_domain import AuthMode, StudioDomain, StudioUserProfile
from constructs_lib.studio_lifecycle_config import StudioAppType, StudioLifecycleConfig
from constructs_lib.studio_settings import IdleShutdown, StudioAppSettings, StudioUserSettings

APP_KEYS = {
    StudioAppType.JUPYTER_SERVER: "JupyterServerAppSettings",
    StudioAppType.KERNEL_GATEWAY: "KernelGatewayAppSettings",
    StudioAppType.JUPYTER_LAB: "JupyterLabAppSettings",
    StudioAppType.CODE_EDITOR: "CodeEditorAppSettings",
}


def lcc(stack: Stack, app_type: StudioAppType, name: str = "one") -> StudioLifecycleConfig:
    return StudioLifecycleConfig(
        stack,
        f"{app_type.value}{name}",
        app_type=app_type,
        modules=[Module(name=name, script=f"#!/bin/bash\necho {name}\n", user=RunAs.NOTEBOOK_USER)],
    )


def domain_stack(
    settings_for: Any = None,
) -> tuple[Stack, StudioDomain, dict[StudioAppType, list[StudioLifecycleConfig]]]:
    stack = Stack(App(), "Studio")
    network = PrivateNotebookNetwork(stack, "Network")
    configs = {t: [lcc(stack, t, "one"), lcc(stack, t, "two")] for t in StudioAppType}
    settings = (
        settings_for(configs)
        if settings_for
        else StudioUserSettings(
            jupyter_server=StudioAppSettings(
                lifecycle_configs=configs[StudioAppType.JUPYTER_SERVER],
                default_lifecycle_config=configs[StudioAppType.JUPYTER_SERVER][0],
            ),
            kernel_gateway=StudioAppSettings(
                lifecycle_configs=configs[StudioAppType.KERNEL_GATEWAY][:1],
                default_lifecycle_config=configs[StudioAppType.KERNEL_GATEWAY][1],
                default_instance_type="ml.t3.medium",
            ),
            jupyter_lab=StudioAppSettings(
                lifecycle_configs=configs[StudioAppType.JUPYTER_LAB],
                default_lifecycle_config=configs[StudioAppType.JUPYTER_LAB][1],
                idle_shutdown=IdleShutdown(
                    timeout=Duration.minutes(90), minimum=Duration.minutes(60), maximum=Duration.hours(8)
                ),
            ),
            code_editor=StudioAppSettings(
                default_lifecycle_config=configs[StudioAppType.CODE_EDITOR][0], idle_shutdown=IdleShutdown()
            ),
        )
    )
    domain = StudioDomain(stack, "Domain", vpc=network.vpc, vpc_subnets=network.subnets, default_user_settings=settings)
    return stack, domain, configs


def domain_props(stack: Stack) -> dict[str, Any]:
    (domain,) = Template.from_stack(stack).find_resources("AWS::SageMaker::Domain").values()
    return domain["Properties"]


def test_domain_is_vpc_only_with_kms_and_iam_auth() -> None:
    stack, _, _ = domain_stack()
    props = domain_props(stack)
    assert props["AppNetworkAccessType"] == "VpcOnly"
    assert props["AuthMode"] == "IAM"
    assert props["KmsKeyId"]["Fn::GetAtt"][1] == "Arn"
    assert props["KmsKeyId"]["Fn::GetAtt"][0].startswith("DomainKey")
    assert props["DefaultUserSettings"]["ExecutionRole"]["Fn::GetAtt"][0].startswith("DomainExecutionRole")
    assert len(props["SubnetIds"]) == 2


@pytest.mark.parametrize("app_type", list(StudioAppType))
def test_default_lifecycle_config_is_always_in_the_allowed_list(app_type: StudioAppType) -> None:
    stack, _, _ = domain_stack()
    settings = domain_props(stack)["DefaultUserSettings"][APP_KEYS[app_type]]
    default = settings["DefaultResourceSpec"]["LifecycleConfigArn"]
    assert default in settings["LifecycleConfigArns"]


def test_jupyter_server_runs_on_system_and_others_on_their_default_type() -> None:
    stack, _, configs = domain_stack()
    settings = domain_props(stack)["DefaultUserSettings"]
    assert settings["JupyterServerAppSettings"]["DefaultResourceSpec"]["InstanceType"] == "system"
    assert settings["KernelGatewayAppSettings"]["DefaultResourceSpec"]["InstanceType"] == "ml.t3.medium"
    assert settings["KernelGatewayAppSettings"]["LifecycleConfigArns"] == [
        {"Fn::GetAtt": [stack.get_logical_id(c.lifecycle_config), "StudioLifecycleConfigArn"]}
        for c in configs[StudioAppType.KERNEL_GATEWAY]
    ]


def test_built_in_idle_shutdown_for_jupyterlab_and_code_editor() -> None:
    stack, _, _ = domain_stack()
    settings = domain_props(stack)["DefaultUserSettings"]
    assert settings["JupyterLabAppSettings"]["AppLifecycleManagement"] == {
        "IdleSettings": {
            "LifecycleManagement": "ENABLED",
            "IdleTimeoutInMinutes": 90,
            "MinIdleTimeoutInMinutes": 60,
            "MaxIdleTimeoutInMinutes": 480,
        }
    }
    assert settings["CodeEditorAppSettings"]["AppLifecycleManagement"]["IdleSettings"]["IdleTimeoutInMinutes"] == 60


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": Duration.minutes(59)}, "timeout 59 minutes is out of range"),
        ({"timeout": Duration.minutes(525601)}, "out of range"),
        ({"timeout": Duration.seconds(3630)}, "out of range: give whole minutes"),
        ({"timeout": Duration.minutes(60), "minimum": Duration.minutes(120)}, "minimum <= timeout <= maximum"),
        ({"timeout": Duration.minutes(600), "maximum": Duration.minutes(120)}, "minimum <= timeout <= maximum"),
    ],
)
def test_idle_settings_are_validated(kwargs: dict[str, Duration], message: str) -> None:
    with pytest.raises(LifecycleConfigError, match=message):
        IdleShutdown(**kwargs)


def test_idle_shutdown_is_rejected_for_apps_without_it() -> None:
    with pytest.raises(LifecycleConfigError, match="idle_shutdown is built into JupyterLab and CodeEditor only"):
        domain_stack(lambda c: StudioUserSettings(kernel_gateway=StudioAppSettings(idle_shutdown=IdleShutdown())))


def test_config_of_another_app_type_is_rejected() -> None:
    with pytest.raises(LifecycleConfigError, match="is for JupyterServer, not JupyterLab"):
        domain_stack(
            lambda c: StudioUserSettings(
                jupyter_lab=StudioAppSettings(lifecycle_configs=c[StudioAppType.JUPYTER_SERVER])
            )
        )


def test_jupyter_server_instance_type_must_be_system() -> None:
    with pytest.raises(LifecycleConfigError, match="JupyterServer apps run on instance type 'system' only"):
        domain_stack(
            lambda c: StudioUserSettings(jupyter_server=StudioAppSettings(default_instance_type="ml.t3.medium"))
        )


def test_user_profile_overrides_and_validates_its_name() -> None:
    stack, domain, configs = domain_stack()
    lab = configs[StudioAppType.JUPYTER_LAB]
    StudioUserProfile(
        stack,
        "Alice",
        domain_id=domain.domain_id,
        user_profile_name="alice",
        settings=StudioUserSettings(
            jupyter_lab=StudioAppSettings(
                lifecycle_configs=[lab[0]], default_lifecycle_config=lab[0], default_instance_type="ml.m5.large"
            )
        ),
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::UserProfile",
        {
            "UserProfileName": "alice",
            "DomainId": {"Fn::GetAtt": [Match.string_like_regexp("^Domain"), "DomainId"]},
            "UserSettings": {
                "JupyterLabAppSettings": {
                    "DefaultResourceSpec": {"InstanceType": "ml.m5.large", "LifecycleConfigArn": Match.any_value()},
                    "LifecycleConfigArns": [Match.any_value()],
                }
            },
        },
    )
    for bad in ("bad_name", "-x", "x" * 64):
        with pytest.raises(LifecycleConfigError, match="user_profile_name"):
            StudioUserProfile(stack, f"Bad{len(bad)}{bad[:2]}", domain_id=domain.domain_id, user_profile_name=bad)


def test_user_profile_cannot_override_idle_shutdown() -> None:
    stack, domain, _ = domain_stack()
    with pytest.raises(LifecycleConfigError, match="idle_shutdown cannot be set per user"):
        StudioUserProfile(
            stack,
            "Bob",
            domain_id=domain.domain_id,
            user_profile_name="bob",
            settings=StudioUserSettings(code_editor=StudioAppSettings(idle_shutdown=IdleShutdown())),
        )


def test_grant_delete_own_apps_is_scoped_to_the_domain() -> None:
    stack, domain, _ = domain_stack()
    domain.grant_delete_own_apps(domain.execution_role)
    template = Template.from_stack(stack)
    statements = [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    # DeleteApp only on the caller's own apps: evaluated in test_studio_domain_delete_app.py
    (describe,) = [s for s in statements if s["Action"] == "sagemaker:DescribeApp"]
    parts = describe["Resource"]["Fn::Join"][1]
    assert parts[-3:] == [":app/", {"Fn::GetAtt": [stack.get_logical_id(domain.domain), "DomainId"]}, "/*"]
    deletes = [s for s in statements if s["Action"] == "sagemaker:DeleteApp"]
    assert [s["Sid"] for s in deletes] == ["DeleteOwnUserProfileApps", "DeleteOwnPrivateSpaceApps"]


def test_sso_auth_and_bad_auth_mode() -> None:
    stack = Stack(App(), "S")
    network = PrivateNotebookNetwork(stack, "Network")
    StudioDomain(stack, "Domain", vpc=network.vpc, auth_mode=AuthMode.SSO, vpc_only=False)
    assert domain_props(stack)["AuthMode"] == "SSO"
    assert domain_props(stack)["AppNetworkAccessType"] == "PublicInternetOnly"
    with pytest.raises(LifecycleConfigError, match="auth_mode 'IAM' is invalid"):
        StudioDomain(stack, "Other", vpc=network.vpc, auth_mode="IAM")  # type: ignore[arg-type]


def test_two_execution_roles_are_refused() -> None:
    from aws_cdk import aws_iam as iam

    stack = Stack(App(), "S")
    network = PrivateNotebookNetwork(stack, "Network")
    one = iam.Role(stack, "One", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    two = iam.Role(stack, "Two", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    with pytest.raises(LifecycleConfigError, match="both given: give one"):
        StudioDomain(
            stack,
            "Domain",
            vpc=network.vpc,
            execution_role=one,
            default_user_settings=StudioUserSettings(execution_role=two),
        )


def sso_domain(stack: Stack) -> StudioDomain:
    network = PrivateNotebookNetwork(stack, "Network")
    return StudioDomain(stack, "Domain", vpc=network.vpc, vpc_subnets=network.subnets, auth_mode=AuthMode.SSO)


def test_sso_profile_carries_the_identity_center_user_name() -> None:
    stack = Stack(App(), "S")
    domain = sso_domain(stack)
    StudioUserProfile(stack, "Alice", domain=domain, user_profile_name="alice", sso_user_name="alice@example.com")
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::UserProfile",
        {
            "UserProfileName": "alice",
            "SingleSignOnUserIdentifier": "UserName",
            "SingleSignOnUserValue": "alice@example.com",
            "DomainId": {"Fn::GetAtt": [stack.get_logical_id(domain.domain), "DomainId"]},
        },
    )


def test_iam_profile_has_no_sso_properties() -> None:
    stack, domain, _ = domain_stack()
    StudioUserProfile(stack, "Bob", domain=domain, user_profile_name="bob")
    (profile,) = Template.from_stack(stack).find_resources("AWS::SageMaker::UserProfile").values()
    assert not {"SingleSignOnUserIdentifier", "SingleSignOnUserValue"} & set(profile["Properties"])


@pytest.mark.parametrize(
    ("auth_mode", "sso_user_name", "message"),
    [
        (AuthMode.SSO, None, r"'alice' sso_user_name is missing: an SSO \(IAM Identity Center\) domain needs"),
        (AuthMode.IAM, "alice@example.com", r"sso_user_name is given but the domain uses IAM auth"),
        (AuthMode.SSO, "alice@example.com\n", r"sso_user_name 'alice@example.com\\n' is invalid"),
        (AuthMode.SSO, "alice smith", r"sso_user_name 'alice smith' is invalid"),
        (AuthMode.SSO, "a" * 129, r"sso_user_name 'a{129}' is invalid"),
        (AuthMode.SSO, "", r"sso_user_name '' is invalid"),
    ],
)
def test_sso_user_name_is_required_under_sso_refused_under_iam_and_validated(
    auth_mode: AuthMode, sso_user_name: str | None, message: str
) -> None:
    stack = Stack(App(), "S")
    network = PrivateNotebookNetwork(stack, "Network")
    domain = StudioDomain(stack, "Domain", vpc=network.vpc, vpc_subnets=network.subnets, auth_mode=auth_mode)
    with pytest.raises(LifecycleConfigError, match=message):
        StudioUserProfile(stack, "Alice", domain=domain, user_profile_name="alice", sso_user_name=sso_user_name)


def test_imported_domain_takes_profiles_and_grants() -> None:
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_s3 as s3

    stack = Stack(App(), "S")
    role = iam.Role.from_role_arn(stack, "Role", "arn:aws:iam::111122223333:role/StudioExecution")
    domain = StudioDomain.from_domain_attributes(
        stack, "Existing", domain_id="d-abc123xyz", auth_mode=AuthMode.SSO, execution_role=role
    )
    StudioUserProfile(stack, "Alice", domain=domain, user_profile_name="alice", sso_user_name="alice")
    s3.Bucket.from_bucket_name(stack, "Data", "team-data").grant_read(domain)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SageMaker::UserProfile",
        {"DomainId": "d-abc123xyz", "SingleSignOnUserIdentifier": "UserName", "SingleSignOnUserValue": "alice"},
    )
    template.has_resource_properties("AWS::IAM::Policy", {"Roles": ["StudioExecution"]})
    assert stack.resolve(domain.domain_arn) == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":sagemaker:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":domain/d-abc123xyz",
            ],
        ]
    }
    with pytest.raises(LifecycleConfigError, match="sso_user_name is missing"):
        StudioUserProfile(stack, "Bob", domain=domain, user_profile_name="bob")


@pytest.mark.parametrize("domain_id", ["d-abc123\n", "abc123", "d-ABC", "", "d-" + "a" * 62])
def test_imported_domain_id_is_validated(domain_id: str) -> None:
    with pytest.raises(LifecycleConfigError, match=r"from_domain_attributes domain_id .* is invalid"):
        StudioDomain.from_domain_attributes(Stack(App(), "S"), "Existing", domain_id=domain_id)


def test_imported_domain_without_a_role_has_no_grant_principal() -> None:
    domain = StudioDomain.from_domain_attributes(Stack(App(), "S"), "Existing", domain_id="d-abc123xyz")
    with pytest.raises(LifecycleConfigError, match="imported domain has no execution_role"):
        _ = domain.grant_principal


def test_grant_principal_and_connections_of_a_created_domain() -> None:
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_s3 as s3

    stack, domain, _ = domain_stack()
    s3.Bucket.from_bucket_name(stack, "Data", "team-data").grant_read(domain)
    database = ec2.SecurityGroup(
        stack,
        "Database",
        vpc=ec2.Vpc.from_vpc_attributes(stack, "Other", vpc_id="vpc-0123abcd", availability_zones=["eu-west-1a"]),
    )
    database.connections.allow_from(domain, ec2.Port.tcp(5432))
    template = Template.from_stack(stack)
    (policy,) = [
        p
        for p in template.find_resources("AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": stack.get_logical_id(domain.execution_role.node.default_child)}]
    ]
    actions = [s["Action"] for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    assert ["s3:GetObject*", "s3:GetBucket*", "s3:List*"] in actions
    group = stack.get_logical_id(domain.security_groups[0].node.default_child)  # type: ignore[arg-type]
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {"FromPort": 5432, "ToPort": 5432, "SourceSecurityGroupId": {"Fn::GetAtt": [group, "GroupId"]}},
    )


def test_removal_policy_applies_to_the_domain_and_its_key() -> None:
    from aws_cdk import RemovalPolicy

    stack = Stack(App(), "S")
    network = PrivateNotebookNetwork(stack, "Network")
    StudioDomain(stack, "Domain", vpc=network.vpc, vpc_subnets=network.subnets, removal_policy=RemovalPolicy.DESTROY)
    template = Template.from_stack(stack)
    template.has_resource("AWS::SageMaker::Domain", {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"})
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": "Delete"})
    retained = Stack(App(), "R")
    net = PrivateNotebookNetwork(retained, "Network")
    domain = StudioDomain(retained, "Domain", vpc=net.vpc, vpc_subnets=net.subnets, removal_policy=RemovalPolicy.RETAIN)
    StudioUserProfile(retained, "Alice", domain=domain, user_profile_name="alice", removal_policy=RemovalPolicy.RETAIN)
    template = Template.from_stack(retained)
    template.has_resource("AWS::SageMaker::Domain", {"DeletionPolicy": "Retain"})
    template.has_resource("AWS::SageMaker::UserProfile", {"DeletionPolicy": "Retain"})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vpc": "vpc-0123abcd"}, r"StudioDomain vpc: expected an ec2.IVpc, got str 'vpc-0123abcd'"),
        ({"kms_key": "arn:aws:kms:eu-west-1:1:key/x"}, r"StudioDomain kms_key: expected a kms.IKey, got str"),
        ({"execution_role": "arn:aws:iam::1:role/x"}, r"StudioDomain execution_role: expected an iam.IRole"),
        ({"security_groups": ["sg-0123abcd"]}, r"StudioDomain security_groups: expected ec2.ISecurityGroup items"),
        ({"vpc_only": "yes"}, r"StudioDomain vpc_only: expected True or False"),
        ({"removal_policy": "retain"}, r"StudioDomain removal_policy: expected a RemovalPolicy"),
    ],
)
def test_a_wrong_python_type_names_the_prop(kwargs: dict[str, Any], message: str) -> None:
    stack = Stack(App(), "S")
    network = PrivateNotebookNetwork(stack, "Network")
    with pytest.raises(TypeError, match=message):
        StudioDomain(stack, "Domain", **{"vpc": network.vpc, **kwargs})


def test_a_profile_needs_exactly_one_domain_and_a_typed_one() -> None:
    stack, domain, _ = domain_stack()
    with pytest.raises(LifecycleConfigError, match="give domain or domain_id"):
        StudioUserProfile(stack, "A", user_profile_name="alice")
    with pytest.raises(LifecycleConfigError, match="give domain or domain_id"):
        StudioUserProfile(stack, "B", domain=domain, domain_id=domain.domain_id, user_profile_name="alice")
    with pytest.raises(TypeError, match=r"StudioUserProfile domain: expected a StudioDomain"):
        StudioUserProfile(stack, "C", domain="d-abc123xyz", user_profile_name="alice")  # type: ignore[arg-type]


def test_studio_classes_are_exported_from_the_package_root() -> None:
    import constructs_lib

    for name in ("AuthMode", "ImportedStudioDomain", "StudioDomain", "StudioUserProfile"):
        assert name in constructs_lib.__all__
        assert getattr(constructs_lib, name) is getattr(__import__("constructs_lib.studio_domain").studio_domain, name)
