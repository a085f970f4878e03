"""add_user_profile: the flat form of StudioUserProfile (same template, same logical ID through legacy_logical_id,
one jsii round trip per profile instead of three), and a private space owned by it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jsii._kernel
import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from constructs_lib import LifecycleConfigError
from constructs_lib.studio_domain import AuthMode, StudioDomain, StudioUserProfile
from constructs_lib.studio_settings import SpaceStorage, StudioAppSettings, StudioUserSettings
from constructs_lib.studio_user_profiles import UserProfileResource, add_user_profile, legacy_logical_id
from tests.constructs_lib.test_studio_space import World

SETTINGS = StudioUserSettings(
    jupyter_lab=StudioAppSettings(default_instance_type="ml.m5.large"),
    storage=SpaceStorage(default_gib=5, maximum_gib=50),
)


def resources(stack: Stack) -> dict[str, Any]:
    found: dict[str, Any] = Template.from_stack(stack).find_resources("AWS::SageMaker::UserProfile")
    return found


@pytest.mark.parametrize("construct_id", ["Alice", "UserDataScientist1a1b2c3", "U" * 201, "User0"])
def test_legacy_logical_id_is_the_logical_id_the_wrapper_gave(construct_id: str) -> None:
    wrapped, flat = Stack(App(), "Wrapped"), Stack(App(), "Flat")
    StudioUserProfile(wrapped, construct_id, domain_id="d-abc123", user_profile_name="alice", settings=SETTINGS)
    add_user_profile(
        flat, legacy_logical_id(construct_id), domain_id="d-abc123", user_profile_name="alice", settings=SETTINGS
    )
    assert resources(wrapped) == resources(flat)
    assert list(resources(flat)) == [legacy_logical_id(construct_id)]


def test_the_flat_form_checks_as_the_wrapper_does() -> None:
    stack = Stack(App(), "Flat")
    domain = StudioDomain.from_domain_attributes(stack, "Domain", domain_id="d-abc123", auth_mode=AuthMode.SSO)
    profile = add_user_profile(
        stack, "Alice", domain=domain, user_profile_name="alice", sso_user_name="alice@example.com"
    )
    assert isinstance(profile, UserProfileResource) and profile.sso_user_name == "alice@example.com"
    (props,) = [r["Properties"] for r in resources(stack).values()]
    assert props["SingleSignOnUserIdentifier"] == "UserName" and props["SingleSignOnUserValue"] == "alice@example.com"
    with pytest.raises(LifecycleConfigError, match=r"'bob' sso_user_name is missing: an SSO"):
        add_user_profile(stack, "Bob", domain=domain, user_profile_name="bob")
    with pytest.raises(LifecycleConfigError, match=r"user_profile_name 'bad name' is invalid"):
        add_user_profile(stack, "Bad", domain_id="d-abc123", user_profile_name="bad name")


@pytest.mark.parametrize("bad", ["", "1User", "User-1", "User/Resource", "U" * 202, None, 7])
def test_legacy_logical_id_refuses_ids_it_cannot_reproduce(bad: Any) -> None:
    with pytest.raises(LifecycleConfigError, match=r"legacy_logical_id: construct ID .* is invalid"):
        legacy_logical_id(bad)


@contextmanager
def kernel_requests() -> Iterator[Counter[str]]:
    """Count the requests the Python side sends to the jsii kernel (create, get, invoke, ...)."""
    provider = jsii._kernel.Kernel().provider
    counts: Counter[str] = Counter()
    originals = {name: getattr(provider, name) for name in ("create", "get", "set", "invoke", "sinvoke", "sget")}

    def counted(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return originals[name](*args, **kwargs)

        return call

    for name in originals:
        setattr(provider, name, counted(name))
    try:
        yield counts
    finally:
        for name, original in originals.items():
            setattr(provider, name, original)


def test_one_kernel_request_per_flat_profile_three_fewer_than_before() -> None:
    stack = Stack(App(), "Shard")
    add_user_profile(stack, "Warm", domain_id="d-abc123", user_profile_name="warm")
    with kernel_requests() as flat:
        for i in range(40):
            add_user_profile(stack, f"Flat{i}", domain_id="d-abc123", user_profile_name=f"flat-{i}")
    with kernel_requests() as wrapped:
        for i in range(40):
            StudioUserProfile(stack, f"Wrapped{i}", domain_id="d-abc123", user_profile_name=f"wrapped-{i}")
    assert dict(flat) == {"create": 40}
    assert dict(wrapped) == {"create": 80}  # the wrapper and its L1; the ARN is no longer read eagerly
    with kernel_requests() as asked:
        arn = add_user_profile(stack, "Asked", domain_id="d-abc123", user_profile_name="asked").user_profile_arn
    assert dict(asked) == {"create": 1, "get": 1}
    assert json.dumps(stack.resolve(arn)) == '{"Fn::GetAtt": ["Asked", "UserProfileArn"]}'


def test_a_private_space_owned_by_a_flat_profile_waits_for_it() -> None:
    world = World()
    owner = add_user_profile(world.stack, "Bob", domain_id=world.domain.domain_id, user_profile_name="bob")
    world.space("bob-lab", owner=owner, ebs_size_gib=40)
    (space,) = [s for s in world.resources("AWS::SageMaker::Space").values()]
    assert space["Properties"]["OwnershipSettings"] == {"OwnerUserProfileName": "bob"}
    assert space["DependsOn"] == ["Bob"]
