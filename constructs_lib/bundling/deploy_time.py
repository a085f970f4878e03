"""Module settings whose values CloudFormation fills in at deploy time (CDK tokens such as ``bucket.bucket_name``).

Such a value cannot go into the archive (its sha256 is fixed at synth). The hook script carries it instead,
outside the archive, as one line of a quoted here-document whose delimiter is fixed at synth; after unpacking,
the hook appends ``export NAME=<value quoted by bash's printf %q>`` to the module's ``settings.sh``. The
Content becomes ``Fn::Base64`` of an ``Fn::Join`` that CloudFormation resolves.

The size check counts each token at the longest value it can take: known for the references below; for any
other token give ``Module(setting_max_lengths={"NAME": n})``. A token anywhere else (script, carried files,
list tokens) fails synth naming where it is.
"""

from __future__ import annotations

import re

from aws_cdk import Aws, CfnResource, Reference, Tokenization

TOKEN = re.compile(r"\$\{Token\[[A-Za-z0-9_.]+\.[0-9]+\]\}")
"""A string token as CDK writes it into text (``${Token[TOKEN.21]}``, ``${Token[AWS.Region.8]}``)."""
LIST_TOKEN = re.compile(r"#\{Token\[[A-Za-z0-9_.]+\.[0-9]+\]\}")
MAX_SETTING_LENGTH = 2048
"""The longest deploy-time setting accepted (a value counted at its maximum takes room in the 16384)."""

_ARN_PREFIX = len("arn:aws-iso-b:") + len("us-isob-east-1:") + len("123456789012:")
REFERENCE_LENGTHS: dict[tuple[str, str], int] = {
    ("AWS::S3::Bucket", "Ref"): 63,
    ("AWS::S3::Bucket", "Arn"): len("arn:aws-iso-b:s3:::") + 63,
    ("AWS::S3::Bucket", "DomainName"): 63 + len(".s3.amazonaws.com.cn"),
    ("AWS::IAM::Role", "Ref"): 64,
    ("AWS::IAM::Role", "Arn"): _ARN_PREFIX + len("iam::role") + 512 + 64,
    ("AWS::EFS::FileSystem", "Ref"): len("fs-") + 17,
    ("AWS::KMS::Key", "Ref"): 36,
    ("AWS::KMS::Key", "Arn"): _ARN_PREFIX + len("kms:key/") + 36,
    ("AWS::SageMaker::Domain", "DomainId"): len("d-") + 12,
    ("AWS::Logs::LogGroup", "Ref"): 512,
}
"""Longest values of the references this module knows: (resource type, ``Ref`` or attribute) -> characters.
Bucket names are 3-63 of ``a-z 0-9 . -``; IAM paths at most 512 and role names 64; KMS key IDs are UUIDs."""
PSEUDO_LENGTHS = {
    Aws.REGION: 20,
    Aws.ACCOUNT_ID: 12,
    Aws.PARTITION: 16,
    Aws.URL_SUFFIX: 24,
    Aws.STACK_NAME: 128,
}


def has_token(text: str) -> bool:
    """Whether ``text`` holds a CDK string or list token."""
    return bool(TOKEN.search(text) or LIST_TOKEN.search(text))


def describe(marker: str) -> str:
    """A token as a reviewer reads it: ``${Bucket.Ref}``, ``${Role.Arn}``, ``${AWS::Region}``."""
    for pseudo, name in (
        (Aws.REGION, "AWS::Region"),
        (Aws.ACCOUNT_ID, "AWS::AccountId"),
        (Aws.PARTITION, "AWS::Partition"),
    ):
        if marker == pseudo:
            return "${" + name + "}"
    token = Tokenization.reverse_string(marker).first_token
    if isinstance(token, Reference):
        path = token.target.node.path
        path = path.removesuffix("/Resource")
        return "${" + f"{path}.{token.display_name}" + "}"
    return "${deploy-time value}"


def token_max_length(marker: str) -> int | None:
    """The longest value a single token can take, ``None`` when not known."""
    if marker in PSEUDO_LENGTHS:
        return PSEUDO_LENGTHS[marker]
    token = Tokenization.reverse_string(marker).first_token
    if isinstance(token, Reference) and isinstance(token.target, CfnResource):
        return REFERENCE_LENGTHS.get((token.target.cfn_resource_type, token.display_name))
    return None


def max_length(value: str) -> int | None:
    """The longest ``value`` (text with string tokens) can be once resolved; ``None`` when a token's is unknown."""
    total = len(TOKEN.sub("", value))
    for marker in TOKEN.findall(value):
        longest = token_max_length(marker)
        if longest is None:
            return None
        total += longest
    return total


def reference_text(value: str) -> str:
    """``value`` with each token replaced by :func:`describe` (for comments, the manifest and messages)."""
    return TOKEN.sub(lambda m: describe(m.group(0)), value)
