"""``StudioDomain`` and ``StudioUserProfile``: Studio with lifecycle configs attached per app type."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IConstruct

from constructs_lib.errors import LifecycleConfigError
from constructs_lib.nag import acknowledge_wildcard
from constructs_lib.naming import lower_case_name
from constructs_lib.private_network import selected_subnet_ids
from constructs_lib.studio_settings import StudioSpaceDefaults, StudioUserSettings

_NAME = re.compile(r"(?=.{1,63}\Z)[a-zA-Z0-9](-*[a-zA-Z0-9])*")


class AuthMode(Enum):
    IAM = "IAM"
    SSO = "SSO"


def _check_name(value: str, what: str) -> None:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise LifecycleConfigError(
            f"{what} {value!r} is invalid: use 1-63 letters, digits and '-', "
            "starting and ending with a letter or digit."
        )


class StudioDomain(Construct):
    """A Studio domain in a VPC (``VpcOnly`` network access by default), with a KMS key, a default
    execution role and default user settings per app type.

    The execution role it creates may only write Studio's logs; extend it with grants. Attributes:
    ``domain`` (L1), ``domain_id``, ``domain_arn``, ``domain_name``, ``execution_role``, ``kms_key``,
    ``security_groups``, ``default_user_settings``, ``default_space_settings``
    (the domain's ``DefaultSpaceSettings``, applied by SageMaker to shared spaces only).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        auth_mode: AuthMode = AuthMode.IAM,
        vpc_only: bool = True,
        kms_key: kms.IKey | None = None,
        execution_role: iam.IRole | None = None,
        default_user_settings: StudioUserSettings | None = None,
        default_space_settings: StudioSpaceDefaults | None = None,
        domain_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        if not isinstance(auth_mode, AuthMode):
            raise LifecycleConfigError(f"StudioDomain auth_mode {auth_mode!r} is invalid: use AuthMode.IAM or SSO.")
        if domain_name is not None:
            _check_name(domain_name, "StudioDomain domain_name")
        self.default_user_settings = default_user_settings or StudioUserSettings()
        if execution_role is not None and self.default_user_settings.execution_role is not None:
            raise LifecycleConfigError(
                "StudioDomain execution_role and default_user_settings.execution_role are both given: give one."
            )
        self.default_user_settings.validate("StudioDomain default_user_settings")
        self.default_space_settings = default_space_settings
        if default_space_settings is not None:
            default_space_settings.validate("StudioDomain default_space_settings")
        self.domain_name = domain_name or self._default_name()
        self.kms_key: kms.IKey = kms_key or kms.Key(
            self, "Key", enable_key_rotation=True, description=f"Studio domain {self.domain_name}"
        )
        self.execution_role: iam.IRole = (
            self.default_user_settings.execution_role
            or execution_role
            or iam.Role(
                self,
                "ExecutionRole",
                assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                description=f"Default execution role of Studio domain {self.domain_name}",
            )
        )
        self.security_groups: list[ec2.ISecurityGroup] = list(security_groups or []) or [
            ec2.SecurityGroup(self, "SecurityGroup", vpc=vpc, description=f"Studio domain {self.domain_name}")
        ]
        subnet_ids = selected_subnet_ids(vpc, vpc_subnets, "StudioDomain vpc_subnets")
        self.domain = sagemaker.CfnDomain(
            self,
            "Resource",
            domain_name=self.domain_name,
            auth_mode=auth_mode.value,
            vpc_id=vpc.vpc_id,
            subnet_ids=subnet_ids,
            app_network_access_type="VpcOnly" if vpc_only else "PublicInternetOnly",
            kms_key_id=self.kms_key.key_arn,
            default_user_settings=self.default_user_settings.render(
                sagemaker.CfnDomain,
                self,
                self.execution_role.role_arn,
                [sg.security_group_id for sg in self.security_groups],
            ),
            default_space_settings=default_space_settings.render(
                self,
                (default_space_settings.execution_role or self.execution_role).role_arn,
                [sg.security_group_id for sg in self.security_groups],
            )
            if default_space_settings is not None
            else None,
        )
        depend_on_images(self.domain, self.default_user_settings, default_space_settings)
        self.domain_id: str = self.domain.attr_domain_id
        self.domain_arn: str = self.domain.attr_domain_arn
        self.grant_studio_logging(self.execution_role)

    def grant_studio_logging(self, grantee: iam.IGrantable) -> iam.Grant:
        """Writing streams in ``/aws/sagemaker/studio`` (app logs, lifecycle config output)."""
        group = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/studio",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"],
            resource_arns=[group, f"{group}:*"],
        )
        self._acknowledge(
            grantee,
            "log-group:/aws/sagemaker/studio:*",
            "CloudWatch Logs evaluates DescribeLogStreams and CreateLogGroup against the group ARN with ':*'; "
            "the grant is limited to Studio's log group.",
            service="logs",
        )
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resource_arns=[f"{group}:log-stream:{self.domain_id}/*"],
        )
        self._acknowledge(
            grantee,
            f"log-group:/aws/sagemaker/studio:log-stream:<{self._domain_logical_id()}.DomainId>/*",
            "Studio names log streams <domain>/<user>/<app> at run time; the grant covers only this domain's streams.",
            service="logs",
        )
        return grant

    def grant_delete_own_apps(self, grantee: iam.IGrantable) -> iam.Grant:
        """``DescribeApp`` on this domain's apps, and ``DeleteApp`` only on the caller's OWN apps (idle shutdown).

        The execution role is shared by every user, so the statement cannot name the user: the domain puts the
        user profile name into each app's role session (``DomainSettings.ExecutionRoleIdentityConfig:
        USER_PROFILE_NAME``, which sets ``sts:SourceIdentity``; set here), and ``DeleteApp`` is allowed only
        - on ``app/<domain>/${aws:SourceIdentity}/*`` for apps of a user profile (Studio Classic), which have
          no ``sagemaker:OwnerUserProfileArn`` (``Null``: a space named like another user does not match), and
        - on apps of a private space (``sagemaker:SpaceSharingType: Private``) whose
          ``sagemaker:OwnerUserProfileArn`` is the caller's own user profile, as AWS's policy for private spaces
          does (SageMaker developer guide, "Give your users access to private spaces"; condition keys in the
          Service Authorization Reference for SageMaker).
        Shared-space apps are left to the built-in idle shutdown. Sessions without a source identity match
        nothing. Note: SageMaker accepts a change of ExecutionRoleIdentityConfig only while no app is
        InService or Pending.
        """
        stack = Stack.of(self)
        apps = stack.format_arn(service="sagemaker", resource="app", resource_name=f"{self.domain_id}/*")
        own = stack.format_arn(
            service="sagemaker", resource="app", resource_name=f"{self.domain_id}/${{aws:SourceIdentity}}/*"
        )
        own_profile = stack.format_arn(
            service="sagemaker", resource="user-profile", resource_name=f"{self.domain_id}/${{aws:SourceIdentity}}"
        )
        self.domain.add_property_override("DomainSettings.ExecutionRoleIdentityConfig", "USER_PROFILE_NAME")
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=["sagemaker:DescribeApp"], resource_arns=[apps])
        principal = grantee.grant_principal
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DeleteOwnUserProfileApps",
                actions=["sagemaker:DeleteApp"],
                resources=[own],
                conditions={"Null": {"sagemaker:OwnerUserProfileArn": "true", "aws:SourceIdentity": "false"}},
            )
        )
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DeleteOwnPrivateSpaceApps",
                actions=["sagemaker:DeleteApp"],
                resources=[apps],
                conditions={
                    "ArnLike": {"sagemaker:OwnerUserProfileArn": own_profile},
                    "StringEquals": {"sagemaker:SpaceSharingType": "Private"},
                    "Null": {"aws:SourceIdentity": "false"},
                },
            )
        )
        self._acknowledge(
            grantee,
            f"app/<{self._domain_logical_id()}.DomainId>/*",
            "DescribeApp reads this domain's apps; DeleteApp on them is conditioned on the caller owning the "
            "private space (sagemaker:OwnerUserProfileArn); Studio names apps at run time.",
            service="sagemaker",
        )
        self._acknowledge(
            grantee,
            f"app/<{self._domain_logical_id()}.DomainId>/$" + "{aws:SourceIdentity}/*",
            "DeleteApp on the caller's own user-profile apps only (the session's source identity is its user "
            "profile name); Studio names apps at run time.",
            service="sagemaker",
        )
        return grant

    def _domain_logical_id(self) -> str:
        return str(Stack.of(self).resolve(Stack.of(self).get_logical_id(self.domain)))

    def _acknowledge(self, grantee: iam.IGrantable, resource: str, reason: str, *, service: str) -> None:
        """Acknowledge the wildcard on the grantee's default policy, when this construct created that role."""
        if grantee is not self.execution_role or not isinstance(self.execution_role, iam.Role):
            return
        policy = self.execution_role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            acknowledge_wildcard(
                policy, f"Resource::arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}", reason
            )

    def _default_name(self) -> str:
        return lower_case_name(self, 63)


