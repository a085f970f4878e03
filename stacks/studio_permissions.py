"""Permissions and tags from configuration, validated into typed values, and the grants they make.

```json
"permissions": {"managedPolicies": ["arn:aws:iam::aws:policy/AmazonSageMakerCanvasFullAccess"],
                "s3": [{"bucket": "team-data", "prefix": "projects/", "access": "read-write"}],
                "kmsKeys": ["arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"]},
"tags": {"CostCenter": "1234", "Team": "analytics"}
```

S3 grants name exact actions (no ``s3:*`` or ``s3:Get*``) on the bucket's prefix only; listing is limited to the
prefix by an ``s3:prefix`` condition. A KMS key grant is ``kms:Decrypt``, ``kms:GenerateDataKey`` and
``kms:DescribeKey`` (what reading and writing SSE-KMS objects needs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib.nag import acknowledge_wildcard
from stacks.config_values import ConfigError, expect, expect_object, json_text

MANAGED_POLICY_ARN = re.compile(r"arn:aws(-[a-z]+)*:iam::(aws|[0-9]{12}):policy/[A-Za-z0-9+=,.@_/-]{1,512}")
KMS_KEY_ARN = re.compile(
    r"arn:aws(-[a-z]+)*:kms:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:key/"
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"
)
_BUCKET = re.compile(r"(?=.{3,63}\Z)[a-z0-9][a-z0-9.-]*[a-z0-9]")
_PREFIX = re.compile(r"[A-Za-z0-9!_.'()/=+@,;: -]{0,1024}")
_TAG_KEY = re.compile(r"(?!aws:)[\w .:/=+@-]{1,128}")
_TAG_VALUE = re.compile(r"[\w .:/=+@-]{0,256}")
MAX_TAGS = 50
S3_READ = ("s3:GetObject", "s3:GetObjectVersion")
S3_WRITE = ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
KMS_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")


@dataclass(frozen=True, kw_only=True)
class S3Grant:
    bucket: str
    prefix: str = ""
    access: str = "read"


@dataclass(frozen=True, kw_only=True)
class Permissions:
    managed_policies: tuple[str, ...] = ()
    s3: tuple[S3Grant, ...] = ()
    kms_keys: tuple[str, ...] = ()


def _arns(raw: object, path: str, pattern: re.Pattern[str], example: str) -> tuple[str, ...]:
    items = expect(raw, list, path, "a list of ARNs")
    for i, item in enumerate(items):
        if not isinstance(item, str) or not pattern.fullmatch(item):
            raise ConfigError(f"{path}[{i}]: {json_text(item)} is invalid: give an ARN such as {example!r}.")
    if len(set(items)) != len(items):
        raise ConfigError(f"{path}: lists an ARN twice.")
    return tuple(items)


def parse_permissions(raw: object, path: str) -> Permissions:
    data = expect_object(raw, path, {"managedPolicies", "s3", "kmsKeys"})
    grants: list[S3Grant] = []
    for i, item in enumerate(expect(data.get("s3", []), list, f"{path}.s3", "a list")):
        where = f"{path}.s3[{i}]"
        spec = expect_object(item, where, {"bucket", "prefix", "access"}, {"bucket", "access"})
        bucket, prefix, access = spec["bucket"], spec.get("prefix", ""), spec["access"]
        if not isinstance(bucket, str) or not _BUCKET.fullmatch(bucket) or ".." in bucket:
            raise ConfigError(f"{where}.bucket: {json_text(bucket)} is not an S3 bucket name.")
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix) or prefix.startswith("/"):
            raise ConfigError(
                f'{where}.prefix: {json_text(prefix)} is invalid: give a key prefix such as "projects/" '
                "(no leading '/', no wildcards or control characters)."
            )
        if access not in ("read", "read-write"):
            raise ConfigError(f'{where}.access: {json_text(access)} is invalid; use "read" or "read-write".')
        grants.append(S3Grant(bucket=bucket, prefix=prefix, access=access))
    return Permissions(
        managed_policies=_arns(
            data.get("managedPolicies", []),
            f"{path}.managedPolicies",
            MANAGED_POLICY_ARN,
            "arn:aws:iam::aws:policy/AmazonSageMakerCanvasFullAccess",
        ),
        s3=tuple(grants),
        kms_keys=_arns(
            data.get("kmsKeys", []),
            f"{path}.kmsKeys",
            KMS_KEY_ARN,
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
    )


def parse_tags(raw: object, path: str) -> dict[str, str]:
    data = expect_object(raw, path, set(raw) if isinstance(raw, Mapping) else set())
    if len(data) > MAX_TAGS:
        raise ConfigError(f"{path}: {len(data)} tags are over AWS's {MAX_TAGS} per resource.")
    for key, value in data.items():
        if not _TAG_KEY.fullmatch(key):
            raise ConfigError(
                f"{path}: tag key {json_text(key)} is invalid: use 1-128 letters, digits, spaces and _.:/=+@- "
                "(not starting with 'aws:')."
            )
        if not isinstance(value, str) or not _TAG_VALUE.fullmatch(value):
            raise ConfigError(
                f"{path}.{key}: {json_text(value)} is invalid: use 0-256 letters, digits, spaces and _.:/=+@-."
            )
    return dict(data)


def grant_permissions(scope: Construct, role: iam.IRole, permissions: Permissions, what: str) -> None:
    """Attach the managed policies (imported under ``scope``) and add the S3 and KMS statements to ``role``'s
    policy."""
    stack = Stack.of(role)
    for i, arn in enumerate(permissions.managed_policies):
        role.add_managed_policy(iam.ManagedPolicy.from_managed_policy_arn(scope, f"ManagedPolicy{i}", arn))
        if ":iam::aws:policy/" in arn:
            Validations.of(role).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions::AwsSolutions-IAM4[Policy::{arn}]",
                    reason=f"{what}.managedPolicies names this AWS managed policy on purpose.",
                )
            )
    for grant in permissions.s3:
        bucket = stack.format_arn(service="s3", region="", account="", resource=grant.bucket)
        actions = S3_READ + (S3_WRITE if grant.access == "read-write" else ())
        iam.Grant.add_to_principal(grantee=role, actions=list(actions), resource_arns=[f"{bucket}/{grant.prefix}*"])
        iam.Grant.add_to_principal(
            grantee=role,
            actions=["s3:ListBucket"],
            resource_arns=[bucket],
            conditions={"StringLike": {"s3:prefix": [f"{grant.prefix}*"]}},
        )
    if permissions.kms_keys:
        iam.Grant.add_to_principal(grantee=role, actions=list(KMS_ACTIONS), resource_arns=list(permissions.kms_keys))
    policy = role.node.try_find_child("DefaultPolicy") or role.node.try_find_child("Policy")
    for grant in permissions.s3:
        if policy is not None:
            acknowledge_wildcard(
                policy,
                f"Resource::arn:<AWS::Partition>:s3:::{grant.bucket}/{grant.prefix}*",
                f"{what}.s3 grants {grant.access} on objects under the configured prefix only.",
            )
