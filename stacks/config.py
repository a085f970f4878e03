"""The app's configuration: plain JSON (from cdk.json context or a file) validated into typed values.

Every error names the offending key by its path, for example
``notebookEnvironment.notebooks[0].onStart[2].idle``, says what is wrong and what is allowed.
Nothing here reads the environment: ``app.py`` passes the raw value in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_cdk import CfnResource, Stack

from constructs_lib import ArchiveLocation, Module, Target
from constructs_lib.catalogue import registered
from constructs_lib.instance_types import notebook_instance_type_problem
from constructs_lib.notebook_instance import IMDS_VERSIONS, IP_ADDRESS_TYPES, CodeRepository, platform_problem
from stacks.backstop_config import BackstopSpec, parse_backstop
from stacks.base import AZ_COUNT
from stacks.config_values import (
    ConfigError,
    expect,
    expect_object,
    json_advice,
    json_text,
    parse_duration,
    string_list,
)
from stacks.module_config import parse_modules
from stacks.permissions_config import KMS_KEY_ARN, DataPermissions, parse_permissions
from stacks.tags_config import merged_tags, parse_tags

if TYPE_CHECKING:
    from stacks.fleet_config import FleetSpec

CONTEXT_KEY = "notebookEnvironment"
MAX_STACK_RESOURCES = 500
"""CloudFormation's limit of resources per stack, checked at synth by ``check_stack_resources``."""

CATALOGUE: Mapping[str, Callable[..., Module]] = registered(Target.NOTEBOOK_INSTANCE)
"""Config name of a notebook module -> its factory (a live view; add with ``catalogue.register``)."""
STUDIO_CATALOGUE: Mapping[str, Callable[..., Module]] = registered(Target.STUDIO)
"""Config name of a Studio module -> its factory (a live view; add with ``catalogue.register``)."""

_ID = re.compile(r"[A-Z][A-Za-z0-9]{0,39}")
_NAME = re.compile(r"(?=.{1,63}\Z)[a-zA-Z0-9](-*[a-zA-Z0-9])*")
_ROLE_ARN = re.compile(r"arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::[0-9]{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}")
_VPC_ID = re.compile(r"vpc-([0-9a-f]{8}|[0-9a-f]{17})")
_SUBNET_ID = re.compile(r"subnet-([0-9a-f]{8}|[0-9a-f]{17})")
_SECURITY_GROUP_ID = re.compile(r"sg-([0-9a-f]{8}|[0-9a-f]{17})")
_AZ = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}[a-z](-[a-z]+-[0-9]{1,2}[a-z])?")
MAX_SUBNETS = 16
REMOVAL_POLICIES = ("retain", "destroy")

__all__ = ["CATALOGUE", "CONTEXT_KEY", "STUDIO_CATALOGUE", "ConfigError", "parse_config", "parse_duration"]


@dataclass(frozen=True, kw_only=True)
class NotebookSpec:
    id: str
    name: str | None = None
    instance_type: str = "ml.t3.medium"
    platform_identifier: str = "notebook-al2023-v1"
    volume_size_gib: int = 20
    root_access: bool = False
    archive_location: ArchiveLocation = ArchiveLocation.INLINE
    on_start: tuple[Module, ...] = ()
    on_create: tuple[Module, ...] = ()
    permissions: DataPermissions = field(default_factory=DataPermissions)
    kms_key_arn: str | None = None
    role_arn: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    """The notebook's own tags merged over the global ones."""
    minimum_imds_version: str = "2"
    ip_address_type: str | None = None
    code_repositories: tuple[CodeRepository, ...] = ()
    subnet_index: int | None = None
    """Pins the notebook to this subnet of the network (0-based) instead of the hash spread."""


@dataclass(frozen=True, kw_only=True)
class NetworkSpec:
    """An existing VPC, imported by ID (no lookups at synth)."""

    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...] = ()
    availability_zones: tuple[str, ...] = ()
    """One per subnet, when given."""


@dataclass(frozen=True, kw_only=True)
class NotebookEnvironmentConfig:
    private_network: bool = True
    notebooks: tuple[NotebookSpec, ...] = field(default_factory=tuple)
    idle_backstop: BackstopSpec | None = None
    network: NetworkSpec | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    removal_policy: str = "retain"
    fleets: tuple[FleetSpec, ...] = field(default_factory=tuple)


