"""Synth time of the notebook and Studio stacks: the project's constructs versus the same resources as plain L1s.

Usage: .venv/bin/python bench/synth/run.py [--runs 3] [--notebooks 1,10,30,100] [--users 10,100,1000,2000,20000]
                                           [--fleet-owners 500] [--noval-notebooks 30] [--noval-owners 500]
                                           [--cli-notebooks 100] [--cli-users 2000]
                                           [--out bench/synth/RESULTS.md] [--raw bench/synth/results.json]
       .venv/bin/python bench/synth/run.py --report-only   # rewrite RESULTS.md from results.json

Takes about 10 minutes on 2 idle cores with the defaults (much longer on a loaded machine).
Raw figures of every run go to results.json.

Every measurement is one fresh Python subprocess (``run.py --worker``) with ``node_modules/.bin`` first
on PATH, so the jsii kernel runs on the project's Node. A worker

1. imports everything either variant needs (aws_cdk and its ec2, iam, kms, logs and sagemaker modules,
   constructs_lib, stacks.*): the same imports for both variants, which starts the jsii kernel and
   loads the aws-cdk-lib assembly;
2. warms up with one throwaway synth (an App, a Stack, one ``CfnWaitConditionHandle``);
3. prepares its input outside the timer: the constructs variant parses the configuration
   (``parse_config`` / ``parse_studio_config``, which builds the catalogue modules), the plain variant
   reads the precomputed literals;
4. times ONE synth: from ``App(outdir=<fresh tmp dir>)`` to ``app.synth()`` returning.

The constructs variant builds ``NotebookStack`` / ``add_studio`` exactly as ``app.py`` does, but without
cdk-nag's ``AwsSolutionsChecks``. The plain variant writes the same resources (same number and types,
same stack layout, same cross-stack reference of the domain id) with ``aws_cdk.aws_*.Cfn*`` classes only,
and uses the lifecycle ``Content`` strings and names that a preparation worker took from the constructs.
Both variants' apps set the context ``@aws-cdk/core:stackResourceLimit`` to 0 (the check is skipped), so
that a stack above CloudFormation's 500 resources still synthesizes; RESULTS.md says when that happened.
"""

from __future__ import annotations

import argparse
import copy
import glob
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
NODE_BIN = REPO / "node_modules" / ".bin"
CDK_JSON = REPO / "cdk.json"
AUTOSTOP = "idle-autostop"
CFN_RESOURCE_LIMIT = 500
CONTEXT = {"@aws-cdk/core:stackResourceLimit": 0}
TEMPLATE_LIMIT_BYTES = 1_000_000
WORKER_TIMEOUT_S = 3600
JSII_NODE_HEAP_MIB = 4069
"""The ``--max-old-space-size`` the jsii runtime (1.x) gives its Node process (seen in ``ps`` during a synth)."""
MAX_USERS_PER_DOMAIN, MAX_USER_SHARDS, MAX_USERS_PER_SHARD = 40_000, 100, 400
"""stacks.studio_capacity's limits (the parent process does not import the app); a test keeps them equal."""
"""One worker may take this long: 20,000 Studio users take about a minute on idle cores, several on loaded ones."""
"""What aws-cdk-lib warns about (``Template size exceeds limit``), measured on the written template."""


def cli_context() -> dict[str, Any]:
    """Roughly what ``cdk synth`` hands this app: cdk.json's context (without the two configs) plus what the
    CLI's ``contextFromSettings`` adds for this cdk.json (path and asset metadata on, version reporting off)."""
    context = {k: v for k, v in default_context().items() if k not in ("notebookEnvironment", "studioEnvironment")}
    context.update(
        {
            "aws:cdk:enable-path-metadata": True,
            "aws:cdk:enable-asset-metadata": True,
            "aws:cdk:disable-version-reporting": True,
            "aws:cdk:bundling-stacks": ["**"],
            "@aws-cdk/core:failSynthOnValidationErrors": False,
        }
    )
    return {**context, **CONTEXT}


NOTEBOOK_STACK = "SageMakerNotebooks"
STUDIO_STACK = "SageMakerStudio"


def default_context() -> dict[str, Any]:
    return json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]


def shards_for(users: int) -> int:
    return max(1, math.ceil(users / 200))


def synthetic_users(count: int) -> list[dict[str, Any]]:
    """Like the default config's two users: every other user overrides the JupyterLab instance type."""
    users: list[dict[str, Any]] = []
    for i in range(count):
        user: dict[str, Any] = {"name": f"user-{i:04d}"}
        if i % 2:
            user["apps"] = {"JupyterLab": {"defaultInstanceType": "ml.m5.large"}}
        users.append(user)
    return users


def notebook_raw(count: int, on_start: list[dict[str, Any]]) -> dict[str, Any]:
    """The default notebookEnvironment with its notebook repeated ``count`` times (ids DataScience000...)."""
    raw = copy.deepcopy(default_context()["notebookEnvironment"])
    template = dict(raw["notebooks"][0], onStart=on_start)
    raw["notebooks"] = [dict(template, id=f"{template['id']}{i:03d}") for i in range(count)]
    return raw


FLEET_PER_SHARD = 60


def fleet_shards(owners: int) -> int:
    return max(1, math.ceil(owners / FLEET_PER_SHARD))


def fleet_raw(owners: int, on_start: list[dict[str, Any]]) -> dict[str, Any]:
    """The default notebookEnvironment plus one fleet of ``owners`` made from its notebook."""
    raw = copy.deepcopy(default_context()["notebookEnvironment"])
    template = {k: v for k, v in raw["notebooks"][0].items() if k not in ("id", "name")}
    template["onStart"] = on_start
    raw["fleets"] = [
        {
            "name": "analysts",
            "shards": fleet_shards(owners),
            "notebook": template,
            "owners": [f"user{i:05d}" for i in range(owners)],
        }
    ]
    return raw


def studio_raw(users: int) -> dict[str, Any]:
    raw = copy.deepcopy(default_context()["studioEnvironment"])
    raw["users"] = synthetic_users(users)
    raw["userShards"] = shards_for(users)
    # The default config's private spaces belong to its own users, which the synthetic users replace.
    raw["spaces"] = [space for space in raw.get("spaces", []) if "owner" not in space]
    return raw


# ---------------------------------------------------------------------------------------------------------------
# Worker side: everything below runs in the subprocesses only (the parent never imports aws_cdk).
# ---------------------------------------------------------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            children = [int(p) for p in Path(path).read_text().split()]
        except OSError:
            continue
        for child in children:
            found.append(child)
            found.extend(_descendants(child))
    return found


def _cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _node_cpu() -> float:
    return sum(_cpu_seconds(pid) for pid in _descendants(os.getpid()))


def _imports() -> dict[str, Any]:
    """The imports of both variants (identical, so the jsii start-up is too)."""
    import aws_cdk
    from aws_cdk import aws_ec2, aws_iam, aws_kms, aws_logs, aws_sagemaker

    import constructs_lib.notebook_lifecycle_config as notebook_lifecycle_config
    import constructs_lib.studio_lifecycle_config as studio_lifecycle_config
    import stacks.config
    from constructs_lib.errors import LifecycleConfigError
    from stacks.config import parse_config
    from stacks.notebook_stack import NotebookStack

    # The app refuses a stack above CloudFormation's 500 resources at synth; the 100-notebook size measures
    # the CDK layer only, with that check and CDK's own resource-count check off.
    stacks.config.MAX_STACK_RESOURCES = 10**9
    from stacks.stages import add_stacks
    from stacks.studio_config import parse_studio_config
    from stacks.studio_stack import add_studio, shard_of, user_construct_id

    return {
        "cdk": aws_cdk,
        "ec2": aws_ec2,
        "iam": aws_iam,
        "kms": aws_kms,
        "logs": aws_logs,
        "sagemaker": aws_sagemaker,
        "nlc": notebook_lifecycle_config,
        "slc": studio_lifecycle_config,
        "LifecycleConfigError": LifecycleConfigError,
        "parse_config": parse_config,
        "NotebookStack": NotebookStack,
        "parse_studio_config": parse_studio_config,
        "add_studio": add_studio,
        "add_stacks": add_stacks,
        "shard_of": shard_of,
        "user_construct_id": user_construct_id,
    }


