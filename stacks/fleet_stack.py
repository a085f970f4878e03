"""Notebook fleets in shard stacks (``SageMakerNotebookFleet<Name>NN``), placed by a stable hash of the owner.

An owner's shard is a jump consistent hash (Lamping and Veach, 2014) of the lower-cased owner over the fleet's
``shards``: it depends on nothing but the owner and ``shards``, so adding, removing or reordering owners never
moves anybody else's notebook, and a notebook's construct ID (hence logical ID) comes from its owner alone.
Raising ``shards`` from n to n+1 moves only the owners that land in the new shard (about 1/(n+1)); a moved
notebook is deleted and created again (its volume is lost), so give a fleet room to grow from the start.

Each shard stack holds its own lifecycle configs (one per distinct pair of hooks, usually one per stack, named
by a content hash) and one security group (in an existing network with ``securityGroupIds`` the notebooks take
those instead, as single notebooks do); the notebooks reference the config by name inside the stack, so no
lifecycle config is exported across stacks. Only the network (VPC and subnet IDs) comes from the
``SageMakerNotebooks`` stack. Instances are spread over the network's subnets (one per availability zone) by
another stable hash of the owner, unless ``subnetIndex`` pins them. Each notebook is built by the same function
as a single notebook (``stacks.notebook_stack.add_notebook_instance``): role or ``roleArn``, key or
``kmsKeyArn``, data permissions, tags, instance options.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnResource, Tags
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from constructs_lib import NotebookInstance, NotebookLifecycleConfig
from constructs_lib.notebook_lifecycle_config import hooks_content_hash
from constructs_lib.private_network import PrivateNotebookNetwork
from stacks.base import LookupFreeStack
from stacks.config import MAX_STACK_RESOURCES, NotebookSpec, check_stack_resources
from stacks.fleet_config import MAX_SHARDS, FleetNotebook, FleetSpec
from stacks.notebook_stack import REMOVAL_POLICIES, ExistingNetwork, add_notebook_instance, existing_security_groups
from stacks.tags_config import RESOURCE_PRIORITY, apply_tags

RESOURCES_PER_NOTEBOOK = 4
"""Instance, role, its policy and KMS key (fewer with ``roleArn`` or ``kmsKeyArn``, more with code repositories:
the shard count a full shard suggests uses the measured number when higher); a shard adds one security group
(unless the existing network gives its own) and its lifecycle configs."""


def _key(owner: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}{owner.lower()}".encode()).digest()[:8], "big")


def shard_of(owner: str, shards: int) -> int:
    """Jump consistent hash of the owner: stable for a given ``shards``, independent of the other owners."""
    key, bucket, jump = _key(owner, ""), -1, 0
    while jump < shards:
        bucket = jump
        key = (key * 2862933555777941757 + 1) % 2**64
        jump = int((bucket + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return bucket


def subnet_index(owner: str, subnets: int) -> int:
    """The owner's subnet among ``subnets`` (one per availability zone): stable, spread evenly."""
    return _key(owner, "subnet:") % subnets


def shards_needed(fleet: FleetSpec, per_stack: int) -> int | None:
    """The smallest shard count whose fullest shard holds at most ``per_stack`` notebooks (``None``: over 100)."""
    for shards in range(1, MAX_SHARDS + 1):
        sizes: dict[int, int] = {}
        for notebook in fleet.notebooks:
            index = shard_of(notebook.owner, shards)
            sizes[index] = sizes.get(index, 0) + 1
        if max(sizes.values(), default=0) <= per_stack:
            return shards
    return None


