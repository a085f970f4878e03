"""``NotebookInstance``: an ``AWS::SageMaker::NotebookInstance`` with secure defaults."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import jsii
from aws_cdk import Annotations, Arn, ArnFormat, RemovalPolicy, Resource, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from constructs_lib.errors import LifecycleConfigError
from constructs_lib.instance_types import AL2023_PLATFORM, notebook_instance_type_problem
from constructs_lib.nag import acknowledge_wildcard
from constructs_lib.naming import lower_case_name
from constructs_lib.notebook_lifecycle_config import ImportedNotebookLifecycleConfig, NotebookLifecycleConfig
from constructs_lib.private_network import selected_subnet_ids

_NAME = re.compile(r"(?=.{1,63}\Z)[a-zA-Z0-9](-*[a-zA-Z0-9])*")
_INSTANCE_ARN = re.compile(
    r"arn:aws(-cn|-us-gov|-iso|-iso-b)?:sagemaker:[a-z0-9-]{1,30}:[0-9]{12}:notebook-instance/"
    r"(?P<name>[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})"
)
_REPOSITORY_URL = re.compile(r"(?=.{1,1024}\Z)https://[^/\s]+/?\S{3,}")
_BRANCH = re.compile(r"[^ ~^:?*\[\\\x00-\x1f\x7f]{1,1024}")
_SECRET_ARN = re.compile(
    r"arn:aws(-cn|-us-gov|-iso|-iso-b)?:secretsmanager:[a-z0-9-]{1,30}:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}"
)
IMDS_VERSIONS = ("1", "2")
IP_ADDRESS_TYPES = ("ipv4", "dualstack")
MAX_ADDITIONAL_CODE_REPOSITORIES = 3
PLATFORMS = (AL2023_PLATFORM,)
RETIRED_PLATFORMS = ("notebook-al1-v1", "notebook-al2-v1", "notebook-al2-v2", "notebook-al2-v3")
AUTO_STOP_MODULE = "idle-autostop"
LOG_GROUP = "/aws/sagemaker/NotebookInstances"


@dataclass(frozen=True, kw_only=True)
class CodeRepository:
    """A Git repository cloned into the instance (``AWS::SageMaker::CodeRepository``).

    ``secret_arn``: a Secrets Manager secret with ``username`` and ``password`` for a private repository;
    the instance's role is granted ``secretsmanager:GetSecretValue`` on it.
    """

    url: str
    branch: str | None = None
    secret_arn: str | None = None

    def problem(self) -> str | None:
        """Why this repository cannot be used, or ``None``."""
        if not isinstance(self.url, str) or not _REPOSITORY_URL.fullmatch(self.url):
            return f"url {_short(self.url)} is invalid: give an https:// Git URL (SageMaker clones over HTTPS)."
        if self.branch is not None and (not isinstance(self.branch, str) or not _BRANCH.fullmatch(self.branch)):
            return f"branch {_short(self.branch)} is not a Git branch name."
        if self.secret_arn is not None and (
            not isinstance(self.secret_arn, str)
            or not (Token.is_unresolved(self.secret_arn) or _SECRET_ARN.fullmatch(self.secret_arn))
        ):
            return f"secret_arn {_short(self.secret_arn)} is not a Secrets Manager secret ARN."
        return None


class ImportedNotebookInstance(Resource):
    """An existing notebook instance (``NotebookInstance.from_notebook_instance_name`` / ``_arn``).

    Attributes: ``notebook_instance_name``, ``notebook_instance_arn``.
    """

    def __init__(self, scope: Construct, id: str, *, name: str, arn: str) -> None:
        super().__init__(scope, id)
        self.notebook_instance_name = name
        self.notebook_instance_arn = arn


@jsii.implements(iam.IGrantable, ec2.IConnectable)
class NotebookInstance(Construct):
    """A notebook instance, its role and (unless given) its KMS key and security group.

    Secure by default: ``RootAccess`` disabled, the volume encrypted with a key of its own,
    and, when a VPC is given, placed in a private subnet with ``DirectInternetAccess`` disabled.
    The role it creates may only write the instance's lifecycle logs; add more with grants.
    When the lifecycle config carries the ``idle-autostop`` module, the role is granted
    ``grant_auto_stop`` automatically.

    IMDSv2 is required (``minimum_imds_version="2"``). ``ip_address_type``: ``"ipv4"`` (the default);
    ``"dualstack"`` is refused until CloudFormation's notebook resource takes ``IpAddressType``.
    ``code_repositories``: the first is the default
    repository, up to three more are additional ones. In a VPC the instance goes to one of the selected
    subnets chosen by a stable hash of its construct ID, so notebooks spread over the subnets and adding
    one does not move the others. The KMS key it creates is retained when the stack is destroyed unless
    ``removal_policy`` says otherwise. A given ``role`` that is not an ``iam.Role`` of this app (an
    imported one) cannot be sure to take the grants: synth warns and lists what it needs.

    Attributes: ``notebook_instance`` (L1), ``notebook_instance_name``, ``notebook_instance_arn``,
    ``role``, ``grant_principal``, ``kms_key``, ``security_groups``, ``connections``,
    ``lifecycle_config``, ``code_repositories`` (L1s, in order).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str | None = None,
        instance_type: str = "ml.t3.medium",
        platform_identifier: str = "notebook-al2023-v1",
        volume_size_gib: int = 20,
        lifecycle_config: NotebookLifecycleConfig | ImportedNotebookLifecycleConfig | None = None,
        role: iam.IRole | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        direct_internet_access: bool | None = None,
        root_access: bool = False,
        kms_key: kms.IKey | None = None,
        minimum_imds_version: str = "2",
        ip_address_type: str | None = None,
        code_repositories: Sequence[CodeRepository] = (),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        _check_types(
            name=(name, (str, type(None)), "a string"),
            instance_type=(instance_type, str, 'a string such as "ml.t3.medium"'),
            platform_identifier=(platform_identifier, str, "a string"),
            volume_size_gib=(volume_size_gib, int, "a whole number"),
            role=(role, "role_arn", "an aws_iam.IRole"),
            vpc=(vpc, "vpc_id", "an aws_ec2.IVpc"),
            vpc_subnets=(vpc_subnets, (ec2.SubnetSelection, type(None)), "an aws_ec2.SubnetSelection"),
            direct_internet_access=(direct_internet_access, (bool, type(None)), "True, False or None"),
            root_access=(root_access, bool, "True or False"),
            kms_key=(kms_key, "key_arn", "an aws_kms.IKey"),
            minimum_imds_version=(minimum_imds_version, str, '"1" or "2"'),
            ip_address_type=(ip_address_type, (str, type(None)), '"ipv4" or "dualstack"'),
            removal_policy=(removal_policy, RemovalPolicy, "an aws_cdk.RemovalPolicy"),
        )
        self._validate(name, instance_type, platform_identifier, volume_size_gib, vpc, security_groups)
        self._validate_instance_options(minimum_imds_version, ip_address_type, code_repositories)
        if direct_internet_access is None:
            direct_internet_access = vpc is None
        if not direct_internet_access and vpc is None:
            raise LifecycleConfigError(
                "NotebookInstance direct_internet_access=False needs a vpc: without a subnet the instance "
                "would have no network at all. Give vpc (and vpc_subnets) or allow direct internet access."
            )

        self.notebook_instance_name = name or self._default_name()
        stack = Stack.of(self)
        self.notebook_instance_arn = stack.format_arn(
            service="sagemaker", resource="notebook-instance", resource_name=self.notebook_instance_name
        )
        self.lifecycle_config = lifecycle_config
        self.kms_key: kms.IKey = kms_key or kms.Key(
            self,
            "Key",
            enable_key_rotation=True,
            description=f"Notebook instance {self.notebook_instance_name}",
            removal_policy=removal_policy,
        )
        self.role: iam.IRole = role or iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Notebook instance {self.notebook_instance_name}",
        )
        self.security_groups: list[ec2.ISecurityGroup] = list(security_groups or [])
        subnet_id = None
        if vpc is not None:
            subnet_ids = selected_subnet_ids(vpc, vpc_subnets, "NotebookInstance vpc_subnets")
            subnet_id = subnet_ids[spread_index(id, len(subnet_ids))]
            if not self.security_groups:
                self.security_groups = [
                    ec2.SecurityGroup(
                        self,
                        "SecurityGroup",
                        vpc=vpc,
                        description=f"Notebook instance {self.notebook_instance_name}",
                        allow_all_outbound=True,
                    )
                ]
        self._connections = ec2.Connections(security_groups=self.security_groups)
        self.code_repositories = [
            sagemaker.CfnCodeRepository(
                self,
                f"CodeRepository{i}",
                git_config=sagemaker.CfnCodeRepository.GitConfigProperty(
                    repository_url=repository.url, branch=repository.branch, secret_arn=repository.secret_arn
                ),
            )
            for i, repository in enumerate(code_repositories)
        ]
        repository_names = [repository.attr_code_repository_name for repository in self.code_repositories]

        self.notebook_instance = sagemaker.CfnNotebookInstance(
            self,
            "Resource",
            notebook_instance_name=self.notebook_instance_name,
            instance_type=instance_type,
            role_arn=self.role.role_arn,
            platform_identifier=platform_identifier,
            volume_size_in_gb=volume_size_gib,
            kms_key_id=self.kms_key.key_id,
            root_access="Enabled" if root_access else "Disabled",
            direct_internet_access="Enabled" if direct_internet_access else "Disabled",
            subnet_id=subnet_id,
            security_group_ids=[sg.security_group_id for sg in self.security_groups] or None,
            lifecycle_config_name=lifecycle_config.lifecycle_config_name if lifecycle_config else None,
            instance_metadata_service_configuration=sagemaker.CfnNotebookInstance.InstanceMetadataServiceConfigurationProperty(
                minimum_instance_metadata_service_version=minimum_imds_version
            ),
            default_code_repository=repository_names[0] if repository_names else None,
            additional_code_repositories=repository_names[1:] or None,
        )
        secrets = sorted({r.secret_arn for r in code_repositories if r.secret_arn is not None})
        if secrets:
            iam.Grant.add_to_principal(
                grantee=self.role, actions=["secretsmanager:GetSecretValue"], resource_arns=secrets
            )
        if not isinstance(self.role, iam.Role):
            Annotations.of(self).add_warning_v2(
                "notebook-instance:imported-role",
                f"NotebookInstance {id}: the role is not created in this app, so its grants may not be added. "
                "It needs to be assumable by sagemaker.amazonaws.com, to write "
                f"{LOG_GROUP} streams {self.notebook_instance_name}/*, and whatever the lifecycle modules "
                "(idle-autostop: DescribeNotebookInstance/StopNotebookInstance on this instance), code "
                "repositories (secretsmanager:GetSecretValue) and KMS key use need.",
            )
        self.grant_lifecycle_logging(self.role)
        if lifecycle_config is not None:
            lifecycle_config.grant_read_archives(self.role)
        if lifecycle_config is not None and AUTO_STOP_MODULE in lifecycle_config.module_names:
            self.grant_auto_stop(self.role)
        # The on-start hook logs (and auto-stop calls) from the first boot: create the grants first.
        policy = self.role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            self.notebook_instance.node.add_dependency(policy)
            acknowledge_wildcard(
                policy,
                "Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
                f"{LOG_GROUP}:log-stream:{self.notebook_instance_name}/*",
                "SageMaker names the lifecycle log streams <instance>/<hook> at run time; the grant covers only "
                "this instance's streams.",
            )
            acknowledge_wildcard(
                policy,
                f"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:{LOG_GROUP}:*",
                "CloudWatch Logs evaluates DescribeLogStreams and CreateLogGroup against the group ARN with ':*'; "
                "the grant is limited to SageMaker's notebook log group.",
            )

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The instance's role: ``grant_*`` methods of other constructs take the notebook itself."""
        return self.role

    @property
    def connections(self) -> ec2.Connections:
        """The instance's security groups (empty without a VPC)."""
        return self._connections

    # -- imports --------------------------------------------------------------------------------
    @classmethod
    def from_notebook_instance_name(cls, scope: Construct, id: str, name: str) -> ImportedNotebookInstance:
        """An existing notebook instance in this stack's account and region, by name."""
        if not isinstance(name, str) or not (Token.is_unresolved(name) or _NAME.fullmatch(name)):
            raise LifecycleConfigError(
                f"NotebookInstance.from_notebook_instance_name name {name!r} is invalid: use 1-63 letters, digits "
                "and '-', starting and ending with a letter or digit."
            )
        arn = Stack.of(scope).format_arn(service="sagemaker", resource="notebook-instance", resource_name=name)
        return ImportedNotebookInstance(scope, id, name=name, arn=arn)

    @classmethod
    def from_notebook_instance_arn(cls, scope: Construct, id: str, arn: str) -> ImportedNotebookInstance:
        """An existing notebook instance by ARN.

        ``arn:<partition>:sagemaker:<region>:<account>:notebook-instance/<name>``; a token ARN is split at synth.
        """
        if not isinstance(arn, str):
            raise LifecycleConfigError(f"NotebookInstance.from_notebook_instance_arn arn {arn!r} is not a string.")
        if Token.is_unresolved(arn):
            name = Arn.split(arn, ArnFormat.SLASH_RESOURCE_NAME).resource_name or ""
            return ImportedNotebookInstance(scope, id, name=name, arn=arn)
        match = _INSTANCE_ARN.fullmatch(arn)
        if match is None:
            raise LifecycleConfigError(
                f"NotebookInstance.from_notebook_instance_arn arn {arn!r} is not a notebook instance ARN "
                "(arn:<partition>:sagemaker:<region>:<account>:notebook-instance/<name>)."
            )
        return ImportedNotebookInstance(scope, id, name=match["name"], arn=arn)

    # -- grants -----------------------------------------------------------------------------------
    def _arns(self) -> list[str]:
        """The instance ARN as given and lower-cased (SageMaker reports it lower-cased)."""
        lower = self.notebook_instance_name.lower()
        names = [self.notebook_instance_name] + ([lower] if lower != self.notebook_instance_name else [])
        return [
            Stack.of(self).format_arn(service="sagemaker", resource="notebook-instance", resource_name=n) for n in names
        ]

    def grant_auto_stop(self, grantee: iam.IGrantable) -> iam.Grant:
        """Exactly ``DescribeNotebookInstance`` and ``StopNotebookInstance`` on this instance."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"],
            resource_arns=self._arns(),
        )

    def grant_lifecycle_logging(self, grantee: iam.IGrantable) -> iam.Grant:
        """Writing this instance's streams in ``/aws/sagemaker/NotebookInstances``.

        Stream names are ``<instance>/<hook or app>``, made by SageMaker, hence the ``<instance>/*``.
        """
        stack = Stack.of(self)
        group = stack.format_arn(
            service="logs", resource="log-group", resource_name=LOG_GROUP, arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        streams = f"{group}:log-stream:{self.notebook_instance_name}/*"
        # CloudWatch Logs checks these two against the group's ARN with and without its ":*" suffix.
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"],
            resource_arns=[group, f"{group}:*"],
        )
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["logs:CreateLogStream", "logs:PutLogEvents"], resource_arns=[streams]
        )

    # -- helpers ----------------------------------------------------------------------------------
    def _default_name(self) -> str:
        """A lower-case name unique to this construct's path (IAM sees ARNs in one case then)."""
        return lower_case_name(self, 63)

    @staticmethod
    def _validate_instance_options(
        minimum_imds_version: str, ip_address_type: str | None, code_repositories: Sequence[CodeRepository]
    ) -> None:
        if minimum_imds_version not in IMDS_VERSIONS:
            raise LifecycleConfigError(
                f"NotebookInstance minimum_imds_version {minimum_imds_version!r} is invalid: give '2' (IMDSv2 only, "
                "the default) or '1'."
            )
        if ip_address_type is not None and ip_address_type not in IP_ADDRESS_TYPES:
            raise LifecycleConfigError(
                f"NotebookInstance ip_address_type {ip_address_type!r} is invalid: give 'ipv4' or 'dualstack'."
            )
        if ip_address_type == "dualstack":
            raise LifecycleConfigError(
                "NotebookInstance ip_address_type 'dualstack' cannot be deployed yet: SageMaker's API takes "
                "IpAddressType, but CloudFormation's AWS::SageMaker::NotebookInstance has no such property "
                "(aws-cdk-lib 2.275, cfn-lint 1.58), so the stack would fail. Leave it unset or 'ipv4' (the default)."
            )
        if isinstance(code_repositories, str) or not all(isinstance(r, CodeRepository) for r in code_repositories):
            raise LifecycleConfigError(
                f"NotebookInstance code_repositories {code_repositories!r} is invalid: give a sequence of "
                "CodeRepository."
            )
        if len(code_repositories) > 1 + MAX_ADDITIONAL_CODE_REPOSITORIES:
            raise LifecycleConfigError(
                f"NotebookInstance code_repositories has {len(code_repositories)} entries: a notebook instance takes "
                f"one default and at most {MAX_ADDITIONAL_CODE_REPOSITORIES} additional repositories."
            )
        urls = [r.url for r in code_repositories]
        for i, repository in enumerate(code_repositories):
            problem = repository.problem()
            if problem is not None:
                raise LifecycleConfigError(f"NotebookInstance code_repositories[{i}] {problem}")
            if repository.url in urls[:i]:
                raise LifecycleConfigError(
                    f"NotebookInstance code_repositories[{i}] url {repository.url!r} is listed twice."
                )

    @staticmethod
    def _validate(
        name: str | None,
        instance_type: str,
        platform_identifier: str,
        volume_size_gib: int,
        vpc: ec2.IVpc | None,
        security_groups: Sequence[ec2.ISecurityGroup] | None,
    ) -> None:
        if name is not None and not _NAME.fullmatch(name):
            raise LifecycleConfigError(
                f"NotebookInstance name {name!r} is invalid: use 1-63 letters, digits and '-', starting and "
                "ending with a letter or digit."
            )
        platform = platform_problem(platform_identifier)
        if platform is not None:
            raise LifecycleConfigError(f"NotebookInstance platform_identifier {platform}")
        instance = notebook_instance_type_problem(instance_type, platform_identifier)
        if instance is not None:
            raise LifecycleConfigError(f"NotebookInstance instance_type {instance}")
        if not isinstance(volume_size_gib, int) or not 5 <= volume_size_gib <= 16384:
            raise LifecycleConfigError(
                f"NotebookInstance volume_size_gib {volume_size_gib!r} is out of range: give 5 to 16384."
            )
        if security_groups and vpc is None:
            raise LifecycleConfigError("NotebookInstance security_groups need a vpc: give vpc as well.")


def _short(value: object, limit: int = 80) -> str:
    """``repr`` of a value, shortened for a one-line error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def spread_index(key: str, count: int) -> int:
    """The subnet for ``key`` among ``count``: a stable hash, so adding notebooks moves none of the others."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % count


def _check_types(**props: tuple[object, type | tuple[type, ...] | str, str]) -> None:
    """A Python type error names the prop (``instance_type=ec2.InstanceType(...)`` is not a string).

    A kind given as a string is an attribute an optional jsii interface value must have (jsii interfaces
    are not runtime-checkable classes).
    """
    for prop, (value, kind, what) in props.items():
        if isinstance(kind, str):
            wrong = value is not None and not hasattr(value, kind)
        else:
            wrong = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
        if wrong:
            raise LifecycleConfigError(f"NotebookInstance {prop} must be {what}, got {type(value).__name__} {value!r}.")


def platform_problem(platform_identifier: object) -> str | None:
    """Why a notebook instance cannot use ``platform_identifier``, or ``None``."""
    if platform_identifier in PLATFORMS:
        return None
    if platform_identifier in RETIRED_PLATFORMS:
        return (
            f"{platform_identifier!r} is Amazon Linux {1 if 'al1' in str(platform_identifier) else 2}, whose "
            "support ended (Amazon Linux 2 on 2026-06-30): from "
            f"2026-07-01 such instances can no longer be created or restarted. Use {AL2023_PLATFORM!r} (dnf instead "
            "of yum, systemd, no TensorFlow kernel, no ml.p2/p3/p3dn/inf1/g3 instance types)."
        )
    return f"{platform_identifier!r} is unknown: use {' or '.join(repr(p) for p in PLATFORMS)}."


__all__ = [
    "AUTO_STOP_MODULE",
    "IMDS_VERSIONS",
    "IP_ADDRESS_TYPES",
    "PLATFORMS",
    "RETIRED_PLATFORMS",
    "CodeRepository",
    "ImportedNotebookInstance",
    "NotebookInstance",
    "platform_problem",
    "spread_index",
]
