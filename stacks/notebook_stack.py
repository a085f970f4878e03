"""The notebook stack: a network (new and private, or existing by ID), and per configured notebook its
lifecycle config and instance, with its data permissions and tags."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Annotations, CfnOutput, Fn, RemovalPolicy, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_lib import NotebookInstance, NotebookLifecycleConfig
from constructs_lib.private_network import PrivateNotebookNetwork
from stacks.base import LookupFreeStack
from stacks.config import NetworkSpec, NotebookEnvironmentConfig, NotebookSpec
from stacks.permissions_config import grant_permissions
from stacks.tags_config import RESOURCE_PRIORITY, apply_tags

REMOVAL_POLICIES = {"retain": RemovalPolicy.RETAIN, "destroy": RemovalPolicy.DESTROY}


class ExistingNetwork(Construct):
    """A VPC, its subnets and security groups imported by ID: no context lookup at synth.

    Attributes: ``vpc``, ``subnets`` (a ``SubnetSelection`` of exactly the given subnets), ``security_groups``.
    """

    def __init__(self, scope: Construct, id: str, *, spec: NetworkSpec) -> None:
        super().__init__(scope, id)
        zones = sorted(set(spec.availability_zones))
        self.vpc = ec2.Vpc.from_vpc_attributes(
            self, "Vpc", vpc_id=spec.vpc_id, availability_zones=zones or Fn.get_azs()
        )
        zone_of = dict(zip(spec.subnet_ids, spec.availability_zones, strict=False))
        subnets = [
            ec2.Subnet.from_subnet_attributes(
                self, f"Subnet{i}", subnet_id=subnet_id, availability_zone=zone_of.get(subnet_id)
            )
            for i, subnet_id in enumerate(spec.subnet_ids)
        ]
        for subnet in subnets:
            Annotations.of(subnet).acknowledge_warning(
                "@aws-cdk/aws-ec2:noSubnetRouteTableId",
                "Notebook instances take only the subnet ID; no route table is read from an imported subnet.",
            )
        self.subnets = ec2.SubnetSelection(subnets=subnets)
        self.security_groups = [
            ec2.SecurityGroup.from_security_group_id(self, f"SecurityGroup{i}", group_id, mutable=False)
            for i, group_id in enumerate(spec.security_group_ids)
        ]


class NotebookStack(LookupFreeStack):
    """Notebook instances with their lifecycle configs, in a private network unless told otherwise.

    ``self.network`` (a ``PrivateNotebookNetwork``, an ``ExistingNetwork`` or ``None``),
    ``self.lifecycle_configs`` and ``self.notebooks`` (by id).
    """

    def __init__(self, scope: Construct, id: str, *, config: NotebookEnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        removal_policy = REMOVAL_POLICIES[config.removal_policy]
        self.network: PrivateNotebookNetwork | ExistingNetwork | None = None
        if config.network is not None:
            self.network = ExistingNetwork(self, "ExistingNetwork", spec=config.network)
        elif config.private_network:
            self.network = PrivateNotebookNetwork(self, "Network", removal_policy=removal_policy)
        apply_tags(self, config.tags)
        self.lifecycle_configs: dict[str, NotebookLifecycleConfig] = {}
        self.notebooks: dict[str, NotebookInstance] = {}
        for spec in config.notebooks:
            lifecycle = NotebookLifecycleConfig(
                self,
                f"{spec.id}LifecycleConfig",
                on_start=spec.on_start,
                on_create=spec.on_create,
                archive_location=spec.archive_location,
            )
            notebook = NotebookInstance(
                self,
                spec.id,
                name=spec.name,
                instance_type=spec.instance_type,
                platform_identifier=spec.platform_identifier,
                volume_size_gib=spec.volume_size_gib,
                root_access=spec.root_access,
                lifecycle_config=lifecycle,
                vpc=self.network.vpc if self.network else None,
                vpc_subnets=self.network.subnets if self.network else None,
                **self._notebook_props(spec, removal_policy),
            )
            self._grant_and_tag(spec, notebook)
            self.lifecycle_configs[spec.id] = lifecycle
            self.notebooks[spec.id] = notebook
            CfnOutput(self, f"{spec.id}Name", value=notebook.notebook_instance_name)
            if self.network is None:
                for rule in ("AwsSolutions-SM1", "AwsSolutions-SM3"):
                    Validations.of(notebook.notebook_instance).acknowledge(
                        Acknowledgment(
                            id=f"AwsSolutions::{rule}",
                            reason="The configuration sets privateNetwork to false: this notebook deliberately has "
                            "no VPC and direct internet access.",
                        )
                    )

    def _notebook_props(self, spec: NotebookSpec, removal_policy: RemovalPolicy) -> dict[str, Any]:
        """The props that come from the notebook's role, key, network and instance options."""
        props: dict[str, Any] = {
            "removal_policy": removal_policy,
            "minimum_imds_version": spec.minimum_imds_version,
            "ip_address_type": spec.ip_address_type,
            "code_repositories": spec.code_repositories,
        }
        if spec.role_arn is not None:
            # Immutable: the stack never changes a role it does not own (the parser refuses permissions then).
            props["role"] = iam.Role.from_role_arn(self, f"{spec.id}ExistingRole", spec.role_arn, mutable=False)
        if spec.kms_key_arn is not None:
            props["kms_key"] = kms.Key.from_key_arn(self, f"{spec.id}ExistingKey", spec.kms_key_arn)
        if isinstance(self.network, ExistingNetwork) and self.network.security_groups:
            props["security_groups"] = self.network.security_groups
        return props

    @staticmethod
    def _grant_and_tag(spec: NotebookSpec, notebook: NotebookInstance) -> None:
        """The configured data permissions on the notebook's own role, and its tags (over the global ones)."""
        if spec.permissions and isinstance(notebook.role, iam.Role):  # the parser refuses them with roleArn
            grant_permissions(notebook.role, spec.permissions)
        apply_tags(notebook, spec.tags, priority=RESOURCE_PRIORITY)
        if isinstance(notebook.lifecycle_config, Construct):
            apply_tags(notebook.lifecycle_config, spec.tags, priority=RESOURCE_PRIORITY)
        if spec.role_arn is not None:
            Annotations.of(notebook).acknowledge_warning(
                "notebook-instance:imported-role",
                f"roleArn {spec.role_arn} is the team's own role: it must already allow what the notebook needs.",
            )
            Annotations.of(notebook).add_info(
                f"{spec.id} uses roleArn {spec.role_arn} unchanged: it must allow writing the notebook's lifecycle "
                "logs and what its modules and code repositories need (see the NotebookInstance warning text)."
            )
