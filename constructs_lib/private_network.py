"""``PrivateNotebookNetwork``: a VPC without internet where notebooks still reach what they need."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from constructs_lib.errors import LifecycleConfigError


def selected_subnet_ids(vpc: ec2.IVpc, selection: ec2.SubnetSelection | None, what: str) -> list[str]:
    """The subnets ``selection`` picks in ``vpc`` (private ones by default); none is an error naming ``what``."""
    chosen = selection or ec2.SubnetSelection()
    others = (chosen.subnet_type, chosen.subnet_group_name, chosen.availability_zones, chosen.one_per_az)
    if chosen.subnets and all(value is None for value in others) and chosen.subnet_filters is None:
        # Subnets given one by one (imported by ID) are taken as given: selecting them would read
        # their availability zones, which an import by ID does not know.
        return [subnet.subnet_id for subnet in chosen.subnets]
    subnets = vpc.select_subnets(
        subnet_type=chosen.subnet_type,
        subnet_group_name=chosen.subnet_group_name,
        subnets=chosen.subnets,
        availability_zones=chosen.availability_zones,
        one_per_az=chosen.one_per_az,
        subnet_filters=chosen.subnet_filters,
    )
    if not subnets.subnet_ids:
        raise LifecycleConfigError(f"{what} selects no subnet of the vpc; choose subnets that exist in it.")
    return list(subnets.subnet_ids)


class PrivateNotebookNetwork(Construct):
    """Isolated subnets (no NAT, no internet gateway), VPC flow logs, and endpoints for SageMaker's
    API (idle auto-stop calls ``StopNotebookInstance``), CloudWatch Logs (lifecycle logs) and S3.

    Attributes: ``vpc``, ``subnets`` (a ``SubnetSelection`` of the isolated subnets),
    ``endpoint_security_group``, ``flow_log_group``. The flow log group is kept when the stack is
    destroyed unless ``removal_policy`` says otherwise.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        max_azs: int = 2,
        cidr: str = "10.80.0.0/16",
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        if not isinstance(removal_policy, RemovalPolicy):
            raise LifecycleConfigError(
                f"PrivateNotebookNetwork removal_policy {removal_policy!r} is not an aws_cdk.RemovalPolicy."
            )
        if not 1 <= max_azs <= 3:
            raise LifecycleConfigError(f"PrivateNotebookNetwork max_azs {max_azs!r} is out of range: give 1 to 3.")
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="notebooks", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22)
            ],
        )
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.flow_log_group = logs.LogGroup(
            self, "FlowLogs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=removal_policy
        )
        self.vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group))
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="HTTPS from the VPC to AWS endpoints",
            allow_all_outbound=False,
        )
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), "HTTPS from inside the VPC"
        )
        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.subnets])
        for name, service in (
            ("SageMakerApi", ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API),
            ("Logs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS),
        ):
            self.vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=self.subnets,
                security_groups=[self.endpoint_security_group],
                open=False,
            )
