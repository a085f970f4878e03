"""The notebook stack: a network (new and private, or existing by ID), and per configured notebook its
lifecycle config and instance, with its data permissions and tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Acknowledgment, Annotations, CfnOutput, Fn, RemovalPolicy, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_lib import NotebookInstance, NotebookLifecycleConfig
from constructs_lib.idle_backstop import IdleBackstop
from constructs_lib.notebook_lifecycle_config import hooks_content_hash
from constructs_lib.private_network import PrivateNotebookNetwork
from stacks.backstop_config import backstop_kwargs
from stacks.base import LookupFreeStack
from stacks.config import NetworkSpec, NotebookEnvironmentConfig, NotebookSpec, check_stack_resources
from stacks.permissions_config import grant_permissions
from stacks.tags_config import RESOURCE_PRIORITY, apply_tags


def acknowledge_public_notebook(notebook: NotebookInstance) -> None:
    """cdk-nag's SM1/SM3 on a notebook the configuration deliberately leaves outside a VPC."""
    for rule in ("AwsSolutions-SM1", "AwsSolutions-SM3"):
        Validations.of(notebook.notebook_instance).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::{rule}",
                reason="The configuration sets privateNetwork to false: this notebook deliberately has "
                "no VPC and direct internet access.",
            )
        )


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


def add_notebook_instance(
    scope: Construct,
    spec: NotebookSpec,
    *,
    lifecycle_config: NotebookLifecycleConfig | None,
    network: PrivateNotebookNetwork | ExistingNetwork | None,
    vpc_subnets: ec2.SubnetSelection | None,
    security_groups: Sequence[ec2.ISecurityGroup] | None,
    removal_policy: RemovalPolicy,
) -> NotebookInstance:
    """The notebook ``spec.id`` under ``scope`` with everything its spec says; used by notebook and fleet stacks.

    The instance options, an existing role (``roleArn``, imported immutable: the parser refuses ``permissions``
    with it) or key (``kmsKeyArn``), the data permissions on the role it creates, its tags (over the global
    ones) and, outside a VPC, the cdk-nag acknowledgment. ``security_groups`` ``None``: the instance makes its
    own in a VPC.
    """
    stack = Stack.of(scope)
    role = (
        iam.Role.from_role_arn(stack, f"{spec.id}ExistingRole", spec.role_arn, mutable=False)
        if spec.role_arn is not None
        else None
    )
    key = (
        kms.Key.from_key_arn(stack, f"{spec.id}ExistingKey", spec.kms_key_arn) if spec.kms_key_arn is not None else None
    )
    notebook = NotebookInstance(
        scope,
        spec.id,
        name=spec.name,
        instance_type=spec.instance_type,
        platform_identifier=spec.platform_identifier,
        volume_size_gib=spec.volume_size_gib,
        root_access=spec.root_access,
        lifecycle_config=lifecycle_config,
        vpc=network.vpc if network else None,
        vpc_subnets=vpc_subnets,
        removal_policy=removal_policy,
        minimum_imds_version=spec.minimum_imds_version,
        ip_address_type=spec.ip_address_type,
        code_repositories=spec.code_repositories,
        role=role,
        kms_key=key,
        security_groups=security_groups,
    )
    if spec.permissions and isinstance(notebook.role, iam.Role):  # the parser refuses them with roleArn
        grant_permissions(notebook.role, spec.permissions)
    apply_tags(notebook, spec.tags, priority=RESOURCE_PRIORITY)
    if spec.role_arn is not None:
        Annotations.of(notebook).acknowledge_warning(
            "notebook-instance:imported-role",
            f"roleArn {spec.role_arn} is the team's own role: it must already allow what the notebook needs.",
        )
        Annotations.of(notebook).add_info(
            f"{spec.id} uses roleArn {spec.role_arn} unchanged: it must allow writing the notebook's lifecycle "
            "logs and what its modules and code repositories need (see the NotebookInstance warning text)."
        )
    if network is None:
        acknowledge_public_notebook(notebook)
    return notebook


