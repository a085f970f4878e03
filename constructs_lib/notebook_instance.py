"""``NotebookInstance``: an ``AWS::SageMaker::NotebookInstance`` with secure defaults."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from constructs_lib.errors import LifecycleConfigError
from constructs_lib.instance_types import AL2023_PLATFORM, notebook_instance_type_problem
from constructs_lib.nag import acknowledge_wildcard
from constructs_lib.naming import lower_case_name
from constructs_lib.notebook_lifecycle_config import NotebookLifecycleConfig
from constructs_lib.private_network import selected_subnet_ids

_NAME = re.compile(r"(?=.{1,63}\Z)[a-zA-Z0-9](-*[a-zA-Z0-9])*")
PLATFORMS = (AL2023_PLATFORM,)
RETIRED_PLATFORMS = ("notebook-al1-v1", "notebook-al2-v1", "notebook-al2-v2", "notebook-al2-v3")
AUTO_STOP_MODULE = "idle-autostop"
LOG_GROUP = "/aws/sagemaker/NotebookInstances"


class NotebookInstance(Construct):
    """A notebook instance, its role and (unless given) its KMS key and security group.

    Secure by default: ``RootAccess`` disabled, the volume encrypted with a key of its own,
    and, when a VPC is given, placed in a private subnet with ``DirectInternetAccess`` disabled.
    The role it creates may only write the instance's lifecycle logs; add more with grants.
    When the lifecycle config carries the ``idle-autostop`` module, the role is granted
    ``grant_auto_stop`` automatically.

    Attributes: ``notebook_instance`` (L1), ``notebook_instance_name``, ``notebook_instance_arn``,
    ``role``, ``kms_key``, ``security_groups``, ``lifecycle_config``.
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
        lifecycle_config: NotebookLifecycleConfig | None = None,
        role: iam.IRole | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        direct_internet_access: bool | None = None,
        root_access: bool = False,
        kms_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, id)
        self._validate(name, instance_type, platform_identifier, volume_size_gib, vpc, security_groups)
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
            self, "Key", enable_key_rotation=True, description=f"Notebook instance {self.notebook_instance_name}"
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
            subnet_id = selected_subnet_ids(vpc, vpc_subnets, "NotebookInstance vpc_subnets")[0]
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


__all__ = ["AUTO_STOP_MODULE", "PLATFORMS", "RETIRED_PLATFORMS", "NotebookInstance", "platform_problem"]
