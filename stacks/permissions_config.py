"""Data permissions from configuration (shared by notebooks and Studio's execution role).

```json
"permissions": {
  "managedPolicies": ["arn:aws:iam::aws:policy/AmazonSageMakerReadOnly"],
  "s3": [{"bucket": "team-data", "prefix": "raw/", "access": "read"},
         {"bucket": "team-scratch", "access": "read-write"}],
  "kmsKeys": ["arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
}
```

Least privilege: S3 read is ``s3:GetObject`` on ``bucket/prefix*`` and ``s3:ListBucket`` on the bucket
with an ``s3:prefix`` condition; read-write adds ``s3:PutObject`` and ``s3:DeleteObject``; a KMS key gives
``kms:Decrypt`` and ``kms:GenerateDataKey`` on exactly that key. ``grant_permissions`` adds them to a role
created by the stack; an imported role is refused by the callers (they name the key).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from aws_cdk import Acknowledgment, Aws, Validations
from aws_cdk import aws_iam as iam

from constructs_lib.nag import acknowledge_wildcard
from stacks.config_values import ConfigError, expect, expect_object, json_text, string_list

MANAGED_POLICY_ARN = re.compile(
    r"arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::(aws|[0-9]{12}):policy/([\w+=,.@-]+/)*[\w+=,.@-]{1,128}"
)
KMS_KEY_ARN = re.compile(
    r"arn:aws(-cn|-us-gov|-iso|-iso-b)?:kms:[a-z]{2}(-gov|-iso|-isob)?-[a-z]+-[0-9]:[0-9]{12}:"
    r"key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"
)
BUCKET = re.compile(r"(?=.{3,63}\Z)(?!.*\.\.)(?!xn--)(?!.*-s3alias\Z)[a-z0-9][a-z0-9.-]*[a-z0-9]")
PREFIX = re.compile(r"(?!/)[A-Za-z0-9!_.'()/-]{1,1024}")
"""S3's "safe" key characters: no IAM wildcard (``*``, ``?``) and no policy variable (``${...}``)."""
MAX_MANAGED_POLICIES = 10
"""IAM's default quota of managed policies attached to one role."""
MAX_ENTRIES = 50


class S3Access(Enum):
    READ = "read"
    READ_WRITE = "read-write"


@dataclass(frozen=True, kw_only=True)
class S3Grant:
    bucket: str
    prefix: str = ""
    access: S3Access = S3Access.READ


@dataclass(frozen=True, kw_only=True)
class DataPermissions:
    managed_policy_arns: tuple[str, ...] = ()
    s3: tuple[S3Grant, ...] = ()
    kms_key_arns: tuple[str, ...] = ()
    path: str = field(default="permissions", compare=False)
    """The configuration key these came from, for messages."""

    def __bool__(self) -> bool:
        return bool(self.managed_policy_arns or self.s3 or self.kms_key_arns)


def parse_s3_grant(raw: object, path: str) -> S3Grant:
    data = expect_object(raw, path, {"bucket", "prefix", "access"}, {"bucket"})
    bucket = expect(data["bucket"], str, f"{path}.bucket", "a string")
    if not BUCKET.fullmatch(bucket):
        raise ConfigError(
            f"{path}.bucket: {json_text(bucket)} is not an S3 bucket name (3-63 lower-case letters, digits, '.' and "
            "'-'; a name, not an ARN or URL)."
        )
    prefix = expect(data.get("prefix", ""), str, f"{path}.prefix", "a string")
    if prefix and not PREFIX.fullmatch(prefix):
        raise ConfigError(
            f"{path}.prefix: {json_text(prefix)} is invalid: use up to 1024 letters, digits and !_.'()/- , not "
            'starting with "/" (no wildcards: the prefix is matched as given).'
        )
    accesses = {a.value: a for a in S3Access}
    access = data.get("access", S3Access.READ.value)
    if access not in accesses:
        raise ConfigError(f'{path}.access: {json_text(access)} is invalid; use "read" or "read-write".')
    return S3Grant(bucket=bucket, prefix=prefix, access=accesses[access])