def existing_security_groups(
    network: PrivateNotebookNetwork | ExistingNetwork | None,
) -> list[ec2.ISecurityGroup] | None:
    """The configured groups of an existing network (``network.securityGroupIds``), else ``None``."""
    if isinstance(network, ExistingNetwork) and network.security_groups:
        return network.security_groups
    return None


class NotebookStack(LookupFreeStack):
    """Notebook instances with their lifecycle configs, in a private network unless told otherwise.

    ``self.network`` (a ``PrivateNotebookNetwork``, an ``ExistingNetwork`` or ``None``),
    ``self.lifecycle_configs`` and ``self.notebooks`` (by notebook id; notebooks with identical hooks share one
    lifecycle config).
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
        shared: dict[str, NotebookLifecycleConfig] = {}
        for spec in config.notebooks:
            lifecycle = self._shared_lifecycle_config(spec, shared)
            notebook = add_notebook_instance(
                self,
                spec,
                lifecycle_config=lifecycle,
                network=self.network,
                vpc_subnets=self._subnets(spec),
                security_groups=existing_security_groups(self.network),
                removal_policy=removal_policy,
            )
            self.lifecycle_configs[spec.id] = lifecycle
            self.notebooks[spec.id] = notebook
            CfnOutput(self, f"{spec.id}Name", value=notebook.notebook_instance_name)
        for spec in config.notebooks:
            # A notebook's own tags reach its lifecycle config when no other notebook shares it (a shared one
            # carries the global tags only).
            lifecycle = self.lifecycle_configs[spec.id]
            if list(self.lifecycle_configs.values()).count(lifecycle) == 1:
                apply_tags(lifecycle, spec.tags, priority=RESOURCE_PRIORITY)
        self.backstop: IdleBackstop | None = None
        if config.idle_backstop is not None and self.notebooks:
            self.backstop = IdleBackstop(
                self,
                "IdleBackstop",
                notebooks=list(self.notebooks.values()),
                max_notebook_running=config.idle_backstop.max_running,
                **backstop_kwargs(config.idle_backstop),  # type: ignore[arg-type]
            )

        check_stack_resources(
            self,
            "move notebooks that share a template into a fleet (notebookEnvironment.fleets, sharded over stacks), "
            "or split the notebooks over several configFiles.",
        )

    def _subnets(self, spec: NotebookSpec) -> ec2.SubnetSelection | None:
        """The network's subnets (the notebook picks one by hash), or the one ``subnetIndex`` pins."""
        if self.network is None:
            return None
        if spec.subnet_index is None:
            return self.network.subnets
        chosen = self.network.subnets
        subnets = chosen.subnets or self.network.vpc.select_subnets(subnet_type=chosen.subnet_type).subnets
        return ec2.SubnetSelection(subnets=[subnets[spec.subnet_index]])

    def _shared_lifecycle_config(
        self, spec: NotebookSpec, shared: dict[str, NotebookLifecycleConfig]
    ) -> NotebookLifecycleConfig:
        """One lifecycle config per distinct pair of hooks, named after the first notebook that uses it.

        Notebooks with identical hooks share it (bundled once). Its logical ID
        (``<first notebook id>LifecycleConfig``) is the one a lone notebook always had, so the default
        configuration keeps its resources; a notebook whose hooks change while others keep theirs gets
        a config of its own, and the others' stays as it was.
        """
        digest = hooks_content_hash(
            on_start=spec.on_start, on_create=spec.on_create, archive_location=spec.archive_location
        )
        if digest not in shared:
            shared[digest] = NotebookLifecycleConfig(
                self,
                f"{spec.id}LifecycleConfig",
                on_start=spec.on_start,
                on_create=spec.on_create,
                archive_location=spec.archive_location,
            )
        return shared[digest]