class NotebookFleetStack(LookupFreeStack):
    """One shard of a fleet. ``self.notebooks`` (by owner), ``self.lifecycle_configs`` (by content hash)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        fleet: FleetSpec,
        notebooks: Sequence[FleetNotebook],
        network: PrivateNotebookNetwork | ExistingNetwork | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        apply_tags(self, fleet.tags)
        self.lifecycle_configs: dict[str, NotebookLifecycleConfig] = {}
        self.notebooks: dict[str, NotebookInstance] = {}
        # As a single notebook: an existing network's configured security groups; else one group per shard.
        security_groups = existing_security_groups(network) or []
        own_group = network is not None and not security_groups
        subnets: list[ec2.ISubnet] = []
        if network is not None:
            if own_group:
                security_groups.append(
                    ec2.SecurityGroup(
                        self,
                        "SecurityGroup",
                        vpc=network.vpc,
                        description=f"Notebook fleet {fleet.name}: no inbound rules, its notebooks cannot reach "
                        "each other",
                        allow_all_outbound=True,
                    )
                )
            subnets = (
                network.subnets.subnets or network.vpc.select_subnets(subnet_type=network.subnets.subnet_type).subnets
            )
        for entry in notebooks:
            spec = entry.notebook
            lifecycle = self._lifecycle_config(spec) if spec.on_start or spec.on_create else None
            vpc_subnets = None
            if subnets:
                index = spec.subnet_index if spec.subnet_index is not None else subnet_index(entry.owner, len(subnets))
                vpc_subnets = ec2.SubnetSelection(subnets=[subnets[index]])
            notebook = add_notebook_instance(
                self,
                spec,
                lifecycle_config=lifecycle,
                network=network,
                vpc_subnets=vpc_subnets,
                security_groups=security_groups or None,
                removal_policy=REMOVAL_POLICIES[fleet.removal_policy],
            )
            for key, value in (("Fleet", fleet.name), ("Owner", entry.owner)):
                Tags.of(notebook).add(key, value, priority=RESOURCE_PRIORITY)
            self.notebooks[entry.owner] = notebook
        fixed = len(self.lifecycle_configs) + int(own_group)
        count = sum(1 for c in self.node.find_all() if isinstance(c, CfnResource))
        per_notebook = max(RESOURCES_PER_NOTEBOOK, -(-(count - fixed) // max(len(notebooks), 1)))
        needed = shards_needed(fleet, (MAX_STACK_RESOURCES - fixed) // per_notebook)
        check_stack_resources(
            self,
            f"fleet {fleet.name!r} has {len(fleet.notebooks)} owners in {fleet.shards} shard(s) and this shard got "
            f"{len(notebooks)} ({per_notebook} resources each); "
            + (
                f"set its shards to {needed} or more (changing shards moves some owners to other stacks, which "
                "replaces their notebooks)."
                if needed is not None
                else "split the owners over several fleets."
            ),
        )

    def _lifecycle_config(self, spec: NotebookSpec) -> NotebookLifecycleConfig:
        """The shard's config for these hooks, shared by every notebook with the same; named by content hash."""
        digest = hooks_content_hash(
            on_start=spec.on_start, on_create=spec.on_create, archive_location=spec.archive_location
        )
        if digest not in self.lifecycle_configs:
            self.lifecycle_configs[digest] = NotebookLifecycleConfig(
                self,
                f"LifecycleConfig{digest}",
                on_start=spec.on_start,
                on_create=spec.on_create,
                archive_location=spec.archive_location,
            )
        return self.lifecycle_configs[digest]


def add_fleets(
    scope: Construct,
    fleets: Sequence[FleetSpec],
    network: PrivateNotebookNetwork | ExistingNetwork | None,
    **kwargs: Any,
) -> dict[str, NotebookFleetStack]:
    """One stack per non-empty shard of each fleet, by stack id."""
    stacks: dict[str, NotebookFleetStack] = {}
    for fleet in fleets:
        shards: dict[int, list[FleetNotebook]] = {}
        for notebook in fleet.notebooks:
            shards.setdefault(shard_of(notebook.owner, fleet.shards), []).append(notebook)
        for index in sorted(shards):
            stack_id = f"{fleet.stack_prefix}{index:02d}"
            stacks[stack_id] = NotebookFleetStack(
                scope,
                stack_id,
                fleet=fleet,
                notebooks=shards[index],
                network=network,
                description=f"SageMaker notebook fleet {fleet.name}, shard {index} of {fleet.shards}",
                **kwargs,
            )
    return stacks