def depend_on_images(resource: IConstruct, *settings: StudioUserSettings | StudioSpaceDefaults | None) -> None:
    """Custom images are named, not referenced: make ``resource`` wait for their versions and app configs."""
    for one in settings:
        if one is None:
            continue
        apps = one.per_app().values() if isinstance(one, StudioUserSettings) else [one.jupyter_lab]
        for app in apps:
            for image in app.custom_images if app is not None else ():
                if Stack.of(image) is Stack.of(resource):
                    resource.node.add_dependency(image)
                elif Stack.of(image) not in Stack.of(resource).dependencies:
                    Stack.of(resource).add_dependency(Stack.of(image), "custom images named by settings")


class StudioUserProfile(Construct):
    """A user profile of a ``StudioDomain``, with its own overrides of the domain's user settings.

    Attributes: ``user_profile`` (L1), ``user_profile_name``, ``user_profile_arn``, ``settings``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        domain_id: str,
        user_profile_name: str,
        settings: StudioUserSettings | None = None,
    ) -> None:
        super().__init__(scope, id)
        _check_name(user_profile_name, "StudioUserProfile user_profile_name")
        self.user_profile_name = user_profile_name
        settings = settings or StudioUserSettings()
        self.settings = settings
        settings.validate(f"StudioUserProfile {user_profile_name!r}")
        for app_type, app_settings in settings.per_app().items():
            if app_settings.idle_shutdown is not None:
                raise LifecycleConfigError(
                    f"StudioUserProfile {user_profile_name!r} {app_type.value}: idle_shutdown cannot be set per user "
                    "(CloudFormation's UserProfile has no AppLifecycleManagement); set it on the domain, whose "
                    "minimum and maximum bound what users may choose."
                )
        role_arn = settings.execution_role.role_arn if settings.execution_role else None
        rendered = (
            settings.render(sagemaker.CfnUserProfile, self, role_arn)
            if (settings.per_app() or role_arn or settings.has_space_settings())
            else None
        )
        self.user_profile = sagemaker.CfnUserProfile(
            self,
            "Resource",
            domain_id=domain_id,
            user_profile_name=user_profile_name,
            user_settings=rendered,
        )
        depend_on_images(self.user_profile, settings)
        self.user_profile_arn: str = self.user_profile.attr_user_profile_arn
