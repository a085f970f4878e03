"""``StudioDomain`` and ``StudioUserProfile``: Studio with lifecycle configs attached per app type."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum

import jsii
from aws_cdk import ArnFormat, RemovalPolicy, Stack
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
SSO_USER_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,128}")
"""An IAM Identity Center user name: 1-128 letters, digits and ``+=,.@_-``."""
_DOMAIN_ID = re.compile(r"d-[a-z0-9]{1,61}")
SSO_USER_IDENTIFIER = "UserName"
"""The only kind of ``SingleSignOnUserValue`` CloudFormation accepts."""


class AuthMode(Enum):
    IAM = "IAM"
    SSO = "SSO"


def _check_name(value: str, what: str) -> None:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise LifecycleConfigError(
            f"{what} {value!r} is invalid: use 1-63 letters, digits and '-', "
            "starting and ending with a letter or digit."
        )


def expect_prop(value: object, prop: str, what: str, *attributes: str) -> None:
    """A Python type error that names the prop: CDK interfaces are checked by the attributes they promise."""
    if value is None or isinstance(value, (str, bytes, int, float)) or not all(hasattr(value, a) for a in attributes):
        raise TypeError(f"{prop}: expected {what}, got {type(value).__name__} {str(value)[:80]!r}.")


def _expect_removal_policy(value: object, prop: str) -> None:
    if value is not None and not isinstance(value, RemovalPolicy):
        raise TypeError(f"{prop}: expected a RemovalPolicy or None, got {type(value).__name__} {str(value)[:80]!r}.")


def check_sso_user_name(value: object, auth_mode: AuthMode | None, prop: str) -> str | None:
    """The SSO user name a profile needs under ``AuthMode.SSO`` (required) and may not have under IAM."""
    if value is not None and (not isinstance(value, str) or not SSO_USER_NAME.fullmatch(value)):
        raise LifecycleConfigError(
            f"{prop} {value!r} is invalid: give the IAM Identity Center user name (1-128 letters, digits and "
            "'+=,.@_-')."
        )
    if auth_mode is AuthMode.SSO and value is None:
        raise LifecycleConfigError(
            f"{prop} is missing: an SSO (IAM Identity Center) domain needs each profile's Identity Center user name."
        )
    if auth_mode is AuthMode.IAM and value is not None:
        raise LifecycleConfigError(f"{prop} is given but the domain uses IAM auth: remove it, or use AuthMode.SSO.")
    return value


@jsii.implements(iam.IGrantable, ec2.IConnectable)
class StudioDomainBase(Construct):
    """What a user profile (and a grant) needs of a domain, created here or imported.

    Attributes: ``domain_id``, ``domain_arn``, ``auth_mode``, ``execution_role`` (or None for an import without
    one), ``security_groups``; ``grant_principal`` (the execution role) and ``connections`` (its security groups).
    """

    domain_id: str
    domain_arn: str
    auth_mode: AuthMode
    execution_role: iam.IRole | None
    security_groups: list[ec2.ISecurityGroup]

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The domain's default execution role, as ``iam.IGrantable`` does."""
        if self.execution_role is None:
            raise LifecycleConfigError(
                f"{self.node.path}: this imported domain has no execution_role; give one to from_domain_attributes."
            )
        return self.execution_role.grant_principal

    @property
    def connections(self) -> ec2.Connections:
        """The domain's security groups, as ``ec2.IConnectable`` does (``connections.allow_to(...)``)."""
        return ec2.Connections(security_groups=self.security_groups)

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
            f"log-group:/aws/sagemaker/studio:log-stream:{self._domain_id_in_findings()}/*",
            "Studio names log streams <domain>/<user>/<app> at run time; the grant covers only this domain's streams.",
            service="logs",
        )
        return grant

    def _domain_id_in_findings(self) -> str:
        return self.domain_id

    def _acknowledge(self, grantee: iam.IGrantable, resource: str, reason: str, *, service: str) -> None:
        """Acknowledge the wildcard on the execution role's policy (its own, or the one CDK adds to an import)."""
        if grantee is not self.execution_role or self.execution_role is None:
            return
        node = self.execution_role.node
        policy = node.try_find_child("DefaultPolicy") or node.try_find_child("Policy")
        if policy is not None:
            acknowledge_wildcard(
                policy, f"Resource::arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}", reason
            )


