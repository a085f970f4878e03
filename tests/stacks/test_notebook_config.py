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
        (
            {"notebooks": [DEFAULT["notebooks"][0]] * 31},
            r"notebookEnvironment.notebooks: 31 notebooks do not fit one stack",
        ),
        # permissions, role, key, tags, instance options, network (issue 10)
        (
            with_notebook(permissions={"s3": [{"bucket": "Team_Data"}]}),
            r'permissions.s3\[0\].bucket: "Team_Data" is not',
        ),
        (
            with_notebook(permissions={"s3": [{"bucket": "arn:aws:s3:::b"}]}),
            r"s3\[0\].bucket: .* not an S3 bucket name",
        ),
        (
            with_notebook(permissions={"s3": [{"bucket": "abc", "prefix": "raw/*"}]}),
            r"s3\[0\].prefix: .* \(no wildcards",
        ),
        (with_notebook(permissions={"s3": [{"bucket": "abc", "prefix": "${aws:username}/"}]}), r"s3\[0\].prefix: "),
        (with_notebook(permissions={"s3": [{"bucket": "abc", "prefix": "/raw"}]}), r"s3\[0\].prefix: .* not starting"),
        (with_notebook(permissions={"s3": [{"bucket": "abc", "access": "write"}]}), r'access: "write" is invalid; use'),
        (with_notebook(permissions={"s3": [{"bucket": "abc"}, {"bucket": "abc"}]}), r"s3\[1\]: bucket .* twice"),
        (with_notebook(permissions={"s3": {"bucket": "abc"}}), r"permissions.s3: expected a list"),
        (
            with_notebook(permissions={"kmsKeys": ["arn:aws:kms:eu-west-1:111122223333:alias/team"]}),
            r"kmsKeys\[0\]: .* alias",
        ),
        (with_notebook(permissions={"kmsKeys": ["KEY\\n"]}), r"kmsKeys\[0\]: .* is not a KMS key ARN"),
        (
            with_notebook(permissions={"managedPolicies": ["AmazonS3ReadOnlyAccess"]}),
            r"managedPolicies\[0\]: .* managed policy",
        ),
        (
            with_notebook(permissions={"managedPolicies": [f"arn:aws:iam::aws:policy/P{i}" for i in range(11)]}),
            r"managedPolicies: 11 policies; IAM attaches at most 10",
        ),
        (with_notebook(permissions={"iam": []}), r"permissions.iam: unknown key"),
        (
            with_notebook(roleArn="arn:aws:iam::111122223333:role/team", permissions={"s3": [{"bucket": "abc"}]}),
            r"notebooks\[0\].permissions: cannot be granted to the existing role given in roleArn",
        ),
        (with_notebook(roleArn="arn:aws:iam::111122223333:user/team"), r"roleArn: .* is not an IAM role ARN"),
        (with_notebook(kmsKeyArn="alias/aws/sagemaker"), r'kmsKeyArn: "alias/aws/sagemaker" is not a KMS key ARN'),
        (with_notebook(tags={"aws:createdBy": "me"}), r'tags\["aws:createdBy"\]: tag key .* not starting with "aws:"'),
        (with_notebook(tags={"Team": 7}), r"tags.Team: expected a string, got 7"),
        (with_notebook(tags={"Team": "a|b"}), r'tags.Team: tag value "a\|b" is invalid'),
        (with_notebook(tags=["Team"]), r"notebooks\[0\].tags: expected an object"),
        (
            {
                **DEFAULT,
                "tags": {f"G{i}": "x" for i in range(30)},
                "notebooks": [{"id": "A", "tags": {f"N{i}": "x" for i in range(21)}}],
            },
            r"notebooks\[0\].tags: with the global tags this makes 51 tags",
        ),
        (with_notebook(minimumImdsVersion=2), r"minimumImdsVersion: 2 is invalid; use \"2\""),
        (with_notebook(ipAddressType="dualstack"), r'ipAddressType: "dualstack" cannot be deployed yet'),
        (with_notebook(ipAddressType="ipv6"), r'ipAddressType: "ipv6" is invalid'),
        (
            with_notebook(codeRepositories=[{"url": "git@github.com:o/r.git"}]),
            r"codeRepositories\[0\].url: .* https://",
        ),
        (
            with_notebook(codeRepositories=[{"url": "https://x/r.git", "secretArn": "team-git"}]),
            r"codeRepositories\[0\].secretArn: ",
        ),
        (
            with_notebook(codeRepositories=[{"url": "https://x/r.git", "branch": "a..b:c"}]),
            r"codeRepositories\[0\].branch: ",
        ),
        (
            with_notebook(codeRepositories=[{"url": f"https://x/{i}.git"} for i in range(5)]),
            r"codeRepositories: 5 repositories",
        ),
        (
            with_notebook(codeRepositories=[{"url": "https://x/r.git", "token": "t"}]),
            r"codeRepositories\[0\].token: unknown key",
        ),
        (
            {**DEFAULT, "network": {"vpcId": "vpc-1", "subnetIds": ["subnet-12345678"]}},
            r"network.vpcId: \"vpc-1\" is not a VPC ID",
        ),
        ({**DEFAULT, "network": {"vpcId": "vpc-12345678", "subnetIds": []}}, r"network.subnetIds: give at least one"),
        ({**DEFAULT, "network": {"vpcId": "vpc-12345678"}}, r"network.subnetIds: required key is missing"),
        (
            {**DEFAULT, "network": {"vpcId": "vpc-12345678", "subnetIds": ["subnet-12345678", "subnet-12345678"]}},
            r"network.subnetIds\[1\]: .* listed twice",
        ),
        (
            {
                **DEFAULT,
                "network": {"vpcId": "vpc-12345678", "subnetIds": ["subnet-12345678"], "securityGroupIds": ["sg-x"]},
            },
            r"network.securityGroupIds\[0\]: \"sg-x\" is not a security group ID",
        ),
        (
            {
                **DEFAULT,
                "network": {"vpcId": "vpc-12345678", "subnetIds": ["subnet-12345678"], "availabilityZones": []},
            },
            r"network.availabilityZones: 0 zones for 1 subnets",
        ),
        (
            {
                **DEFAULT,
                "network": {
                    "vpcId": "vpc-12345678",
                    "subnetIds": ["subnet-12345678"],
                    "availabilityZones": ["use1-az1"],
                },
            },
            r"network.availabilityZones\[0\]: \"use1-az1\" is not an availability zone name",
        ),
        (
            {**DEFAULT, "privateNetwork": True, "network": {"vpcId": "vpc-12345678", "subnetIds": ["subnet-12345678"]}},
            r"notebookEnvironment.privateNetwork: true creates a new network, and network names an existing one",
        ),
        (
            {**DEFAULT, "removalPolicy": "snapshot"},
            r'notebookEnvironment.removalPolicy: "snapshot" is invalid; use "retain"',
        ),
    ],
)
def test_bad_values_name_their_key(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_good_access_values_parse() -> None:
    key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    raw = with_notebook(
        permissions={
            "s3": [{"bucket": "team.data-1", "prefix": "raw/2026/", "access": "read-write"}],
            "kmsKeys": [key],
        },
        tags={"Team": "ana lytics", "Cost-Center": "47:11"},
        roleArn="arn:aws:iam::111122223333:role/path/team-nb",
        codeRepositories=[{"url": "https://github.com/org/repo.git", "branch": "feature/x"}],
    )
    raw["tags"] = {"Team": "all", "Owner": "data"}
    raw["network"] = {
        "vpcId": "vpc-0a1b2c3d4e5f60718",
        "subnetIds": ["subnet-12345678"],
        "availabilityZones": ["eu-west-1a"],
    }
    raw["privateNetwork"] = False
    with pytest.raises(ConfigError, match="permissions: cannot be granted"):
        parse_config(raw)
    del raw["notebooks"][0]["roleArn"]
    config = parse_config(raw)
    (notebook,) = config.notebooks
    assert notebook.permissions.s3[0].prefix == "raw/2026/" and notebook.permissions.kms_key_arns == (key,)
    assert notebook.tags == {"Cost-Center": "47:11", "Owner": "data", "Team": "ana lytics"}
    assert notebook.minimum_imds_version == "2" and notebook.code_repositories[0].branch == "feature/x"
    assert config.network is not None and config.network.availability_zones == ("eu-west-1a",)
    del raw["privateNetwork"]
    assert parse_config(raw).private_network is False  # an existing network needs no privateNetwork: false


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
