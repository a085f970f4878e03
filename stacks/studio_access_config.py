"""Who uses Studio and what it may reach: SSO user names, permissions and tags, existing network, key and role.

Keys of ``studioEnvironment`` (all optional)::

  "users": [{"name": "alice", "ssoUserName": "alice@example.com", "tags": {"Project": "x"}}]
      ssoUserName: the IAM Identity Center user name, required under authMode SSO, refused under IAM
      (CloudFormation's SingleSignOnUserIdentifier "UserName" and SingleSignOnUserValue);
  "permissions": {"managedPolicies": [...], "s3": [{"bucket", "prefix", "access"}], "kmsKeys": [...]}
      for the execution role the domain creates (the shared parser of ``stacks.permissions_config``);
  "tags": {"Key": "Value"}   every taggable resource of the Studio stacks; a user's own tags win on its
      profile and private spaces (``stacks.tags_config``);
  "network": {"vpcId", "subnetIds", "securityGroupIds", "availabilityZones"}   as for notebooks;
  "kmsKeyArn", "executionRoleArn"   existing resources, imported from these values (no lookup at synth).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from constructs_lib.studio_domain import SSO_USER_NAME
from stacks.config import _ROLE_ARN, parse_network
from stacks.config_values import ConfigError, json_text
from stacks.permissions_config import KMS_KEY_ARN, parse_permissions
from stacks.tags_config import merged_tags, parse_tags


def parse_studio_access(data: Mapping[str, Any], path: str, global_tags: Mapping[str, str]) -> dict[str, Any]:
    """The ``StudioEnvironmentConfig`` fields for permissions, tags, network, key and role."""
    role_arn = _arn(data, "executionRoleArn", path, _ROLE_ARN, "arn:aws:iam::111122223333:role/StudioExecution")
    permissions = parse_permissions(data.get("permissions", {}), f"{path}.permissions")
    if role_arn is not None and permissions:
        raise ConfigError(
            f"{path}.permissions: cannot be granted to the existing role given in executionRoleArn (the stack does "
            "not change a role it does not own); attach them to that role where it is defined, or drop "
            "executionRoleArn."
        )
    return {
        "permissions": permissions,
        "tags": dict(global_tags),
        "network": parse_network(data["network"], f"{path}.network") if "network" in data else None,
        "kms_key_arn": _arn(data, "kmsKeyArn", path, KMS_KEY_ARN, "arn:aws:kms:eu-west-1:111122223333:key/<key id>"),
        "execution_role_arn": role_arn,
    }


def parse_sso_user_name(spec: Mapping[str, Any], where: str, auth: str, earlier: Mapping[str, str]) -> str | None:
    """``ssoUserName``: required under SSO, refused under IAM, unique (``earlier``: lower-cased name -> user)."""
    value = spec.get("ssoUserName")
    if auth == "SSO" and value is None:
        raise ConfigError(
            f"{where}.ssoUserName: required key is missing: an SSO (IAM Identity Center) domain needs each user's "
            "Identity Center user name."
        )
    if auth == "IAM" and value is not None:
        raise ConfigError(f'{where}.ssoUserName: the domain uses authMode "IAM"; remove it, or use "SSO".')
    if value is None:
        return None
    if not isinstance(value, str) or not SSO_USER_NAME.fullmatch(value):
        raise ConfigError(
            f"{where}.ssoUserName: {json_text(value)} is invalid: give the Identity Center user name "
            "(1-128 letters, digits and +=,.@_-)."
        )
    if value.lower() in earlier:
        raise ConfigError(
            f"{where}.ssoUserName: {value!r} is already user {earlier[value.lower()]!r}'s; an Identity Center user "
            "has one profile in a domain."
        )
    return value


def parse_user_tags(spec: Mapping[str, Any], where: str, global_tags: Mapping[str, str]) -> dict[str, str]:
    """A user's own tags (checked with the team's against the 50-tag limit)."""
    own = parse_tags(spec["tags"], f"{where}.tags") if "tags" in spec else {}
    merged_tags(global_tags, own, f"{where}.tags")
    return own


def _arn(data: Mapping[str, Any], key: str, path: str, pattern: re.Pattern[str], example: str) -> str | None:
    value = data.get(key)
    if value is not None and (not isinstance(value, str) or not pattern.fullmatch(value)):
        raise ConfigError(f"{path}.{key}: {json_text(value)} is invalid: give an ARN such as {example!r}.")
    return value
