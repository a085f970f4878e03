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
        ({}, r"notebookEnvironment: give notebooks, fleets or both"),
        (with_notebook(id="lower"), r"notebooks\[0\].id: 'lower' is invalid"),
        (with_notebook(volumeSizeGiB="20"), r"notebooks\[0\].volumeSizeGiB: expected a whole number"),
        (with_notebook(rootAccess="no"), r"notebooks\[0\].rootAccess: expected true or false"),
        (with_notebook(onStart=[{"module": "nope"}]), r"onStart\[0\].module: unknown module 'nope'"),
        (with_notebook(id="DataScience\n"), r"notebooks\[0\].id: 'DataScience\\n' is invalid"),
        (with_notebook(name="nb\n"), r'notebooks\[0\].name: "nb\\n" is invalid'),
        (with_notebook(name="nb_1"), r'notebooks\[0\].name: "nb_1" is invalid'),
        (
            with_notebook(instanceType="ml.t3.meduim"),
            r"notebooks\[0\].instanceType: 'ml.t3.meduim' is not a notebook instance type; did you mean 'ml.t3.medium'",
        ),
        (with_notebook(instanceType="ml.t3.medium\n"), r"notebooks\[0\].instanceType: .* is not a notebook instance"),
        (with_notebook(instanceType=3), r"notebooks\[0\].instanceType: 3 is not a notebook instance type"),
        (
            with_notebook(instanceType="ml.p3.2xlarge"),
            r"notebooks\[0\].instanceType: 'ml.p3.2xlarge' is not offered on notebook-al2023-v1 \(Amazon Linux 2023 "
            r"has no ml.p2, ml.p3, ml.p3dn, ml.inf1, ml.g3 instances\)",
        ),
        (with_notebook(instanceType="ml.p2.xlarge"), r"notebooks\[0\].instanceType: 'ml.p2.xlarge' is not offered"),
        (with_notebook(instanceType="ml.inf1.xlarge"), r"notebooks\[0\].instanceType: 'ml.inf1.xlarge' is not offered"),
        (
            with_notebook(platformIdentifier="notebook-al2-v2"),
            r"notebooks\[0\].platformIdentifier: 'notebook-al2-v2' is Amazon Linux 2, whose support ended \(Amazon "
            r"Linux 2 on 2026-06-30\): from 2026-07-01 such instances can no longer be created or restarted. Use "
            r"'notebook-al2023-v1'",
        ),
        (
            with_notebook(platformIdentifier="notebook-al2-v1"),
            r"platformIdentifier: 'notebook-al2-v1' is Amazon Linux 2",
        ),
        (
            with_notebook(platformIdentifier="notebook-al2-v3"),
            r"platformIdentifier: 'notebook-al2-v3' is Amazon Linux 2",
        ),
        (with_notebook(platformIdentifier="notebook-al2023-v1\n"), r"platformIdentifier: .* is unknown"),
        (with_notebook(volumeSizeGiB=4), r"notebooks\[0\].volumeSizeGiB: 4 is out of range; give 5 to 16384"),
        (
            with_notebook(onStart=[{"module": "persisted-bin-on-path", "binDir": "../x"}]),
            r'onStart\[0\].binDir: "../x" is invalid: give a relative path \(for example ".conda/envs"\)',
        ),
        (
            with_notebook(onStart=[{"module": "idle-autostop", "ignoreConnections": "yes"}]),
            r'onStart\[0\].ignoreConnections: "yes" is invalid: give true or false.$',
        ),
        (
            with_notebook(onStart=[{"module": "idle-autostop", "idle": "2m"}]),
            r'onStart\[0\].idle: "2m" is invalid: give a duration \(such as "90s", "60m" or "2h"\) of whole minutes '
            r"from 5 to 1440.$",
        ),
        (
            with_notebook(onStart=[{"module": "idle-autostop", "idle": "60m\n"}]),
            r'onStart\[0\].idle: expected a duration such as "90s", "60m" or "2h", got "60m\\n"',
        ),
        (
            with_notebook(onStart=[{"module": "conda-packages-background", "envName": "ml", "packages": "numpy"}]),
            r'onStart\[0\].packages: "numpy" is invalid: give a list of package specs such as '
            r'\["numpy", "pandas>=2"\].$',
        ),
        (
            with_notebook(onStart=[{"module": "conda-packages-background", "packages": ["numpy"]}]),
            r"onStart\[0\].envName: required key is missing.",
        ),
        (
            with_notebook(
                onStart=[{"module": "git-config", "userName": "J", "userEmail": "j@example.com", "extra": []}]
            ),
            r"onStart\[0\].extra: \[\] is invalid: give an object of git option names to values, e.g. "
            r'{"core.editor": "vim"}.',
        ),
        (
            with_notebook(onStart=[{"module": "environment-variables", "variables": {"PAGER": "less"}}]),
            r'onStart\[0\].variables: "PAGER" is invalid: PAGER names a program .* list "PAGER" in allowVariables.',
        ),
        (
            with_notebook(onStart=[{"module": "conda-env-kernels", "budget": "10m"}]),
            r'onStart\[0\].budget: "10m" is out of range for a blocking module: give 1s to 267s \(long work belongs '
            r'in the background: "mode": "background"\).',
        ),
        (
            with_notebook(onStart=[{"module": "conda-env-kernels", "budget": 90}]),
            r'onStart\[0\].budget: expected a duration such as "90s"',
        ),
        (
            with_notebook(onStart=[{"modul": "x"}]),
            r'onStart\[0\]: give "module" \(one of conda-env-kernels, .*\), "script"',
        ),
        (
            with_notebook(onStart=[{"module": "stop-ssm-agent"}, {"module": "stop-ssm-agent"}]),
            r"onStart\[1\]: module name 'stop-ssm-agent' is already used by "
            r"notebookEnvironment.notebooks\[0\].onStart\[0\]",
        ),
        (
            with_notebook(onStart=[{"script": "team/x.sh", "runAs": "root"}]),
            r"onStart\[0\].script: script paths need the configuration's directory",
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
            {"notebooks": [{"id": "One", "name": "shared"}, {"id": "Two", "name": "Shared"}]},
            r'notebooks\[1\].name: "Shared" is already the name of notebooks\[0\]; notebook instance names are unique',
        ),
    ],
)
def test_bad_values_name_their_key(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("60m", 3600), ("2h", 7200)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text, "x").to_seconds() == seconds


def test_a_configured_budget_replaces_a_catalogue_modules_own() -> None:
    config = parse_config(with_notebook(onStart=[{"module": "conda-env-kernels", "budget": "90s"}]))
    assert config.notebooks[0].on_start[0].budget_seconds == 90
    background = {"module": "conda-packages-background", "envName": "ml", "packages": ["numpy"], "budget": "2h"}
    assert parse_config(with_notebook(onStart=[background])).notebooks[0].on_start[0].budget_seconds == 7200


def test_a_risky_variable_passes_when_allowed_by_name() -> None:
    entry = {"module": "environment-variables", "variables": {"PAGER": "less"}, "allowVariables": ["PAGER"]}
    (module,) = parse_config(with_notebook(onStart=[entry])).notebooks[0].on_start
    assert b"export PAGER=less" in module.carried_files["environment.sh"]


@pytest.mark.parametrize("text", ["60", "1d", "-5m", 60, "m", "60m\n", "\u0666\u0660m", "9999999s"])
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
        ConfigError, match=r'notebooks\[0\].archiveLocation: "bucket" is invalid; use one of "inline", "s3-asset"'
    ):
        parse_config(with_notebook(archiveLocation="bucket"))
