"""Notebook configuration: every bad value fails with the key's path; good values become modules."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from stacks.config import ConfigError, parse_config, parse_duration
from stacks.notebook_stack import NotebookStack
from tests.conftest import REPO

DEFAULT = json.loads((REPO / "cdk.json").read_text())["context"]["notebookEnvironment"]


def with_notebook(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(DEFAULT)
    raw["notebooks"][0].update(changes)
    return raw


def test_default_configuration_parses_into_catalogue_modules() -> None:
    config = parse_config(DEFAULT)
    (notebook,) = config.notebooks
    assert [m.name for m in notebook.on_start] == [m["module"] for m in DEFAULT["notebooks"][0]["onStart"]]
    assert notebook.platform_identifier == "notebook-al2023-v1" and not notebook.root_access


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, r"notebookEnvironment: expected an object"),
        ({"notebooks": [], "extra": 1}, r"notebookEnvironment.extra: unknown key"),
        ({}, r"notebookEnvironment.notebooks: required key is missing"),
        (with_notebook(id="lower"), r"notebooks\[0\].id: 'lower' is invalid"),
        (with_notebook(volumeSizeGiB="20"), r"notebooks\[0\].volumeSizeGiB: expected a whole number"),
        (with_notebook(rootAccess="no"), r"notebooks\[0\].rootAccess: expected true or false"),
        (with_notebook(onStart=[{"module": "nope"}]), r"onStart\[0\].module: unknown module 'nope'"),
        (
            with_notebook(onStart=[{"module": "persisted-bin-on-path", "binDir": "../x"}]),
            r"onStart\[0\]: persisted_bin_on_path: bin_dir='../x' is invalid",
        ),
        (
            with_notebook(onStart=[{"module": "persisted-bin-on-path", "colour": "red"}]),
            r"onStart\[0\].colour: unknown key",
        ),
        (
            with_notebook(onStart=[{"module": "studio-environment-variables", "variables": {}}]),
            r"onStart\[0\].module: 'studio-environment-variables' is made for Studio",
        ),
        (with_notebook(onCreate={"module": "x"}), r"onCreate: expected a list of modules"),
        (
            {"notebooks": [DEFAULT["notebooks"][0], DEFAULT["notebooks"][0]]},
            r"notebooks\[1\].id: 'DataScience' is used twice",
        ),
        (
            {"notebooks": [DEFAULT["notebooks"][0]] * 31},
            r"notebookEnvironment.notebooks: 31 notebooks do not fit one stack",
        ),
    ],
)
def test_bad_values_name_their_key(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("60m", 3600), ("2h", 7200)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text, "x").to_seconds() == seconds


@pytest.mark.parametrize("text", ["60", "1d", "-5m", 60, "m"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ConfigError, match="expected a duration"):
        parse_duration(text, "x")


def test_public_network_variant_has_no_vpc_and_direct_internet() -> None:
    raw = copy.deepcopy(DEFAULT)
    raw["privateNetwork"] = False
    raw["notebooks"][0]["onStart"] = [{"module": "conda-persistent-envs"}]
    stack = NotebookStack(App(), "Notebooks", config=parse_config(raw))
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::VPC", 0)
    template.has_resource_properties("AWS::SageMaker::NotebookInstance", {"DirectInternetAccess": "Enabled"})


def test_logical_ids_of_stateful_resources_are_pinned() -> None:
    raw = copy.deepcopy(DEFAULT)
    raw["notebooks"][0]["onStart"] = [{"module": "conda-persistent-envs"}]
    stack = NotebookStack(App(), "SageMakerNotebooks", config=parse_config(raw))
    resources = Template.from_stack(stack).to_json()["Resources"]
    by_type = {}
    for logical_id, resource in resources.items():
        by_type.setdefault(resource["Type"], []).append(logical_id)
    assert by_type["AWS::SageMaker::NotebookInstance"] == ["DataScience5A966E5B"]
    assert by_type["AWS::SageMaker::NotebookInstanceLifecycleConfig"] == ["DataScienceLifecycleConfigBB64B8F8"]
    assert by_type["AWS::KMS::Key"] == ["DataScienceKey10B145E1"]
    assert by_type["AWS::EC2::VPC"] == ["NetworkVpc7FB7348F"]


def test_s3_asset_archive_location_from_config_passes_cdk_nag(tmp_path: Any) -> None:
    from aws_cdk import Validations
    from cdk_nag import AwsSolutionsChecks

    raw = with_notebook(archiveLocation="s3-asset")
    app = App(outdir=str(tmp_path))
    stack = NotebookStack(app, "SageMakerNotebooks", config=parse_config(raw))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises on any unsuppressed finding
    assert stack.lifecycle_configs["DataScience"].archive_assets.keys() == {"OnStart"}
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert [p["conclusion"] for p in report["pluginReports"]] == ["success"]


def test_bad_archive_location_names_the_key() -> None:
    with pytest.raises(
        ConfigError, match=r"notebooks\[0\].archiveLocation: 'bucket' is invalid; use one of inline, s3-asset"
    ):
        parse_config(with_notebook(archiveLocation="bucket"))
