"""cdk.json carries the feature flags that `cdk init` writes for the pinned CDK CLI and aws-cdk-lib, so synth
runs with today's recommended behaviour (and prints no "feature flags are not configured" notice)."""

from __future__ import annotations

import json

from tests.conftest import REPO

# Deliberate differences from `cdk init`, each with its reason.
OVERRIDES = {
    # Cross-stack references between the Studio stacks stay CloudFormation exports that block a deletion in
    # use; the lifecycle config ARNs never travel that way (they are built from names).
    "@aws-cdk/core:defaultCrossStackReferences": "strong",
}
RECOMMENDED = REPO / "node_modules" / "aws-cdk" / "lib" / "init-templates" / ".recommended-feature-flags.json"


def test_every_recommended_flag_is_set_as_cdk_init_sets_it() -> None:
    recommended = json.loads(RECOMMENDED.read_text())
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    assert len(recommended) > 80
    assert {k: context.get(k) for k in recommended} == recommended | OVERRIDES


def test_the_default_vpc_security_group_is_restricted(default_assembly: object) -> None:
    from pathlib import Path

    template = json.loads((Path(str(default_assembly)) / "SageMakerNotebooks.template.json").read_text())
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert "Custom::VpcRestrictDefaultSG" in kinds
