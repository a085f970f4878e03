"""How many Studio users a domain may hold, checked when the configuration is parsed: the user-profile quota a
team gives (``userProfileQuota``), the shard limit and the domain limit. Config-level tests (no synth) except one
through the real CDK CLI."""

from __future__ import annotations

import copy
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from stacks.config_values import ConfigError
from stacks.studio_capacity import (
    MAX_USER_SHARDS,
    MAX_USERS_PER_DOMAIN,
    MAX_USERS_PER_SHARD,
    USER_PROFILE_QUOTA_CODE,
    USER_PROFILE_QUOTA_NAME,
    check_user_capacity,
    shard_of,
)
from stacks.studio_config import parse_studio_config
from tests.conftest import REPO, cdk_synth

DEFAULT = json.loads((REPO / "cdk.json").read_text())["context"]["studioEnvironment"]


def config(users: int, **changes: Any) -> dict[str, Any]:
    """The default configuration with ``users`` plain users (and only the shared spaces)."""
    raw = copy.deepcopy(DEFAULT)
    raw["users"] = [{"name": f"user-{i:05d}"} for i in range(users)]
    raw["spaces"] = [space for space in raw["spaces"] if "owner" not in space]
    raw.update(changes)
    return raw


def test_users_at_the_quota_pass() -> None:
    parsed = parse_studio_config(config(20, userProfileQuota=20))
    assert parsed.user_profile_quota == 20 and len(parsed.users) == 20


def test_one_user_over_the_quota_fails_with_the_quota_its_value_and_the_key_to_raise() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_studio_config(config(21, userProfileQuota=20))
    message = str(caught.value)
    assert message.startswith("studioEnvironment.users: 21 users is over studioEnvironment.userProfileQuota (20), ")
    assert f'"{USER_PROFILE_QUOTA_NAME}" ({USER_PROFILE_QUOTA_CODE};' in message
    assert "request an increase through Service Quotas" in message
    assert message.endswith("then raise studioEnvironment.userProfileQuota to the new applied value.")
    assert "\n" not in message


def test_without_a_quota_value_no_quota_is_assumed() -> None:
    parsed = parse_studio_config(config(450, userShards=3))
    assert parsed.user_profile_quota is None and len(parsed.users) == 450


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "0 is out of range"),
        (-5, "-5 is out of range"),
        (10_000_001, "10000001 is out of range"),
        (10**400, "is out of range"),
        (True, "expected a whole number"),
        ("1000", 'expected a whole number (the applied value from Service Quotas), got "1000"'),
        (1000.0, "expected a whole number"),
        (None, "expected a whole number"),
        ({"value": 1000}, "expected a whole number"),
    ],
)
def test_a_bad_quota_value_names_the_key(value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_studio_config(config(2, userProfileQuota=value))
    text = str(caught.value)
    assert text.startswith("studioEnvironment.userProfileQuota: ") and message in text, text
    assert "\n" not in text and len(text) < 400


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("value", [nested(900), [1] * 1_000_000, "9" * 5_000_000])
def test_a_hostile_quota_value_fails_fast_with_one_short_line(value: Any) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        parse_studio_config(config(2, userProfileQuota=value))
    assert time.monotonic() - started < 5
    text = str(caught.value)
    assert text.startswith("studioEnvironment.userProfileQuota: expected a whole number") and "\n" not in text
    assert len(text) < 400


def test_a_shard_at_its_limit_passes_and_one_more_user_fails_at_parse() -> None:
    parse_studio_config(config(MAX_USERS_PER_SHARD, userShards=1))
    with pytest.raises(ConfigError) as caught:
        parse_studio_config(config(MAX_USERS_PER_SHARD + 1, userShards=1))
    message = str(caught.value)
    assert message.startswith("studioEnvironment.userShards: shard 0 would hold 401 users, over 400; raise userShards")
    assert "the smallest userShards that fits is 2" in message
    assert f"a domain holds at most {MAX_USERS_PER_DOMAIN:,} users here, {MAX_USER_SHARDS} shards of 400" in message


def test_the_suggested_shard_count_really_fits_twenty_thousand_users() -> None:
    names = [f"user-{i:05d}" for i in range(20_000)]
    with pytest.raises(ConfigError) as caught:
        check_user_capacity(names, 50, None, "studioEnvironment")
    suggested = int(str(caught.value).split("the smallest userShards that fits is ")[1].split(";")[0])
    assert 50 < suggested <= MAX_USER_SHARDS
    assert max(Counter(shard_of(n, suggested) for n in names).values()) <= MAX_USERS_PER_SHARD
    assert max(Counter(shard_of(n, suggested - 1) for n in names).values()) > MAX_USERS_PER_SHARD
    check_user_capacity(names, suggested, 20_000, "studioEnvironment")


def test_more_users_than_a_domain_holds_fail_however_many_shards() -> None:
    names = [f"u{i}" for i in range(MAX_USERS_PER_DOMAIN + 1)]
    with pytest.raises(ConfigError) as caught:
        check_user_capacity(names, MAX_USER_SHARDS, None, "studioEnvironment")
    assert str(caught.value).startswith(
        "studioEnvironment.users: 40,001 users is over the 40,000 one domain holds here (100 userShards of at most "
        "400 users"
    )


def test_the_quota_error_reaches_the_cli_as_one_line(tmp_path: Path) -> None:
    raw = config(3, userProfileQuota=2)
    result = cdk_synth(REPO, tmp_path / "out", "-c", f"studioEnvironment={json.dumps(raw)}")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and lines[0].startswith(
        "error: studioEnvironment.users: 3 users is over studioEnvironment.userProfileQuota (2), "
    ), result.stderr
    assert "Traceback" not in result.stderr


def test_the_synth_benchmark_reports_the_same_limits() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("synth_bench", REPO / "bench" / "synth" / "run.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert (bench.MAX_USERS_PER_DOMAIN, bench.MAX_USER_SHARDS, bench.MAX_USERS_PER_SHARD) == (
        MAX_USERS_PER_DOMAIN,
        MAX_USER_SHARDS,
        MAX_USERS_PER_SHARD,
    )


def test_twenty_thousand_sso_users_parse_in_linear_time() -> None:
    raw = config(0, authMode="SSO", userShards=100, userProfileQuota=20_000)
    raw["users"] = [{"name": f"user-{i:05d}", "ssoUserName": f"user{i}@example.com"} for i in range(20_000)]
    started = time.monotonic()
    parsed = parse_studio_config(raw)
    assert time.monotonic() - started < 5  # the SSO duplicate check once rebuilt a map per user (quadratic)
    assert len(parsed.users) == 20_000
    raw["users"].append({"name": "late", "ssoUserName": "USER7@example.com"})
    with pytest.raises(
        ConfigError, match=r"users\[20000\].ssoUserName: 'USER7@example.com' is already user 'user-00007'"
    ):
        parse_studio_config(raw)
