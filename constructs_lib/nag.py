"""Narrow acknowledgments of cdk-nag findings that a construct knowingly causes."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Token, Validations
from constructs import IConstruct


def acknowledge_wildcard(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one AwsSolutions-IAM5 finding (``Resource::...`` or ``Action::...``) on ``scope`` only.

    Write the finding as for an environment-agnostic stack (``<AWS::Partition>``, ``<AWS::Region>``,
    ``<AWS::AccountId>``); in a stack with a concrete account and region (a deployment stage) cdk-nag sees
    those values in the ARN, so the acknowledgment names them too.
    """
    stack = Stack.of(scope)
    if not Token.is_unresolved(stack.partition):  # a literal with a concrete region (enablePartitionLiterals)
        finding = finding.replace("<AWS::Partition>", stack.partition)
    if not Token.is_unresolved(stack.region):
        finding = finding.replace("<AWS::Region>", stack.region)
    if not Token.is_unresolved(stack.account):
        finding = finding.replace("<AWS::AccountId>", stack.account)
    Validations.of(scope).acknowledge(Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[{finding}]", reason=reason))
