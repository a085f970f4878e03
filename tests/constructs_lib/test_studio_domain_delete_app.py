"""``StudioDomain.grant_delete_own_apps``: the synthesized policy evaluated for own and foreign app ARNs.

The execution role is shared by all users, so each Studio session is told apart by its source identity
(the user profile name, with ``ExecutionRoleIdentityConfig: USER_PROFILE_NAME``) and each private space's
apps by SageMaker's ``sagemaker:OwnerUserProfileArn`` and ``sagemaker:SpaceSharingType`` condition keys.
The statements are evaluated with ``tests/support/iam_policy.py`` (moto's IAM does not evaluate these keys).
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from constructs_lib.private_network import PrivateNotebookNetwork
from constructs_lib.studio_domain import StudioDomain
from tests.support.iam_policy import allowed, resolve

DOMAIN_ID, REGION, ACCOUNT = "d-abc123def456", "eu-west-1", "123456789012"
PREFIX = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"


@pytest.fixture(scope="module")
def statements() -> list[dict[str, Any]]:
    stack = Stack(App(), "Studio")
    domain = StudioDomain(stack, "Domain", vpc=PrivateNotebookNetwork(stack, "Network").vpc)
    domain.grant_delete_own_apps(domain.execution_role)
    template = Template.from_stack(stack).to_json()
    props = template["Resources"][stack.get_logical_id(domain.domain)]["Properties"]
    assert props["DomainSettings"]["ExecutionRoleIdentityConfig"] == "USER_PROFILE_NAME"
    refs = {
        "AWS::Partition": "aws",
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        f"{stack.get_logical_id(domain.domain)}.DomainId": DOMAIN_ID,
    }
    found = [
        resolve(s, refs)
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if "sagemaker:" in str(s["Action"])
    ]
    assert found
    return found


def session(user: str | None) -> dict[str, str]:
    return {} if user is None else {"aws:SourceIdentity": user}


def user_app(owner: str, app_type: str = "jupyterserver") -> tuple[str, dict[str, str]]:
    return f"{PREFIX}:app/{DOMAIN_ID}/{owner}/{app_type}/default", {}


def space_app(space: str, owner: str, sharing: str = "Private") -> tuple[str, dict[str, str]]:
    keys = {"sagemaker:OwnerUserProfileArn": f"{PREFIX}:user-profile/{DOMAIN_ID}/{owner}"}
    return f"{PREFIX}:app/{DOMAIN_ID}/{space}/jupyterlab/default", {**keys, "sagemaker:SpaceSharingType": sharing}


@pytest.mark.parametrize(
    ("caller", "app", "expected"),
    [
        ("alice", user_app("alice"), True),
        ("alice", user_app("bob"), False),  # the field bug: any user deleted every other user's apps
        ("alice", space_app("alice-space", "alice"), True),
        ("alice", space_app("bob-space", "bob"), False),
        ("alice", space_app("alice", "bob"), False),  # a private space of bob's named like alice
        ("alice", space_app("team", "alice", "Shared"), False),  # shared spaces: the built-in idle shutdown
        (None, user_app("alice"), False),  # a session without source identity matches nothing
        (None, space_app("alice-space", "alice"), False),
        ("alice", (f"{PREFIX}:app/d-otherdomain1/alice/jupyterserver/default", {}), False),
        ("*", user_app("bob"), False),  # a variable's value is literal, not a wildcard
    ],
)
def test_delete_app_only_on_own_apps(
    statements: list[dict[str, Any]], caller: str | None, app: tuple[str, dict[str, str]], expected: bool
) -> None:
    arn, keys = app
    assert allowed(statements, "sagemaker:DeleteApp", arn, {**session(caller), **keys}) is expected


def test_describe_app_stays_domain_wide(statements: list[dict[str, Any]]) -> None:
    arn, keys = user_app("bob")
    assert allowed(statements, "sagemaker:DescribeApp", arn, {**session("alice"), **keys})
    assert not allowed(statements, "sagemaker:DescribeApp", f"{PREFIX}:app/d-otherdomain1/bob/x/default", {})