def parse_permissions(raw: object, path: str) -> DataPermissions:
    """``permissions`` at ``path``: ``managedPolicies``, ``s3`` and ``kmsKeys``, all optional."""
    data = expect_object(raw, path, {"managedPolicies", "s3", "kmsKeys"})
    policies = string_list(
        data.get("managedPolicies", []),
        f"{path}.managedPolicies",
        MANAGED_POLICY_ARN,
        "an IAM managed policy ARN",
        MAX_ENTRIES,
    )
    if len(policies) > MAX_MANAGED_POLICIES:
        raise ConfigError(
            f"{path}.managedPolicies: {len(policies)} policies; IAM attaches at most {MAX_MANAGED_POLICIES} to a role."
        )
    kms_keys = string_list(
        data.get("kmsKeys", []),
        f"{path}.kmsKeys",
        KMS_KEY_ARN,
        "a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>; an alias does not scope IAM permissions)",
        MAX_ENTRIES,
    )
    s3_raw = expect(data.get("s3", []), list, f"{path}.s3", "a list")
    if len(s3_raw) > MAX_ENTRIES:
        raise ConfigError(f"{path}.s3: {len(s3_raw)} entries; give at most {MAX_ENTRIES}.")
    s3 = tuple(parse_s3_grant(item, f"{path}.s3[{i}]") for i, item in enumerate(s3_raw))
    for i, grant in enumerate(s3):
        if (grant.bucket, grant.prefix) in [(g.bucket, g.prefix) for g in s3[:i]]:
            raise ConfigError(f"{path}.s3[{i}]: bucket {json_text(grant.bucket)} and its prefix are listed twice.")
    return DataPermissions(managed_policy_arns=policies, s3=s3, kms_key_arns=kms_keys, path=path)


def _bucket_arn(bucket: str) -> str:
    return f"arn:{Aws.PARTITION}:s3:::{bucket}"


def s3_statements(grant: S3Grant) -> list[iam.PolicyStatement]:
    """List the bucket under the prefix only; read (and, for read-write, write) objects under it."""
    objects = ["s3:GetObject"] + (["s3:PutObject", "s3:DeleteObject"] if grant.access is S3Access.READ_WRITE else [])
    listing = iam.PolicyStatement(actions=["s3:ListBucket"], resources=[_bucket_arn(grant.bucket)])
    if grant.prefix:
        listing.add_condition("StringLike", {"s3:prefix": [grant.prefix, f"{grant.prefix}*"]})
    return [
        listing,
        iam.PolicyStatement(actions=objects, resources=[f"{_bucket_arn(grant.bucket)}/{grant.prefix}*"]),
    ]


def grant_permissions(role: iam.Role, permissions: DataPermissions) -> None:
    """Attach the managed policies to ``role`` and add least-privilege S3 and KMS statements to its policy.

    The ``bucket/prefix*`` object wildcards are acknowledged (cdk-nag AwsSolutions-IAM5) on the role's
    default policy, one finding per configured bucket and prefix.
    """
    for i, arn in enumerate(permissions.managed_policy_arns):
        role.add_managed_policy(iam.ManagedPolicy.from_managed_policy_arn(role, f"ManagedPolicy{i}", arn))
        if ":iam::aws:policy/" in arn:  # cdk-nag IAM4 flags AWS managed policies: this one was asked for
            Validations.of(role).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions::AwsSolutions-IAM4[Policy::{arn}]",
                    reason=f"Configured in {permissions.path}.managedPolicies: the team chose this AWS managed policy.",
                )
            )
    for grant in permissions.s3:
        for statement in s3_statements(grant):
            role.add_to_policy(statement)
    if permissions.kms_key_arns:
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=list(permissions.kms_key_arns)
            )
        )
    policy = role.node.try_find_child("DefaultPolicy")
    if policy is None:
        return
    for grant in permissions.s3:
        acknowledge_wildcard(
            policy,
            f"Resource::arn:<AWS::Partition>:s3:::{grant.bucket}/{grant.prefix}*",
            f"Configured data access ({permissions.path}): objects under s3://{grant.bucket}/{grant.prefix} only.",
        )


def permission_lines(permissions: DataPermissions) -> Sequence[str]:
    """What the permissions grant, one line each (for a warning about a role that cannot take them)."""
    lines = [f"managed policy {arn}" for arn in permissions.managed_policy_arns]
    lines += [f"s3 {g.access.value} s3://{g.bucket}/{g.prefix}" for g in permissions.s3]
    lines += [f"kms Decrypt/GenerateDataKey {arn}" for arn in permissions.kms_key_arns]
    return lines


__all__ = [
    "DataPermissions",
    "S3Access",
    "S3Grant",
    "grant_permissions",
    "parse_permissions",
    "parse_s3_grant",
    "permission_lines",
    "s3_statements",
]