class ImportedStudioDomain(StudioDomainBase):
    """An existing domain (``StudioDomain.from_domain_attributes``): attach profiles to it and grant on it."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        domain_id: str,
        auth_mode: AuthMode = AuthMode.IAM,
        execution_role: iam.IRole | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] = (),
    ) -> None:
        super().__init__(scope, id)
        if not isinstance(domain_id, str) or not _DOMAIN_ID.fullmatch(domain_id):
            raise LifecycleConfigError(
                f"StudioDomain.from_domain_attributes domain_id {domain_id!r} is invalid: give an id such as "
                "'d-abc123xyz'."
            )
        if not isinstance(auth_mode, AuthMode):
            raise TypeError(f"StudioDomain.from_domain_attributes auth_mode: expected an AuthMode, got {auth_mode!r}.")
        if execution_role is not None:
            expect_prop(
                execution_role, "StudioDomain.from_domain_attributes execution_role", "an iam.IRole", "role_arn"
            )
        for group in security_groups:
            expect_prop(
                group,
                "StudioDomain.from_domain_attributes security_groups",
                "ec2.ISecurityGroup items",
                "security_group_id",
            )
        self.domain_id = domain_id
        self.auth_mode = auth_mode
        self.execution_role = execution_role
        self.security_groups = list(security_groups)
        self.domain_arn = Stack.of(self).format_arn(service="sagemaker", resource="domain", resource_name=domain_id)


class StudioDomain(StudioDomainBase):
    """A Studio domain in a VPC (``VpcOnly`` network access by default), with a KMS key, a default
    execution role and default user settings per app type.

    The execution role it creates may only write Studio's logs; extend it with grants. Attributes:
    ``domain`` (L1), ``domain_id``, ``domain_arn``, ``domain_name``, ``auth_mode``, ``execution_role``,
    ``kms_key``, ``security_groups``, ``default_user_settings``, ``default_space_settings``
    (the domain's ``DefaultSpaceSettings``, applied by SageMaker to shared spaces only); ``grant_principal`` and
    ``connections``. ``removal_policy`` applies to the domain and to the KMS key it creates (CDK's defaults
    otherwise: the domain is deleted, the key retained).
    """

    execution_role: iam.IRole

    @staticmethod
    def from_domain_attributes(
        scope: Construct,
        id: str,
        *,
        domain_id: str,
        auth_mode: AuthMode = AuthMode.IAM,
        execution_role: iam.IRole | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] = (),
    ) -> ImportedStudioDomain:
        """An existing domain by id, to attach ``StudioUserProfile`` s to (``domain=``) and grant on."""
        return ImportedStudioDomain(
            scope,
            id,
            domain_id=domain_id,
            auth_mode=auth_mode,
            execution_role=execution_role,
            security_groups=security_groups,
        )

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
        removal_policy: RemovalPolicy | None = None,
    ) -> None:
        super().__init__(scope, id)
        if not isinstance(auth_mode, AuthMode):
            raise LifecycleConfigError(f"StudioDomain auth_mode {auth_mode!r} is invalid: use AuthMode.IAM or SSO.")
        expect_prop(vpc, "StudioDomain vpc", "an ec2.IVpc", "vpc_id", "select_subnets")
        for group in security_groups or []:
            expect_prop(group, "StudioDomain security_groups", "ec2.ISecurityGroup items", "security_group_id")
        if kms_key is not None:
            expect_prop(kms_key, "StudioDomain kms_key", "a kms.IKey", "key_arn")
        if execution_role is not None:
            expect_prop(execution_role, "StudioDomain execution_role", "an iam.IRole", "role_arn")
        if not isinstance(vpc_only, bool):
            raise TypeError(f"StudioDomain vpc_only: expected True or False, got {vpc_only!r}.")
        _expect_removal_policy(removal_policy, "StudioDomain removal_policy")
        self.auth_mode = auth_mode
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
            self,
            "Key",
            enable_key_rotation=True,
            description=f"Studio domain {self.domain_name}",
            removal_policy=removal_policy,
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
        if removal_policy is not None:
            self.domain.apply_removal_policy(removal_policy)
        depend_on_images(self.domain, self.default_user_settings, default_space_settings)
        self.domain_id = self.domain.attr_domain_id
        self.domain_arn = self.domain.attr_domain_arn
        self.grant_studio_logging(self.execution_role)

    def _domain_id_in_findings(self) -> str:
        return f"<{self._domain_logical_id()}.DomainId>"

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


def user_profile_l1(
    scope: Construct,
    id: str,
    *,
    domain_id: str | None,
    domain: StudioDomainBase | None,
    user_profile_name: str,
    settings: StudioUserSettings | None,
    sso_user_name: str | None,
    removal_policy: RemovalPolicy | None,
) -> tuple[sagemaker.CfnUserProfile, StudioUserSettings, str | None]:
    """The checked L1 of a user profile in ``scope`` (``StudioUserProfile``'s props): (L1, settings, SSO name)."""
    _check_name(user_profile_name, "StudioUserProfile user_profile_name")
    if (domain is None) == (domain_id is None):
        raise LifecycleConfigError(f"StudioUserProfile {user_profile_name!r}: give domain or domain_id (one).")
    if domain is not None:
        expect_prop(domain, "StudioUserProfile domain", "a StudioDomain or an imported one", "domain_id")
        domain_id = domain.domain_id
    elif not isinstance(domain_id, str):
        raise TypeError(f"StudioUserProfile domain_id: expected a string, got {type(domain_id).__name__}.")
    _expect_removal_policy(removal_policy, "StudioUserProfile removal_policy")
    sso = check_sso_user_name(
        sso_user_name,
        domain.auth_mode if isinstance(domain, StudioDomainBase) else None,
        f"StudioUserProfile {user_profile_name!r} sso_user_name",
    )
    settings = settings or StudioUserSettings()
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
        settings.render(sagemaker.CfnUserProfile, scope, role_arn)
        if (settings.per_app() or role_arn or settings.has_space_settings())
        else None
    )
    profile = sagemaker.CfnUserProfile(
        scope,
        id,
        domain_id=domain_id,
        user_profile_name=user_profile_name,
        user_settings=rendered,
        single_sign_on_user_identifier=SSO_USER_IDENTIFIER if sso else None,
        single_sign_on_user_value=sso,
    )
    if removal_policy is not None:
        profile.apply_removal_policy(removal_policy)
    depend_on_images(profile, settings)
    return profile, settings, sso


class StudioUserProfile(Construct):
    """A user profile of a ``StudioDomain``, with its own overrides of the domain's user settings.

    Give the domain (created or imported: its auth mode is then checked) or only its ``domain_id``. Under
    ``AuthMode.SSO`` each profile needs ``sso_user_name``, the user's IAM Identity Center user name
    (``SingleSignOnUserIdentifier`` "UserName"); under IAM it is refused. CloudFormation replaces a profile
    whose SSO user changes.

    Attributes: ``user_profile`` (L1), ``user_profile_name``, ``user_profile_arn``, ``settings``, ``sso_user_name``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        domain_id: str | None = None,
        domain: StudioDomainBase | None = None,
        user_profile_name: str,
        settings: StudioUserSettings | None = None,
        sso_user_name: str | None = None,
        removal_policy: RemovalPolicy | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.user_profile, self.settings, self.sso_user_name = user_profile_l1(
            self,
            "Resource",
            domain_id=domain_id,
            domain=domain,
            user_profile_name=user_profile_name,
            settings=settings,
            sso_user_name=sso_user_name,
            removal_policy=removal_policy,
        )
        self.user_profile_name = user_profile_name

    @property
    def user_profile_arn(self) -> str:
        """The profile's ARN (a token), fetched from the L1 only when asked: each read is a jsii round trip, which
        a domain with thousands of profiles would otherwise pay once per profile at synth."""
        arn: str = self.user_profile.attr_user_profile_arn
        return arn