def _warm_up(m: dict[str, Any]) -> None:
    cdk = m["cdk"]
    with tempfile.TemporaryDirectory() as tmp:
        app = cdk.App(outdir=tmp, context=CONTEXT)
        stack = cdk.Stack(app, "WarmUp")
        cdk.CfnWaitConditionHandle(stack, "Handle")
        app.synth()


# -- prep: literals from the constructs ----------------------------------------------------------------------------


def prep(m: dict[str, Any]) -> dict[str, Any]:
    """The modules that fit, and the lifecycle contents and names the constructs produce."""
    cdk = m["cdk"]
    on_start = copy.deepcopy(default_context()["notebookEnvironment"]["notebooks"][0]["onStart"])
    error = None
    try:
        config = m["parse_config"](notebook_raw(2, on_start))
        stack = m["NotebookStack"](cdk.App(context=CONTEXT), NOTEBOOK_STACK, config=config)
    except m["LifecycleConfigError"] as err:
        if AUTOSTOP not in [item["module"] for item in on_start]:
            raise
        error = str(err)
        on_start = [item for item in on_start if item["module"] != AUTOSTOP]
        config = m["parse_config"](notebook_raw(2, on_start))
        stack = m["NotebookStack"](cdk.App(context=CONTEXT), NOTEBOOK_STACK, config=config)
    lifecycles = list(stack.lifecycle_configs.values())

    def content(bundle: Any) -> str | None:
        return None if bundle is None else bundle.content

    on_start_contents = {content(lc.on_start_bundle) for lc in lifecycles}
    on_create_contents = {content(lc.on_create_bundle) for lc in lifecycles}
    studio, _ = m["add_studio"](cdk.App(context=CONTEXT), m["parse_studio_config"](studio_raw(0)))
    xz = _xz_probe(lifecycles[0].on_start_bundle)
    return {
        "on_start": on_start,
        "dropped_error": error,
        "on_start_content": lifecycles[0].on_start_bundle and lifecycles[0].on_start_bundle.content,
        "on_create_content": lifecycles[0].on_create_bundle and lifecycles[0].on_create_bundle.content,
        "deterministic": len(on_start_contents) == 1 and len(on_create_contents) == 1,
        "module_names": sorted(lifecycles[0].module_names),
        "on_start_length": len(lifecycles[0].on_start_bundle.content) if lifecycles[0].on_start_bundle else 0,
        "studio_lifecycle_configs": {
            config_id: {
                "app_type": lc.app_type.value,
                "name": lc.lifecycle_config_name,
                "content": lc.bundle.content,
            }
            for config_id, lc in studio.lifecycle_configs.items()
        },
        "domain_name": studio.domain.domain_name,
        "xz": xz,
    }


def _xz_probe(bundle: Any) -> dict[str, Any] | None:
    """Time the bundler's xz call (preset 9e, 64 MiB dictionary) on the real on-start tar, and the same preset
    with a 1 MiB dictionary, median of 9 each."""
    import lzma

    from constructs_lib.bundling.archive import tar_bytes

    if bundle is None:
        return None
    tar = tar_bytes(bundle.files)
    preset = 9 | lzma.PRESET_EXTREME
    variants = {
        "preset": {"preset": preset},
        "small_dict": {"filters": [{"id": lzma.FILTER_LZMA1, "preset": preset, "dict_size": 1 << 20}]},
    }
    probe: dict[str, Any] = {"tar_bytes": len(tar)}
    for name, kwargs in variants.items():
        times = []
        for _ in range(9):
            started = time.perf_counter()
            out = lzma.compress(tar, format=lzma.FORMAT_ALONE, **kwargs)
            times.append(time.perf_counter() - started)
        probe[name] = {"seconds": statistics.median(times), "bytes": len(out)}
    return probe


# -- plain L1 versions ---------------------------------------------------------------------------------------------


def plain_network(m: dict[str, Any], stack: Any, cidr: str = "10.80.0.0/16") -> dict[str, Any]:
    """``PrivateNotebookNetwork`` as L1s: VPC, 2 isolated subnets with route tables, flow log, endpoints."""
    cdk, ec2, iam, logs = m["cdk"], m["ec2"], m["iam"], m["logs"]
    path = f"{stack.stack_name}/Network/Vpc"

    def tag(value: str) -> Any:
        return cdk.CfnTag(key="Name", value=value)

    vpc = ec2.CfnVPC(
        stack,
        "NetworkVpc",
        cidr_block=cidr,
        enable_dns_hostnames=True,
        enable_dns_support=True,
        instance_tenancy="default",
        tags=[tag(path)],
    )
    subnets, tables = [], []
    for index in range(2):
        name = f"{path}/notebooksSubnet{index + 1}"
        subnet = ec2.CfnSubnet(
            stack,
            f"NetworkSubnet{index + 1}",
            vpc_id=vpc.ref,
            cidr_block=f"10.80.{4 * index}.0/22",
            availability_zone=cdk.Fn.select(index, cdk.Fn.get_azs()),
            map_public_ip_on_launch=False,
            tags=[
                cdk.CfnTag(key="aws-cdk:subnet-name", value="notebooks"),
                cdk.CfnTag(key="aws-cdk:subnet-type", value="Isolated"),
                tag(name),
            ],
        )
        table = ec2.CfnRouteTable(stack, f"NetworkSubnet{index + 1}RouteTable", vpc_id=vpc.ref, tags=[tag(name)])
        ec2.CfnSubnetRouteTableAssociation(
            stack, f"NetworkSubnet{index + 1}RouteTableAssociation", route_table_id=table.ref, subnet_id=subnet.ref
        )
        subnets.append(subnet)
        tables.append(table)
    log_group = logs.CfnLogGroup(stack, "NetworkFlowLogs", retention_in_days=365)
    log_group.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    flow_role = iam.CfnRole(
        stack,
        "NetworkFlowLogRole",
        assume_role_policy_document={
            "Statement": [
                {
                    "Action": "sts:AssumeRole",
                    "Effect": "Allow",
                    "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                }
            ],
            "Version": "2012-10-17",
        },
        tags=[tag(f"{path}/FlowLog")],
    )
    iam.CfnPolicy(
        stack,
        "NetworkFlowLogRolePolicy",
        policy_name="NetworkFlowLogRolePolicy",
        roles=[flow_role.ref],
        policy_document={
            "Statement": [
                {
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    "Effect": "Allow",
                    "Resource": log_group.attr_arn,
                }
            ],
            "Version": "2012-10-17",
        },
    )
    ec2.CfnFlowLog(
        stack,
        "NetworkFlowLog",
        resource_id=vpc.ref,
        resource_type="VPC",
        traffic_type="ALL",
        log_destination_type="cloud-watch-logs",
        log_group_name=log_group.ref,
        deliver_logs_permission_arn=flow_role.attr_arn,
        tags=[tag(f"{path}/FlowLog")],
    )
    endpoint_sg = ec2.CfnSecurityGroup(
        stack,
        "NetworkEndpointSecurityGroup",
        group_description="HTTPS from the VPC to AWS endpoints",
        vpc_id=vpc.ref,
        security_group_ingress=[
            ec2.CfnSecurityGroup.IngressProperty(
                ip_protocol="tcp", cidr_ip=cidr, from_port=443, to_port=443, description="HTTPS from inside the VPC"
            )
        ],
        security_group_egress=[
            ec2.CfnSecurityGroup.EgressProperty(
                ip_protocol="icmp",
                cidr_ip="255.255.255.255/32",
                from_port=252,
                to_port=86,
                description="Disallow all traffic",
            )
        ],
    )
    ec2.CfnVPCEndpoint(
        stack,
        "NetworkS3Endpoint",
        vpc_id=vpc.ref,
        service_name=f"com.amazonaws.{cdk.Aws.REGION}.s3",
        vpc_endpoint_type="Gateway",
        route_table_ids=[t.ref for t in tables],
        tags=[tag(path)],
    )
    for name, service in (("SageMakerApi", "sagemaker.api"), ("Logs", "logs")):
        ec2.CfnVPCEndpoint(
            stack,
            f"Network{name}Endpoint",
            vpc_id=vpc.ref,
            service_name=f"com.amazonaws.{cdk.Aws.REGION}.{service}",
            vpc_endpoint_type="Interface",
            private_dns_enabled=True,
            security_group_ids=[endpoint_sg.attr_group_id],
            subnet_ids=[s.ref for s in subnets],
            tags=[tag(path)],
        )
    return {"vpc": vpc, "subnets": subnets}


def _assume(service: str) -> dict[str, Any]:
    return {
        "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": service}}],
        "Version": "2012-10-17",
    }


