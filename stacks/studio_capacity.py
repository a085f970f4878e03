"""How many Studio users one domain may hold: our shard limits, and SageMaker's user-profile quota when given.

User profiles live in ``StudioUsersStack`` shards (a user's shard is a hash of the name modulo ``userShards``).
A shard holds at most ``MAX_USERS_PER_SHARD`` users (CloudFormation allows 500 resources per stack), and a
domain at most ``MAX_USER_SHARDS`` shards, so this app holds at most ``MAX_USERS_PER_DOMAIN`` users per domain.
Hash sharding is uneven, so the checks below compute the real shard sizes at parse time, before any construct.

SageMaker's own limit is the Service Quotas quota "Maximum number of Studio user profiles allowed per account"
(quota code ``L-AC46C40F``): it counts the profiles of every domain of the account in a region, and its
applied value differs between accounts. No default value was found in AWS's documentation at the time of
writing, so none is assumed: a team that knows its applied value gives it as
``studioEnvironment.userProfileQuota``, and synth then refuses more users than that.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence

from stacks.config_values import ConfigError, expect, json_text

MAX_USERS_PER_SHARD = 400
"""Each user is one resource; this leaves room under CloudFormation's 500 and its template size limit."""
MAX_USER_SHARDS = 100
MAX_USERS_PER_DOMAIN = MAX_USER_SHARDS * MAX_USERS_PER_SHARD

USER_PROFILE_QUOTA_NAME = "Maximum number of Studio user profiles allowed per account"
USER_PROFILE_QUOTA_CODE = "L-AC46C40F"
QUOTA_KEY = "userProfileQuota"
MAX_QUOTA_VALUE = 10_000_000
"""Only a sanity bound on the configured value: far above anything the shards can hold."""


def _name_hash(user_name: str) -> int:
    return int(hashlib.sha256(user_name.lower().encode()).hexdigest(), 16)


def shard_of(user_name: str, shards: int) -> int:
    """A stable shard for a user: independent of the order and number of other users."""
    return _name_hash(user_name) % shards


def parse_user_profile_quota(data: Mapping[str, object], path: str) -> int | None:
    """``userProfileQuota``: the applied value of the account's user-profile quota, or None (not checked)."""
    if QUOTA_KEY not in data:
        return None
    where = f"{path}.{QUOTA_KEY}"
    value: int = expect(data[QUOTA_KEY], int, where, "a whole number (the applied value from Service Quotas)")
    if not 1 <= value <= MAX_QUOTA_VALUE:
        raise ConfigError(
            f"{where}: {json_text(value)} is out of range; give the applied value of the Service Quotas quota "
            f'"{USER_PROFILE_QUOTA_NAME}" ({USER_PROFILE_QUOTA_CODE}), 1 to {MAX_QUOTA_VALUE:,}.'
        )
    return value


def check_user_capacity(user_names: Sequence[str], shards: int, quota: int | None, path: str) -> None:
    """Fail with one line naming the key when the users do not fit the quota, the domain or a shard."""
    count = len(user_names)
    if quota is not None and count > quota:
        raise ConfigError(
            f"{path}.users: {count:,} users is over {path}.{QUOTA_KEY} ({quota:,}), the applied value of "
            f'SageMaker\'s quota "{USER_PROFILE_QUOTA_NAME}" ({USER_PROFILE_QUOTA_CODE}; it counts the profiles of '
            "every domain of the account in the region); request an increase through Service Quotas, then raise "
            f"{path}.{QUOTA_KEY} to the new applied value."
        )
    if count > MAX_USERS_PER_DOMAIN:
        raise ConfigError(
            f"{path}.users: {count:,} users is over the {MAX_USERS_PER_DOMAIN:,} one domain holds here "
            f"({MAX_USER_SHARDS} userShards of at most {MAX_USERS_PER_SHARD} users: CloudFormation allows 500 "
            "resources per stack); split the users over more than one domain."
        )
    hashes = [_name_hash(name) for name in user_names]
    sizes = Counter(h % shards for h in hashes)
    shard, largest = max(sizes.items(), key=lambda kv: (kv[1], -kv[0]), default=(0, 0))
    if largest <= MAX_USERS_PER_SHARD:
        return
    fits = next(
        (
            n
            for n in range(shards + 1, MAX_USER_SHARDS + 1)
            if max(Counter(h % n for h in hashes).values()) <= MAX_USERS_PER_SHARD
        ),
        None,
    )
    advice = (
        f"the smallest userShards that fits is {fits}"
        if fits is not None
        else f"no userShards up to {MAX_USER_SHARDS} fits; split the users over more than one domain"
    )
    raise ConfigError(
        f"{path}.userShards: shard {shard} would hold {largest} users, over {MAX_USERS_PER_SHARD}; raise userShards "
        f"({advice}; a domain holds at most {MAX_USERS_PER_DOMAIN:,} users here, {MAX_USER_SHARDS} shards of "
        f"{MAX_USERS_PER_SHARD}). Changing userShards moves users between stacks, which replaces their profiles."
    )


__all__ = [
    "MAX_USERS_PER_DOMAIN",
    "MAX_USERS_PER_SHARD",
    "MAX_USER_SHARDS",
    "USER_PROFILE_QUOTA_CODE",
    "USER_PROFILE_QUOTA_NAME",
    "check_user_capacity",
    "parse_user_profile_quota",
    "shard_of",
]