def check_stack_resources(stack: Stack, fix: str) -> int:
    """The number of resources in ``stack``; a ``ConfigError`` with ``fix`` when CloudFormation would refuse it."""
    count = sum(1 for c in stack.node.find_all() if isinstance(c, CfnResource))
    if count > MAX_STACK_RESOURCES:
        raise ConfigError(
            f"stack {stack.stack_name} would hold {count} resources; CloudFormation allows {MAX_STACK_RESOURCES} per "
            f"stack: {fix}"
        )
    return count


def parse_network(raw: object, path: str) -> NetworkSpec:
    """``network``: an existing VPC's ID, its subnets (notebooks spread over them) and security groups."""
    data = expect_object(
        raw, path, {"vpcId", "subnetIds", "securityGroupIds", "availabilityZones"}, {"vpcId", "subnetIds"}
    )
    vpc_id = expect(data["vpcId"], str, f"{path}.vpcId", "a string")
    if not _VPC_ID.fullmatch(vpc_id):
        raise ConfigError(f"{path}.vpcId: {json_text(vpc_id)} is not a VPC ID (vpc- and 8 or 17 hex digits).")
    subnets = string_list(
        data["subnetIds"], f"{path}.subnetIds", _SUBNET_ID, "a subnet ID (subnet- and 8 or 17 hex digits)", MAX_SUBNETS
    )
    if not subnets:
        raise ConfigError(f"{path}.subnetIds: give at least one subnet of the VPC.")
    groups = string_list(
        data.get("securityGroupIds", []),
        f"{path}.securityGroupIds",
        _SECURITY_GROUP_ID,
        "a security group ID (sg- and 8 or 17 hex digits)",
        5,
    )
    zones: tuple[str, ...] = ()
    if "availabilityZones" in data:
        zones_raw = expect(data["availabilityZones"], list, f"{path}.availabilityZones", "a list")
        for i, zone in enumerate(zones_raw):
            if not isinstance(zone, str) or not _AZ.fullmatch(zone):
                raise ConfigError(f"{path}.availabilityZones[{i}]: {json_text(zone)} is not an availability zone name.")
        if len(zones_raw) != len(subnets):
            raise ConfigError(
                f"{path}.availabilityZones: {len(zones_raw)} zones for {len(subnets)} subnets; "
                "give each subnet's zone, in the order of subnetIds."
            )
        zones = tuple(zones_raw)
    return NetworkSpec(vpc_id=vpc_id, subnet_ids=subnets, security_group_ids=groups, availability_zones=zones)


def parse_code_repositories(raw: object, path: str) -> tuple[CodeRepository, ...]:
    items = expect(raw, list, path, "a list")
    if len(items) > 4:
        raise ConfigError(f"{path}: {len(items)} repositories; a notebook takes one default and at most 3 additional.")
    repositories: list[CodeRepository] = []
    for i, item in enumerate(items):
        where = f"{path}[{i}]"
        data = expect_object(item, where, {"url", "branch", "secretArn"}, {"url"})
        repository = CodeRepository(
            url=expect(data["url"], str, f"{where}.url", "a string"),
            branch=expect(data["branch"], str, f"{where}.branch", "a string") if "branch" in data else None,
            secret_arn=expect(data["secretArn"], str, f"{where}.secretArn", "a string")
            if "secretArn" in data
            else None,
        )
        problem = repository.problem()
        if problem is not None:
            key, _, rest = problem.partition(" ")
            key = {"secret_arn": "secretArn"}.get(key, key)
            raise ConfigError(f"{where}.{key}: {json_advice(rest)}")
        if repository.url in [r.url for r in repositories]:
            raise ConfigError(f"{where}.url: {json_text(repository.url)} is listed twice.")
        repositories.append(repository)
    return tuple(repositories)