def _key_policy(cdk: Any) -> dict[str, Any]:
    return {
        "Statement": [
            {
                "Action": "kms:*",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{cdk.Aws.PARTITION}:iam::{cdk.Aws.ACCOUNT_ID}:root"},
                "Resource": "*",
            }
        ],
        "Version": "2012-10-17",
    }


def plain_notebooks(m: dict[str, Any], app: Any, count: int, literals: dict[str, Any]) -> None:
    cdk, ec2, iam, kms, sagemaker = m["cdk"], m["ec2"], m["iam"], m["kms"], m["sagemaker"]
    spec = notebook_raw(count, literals["on_start"])
    stack = cdk.Stack(app, NOTEBOOK_STACK, description="SageMaker notebook instances")
    network = plain_network(m, stack)
    hook = sagemaker.CfnNotebookInstanceLifecycleConfig.NotebookInstanceLifecycleHookProperty
    arn_prefix = f"arn:{cdk.Aws.PARTITION}:logs:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:log-group:"
    group = f"{arn_prefix}/aws/sagemaker/NotebookInstances"
    # Identical hooks: one lifecycle config shared by every notebook, as NotebookStack does.
    lifecycle = sagemaker.CfnNotebookInstanceLifecycleConfig(
        stack,
        f"{spec['notebooks'][0]['id']}LifecycleConfig",
        on_start=[hook(content=literals["on_start_content"])] if literals["on_start_content"] else None,
        on_create=[hook(content=literals["on_create_content"])] if literals["on_create_content"] else None,
    )
    for notebook in spec["notebooks"]:
        nid = notebook["id"]
        name = f"sagemakernotebooks-{nid.lower()}-{hashlib.sha256(nid.encode()).hexdigest()[:8]}"
        key = kms.CfnKey(
            stack,
            f"{nid}Key",
            description=f"Notebook instance {name}",
            enable_key_rotation=True,
            key_policy=_key_policy(cdk),
        )
        key.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        role = iam.CfnRole(
            stack,
            f"{nid}Role",
            assume_role_policy_document=_assume("sagemaker.amazonaws.com"),
            description=f"Notebook instance {name}",
        )
        statements: list[dict[str, Any]] = [
            {"Action": ["logs:CreateLogGroup", "logs:DescribeLogStreams"], "Effect": "Allow", "Resource": group},
            {
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Effect": "Allow",
                "Resource": f"{group}:log-stream:{name}/*",
            },
        ]
        if AUTOSTOP in literals["module_names"]:
            statements.append(
                {
                    "Action": ["sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"],
                    "Effect": "Allow",
                    "Resource": f"arn:{cdk.Aws.PARTITION}:sagemaker:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}"
                    f":notebook-instance/{name}",
                }
            )
        policy = iam.CfnPolicy(
            stack,
            f"{nid}RoleDefaultPolicy",
            policy_name=f"{nid}RoleDefaultPolicy",
            roles=[role.ref],
            policy_document={"Statement": statements, "Version": "2012-10-17"},
        )
        group_sg = ec2.CfnSecurityGroup(
            stack,
            f"{nid}SecurityGroup",
            group_description=f"Notebook instance {name}",
            vpc_id=network["vpc"].ref,
            security_group_egress=[
                ec2.CfnSecurityGroup.EgressProperty(
                    ip_protocol="-1", cidr_ip="0.0.0.0/0", description="Allow all outbound traffic by default"
                )
            ],
        )
        instance = sagemaker.CfnNotebookInstance(
            stack,
            nid,
            notebook_instance_name=name,
            instance_type=notebook["instanceType"],
            role_arn=role.attr_arn,
            platform_identifier=notebook["platformIdentifier"],
            volume_size_in_gb=notebook["volumeSizeGiB"],
            kms_key_id=key.ref,
            root_access="Enabled" if notebook["rootAccess"] else "Disabled",
            direct_internet_access="Disabled",
            subnet_id=network["subnets"][0].ref,
            security_group_ids=[group_sg.attr_group_id],
            lifecycle_config_name=lifecycle.attr_notebook_instance_lifecycle_config_name,
        )
        instance.add_resource_dependency(policy)
        cdk.CfnOutput(stack, f"{nid}Name", value=name)


