"""Notebook fleets: owners placed by a stable hash, shared configs per shard, limits checked at synth."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from stacks.config import ConfigError, parse_config
from stacks.fleet_stack import NotebookFleetStack, shard_of
from stacks.stages import add_stacks
from tests.conftest import REPO

DEFAULT = json.loads((REPO / "cdk.json").read_text())["context"]["notebookEnvironment"]
TEMPLATE = {k: v for k, v in DEFAULT["notebooks"][0].items() if k not in ("id", "name", "subnetIndex")}
NB = "AWS::SageMaker::NotebookInstance"
LC = "AWS::SageMaker::NotebookInstanceLifecycleConfig"


def fleet_raw(owners: list[Any], *, shards: int = 8, **fleet: Any) -> dict[str, Any]:
    raw = copy.deepcopy(DEFAULT)
    raw["fleets"] = [{"name": "analysts", "shards": shards, "notebook": copy.deepcopy(TEMPLATE), "owners": owners}]
    raw["fleets"][0].update(fleet)
    return raw


def build(raw: dict[str, Any], app: App | None = None) -> tuple[App, dict[str, NotebookFleetStack]]:
    app = app or App()
    add_stacks(app, parse_config(raw), None)
    fleets = {c.node.id: c for c in app.node.children if isinstance(c, NotebookFleetStack)}
    return app, fleets


def placement(fleets: dict[str, NotebookFleetStack]) -> dict[str, tuple[str, str, str]]:
    """Owner -> (stack, notebook logical ID, lifecycle config logical ID)."""
    return {
        owner: (
            stack_id,
            Stack.of(notebook).resolve(notebook.notebook_instance.logical_id),
            Stack.of(notebook).resolve(notebook.lifecycle_config.lifecycle_config.logical_id),  # type: ignore[union-attr]
        )
        for stack_id, stack in fleets.items()
        for owner, notebook in stack.notebooks.items()
    }


OWNERS = [f"user{i:03d}" for i in range(500)]


@pytest.fixture(scope="module")
def five_hundred(tmp_path_factory: pytest.TempPathFactory) -> tuple[App, dict[str, NotebookFleetStack], Path]:
    out = tmp_path_factory.mktemp("fleet500")
    app, fleets = build(fleet_raw(list(OWNERS)), App(outdir=str(out)))
    app.synth()
    return app, fleets, out


def test_one_owner_gets_one_notebook_with_tags_in_one_shard() -> None:
    _, fleets = build(fleet_raw([{"owner": "Alice", "tags": {"CostCenter": "1234"}}], shards=3))
    ((stack_id, stack),) = fleets.items()
    assert stack_id == f"SageMakerNotebookFleetAnalysts{shard_of('Alice', 3):02d}"
    template = Template.from_stack(stack).to_json()["Resources"]
    (notebook,) = [r for r in template.values() if r["Type"] == NB]
    assert notebook["Properties"]["NotebookInstanceName"] == "analysts-alice"
    assert notebook["Properties"]["Tags"] == [
        {"Key": "CostCenter", "Value": "1234"},
        {"Key": "Fleet", "Value": "analysts"},
        {"Key": "Owner", "Value": "Alice"},
    ]
    assert len([r for r in template.values() if r["Type"] == LC]) == 1
    (config_id,) = [k for k, r in template.items() if r["Type"] == LC]
    assert notebook["Properties"]["LifecycleConfigName"] == {
        "Fn::GetAtt": [config_id, "NotebookInstanceLifecycleConfigName"]
    }, "the config is referenced inside the shard stack, never imported"


def test_500_owners_fit_their_shards_and_501_reordered_move_nobody(
    five_hundred: tuple[App, dict[str, NotebookFleetStack], Path],
) -> None:
    _, fleets, out = five_hundred
    before = placement(fleets)
    assert len(before) == 500 and len(fleets) == 8
    for stack_id, stack in fleets.items():
        template = json.loads((out / f"{stack_id}.template.json").read_text())
        resources = template["Resources"]
        assert len(resources) < 500, stack_id
        assert (out / f"{stack_id}.template.json").stat().st_size < 1_000_000, stack_id
        assert len([r for r in resources.values() if r["Type"] == LC]) == 1, "one shared config per shard"
        assert len(stack.notebooks) == len([r for r in resources.values() if r["Type"] == NB])

    changed = [*reversed(OWNERS[1:]), "newcomer", "another"]  # one removed, two added, order reversed: 501
    _, after_fleets = build(fleet_raw(changed))
    after = placement(after_fleets)
    assert len(after) == 501
    assert {o: after[o] for o in OWNERS[1:]} == {o: before[o] for o in OWNERS[1:]}, "nobody else moved"


def test_instances_are_spread_over_both_subnets(
    five_hundred: tuple[App, dict[str, NotebookFleetStack], Path],
) -> None:
    _, fleets, out = five_hundred
    subnets: dict[str, int] = {}
    for stack_id in fleets:
        resources = json.loads((out / f"{stack_id}.template.json").read_text())["Resources"]
        for r in resources.values():
            if r["Type"] == NB:
                key = json.dumps(r["Properties"]["SubnetId"], sort_keys=True)
                subnets[key] = subnets.get(key, 0) + 1
    assert len(subnets) == 2 and min(subnets.values()) > 200, subnets


def test_fleet_templates_pass_cfn_lint_and_cdk_nag(tmp_path: Path) -> None:
    from aws_cdk import Validations
    from cdk_nag import AwsSolutionsChecks

    app = App(outdir=str(tmp_path))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    owners: list[Any] = ["alice", {"owner": "bob", "instanceType": "ml.m5.xlarge", "onStart": []}]
    build(fleet_raw(owners, shards=1), app)
    app.synth()  # cdk-nag findings make this raise
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--format",
            "parseable",
            *map(str, tmp_path.glob("*Fleet*.template.json")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert [line for line in result.stdout.splitlines() if ":E" in line] == [], result.stdout
    resources = json.loads((tmp_path / "SageMakerNotebookFleetAnalysts00.template.json").read_text())["Resources"]
    notebooks = {
        r["Properties"]["NotebookInstanceName"]: r["Properties"] for r in resources.values() if r["Type"] == NB
    }
    assert notebooks["analysts-bob"]["InstanceType"] == "ml.m5.xlarge"
    assert "LifecycleConfigName" not in notebooks["analysts-bob"], "bob overrode onStart with nothing"
    assert notebooks["analysts-alice"]["InstanceType"] == "ml.t3.medium"


def test_a_shard_over_500_resources_fails_with_the_shard_count_that_fits() -> None:
    raw = fleet_raw([f"u{i}" for i in range(130)], shards=1)
    raw["privateNetwork"] = False
    for notebook in raw["notebooks"]:
        notebook.pop("subnetIndex", None)  # no network, no subnet to pin
    with pytest.raises(
        ConfigError, match=r"would hold 521 resources; CloudFormation allows 500 .*set its shards to 2 or more"
    ):
        build(raw)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Analysts"}, r"fleets\[0\].name: \"Analysts\" is invalid"),
        ({"shards": 0}, r"fleets\[0\].shards: 0 is out of range; give 1 to 100"),
        ({"shards": True}, r"fleets\[0\].shards: expected a whole number"),
        ({"owners": ["alice", "ALICE"]}, r"owners\[1\].owner: \"ALICE\" is already owners\[0\]"),
        ({"owners": ["al ice"]}, r"owners\[0\].owner: \"al ice\" is invalid"),
        ({"owners": ["a" * 60]}, r"owners\[0\].owner: the notebook name \"analysts-a+\" has 69 characters"),
        ({"owners": [{"owner": "x", "id": "X"}]}, r"owners\[0\].id: unknown key"),
        ({"owners": [{"owner": "x", "instanceType": "ml.nope"}]}, r"owners\[0\].instanceType: "),
        ({"owners": [{"owner": "x", "tags": {"aws:x": "1"}}]}, r"owners\[0\].tags: tag name \"aws:x\" is invalid"),
        ({"owners": [{"owner": "x", "tags": {"Owner": "y"}}]}, r"tags: tag name \"Owner\" is invalid"),
        ({"owners": [{"owner": "x", "tags": {"T": 1}}]}, r"owners\[0\].tags.T: 1 is invalid"),
        ({"notebook": {"name": "x"}}, r"fleets\[0\].notebook.name: unknown key"),
        ({"owners": "alice"}, r"fleets\[0\].owners: expected a list"),
    ],
)
def test_bad_fleet_values_name_their_key(change: dict[str, Any], message: str) -> None:
    raw = fleet_raw(["alice"])
    raw["fleets"][0].update(change)
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_fleet_notebook_names_may_not_take_a_listed_notebooks_name() -> None:
    raw = fleet_raw(["alice"])
    raw["notebooks"][0]["name"] = "Analysts-Alice"
    with pytest.raises(
        ConfigError, match=r"fleets\[0\].owners\[0\].owner: the notebook name \"analysts-alice\" is already taken"
    ):
        parse_config(raw)


def test_shard_of_is_stable_and_moves_only_into_a_new_shard() -> None:
    owners = [f"owner{i}" for i in range(2000)]
    at_8 = {o: shard_of(o, 8) for o in owners}
    at_9 = {o: shard_of(o, 9) for o in owners}
    moved = [o for o in owners if at_8[o] != at_9[o]]
    assert all(at_9[o] == 8 for o in moved), "raising shards only moves owners into the new shard"
    assert 150 < len(moved) < 300, len(moved)  # about 1/9 of 2000
    assert shard_of("Alice", 8) == shard_of("alice", 8)