def _parse_access(data: Mapping[str, Any], path: str, global_tags: Mapping[str, str]) -> dict[str, Any]:
    """Role, key, permissions, tags and instance options of one notebook."""
    spec: dict[str, Any] = {}
    if "roleArn" in data:
        spec["role_arn"] = expect(data["roleArn"], str, f"{path}.roleArn", "a string")
        if not _ROLE_ARN.fullmatch(spec["role_arn"]):
            raise ConfigError(
                f"{path}.roleArn: {json_text(spec['role_arn'])} is not an IAM role ARN "
                "(arn:aws:iam::<account>:role/<name>)."
            )
    if "kmsKeyArn" in data:
        spec["kms_key_arn"] = expect(data["kmsKeyArn"], str, f"{path}.kmsKeyArn", "a string")
        if not KMS_KEY_ARN.fullmatch(spec["kms_key_arn"]):
            raise ConfigError(
                f"{path}.kmsKeyArn: {json_text(spec['kms_key_arn'])} is not a KMS key ARN "
                "(arn:aws:kms:<region>:<account>:key/<key id>)."
            )
    if "permissions" in data:
        spec["permissions"] = parse_permissions(data["permissions"], f"{path}.permissions")
        if spec["permissions"] and "role_arn" in spec:
            raise ConfigError(
                f"{path}.permissions: cannot be granted to the existing role given in roleArn (the stack does not "
                "change a role it does not own); attach them to that role where it is defined, or drop roleArn."
            )
    own = parse_tags(data["tags"], f"{path}.tags") if "tags" in data else {}
    spec["tags"] = merged_tags(global_tags, own, f"{path}.tags")
    if "minimumImdsVersion" in data:
        spec["minimum_imds_version"] = data["minimumImdsVersion"]
        if spec["minimum_imds_version"] not in IMDS_VERSIONS:
            raise ConfigError(
                f'{path}.minimumImdsVersion: {json_text(data["minimumImdsVersion"])} is invalid; use "2" (the default, '
                'IMDSv2 only) or "1".'
            )
    if "ipAddressType" in data:
        spec["ip_address_type"] = data["ipAddressType"]
        if spec["ip_address_type"] not in IP_ADDRESS_TYPES:
            raise ConfigError(
                f'{path}.ipAddressType: {json_text(data["ipAddressType"])} is invalid; use "ipv4" or "dualstack".'
            )
        if spec["ip_address_type"] == "dualstack":
            raise ConfigError(
                f'{path}.ipAddressType: "dualstack" cannot be deployed yet: CloudFormation\'s '
                'AWS::SageMaker::NotebookInstance has no IpAddressType property (SageMaker\'s API has); use "ipv4".'
            )
    if "codeRepositories" in data:
        spec["code_repositories"] = parse_code_repositories(data["codeRepositories"], f"{path}.codeRepositories")
    if "subnetIndex" in data:
        spec["subnet_index"] = expect(data["subnetIndex"], int, f"{path}.subnetIndex", "a whole number")
    return spec


NOTEBOOK_KEYS = frozenset(
    {
        "permissions",
        "kmsKeyArn",
        "roleArn",
        "tags",
        "minimumImdsVersion",
        "ipAddressType",
        "codeRepositories",
        "subnetIndex",
        "id",
        "name",
        "instanceType",
        "platformIdentifier",
        "volumeSizeGiB",
        "rootAccess",
        "archiveLocation",
        "onStart",
        "onCreate",
    }
)
"""The keys of a notebook in ``notebookEnvironment.notebooks`` (a fleet's template takes all but id and name)."""


def parse_notebook(
    raw: object, path: str, base_dir: Path | None = None, global_tags: Mapping[str, str] | None = None
) -> NotebookSpec:
    data = expect_object(raw, path, set(NOTEBOOK_KEYS), {"id"})
    notebook_id = expect(data["id"], str, f"{path}.id", "a string")
    if not _ID.fullmatch(notebook_id):
        raise ConfigError(f"{path}.id: {notebook_id!r} is invalid: use PascalCase letters and digits (construct ID).")
    spec: dict[str, Any] = {"id": notebook_id}
    if "name" in data:
        spec["name"] = expect(data["name"], str, f"{path}.name", "a string")
        if not _NAME.fullmatch(spec["name"]):
            raise ConfigError(
                f"{path}.name: {json_text(spec['name'])} is invalid: use 1-63 letters, digits and '-', starting and "
                "ending with a letter or digit."
            )
    platform = data.get("platformIdentifier", NotebookSpec.platform_identifier)
    problem = platform_problem(platform)
    if problem is not None:
        raise ConfigError(f"{path}.platformIdentifier: {problem}")
    spec["platform_identifier"] = platform
    instance_type = data.get("instanceType", NotebookSpec.instance_type)
    problem = notebook_instance_type_problem(instance_type, platform)
    if problem is not None:
        raise ConfigError(f"{path}.instanceType: {problem}")
    spec["instance_type"] = instance_type
    if "volumeSizeGiB" in data:
        spec["volume_size_gib"] = expect(data["volumeSizeGiB"], int, f"{path}.volumeSizeGiB", "a whole number")
        if not 5 <= spec["volume_size_gib"] <= 16384:
            raise ConfigError(f"{path}.volumeSizeGiB: {spec['volume_size_gib']} is out of range; give 5 to 16384.")
    if "rootAccess" in data:
        spec["root_access"] = expect(data["rootAccess"], bool, f"{path}.rootAccess", "true or false")
    if "archiveLocation" in data:
        locations = {location.value: location for location in ArchiveLocation}
        if data["archiveLocation"] not in locations:
            raise ConfigError(
                f"{path}.archiveLocation: {json_text(data['archiveLocation'])} is invalid; use one of "
                f"{', '.join(map(json_text, locations))}."
            )
        spec["archive_location"] = locations[data["archiveLocation"]]
    notebook = Target.NOTEBOOK_INSTANCE
    spec["on_start"] = parse_modules(data.get("onStart", []), f"{path}.onStart", notebook, base_dir)
    spec["on_create"] = parse_modules(data.get("onCreate", []), f"{path}.onCreate", notebook, base_dir)
    spec.update(_parse_access(data, path, global_tags or {}))
    return NotebookSpec(**spec)