def _minutes(text: str) -> int:
    amount, unit = int(text[:-1]), text[-1]
    return {"s": amount // 60, "m": amount, "h": amount * 60}[unit]


def _plain_app_settings(
    m: dict[str, Any], ns: Any, app_type: str, spec: dict[str, Any], arns: dict[str, str], idle: dict[str, Any] | None
) -> Any:
    resource: dict[str, Any] = {}
    if app_type == "JupyterServer":
        resource["instance_type"] = "system"
    elif spec.get("defaultInstanceType"):
        resource["instance_type"] = spec["defaultInstanceType"]
    if spec.get("default"):
        resource["lifecycle_config_arn"] = arns[spec["default"]]
    props: dict[str, Any] = {}
    if resource:
        props["default_resource_spec"] = ns.ResourceSpecProperty(**resource)
    if spec.get("lifecycleConfigs"):
        props["lifecycle_config_arns"] = [arns[c] for c in spec["lifecycleConfigs"]]
    if idle is not None and app_type in ("JupyterLab", "CodeEditor"):
        settings = {"lifecycle_management": "ENABLED", "idle_timeout_in_minutes": _minutes(idle["timeout"])}
        if "minimum" in idle:
            settings["min_idle_timeout_in_minutes"] = _minutes(idle["minimum"])
        if "maximum" in idle:
            settings["max_idle_timeout_in_minutes"] = _minutes(idle["maximum"])
        props["app_lifecycle_management"] = ns.AppLifecycleManagementProperty(
            idle_settings=ns.IdleSettingsProperty(**settings)
        )
    return getattr(ns, f"{app_type}AppSettingsProperty")(**props)


_SETTINGS_FIELD = {
    "JupyterServer": "jupyter_server_app_settings",
    "KernelGateway": "kernel_gateway_app_settings",
    "JupyterLab": "jupyter_lab_app_settings",
    "CodeEditor": "code_editor_app_settings",
}


def plain_studio(m: dict[str, Any], app: Any, users: int, literals: dict[str, Any]) -> None:
    cdk, ec2, iam, kms, sagemaker = m["cdk"], m["ec2"], m["iam"], m["kms"], m["sagemaker"]
    raw = studio_raw(users)
    stack = cdk.Stack(app, STUDIO_STACK, description="SageMaker Studio domain")
    network = plain_network(m, stack)
    configs = {}
    for config_id, lc in literals["studio_lifecycle_configs"].items():
        configs[config_id] = sagemaker.CfnStudioLifecycleConfig(
            stack,
            config_id,
            studio_lifecycle_config_app_type=lc["app_type"],
            studio_lifecycle_config_content=lc["content"],
            studio_lifecycle_config_name=lc["name"],
        )
    domain_name = literals["domain_name"]
    key = kms.CfnKey(
        stack,
        "DomainKey",
        description=f"Studio domain {domain_name}",
        enable_key_rotation=True,
        key_policy=_key_policy(cdk),
    )
    key.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    role = iam.CfnRole(
        stack,
        "DomainExecutionRole",
        assume_role_policy_document=_assume("sagemaker.amazonaws.com"),
        description=f"Default execution role of Studio domain {domain_name}",
    )
    group_sg = ec2.CfnSecurityGroup(
        stack,
        "DomainSecurityGroup",
        group_description=f"Studio domain {domain_name}",
        vpc_id=network["vpc"].ref,
        security_group_egress=[
            ec2.CfnSecurityGroup.EgressProperty(
                ip_protocol="-1", cidr_ip="0.0.0.0/0", description="Allow all outbound traffic by default"
            )
        ],
    )
    local_arns = {cid: c.attr_studio_lifecycle_config_arn for cid, c in configs.items()}
    defaults = {
        _SETTINGS_FIELD[app_type]: _plain_app_settings(
            m, sagemaker.CfnDomain, app_type, spec, local_arns, raw.get("idleShutdown")
        )
        for app_type, spec in raw.get("apps", {}).items()
    }
    domain = sagemaker.CfnDomain(
        stack,
        "Domain",
        domain_name=domain_name,
        auth_mode=raw.get("authMode", "IAM"),
        vpc_id=network["vpc"].ref,
        subnet_ids=[s.ref for s in network["subnets"]],
        app_network_access_type="VpcOnly",
        kms_key_id=key.attr_arn,
        default_user_settings=sagemaker.CfnDomain.UserSettingsProperty(
            execution_role=role.attr_arn, security_groups=[group_sg.attr_group_id], **defaults
        ),
    )
    group = f"arn:{cdk.Aws.PARTITION}:logs:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/studio"
    iam.CfnPolicy(
        stack,
        "DomainExecutionRoleDefaultPolicy",
        policy_name="DomainExecutionRoleDefaultPolicy",
        roles=[role.ref],
        policy_document={
            "Statement": [
                {"Action": ["logs:CreateLogGroup", "logs:DescribeLogStreams"], "Effect": "Allow", "Resource": group},
                {
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Effect": "Allow",
                    "Resource": f"{group}:log-stream:{domain.attr_domain_id}/*",
                },
            ],
            "Version": "2012-10-17",
        },
    )
    cdk.CfnOutput(stack, "DomainId", value=domain.attr_domain_id)
    remote_prefix = f"arn:{cdk.Aws.PARTITION}:sagemaker:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:studio-lifecycle-config/"
    remote_arns = {cid: remote_prefix + lc["name"] for cid, lc in literals["studio_lifecycle_configs"].items()}
    shards: dict[int, list[dict[str, Any]]] = {}
    for user in raw["users"]:
        shards.setdefault(m["shard_of"](user["name"], raw["userShards"]), []).append(user)
    for index in sorted(shards):
        users_stack = cdk.Stack(
            app,
            f"SageMakerStudioUsers{index:02d}",
            description=f"SageMaker Studio user profiles, shard {index} of {raw['userShards']}",
        )
        for user in sorted(shards[index], key=lambda u: u["name"]):
            apps = user.get("apps", {})
            settings = None
            if apps:
                settings = sagemaker.CfnUserProfile.UserSettingsProperty(
                    **{
                        _SETTINGS_FIELD[app_type]: _plain_app_settings(
                            m, sagemaker.CfnUserProfile, app_type, spec, remote_arns, None
                        )
                        for app_type, spec in apps.items()
                    }
                )
            sagemaker.CfnUserProfile(
                users_stack,
                m["user_construct_id"](user["name"]),
                domain_id=domain.attr_domain_id,
                user_profile_name=user["name"],
                user_settings=settings,
            )
        users_stack.add_stack_dependency(stack)


# -- one measurement -----------------------------------------------------------------------------------------------


def measure(m: dict[str, Any], job: dict[str, Any], literals: dict[str, Any]) -> dict[str, Any]:
    cdk = m["cdk"]
    bundling = [0.0]
    original = m["nlc"].LifecycleBundle

    class TimedBundle(original):  # type: ignore[misc, valid-type]
        """Accounts the bundler's time (tar, xz, base64) inside the timed synth."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            started = time.perf_counter()
            try:
                super().__init__(*args, **kwargs)
            finally:
                bundling[0] += time.perf_counter() - started

    m["nlc"].LifecycleBundle = TimedBundle
    m["slc"].LifecycleBundle = TimedBundle

    kind, variant, size = job["kind"], job["variant"], job["size"]
    config = None
    if variant == "constructs":
        if kind == "notebook":
            config = m["parse_config"](notebook_raw(size, literals["on_start"]))
        elif kind == "fleet":
            config = m["parse_config"](fleet_raw(size, literals["on_start"]))
        else:
            config = m["parse_studio_config"](studio_raw(size))
    with tempfile.TemporaryDirectory() as tmp:
        node_cpu0, py_cpu0 = _node_cpu(), time.process_time()
        started = time.perf_counter()
        app = cdk.App(outdir=tmp, context=cli_context() if job.get("cli") else CONTEXT)
        if kind == "notebook" and variant == "constructs":
            m["NotebookStack"](app, NOTEBOOK_STACK, config=config, description="SageMaker notebook instances")
        elif kind == "notebook":
            plain_notebooks(m, app, size, literals)
        elif kind == "fleet":
            m["add_stacks"](app, config, None)
        elif variant == "constructs":
            m["add_studio"](app, config)
        else:
            plain_studio(m, app, size, literals)
        app.synth()
        wall = time.perf_counter() - started
        py_cpu, node_cpu = time.process_time() - py_cpu0, _node_cpu() - node_cpu0
        templates = {}
        for path in sorted(Path(tmp).glob("*.template.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            templates[path.name.removesuffix(".template.json")] = {
                "bytes": path.stat().st_size,
                "compact_bytes": len(json.dumps(data, separators=(",", ":"))),
                "types": dict(Counter(r["Type"] for r in data.get("Resources", {}).values())),
            }
    largest = max(templates.items(), key=lambda kv: (sum(kv[1]["types"].values()), kv[1]["bytes"]))
    types: Counter[str] = Counter()
    for template in templates.values():
        types.update(template["types"])
    return {
        "wall": wall,
        "py_cpu": py_cpu,
        "node_cpu": node_cpu,
        "bundling": bundling[0],
        "node_rss_mib": max((_peak_rss_mib(p) for p in _descendants(os.getpid())), default=0.0),
        "py_rss_mib": _peak_rss_mib(os.getpid()),
        "stacks": len(templates),
        "types": dict(types),
        "resources": sum(types.values()),
        "largest": {
            "stack": largest[0],
            "resources": sum(largest[1]["types"].values()),
            "bytes": largest[1]["bytes"],
        },
        "max_resources": max(sum(t["types"].values()) for t in templates.values()),
        "total_bytes": sum(t["bytes"] for t in templates.values()),
        "max_bytes": max(t["bytes"] for t in templates.values()),
        "max_compact_bytes": max(t["compact_bytes"] for t in templates.values()),
    }


def worker(job_file: str) -> None:
    sys.path.insert(0, str(REPO))
    job = json.loads(Path(job_file).read_text(encoding="utf-8"))
    started = time.perf_counter()
    m = _imports()
    imported = time.perf_counter()
    _warm_up(m)
    warmed = time.perf_counter()
    import shutil

    if job["kind"] == "prep":
        result = prep(m)
    else:
        literals = json.loads(Path(job["literals"]).read_text(encoding="utf-8"))
        result = measure(m, job, literals)
    result.update(
        import_s=imported - started,
        warm_up_s=warmed - imported,
        node_path=shutil.which("node"),
        load1=float(Path("/proc/loadavg").read_text().split()[0]),
    )
    print("RESULT " + json.dumps(result))


# ---------------------------------------------------------------------------------------------------------------
# Parent side.
# ---------------------------------------------------------------------------------------------------------------


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{NODE_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_worker(job: dict[str, Any], work: Path) -> dict[str, Any]:
    job_file = work / "job.json"
    job_file.write_text(json.dumps(job), encoding="utf-8")
    env = subprocess_env()
    if job.get("noval"):
        env["CDK_VALIDATION"] = "false"  # read by aws-cdk-lib in the jsii kernel, which inherits it
    tree = Path(job.get("tree") or REPO)  # an older checkout's constructs, for a before/after comparison
    proc = subprocess.run(
        [sys.executable, str(tree / "bench" / "synth" / "run.py"), "--worker", str(job_file)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT_S,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"worker {job} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result = json.loads(lines[-1].removeprefix("RESULT "))
    result["stderr"] = proc.stderr.strip()
    return result


def machine_info() -> dict[str, str]:
    node = NODE_BIN / "node"
    node_version = subprocess.run([str(node), "--version"], capture_output=True, text=True, check=False).stdout
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "nproc": f"{nproc} ({cpu})",
        "Python": f"{platform.python_version()} ({sys.executable})",
        "aws-cdk-lib": metadata.version("aws-cdk-lib"),
        "constructs / jsii (Python)": f"{metadata.version('constructs')} / {metadata.version('jsii')}",
        "Node (node_modules/.bin/node --version)": node_version.strip(),
        "OS": f"{platform.system()} {platform.release()}",
        "Date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def med(values: list[float]) -> float:
    return statistics.median(values)


def span(values: list[float]) -> str:
    return f"{med(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--notebooks", default="1,10,30,100")
    parser.add_argument("--users", default="10,100,1000,2000,20000")
    parser.add_argument("--fleet-owners", default="500", help="fleet sizes (constructs only: no plain variant)")
    parser.add_argument(
        "--noval-notebooks", default="30", help="notebook sizes also measured with CDK_VALIDATION=false"
    )
    parser.add_argument("--noval-owners", default="500", help="fleet sizes also measured with CDK_VALIDATION=false")
    parser.add_argument("--cli-notebooks", default="100", help="sizes also measured with the cdk-synth-like context")
    parser.add_argument("--cli-users", default="2000", help="sizes also measured with the cdk-synth-like context")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "RESULTS.md")
    parser.add_argument("--raw", type=Path, default=Path(__file__).resolve().parent / "results.json")
    parser.add_argument("--report-only", action="store_true", help="rewrite --out from --raw without measuring")
    parser.add_argument(
        "--before-tree",
        type=Path,
        help="an older checkout (e.g. `git archive <commit>` unpacked, with .venv and node_modules links): its "
        "constructs are measured against this tree's in the same run, for --before-users",
    )
    parser.add_argument("--before-label", default="", help="what --before-tree is (a commit), for the report")
    parser.add_argument("--before-users", default="", help="Studio sizes measured with --before-tree")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the cases of --raw that this run does not measure (their dates are listed in the report)",
    )
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    if args.report_only:
        saved = json.loads(args.raw.read_text(encoding="utf-8"))
        args.runs = saved["runs"]
        args.fleet_sizes = saved.get("fleets", [])
        loaded = {(k, int(n), v): rs for k, n, v, rs in saved["results"]}
        text = report(
            args, saved["info"], saved["literals"], loaded, saved["notebooks"], saved["users"], saved["elapsed"]
        )
        args.out.write_text(text, encoding="utf-8")
        print(text)
        return
    began = time.perf_counter()
    info = machine_info()
    load_at_start = load_average()
    notebook_sizes = [int(x) for x in args.notebooks.split(",") if x]
    user_sizes = [int(x) for x in args.users.split(",") if x]
    fleet_sizes = [int(x) for x in args.fleet_owners.split(",") if x]
    results: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
        work = Path(tmp)
        print("prep: lifecycle literals from the constructs", file=sys.stderr)
        literals = run_worker({"kind": "prep"}, work)
        literals_file = work / "literals.json"
        literals_file.write_text(json.dumps(literals), encoding="utf-8")
        plan = [("notebook", n, "") for n in notebook_sizes] + [("studio", n, "") for n in user_sizes]
        plan += [("fleet", n, "") for n in fleet_sizes]
        plan += [("notebook", int(n), "cli") for n in args.cli_notebooks.split(",") if n]
        plan += [("studio", int(n), "cli") for n in args.cli_users.split(",") if n]
        plan += [("notebook", int(n), "noval") for n in args.noval_notebooks.split(",") if n]
        plan += [("fleet", int(n), "noval") for n in args.noval_owners.split(",") if n]
        plan += [("studio", int(n), "before") for n in args.before_users.split(",") if n and args.before_tree]
        for kind, size, mode in plan:
            for run in range(args.runs):
                variants = ("constructs", "plain") if run % 2 == 0 else ("plain", "constructs")
                if kind == "fleet":
                    variants = ("constructs",)
                if mode == "before":
                    variants = ("before", "constructs", "plain") if run % 2 == 0 else ("plain", "constructs", "before")
                for variant in variants:
                    job = {
                        "kind": kind,
                        "variant": variant,
                        "size": size,
                        "literals": str(literals_file),
                        "cli": mode == "cli",
                        "noval": mode == "noval",
                    }
                    if variant == "before":
                        job.update(variant="constructs", tree=str(args.before_tree))
                    result = run_worker(job, work)
                    key = f"{variant}-{mode}" if mode and variant != "before" else variant
                    results.setdefault((kind, size, key), []).append(result)
                    print(
                        f"{kind} {size:>5} {key:<16} run {run + 1}: {result['wall']:.2f} s "
                        f"({result['resources']} resources, {result['stacks']} stacks)",
                        file=sys.stderr,
                    )
    elapsed = time.perf_counter() - began
    info["Load average (1/5/15 min) at start / end"] = f"{load_at_start} / {load_average()}"
    for runs in results.values():
        for result in runs:
            result["date"] = info["Date"]
    if args.before_tree:
        info["Earlier constructs (before/after)"] = args.before_label or str(args.before_tree)
    if args.merge and args.raw.exists():
        saved = json.loads(args.raw.read_text(encoding="utf-8"))
        for kind, size, variant, runs in saved["results"]:
            for result in runs:
                result.setdefault("date", saved["info"]["Date"])
            results.setdefault((kind, int(size), variant), runs)
        notebook_sizes = sorted(set(notebook_sizes) | set(saved["notebooks"]))
        user_sizes = sorted(set(user_sizes) | set(saved["users"]))
        fleet_sizes = sorted(set(fleet_sizes) | set(saved.get("fleets", [])))
        args.runs = max(args.runs, saved["runs"])
        elapsed += saved["elapsed"]
        if not any(kind == "notebook" for kind, _, _ in plan):
            # The notebook notes describe the hooks of the notebook cases kept from --raw, not today's.
            literals = {**literals, **saved["literals"]}
    kept = {k: v for k, v in literals.items() if not k.endswith("_content") and k != "studio_lifecycle_configs"}
    args.raw.write_text(
        json.dumps(
            {
                "runs": args.runs,
                "info": info,
                "literals": kept,
                "notebooks": notebook_sizes,
                "users": user_sizes,
                "fleets": fleet_sizes,
                "elapsed": elapsed,
                "results": [[k, n, v, rs] for (k, n, v), rs in results.items()],
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    args.fleet_sizes = fleet_sizes
    text = report(args, info, literals, results, notebook_sizes, user_sizes, elapsed)
    args.out.write_text(text, encoding="utf-8")
    print(text)


def report(
    args: argparse.Namespace,
    info: dict[str, str],
    literals: dict[str, Any],
    results: dict[tuple[str, int, str], list[dict[str, Any]]],
    notebook_sizes: list[int],
    user_sizes: list[int],
    elapsed: float,
) -> str:
    def walls(kind: str, size: int, variant: str, key: str = "wall") -> list[float]:
        return [r[key] for r in results[(kind, size, variant)]]

    def same_resources(kind: str, size: int) -> str:
        a = results[(kind, size, "constructs")][0]
        b = results[(kind, size, "plain")][0]
        if a["types"] == b["types"] and a["stacks"] == b["stacks"]:
            return "yes"
        missing = Counter(a["types"]) - Counter(b["types"])
        extra = Counter(b["types"]) - Counter(a["types"])
        if (
            kind == "studio"
            and a["stacks"] == b["stacks"]
            and not extra
            and "AWS::SageMaker::UserProfile" not in missing
        ):
            return f"users yes; plain lacks {sum(missing.values())} fixed"
        return "**no**"

    modules = [item["module"] for item in literals["on_start"]]
    all_runs = [r for rs in results.values() for r in rs]
    node_paths = sorted({r["node_path"] for r in all_runs})
    lines = [
        "# Synth time: the project's constructs versus plain L1s",
        "",
        f"Produced by `.venv/bin/python bench/synth/run.py` on {info['Date']}, "
        f"{run_counts(results)} runs per size and variant; the whole benchmark took {elapsed / 60:.1f} min.",
        *(
            [
                "",
                "Measured at different times (`--merge`): "
                + "; ".join(
                    f"{kind} {size} {variant}: {', '.join(sorted({r.get('date', info['Date']) for r in rs}))}"
                    for (kind, size, variant), rs in sorted(results.items())
                    if {r.get("date", info["Date"]) for r in rs} != {info["Date"]}
                )
                + f"; everything else: {info['Date']}.",
            ]
            if any(r.get("date", info["Date"]) != info["Date"] for rs in results.values() for r in rs)
            else []
        ),
        "",
        "## What is measured",
        "",
        "- One fresh Python subprocess per measurement (`run.py --worker`), `node_modules/.bin` first on PATH "
        f"(the jsii kernel ran `{', '.join(node_paths)}`).",
        "- In it, first the same imports for both variants (aws_cdk, its ec2/iam/kms/logs/sagemaker modules, "
        "constructs_lib, stacks.*: this starts the jsii kernel and loads the aws-cdk-lib assembly), then one "
        "throwaway warm-up synth (App + Stack + one `CfnWaitConditionHandle`), then the input is prepared "
        "outside the timer (constructs: `parse_config` / `parse_studio_config`; plain: literals read from a file).",
        "- **Timed: the first real synth after that warm-up, from `App(outdir=<fresh tmp dir>)` to `app.synth()` "
        "returning** (construct tree, bundling, validation, template and assembly writing). Figures are the "
        "median (min-max) of the runs, in seconds; ratio = median constructs / median plain.",
        "- Constructs: `NotebookStack` and `add_studio` exactly as `app.py` builds them, but **without cdk-nag** "
        "(`AwsSolutionsChecks`, which app.py adds). The time spent in the bundler (tar + xz + base64 of "
        "`LifecycleBundle`, run by the constructs at synth) is also shown on its own.",
        "- Plain: the same resources (same number and types, same stacks, the domain id passed across stacks "
        "as the same automatic export/import) written with `aws_cdk.aws_*.Cfn*` only "
        "(sagemaker, iam `CfnRole`/`CfnPolicy`, kms `CfnKey`, and ec2/logs L1s for the private network), "
        "with the lifecycle `Content` strings and names taken from the constructs (no bundling at synth).",
        "- Both apps set the context `@aws-cdk/core:stackResourceLimit: 0`, so a stack above CloudFormation's "
        f"{CFN_RESOURCE_LIMIT} resources synthesizes instead of failing (see the notes).",
        "- `Same resources` compares the resource types and counts of all templates of both variants.",
        "",
        "## Notebook lifecycle modules used",
        "",
        f"On-start modules: {', '.join(f'`{m}`' for m in modules)} "
        f"(on-start content {literals['on_start_length']} of 16384 characters; "
        f"{'identical' if literals['deterministic'] else '**not identical**'} for every notebook).",
    ]
    if literals["dropped_error"]:
        first = literals["dropped_error"].splitlines()[0]
        share = next((ln.strip() for ln in literals["dropped_error"].splitlines() if f"{AUTOSTOP}:" in ln), "")
        lines += [
            "",
            f"`{AUTOSTOP}` was **dropped**: with it the default config's on-start hook does not fit at the time of "
            f'this run. The constructs said: "{first}" (its share: `{share}`). Without it the notebook role '
            "also has no auto-stop grant, in both variants.",
        ]
    else:
        lines += ["", f"All of the default config's on-start modules fit, `{AUTOSTOP}` included."]

    lines += [
        "",
        "## 1. Notebook stack",
        "",
        "| notebooks | resources | same resources | constructs (s) | of which bundling (s) | plain (s) | ratio "
        "| template bytes (constructs / plain) |",
        "|--:|--:|:-:|--:|--:|--:|--:|--:|",
    ]
    for n in notebook_sizes:
        c, p = results[("notebook", n, "constructs")], results[("notebook", n, "plain")]
        lines.append(
            f"| {n} | {c[0]['resources']} | {same_resources('notebook', n)} "
            f"| {span(walls('notebook', n, 'constructs'))} "
            f"| {med(walls('notebook', n, 'constructs', 'bundling')):.2f} | {span(walls('notebook', n, 'plain'))} "
            f"| {med(walls('notebook', n, 'constructs')) / med(walls('notebook', n, 'plain')):.2f} "
            f"| {c[0]['total_bytes']} / {p[0]['total_bytes']} |"
        )
    lines += [
        "",
        "## 2. Studio (one domain stack, user profiles sharded over `SageMakerStudioUsersNN`)",
        "",
        "userShards = max(1, ceil(users / 200)); every other user overrides the JupyterLab instance type "
        "(like the default config's second user).",
        "",
        "CPU ratio = median (Python + Node CPU seconds) of constructs / the same of plain: on a shared machine it "
        "moves less with the load than the wall-clock ratio.",
        "",
        "| users | shards | stacks | resources | same resources | constructs (s) | plain (s) | ratio | CPU ratio "
        "| largest template (constructs): resources | bytes |",
        "|--:|--:|--:|--:|:-:|--:|--:|--:|--:|--:|--:|",
    ]

    def cpu(kind: str, size: int, variant: str) -> float:
        return med([r["py_cpu"] + r["node_cpu"] for r in results[(kind, size, variant)]])

    for n in user_sizes:
        c = results[("studio", n, "constructs")]
        lines.append(
            f"| {n} | {shards_for(n)} | {c[0]['stacks']} | {c[0]['resources']} | {same_resources('studio', n)} "
            f"| {span(walls('studio', n, 'constructs'))} | {span(walls('studio', n, 'plain'))} "
            f"| {med(walls('studio', n, 'constructs')) / med(walls('studio', n, 'plain')):.2f} "
            f"| {cpu('studio', n, 'constructs') / cpu('studio', n, 'plain'):.2f} "
            f"| {c[0]['largest']['resources']} (`{c[0]['largest']['stack']}`) | {c[0]['largest']['bytes']} |"
        )

    fleet_sizes = getattr(args, "fleet_sizes", [])
    if fleet_sizes:
        lines += [
            "",
            "## 3. Notebook fleet (`notebookEnvironment.fleets`, constructs only)",
            "",
            f"The default notebook stack plus one fleet of N owners made from its notebook, shards = ceil(N / "
            f"{FLEET_PER_SHARD}), built with `stacks.stages.add_stacks` as app.py does. Each shard stack holds one "
            "shared lifecycle config and one security group; each notebook adds its instance, role, policy and key.",
            "",
            "| owners | shards | stacks | resources | constructs (s) | of which bundling (s) "
            "| largest template: resources | bytes |",
            "|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for n in fleet_sizes:
            c = results[("fleet", n, "constructs")]
            lines.append(
                f"| {n} | {fleet_shards(n)} | {c[0]['stacks']} | {c[0]['resources']} "
                f"| {span(walls('fleet', n, 'constructs'))} | {med(walls('fleet', n, 'constructs', 'bundling')):.2f} "
                f"| {c[0]['max_resources']} | {c[0]['max_bytes']:,} |"
            )

    noval_cases = sorted({(k, n) for (k, n, v) in results if v.endswith("-noval")})
    if noval_cases:
        lines += [
            "",
            "## With `CDK_VALIDATION=false`",
            "",
            "The same measurement with the environment variable `CDK_VALIDATION=false` in the worker (the jsii kernel "
            "inherits it). aws-cdk-lib 2.275 then skips its built-in CloudFormation template validator (added in "
            "2.262: it checks every resource's properties against the CloudFormation schema inside `app.synth()`; "
            "the switch is `process.env.CDK_VALIDATION !== 'false'` in core/lib/private/synthesis-validation.js). "
            "What is given up: property errors (a wrong type, an unknown property, a value out of range) are then "
            "found only by cfn-lint in the test suite or by CloudFormation at deploy. Construct validations "
            "(`node.addValidation`) and plugins added with `Validations.of(app).add_plugins` (cdk-nag in app.py) "
            "still run. The app keeps validation on by default; these runs come after the others.",
            "",
            "| case | constructs (s) | plain (s) | vs. default: constructs / plain |",
            "|---|--:|--:|--:|",
        ]
        for kind, n in noval_cases:
            c = walls(kind, n, "constructs-noval")
            base_c = med(walls(kind, n, "constructs"))
            unit = {"notebook": "notebooks", "fleet": "fleet owners", "studio": "users"}[kind]
            if (kind, n, "plain-noval") in results:
                p = walls(kind, n, "plain-noval")
                plain_cells = f"{span(p)} | {med(c) / base_c:.2f}x / {med(p) / med(walls(kind, n, 'plain')):.2f}x"
            else:
                plain_cells = f"- | {med(c) / base_c:.2f}x / -"
            lines.append(f"| {n} {unit} | {span(c)} | {plain_cells} |")

    cli_cases = sorted({(k, n) for (k, n, v) in results if v.endswith("-cli")})
    if cli_cases:
        lines += [
            "",
            "## With the context `cdk synth` would pass",
            "",
            "The same measurement for the largest sizes with cdk.json's context (feature flags) plus what the CLI's "
            "`contextFromSettings` adds for this cdk.json: `aws:cdk:enable-path-metadata` and "
            "`aws:cdk:enable-asset-metadata` on, version reporting off, bundling stacks `**` (the "
            "resource-limit check stays off). Path metadata adds an `aws:cdk:path` entry to every resource. "
            "These runs come after the others, so the `vs.` column also carries any change in machine load.",
            "",
            "| case | constructs (s) | plain (s) | ratio | vs. default context: constructs / plain "
            "| largest template bytes (constructs) |",
            "|---|--:|--:|--:|--:|--:|",
        ]
        for kind, n in cli_cases:
            c, p = walls(kind, n, "constructs-cli"), walls(kind, n, "plain-cli")
            base_c = med(walls(kind, n, "constructs")) if (kind, n, "constructs") in results else float("nan")
            base_p = med(walls(kind, n, "plain")) if (kind, n, "plain") in results else float("nan")
            unit = "notebooks" if kind == "notebook" else "users"
            lines.append(
                f"| {n} {unit} | {span(c)} | {span(p)} | {med(c) / med(p):.2f} "
                f"| {med(c) / base_c:.2f}x / {med(p) / base_p:.2f}x "
                f"| {results[(kind, n, 'constructs-cli')][0]['max_bytes']:,} |"
            )
    before_sizes = sorted(n for (k, n, v) in results if k == "studio" and v == "before")
    if before_sizes:
        label = info.get("Earlier constructs (before/after)", "an earlier checkout")
        lines += [
            "",
            "## Studio before / after the flat user profiles",
            "",
            f"The constructs of {label} (before: a `StudioUserProfile` wrapper per user and an eager ARN read, three "
            "jsii round trips per profile) against this tree's (after: one) and plain L1s, in the same run, "
            "alternating. Wall seconds and CPU seconds (Python + Node), median (min-max).",
            "",
            "| users | before (s) | after (s) | plain (s) | before / plain | after / plain | CPU before / plain "
            "| CPU after / plain |",
            "|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for n in before_sizes:
            b, a, p = (
                walls("studio", n, "before"),
                walls("studio", n, "constructs-before"),
                walls("studio", n, "plain-before"),
            )
            lines.append(
                f"| {n} | {span(b)} | {span(a)} | {span(p)} | {med(b) / med(p):.2f} | {med(a) / med(p):.2f} "
                f"| {cpu('studio', n, 'before') / cpu('studio', n, 'plain-before'):.2f} "
                f"| {cpu('studio', n, 'constructs-before') / cpu('studio', n, 'plain-before'):.2f} |"
            )
    lines += [
        "",
        "## Where the time goes (medians)",
        "",
        "CPU seconds of the Python process and of the Node processes (the jsii kernel) during the timed synth, "
        "and their peak resident memory over the whole subprocess.",
        "",
        "| case | variant | wall (s) | Python CPU (s) | Node CPU (s) | Python peak RSS (MiB) | Node peak RSS (MiB) |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for kind, sizes, unit in (("notebook", notebook_sizes, "notebooks"), ("studio", user_sizes, "users")):
        for n in sizes:
            for variant in ("constructs", "plain"):
                lines.append(
                    f"| {n} {unit} | {variant} | {med(walls(kind, n, variant)):.2f} "
                    f"| {med(walls(kind, n, variant, 'py_cpu')):.2f} | {med(walls(kind, n, variant, 'node_cpu')):.2f} "
                    f"| {med(walls(kind, n, variant, 'py_rss_mib')):.0f} "
                    f"| {med(walls(kind, n, variant, 'node_rss_mib')):.0f} |"
                )
    lines += [
        "",
        f"Outside the timer, per subprocess: imports {span([r['import_s'] for r in all_runs])} s, "
        f"warm-up synth {span([r['warm_up_s'] for r in all_runs])} s. The machine is shared (other engineers "
        "run tests on it): the 1-minute load average at the end of each measurement was "
        f"{span([r['load1'] for r in all_runs])} on {os.cpu_count()} CPUs, so single runs can be outliers; "
        "variants alternate within each size to spread that noise evenly.",
        "",
        "## Notes",
        "",
    ]
    lines += notes(results, notebook_sizes, user_sizes, literals)
    noisy = sorted({f"{kind} {size} {variant}" for (kind, size, variant), rs in results.items() if rs[0]["stderr"]})
    if noisy:
        messages = sorted(
            {
                line.strip()
                for rs in results.values()
                for r in rs
                for line in r["stderr"].splitlines()
                if "warning" in line.lower() or "error" in line.lower()
            }
        )
        lines.append(
            f"- Workers wrote to stderr ({', '.join(noisy)}): "
            + "; ".join(f"`{msg[:160]}`" for msg in messages[:4])
            + ". That is aws-cdk-lib's own template validation, run inside `app.synth()` in both variants."
        )
    else:
        lines.append("- No worker wrote anything to stderr (no jsii or CDK deprecation warnings in either variant).")
    lines += [
        "",
        "## Raw runs (seconds)",
        "",
        "| case | size | context | constructs | plain |",
        "|---|--:|---|---|---|",
    ]
    for kind, sizes in (("notebook", notebook_sizes), ("studio", user_sizes)):
        for n in sizes:
            c = ", ".join(f"{x:.2f}" for x in walls(kind, n, "constructs"))
            p = ", ".join(f"{x:.2f}" for x in walls(kind, n, "plain"))
            lines.append(f"| {kind} | {n} | default | {c} | {p} |")
    for kind, n in cli_cases:
        c = ", ".join(f"{x:.2f}" for x in walls(kind, n, "constructs-cli"))
        p = ", ".join(f"{x:.2f}" for x in walls(kind, n, "plain-cli"))
        lines.append(f"| {kind} | {n} | cdk synth-like | {c} | {p} |")
    lines += ["", "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    return "\n".join(lines) + "\n"


def run_counts(results: dict[tuple[str, int, str], list[dict[str, Any]]]) -> str:
    """``2``, or ``1-2`` when merged cases had different numbers of runs."""
    counts = sorted({len(runs) for runs in results.values()})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def _slope(results: dict[tuple[str, int, str], list[dict[str, Any]]], kind: str, a: int, b: int, variant: str) -> float:
    """Marginal seconds per unit between sizes a and b (medians)."""
    wall_a = med([r["wall"] for r in results[(kind, a, variant)]])
    wall_b = med([r["wall"] for r in results[(kind, b, variant)]])
    return (wall_b - wall_a) / (b - a)


def notes(
    results: dict[tuple[str, int, str], list[dict[str, Any]]],
    notebook_sizes: list[int],
    user_sizes: list[int],
    literals: dict[str, Any],
) -> list[str]:
    out: list[str] = []
    if len(notebook_sizes) >= 2:
        a, b = notebook_sizes[-2], notebook_sizes[-1]
        c, p = _slope(results, "notebook", a, b, "constructs"), _slope(results, "notebook", a, b, "plain")
        bundling = (
            med([r["bundling"] for r in results[("notebook", b, "constructs")]])
            - med([r["bundling"] for r in results[("notebook", a, "constructs")]])
        ) / (b - a)
        out.append(
            f"- Marginal cost per notebook ({a} to {b}): constructs {c * 1000:.0f} ms (of which bundling "
            f"{bundling * 1000:.0f} ms), plain {p * 1000:.0f} ms, i.e. {c / p:.1f}x; without the bundler "
            f"{(c - bundling) / p:.1f}x. Identical hooks are bundled once per process (memoised by content) and "
            "share one NotebookLifecycleConfig, so what is left per notebook is the L2 layer (KMS key, role and "
            "grants, cdk-nag acknowledgments: jsii round trips), not bundling. On this loaded machine (see the "
            "load average) single runs vary by up to 2x."
        )
        xz = literals.get("xz")
        if xz:
            out.append(
                f"- xz at preset 9e with its default 64 MiB dictionary takes "
                f"{xz['preset']['seconds'] * 1000:.0f} ms for this {xz['tar_bytes']:,}-byte tar "
                f"({xz['preset']['bytes']:,} bytes out); with the 1 MiB dictionary the bundler uses (since this "
                f"measurement) it takes {xz['small_dict']['seconds'] * 1000:.0f} ms ({xz['small_dict']['bytes']:,} "
                "bytes out): setting up a 64 MiB dictionary, not compressing, was most of the time, and an instance "
                "needs only 1 MiB to unpack."
            )
    if len(user_sizes) >= 2:
        a, b = user_sizes[-2], user_sizes[-1]
        c, p = _slope(results, "studio", a, b, "constructs"), _slope(results, "studio", a, b, "plain")
        out.append(
            f"- Marginal cost per Studio user ({a} to {b}): constructs {c * 1000:.1f} ms, plain {p * 1000:.1f} ms "
            f"({c / p:.2f}x). Since the shard stacks create each profile's L1 directly (`add_user_profile`, under "
            "the wrapper's former logical ID) and no construct reads an ARN it does not need, a profile costs one jsii "
            "round trip in both variants (before: three in the constructs: the wrapper construct, its L1, and an "
            "eager `attr_user_profile_arn` read)."
        )
    out += limit_notes(results, notebook_sizes, user_sizes, literals)
    return out


def limit_notes(
    results: dict[tuple[str, int, str], list[dict[str, Any]]],
    notebook_sizes: list[int],
    user_sizes: list[int],
    literals: dict[str, Any],
) -> list[str]:
    out: list[str] = []
    if len(notebook_sizes) >= 2:
        a, b = sorted(notebook_sizes)[:2]
        ra, rb = results[("notebook", a, "constructs")][0], results[("notebook", b, "constructs")][0]
        per_r = (rb["resources"] - ra["resources"]) / (b - a)
        fixed_r = ra["resources"] - a * per_r
        per_b = (rb["max_bytes"] - ra["max_bytes"]) / (b - a)
        fixed_b = ra["max_bytes"] - a * per_b
        per_c = (rb["max_compact_bytes"] - ra["max_compact_bytes"]) / (b - a)
        fixed_c = ra["max_compact_bytes"] - a * per_c
        fit_r = int((CFN_RESOURCE_LIMIT - fixed_r) // per_r)
        fit_b = int((TEMPLATE_LIMIT_BYTES - fixed_b) // per_b)
        fit_c = int((TEMPLATE_LIMIT_BYTES - fixed_c) // per_c)
        over = [
            n
            for n in notebook_sizes
            if results[("notebook", n, "constructs")][0]["max_resources"] > CFN_RESOURCE_LIMIT
            or results[("notebook", n, "constructs")][0]["max_bytes"] > TEMPLATE_LIMIT_BYTES
        ]
        out.append(
            f"- **NotebookStack puts every notebook in one stack**: {fixed_r:.0f} network resources + {per_r:.0f} per "
            f"notebook, and a template of {fixed_b / 1000:.1f} kB + {per_b / 1000:.1f} kB per notebook (the "
            f"{literals['on_start_length'] / 1000:.1f} kB lifecycle Content and its LifecycleBundle metadata are in "
            "the fixed part: notebooks with identical hooks share one lifecycle config). So at most "
            f"{fit_r} notebooks fit CloudFormation's {CFN_RESOURCE_LIMIT} resources, but only {fit_b} fit the "
            f"{TEMPLATE_LIMIT_BYTES:,} bytes that aws-cdk-lib warns about ({fit_c} with `suppressTemplateIndentation`)."
            + (
                f" The {', '.join(map(str, over))}-notebook case(s) synthesize only because the benchmark disables "
                "CDK's resource check (`cdk synth` of the real app would stop with TooManyResourcesInStack, and "
                "aws-cdk-lib also warns `Template size exceeds limit`); such templates cannot be deployed. "
                "The app refuses a stack above 500 resources at synth (`check_stack_resources`); fleets shard "
                "notebooks over stacks instead."
                if over
                else ""
            )
        )
    if len(user_sizes) >= 2:
        a, b = user_sizes[-2], user_sizes[-1]
        rss_a = med([r["node_rss_mib"] for r in results[("studio", a, "constructs")]])
        rss_b = med([r["node_rss_mib"] for r in results[("studio", b, "constructs")]])
        per_user = (rss_b - rss_a) / (b - a)
        full = int(b + (JSII_NODE_HEAP_MIB - rss_b) / per_user) if per_user > 0 else None
        out.append(
            f"- **What stops the Studio curve.** At {b:,} users the jsii kernel's Node peaked at {rss_b:.0f} MiB "
            f"({per_user * 1024:.0f} KiB more per user from {a:,}); jsii starts it with "
            f"`--max-old-space-size={JSII_NODE_HEAP_MIB}`, so "
            + (
                f"at that growth its resident memory would reach the limit near {full:,} users (a rough guide: the "
                "limit is on V8's heap, which is part of the resident memory). "
                if full
                else "memory does not bound it here. "
            )
            + f"Before that, the app stops at {MAX_USERS_PER_DOMAIN:,} users per domain ({MAX_USER_SHARDS} userShards "
            f"of at most {MAX_USERS_PER_SHARD}: CloudFormation's 500 resources per stack), checked when the "
            "configuration is parsed, and before that at the account's Service Quotas value of \"Maximum number of "
            'Studio user profiles allowed per account" (`studioEnvironment.userProfileQuota`, when a team gives it). '
            "Synth time grows linearly (see the marginal cost), so 40,000 users take about twice the 20,000 time."
        )
    for n in user_sizes:
        r = results[("studio", n, "constructs")][0]
        shards = shards_for(n)
        if r["max_resources"] > CFN_RESOURCE_LIMIT or r["max_bytes"] > TEMPLATE_LIMIT_BYTES:
            out.append(f"- **Studio, {n} users: a template is above CloudFormation's limits.**")
        if shards > 1 and r["largest"]["stack"] != STUDIO_STACK:
            out.append(
                f"- Studio, {n} users in {shards} shards: the largest shard holds {r['largest']['resources']} users, "
                f"{r['largest']['resources'] / (n / shards):.2f}x the mean of {n / shards:.0f} (hash sharding; "
                f"StudioUsersStack refuses more than 400), template {r['largest']['bytes']:,} bytes."
            )
    return out


if __name__ == "__main__":
    main()
