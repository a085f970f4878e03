"""``TeamFileSystem``: one EFS file system shared by a team's Studio spaces (a custom file system).

Studio mounts only the home directory per user; a custom file system is mounted into every space that
lists it, so the team shares data and conda environments built once. Every space reaches it as the
domain's ``CustomPosixUserConfig`` identity, over NFS (TCP 2049) from the domain's security groups.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_lib._props import check_type
from constructs_lib.studio_settings import EfsMount, PosixUser

NFS_PORT = 2049


class TeamFileSystemBase(Construct):
    """What a new and an imported team file system share. Attributes: ``file_system`` (``efs.IFileSystem``),
    ``file_system_id``, ``connections``, ``path``, ``posix_user``."""

    file_system: efs.IFileSystem
    path: str
    posix_user: PosixUser

    @property
    def file_system_id(self) -> str:
        return self.file_system.file_system_id

    @property
    def connections(self) -> ec2.Connections:
        return self.file_system.connections

    def mount(self) -> EfsMount:
        """The custom file system entry for domain, user and space settings."""
        return EfsMount(file_system_id=self.file_system_id, path=self.path)

    def allow_nfs_from(self, *peers: ec2.IConnectable) -> None:
        """NFS from each peer (a domain's security groups) to the file system's mount targets."""
        for peer in peers:
            self.connections.allow_default_port_from(peer, "NFS from Studio spaces")

    def grant_read_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """``ClientMount`` and ``ClientWrite`` for clients that mount with IAM authorization."""
        return self.file_system.grant_read_write(grantee)


class TeamFileSystem(TeamFileSystemBase):
    """A new encrypted EFS file system (KMS, automatic backups, retained on delete by default) in ``vpc``.

    Import an existing one with ``TeamFileSystem.from_file_system_id``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection | None = None,
        kms_key: kms.IKey | None = None,
        path: str = "/",
        posix_user: PosixUser | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        check_type("TeamFileSystem", "path", path, str, "such as '/team'")
        check_type("TeamFileSystem", "posix_user", posix_user, PosixUser, optional=True)
        check_type("TeamFileSystem", "removal_policy", removal_policy, RemovalPolicy, "such as RemovalPolicy.RETAIN")
        EfsMount(file_system_id="fs-00000000", path=path)  # validates path
        self.path = path
        self.posix_user = posix_user or PosixUser()
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Team file system (NFS from Studio spaces)",
            allow_all_outbound=False,
        )
        self.file_system = efs.FileSystem(
            self,
            "FileSystem",
            vpc=vpc,
            vpc_subnets=vpc_subnets or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            encrypted=True,
            kms_key=kms_key,
            security_group=self.security_group,
            enable_automatic_backups=True,
            removal_policy=removal_policy,
        )

    @classmethod
    def from_file_system_id(
        cls,
        scope: Construct,
        id: str,
        *,
        file_system_id: str,
        security_group: ec2.ISecurityGroup,
        path: str = "/",
        posix_user: PosixUser | None = None,
    ) -> TeamFileSystemBase:
        """An existing EFS file system, reached through ``security_group`` (its mount targets' group)."""
        EfsMount(file_system_id=file_system_id, path=path)
        return _ImportedTeamFileSystem(
            scope, id, file_system_id=file_system_id, security_group=security_group, path=path, posix_user=posix_user
        )


class _ImportedTeamFileSystem(TeamFileSystemBase):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        file_system_id: str,
        security_group: ec2.ISecurityGroup,
        path: str,
        posix_user: PosixUser | None,
    ) -> None:
        super().__init__(scope, id)
        self.path = path
        self.posix_user = posix_user or PosixUser()
        self.file_system = efs.FileSystem.from_file_system_attributes(
            self, "FileSystem", file_system_id=file_system_id, security_group=security_group
        )
