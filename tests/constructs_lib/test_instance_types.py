"""The shipped instance-type lists equal what cfn-lint's CloudFormation schemas allow.

``python -m tests.constructs_lib.test_instance_types`` rewrites them after a cfn-lint bump (review the diff).
"""

from __future__ import annotations

import json
from importlib import metadata, resources
from pathlib import Path

import pytest

from constructs_lib import instance_types
from constructs_lib.instance_types import (
    NOTEBOOK_FILE,
    STUDIO_FILE,
    STUDIO_RESOURCES,
    notebook_instance_type_problem,
    studio_instance_type_problem,
)

REGION = "us-east-1"
"""cfn-lint's default region; the SageMaker schemas are the same in every region that has them."""


def _schema(resource: str) -> dict[str, object]:
    schemas = Path(str(resources.files("cfnlint"))) / "data" / "schemas"
    provider = json.loads((schemas / "providers" / f"{REGION}.json").read_text())
    return json.loads((schemas / "resources" / f"{provider[resource]}.json").read_text())  # type: ignore[no-any-return]


def _resolve(schema: dict[str, object], node: dict[str, object]) -> dict[str, object]:
    ref = node.get("$ref")
    if isinstance(ref, str):
        return schema["definitions"][ref.rsplit("/", 1)[1]]  # type: ignore[index,no-any-return]
    return node


def expected_files() -> dict[str, str]:
    """The data files as generated from the installed cfn-lint."""
    source = f"cfn-lint {metadata.version('cfn-lint')} resource schemas ({REGION})"
    notebook = _schema("AWS::SageMaker::NotebookInstance")
    notebook_types = _resolve(notebook, notebook["properties"]["InstanceType"])["enum"]  # type: ignore[index]
    studio = {}
    for resource in STUDIO_RESOURCES:
        schema = _schema(resource)
        spec = schema["definitions"]["ResourceSpec"]["properties"]["InstanceType"]  # type: ignore[index]
        studio[resource] = sorted(_resolve(schema, spec)["enum"])  # type: ignore[arg-type]
    files = {
        NOTEBOOK_FILE: {
            "source": f"{source}: AWS::SageMaker::NotebookInstance InstanceType",
            "instanceTypes": sorted(notebook_types),  # type: ignore[arg-type]
        },
        STUDIO_FILE: {"source": f"{source}: ResourceSpec InstanceType", "instanceTypes": studio},
    }
    return {name: json.dumps(data, indent=1, sort_keys=True) + "\n" for name, data in files.items()}


DATA = Path(instance_types.__file__).parent / instance_types.DATA_DIR


@pytest.mark.parametrize("name", [NOTEBOOK_FILE, STUDIO_FILE])
def test_shipped_lists_equal_cfn_lint_schemas(name: str) -> None:
    assert (DATA / name).read_text() == expected_files()[name], (
        "cfn-lint's schemas changed: run python -m tests.constructs_lib.test_instance_types and review the diff"
    )


@pytest.mark.parametrize(
    ("instance_type", "platform", "problem"),
    [
        ("ml.t3.medium", "notebook-al2023-v1", None),
        ("ml.g5.xlarge", "notebook-al2023-v1", None),
        (
            "ml.t3.meduim",
            "notebook-al2023-v1",
            "'ml.t3.meduim' is not a notebook instance type; did you mean 'ml.t3.medium'",
        ),
        ("ml.t3.medium\n", "notebook-al2023-v1", "is not a notebook instance type"),
        ("ml.p3.2xlarge", "notebook-al2023-v1", "'ml.p3.2xlarge' is not offered on notebook-al2023-v1"),
        ("ml.p2.xlarge", "notebook-al2023-v1", "is not offered on notebook-al2023-v1"),
        ("ml.p3dn.24xlarge", "notebook-al2023-v1", "is not offered"),
        ("ml.inf1.xlarge", "notebook-al2023-v1", "is not offered"),
        ("ml.g4dn.xlarge", "notebook-al2023-v1", None),
        (3, "notebook-al2023-v1", "3 is not a notebook instance type"),
    ],
)
def test_notebook_instance_type_problems(instance_type: object, platform: str, problem: str | None) -> None:
    found = notebook_instance_type_problem(instance_type, platform)
    assert found == problem if problem is None else problem in str(found)


def test_studio_types_are_checked_per_resource() -> None:
    assert studio_instance_type_problem("system", "AWS::SageMaker::Domain") is None
    assert studio_instance_type_problem("ml.m5.large", "AWS::SageMaker::UserProfile") is None
    assert "did you mean 'ml.m5.large'" in str(studio_instance_type_problem("ml.m5.lrge", "AWS::SageMaker::Domain"))


if __name__ == "__main__":
    for file_name, text in expected_files().items():
        (DATA / file_name).write_text(text)
        print(f"wrote {DATA / file_name}")
