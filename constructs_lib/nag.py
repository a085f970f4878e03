"""Narrow acknowledgments of cdk-nag findings that a construct knowingly causes."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge_wildcard(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one AwsSolutions-IAM5 finding (``Resource::...`` or ``Action::...``) on ``scope`` only."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[{finding}]", reason=reason))
