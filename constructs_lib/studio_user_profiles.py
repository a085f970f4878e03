"""User profiles by the thousand: ``add_user_profile`` creates a profile's L1 directly in its scope.

``StudioUserProfile`` is a construct holding its L1 (``<id>/Resource``): two constructs, so two jsii round trips,
per profile. ``add_user_profile`` runs the same checks and rendering and creates only the L1, so a shard of
hundreds of profiles costs what plain ``CfnUserProfile`` resources cost. It returns a ``UserProfileResource``
with the attributes of ``StudioUserProfile``, which ``StudioSpace`` accepts as a private space's owner.

``legacy_logical_id`` gives the ID under which such an L1 keeps the logical ID that ``StudioUserProfile(scope,
id)`` gave its resource (CDK's ``makeUniqueId``: the path's alphanumerics plus the first 8 hex digits of the MD5
of the path relative to the stack, upper-cased), so moving to the flat form replaces no profile.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from constructs_lib.errors import LifecycleConfigError
from constructs_lib.studio_domain import StudioDomainBase, user_profile_l1
from constructs_lib.studio_settings import StudioUserSettings

_CONSTRUCT_ID = re.compile(r"[A-Za-z][A-Za-z0-9]{0,200}")


@dataclass(frozen=True, eq=False)
class UserProfileResource:
    """A user profile made by ``add_user_profile``: ``user_profile`` (L1), ``user_profile_name``, ``settings``,
    ``sso_user_name`` and ``user_profile_arn``, as on ``StudioUserProfile``."""

    user_profile: sagemaker.CfnUserProfile
    user_profile_name: str
    settings: StudioUserSettings
    sso_user_name: str | None

    @property
    def user_profile_arn(self) -> str:
        """The profile's ARN (a token; a jsii round trip, so only when asked)."""
        arn: str = self.user_profile.attr_user_profile_arn
        return arn


def legacy_logical_id(construct_id: str) -> str:
    """The logical ID of ``StudioUserProfile(stack, construct_id)``'s resource, usable as a construct ID in the
    same stack. ``construct_id`` must be letters and digits (as the stacks' user IDs are)."""
    if not isinstance(construct_id, str) or not _CONSTRUCT_ID.fullmatch(construct_id):
        raise LifecycleConfigError(
            f"legacy_logical_id: construct ID {construct_id!r} is invalid: use 1-201 letters and digits, "
            "starting with a letter."
        )
    digest = hashlib.md5(f"{construct_id}/Resource".encode(), usedforsecurity=False).hexdigest()
    return construct_id + digest[:8].upper()


def add_user_profile(
    scope: Construct,
    id: str,
    *,
    domain_id: str | None = None,
    domain: StudioDomainBase | None = None,
    user_profile_name: str,
    settings: StudioUserSettings | None = None,
    sso_user_name: str | None = None,
    removal_policy: RemovalPolicy | None = None,
) -> UserProfileResource:
    """A user profile whose L1 is ``scope``'s child ``id``: ``StudioUserProfile``'s props and checks."""
    profile, checked, sso = user_profile_l1(
        scope,
        id,
        domain_id=domain_id,
        domain=domain,
        user_profile_name=user_profile_name,
        settings=settings,
        sso_user_name=sso_user_name,
        removal_policy=removal_policy,
    )
    return UserProfileResource(
        user_profile=profile, user_profile_name=user_profile_name, settings=checked, sso_user_name=sso
    )


__all__ = ["UserProfileResource", "add_user_profile", "legacy_logical_id"]