def parse_config(raw: object, path: str = CONTEXT_KEY, *, base_dir: Path | None = None) -> NotebookEnvironmentConfig:
    """The notebook environment; script paths of module entries are relative to ``base_dir``."""
    from stacks.fleet_config import parse_fleets

    keys = {"privateNetwork", "notebooks", "fleets", "network", "tags", "removalPolicy", "idleBackstop"}
    data = expect_object(raw, path, keys, set())
    if "notebooks" not in data and "fleets" not in data:
        raise ConfigError(f"{path}: give notebooks, fleets or both.")
    network = parse_network(data["network"], f"{path}.network") if "network" in data else None
    private = expect(data.get("privateNetwork", network is None), bool, f"{path}.privateNetwork", "true or false")
    if network is not None and private:
        raise ConfigError(
            f"{path}.privateNetwork: true creates a new network, and network names an existing one; give one of them."
        )
    tags = parse_tags(data["tags"], f"{path}.tags") if "tags" in data else {}
    removal = data.get("removalPolicy", "retain")
    if removal not in REMOVAL_POLICIES:
        raise ConfigError(
            f'{path}.removalPolicy: {json_text(removal)} is invalid; use "retain" (the default: KMS keys and flow logs '
            'outlive the stack) or "destroy".'
        )
    notebooks_raw = expect(data.get("notebooks", []), list, f"{path}.notebooks", "a list")
    notebooks = tuple(
        parse_notebook(item, f"{path}.notebooks[{i}]", base_dir, tags) for i, item in enumerate(notebooks_raw)
    )
    subnet_count = len(network.subnet_ids) if network is not None else AZ_COUNT if private else 0
    for i, notebook in enumerate(notebooks):
        if notebook.subnet_index is not None and not 0 <= notebook.subnet_index < subnet_count:
            raise ConfigError(
                f"{path}.notebooks[{i}].subnetIndex: {notebook.subnet_index} is out of range; the network has "
                f"{subnet_count} subnet(s), numbered from 0."
            )
    ids = [n.id for n in notebooks]
    names = [n.name.lower() if n.name else None for n in notebooks]
    for i, notebook in enumerate(notebooks):
        if notebook.id in ids[:i]:
            raise ConfigError(f"{path}.notebooks[{i}].id: {notebook.id!r} is used twice; ids must be unique.")
        if names[i] is not None and names[i] in names[:i]:
            first = names.index(names[i])
            raise ConfigError(
                f"{path}.notebooks[{i}].name: {json_text(notebook.name)} is already the name of notebooks[{first}]; "
                "notebook instance names are unique in an account and region (and compared without case)."
            )
    taken = {name: f"{path}.notebooks[{i}]" for i, name in enumerate(names) if name is not None}
    fleets = parse_fleets(
        data.get("fleets", []),
        f"{path}.fleets",
        base_dir,
        taken,
        global_tags=tags,
        subnet_count=subnet_count,
        removal_policy=removal,
    )
    backstop = parse_backstop(data["idleBackstop"], f"{path}.idleBackstop") if "idleBackstop" in data else None
    return NotebookEnvironmentConfig(
        private_network=private,
        notebooks=notebooks,
        fleets=fleets,
        network=network,
        tags=tags,
        removal_policy=removal,
        idle_backstop=backstop,
    )
