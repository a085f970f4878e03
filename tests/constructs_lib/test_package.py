"""The package surface: every public name importable from ``constructs_lib``, every import the READMEs show
works, and the root stays light (no aws-cdk-lib until a construct is used)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import constructs_lib
from tests.conftest import REPO

READMES = (REPO / "README.md", REPO / "constructs_lib" / "README.md", *sorted((REPO / "docs").glob("*.md")))
_FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)
_CLASS_CALL = re.compile(r"`([A-Z][A-Za-z0-9]+)\(")
_ENUM_MEMBER = re.compile(r"`([A-Z][A-Za-z0-9]+)\.[A-Z][A-Z0-9_]+`")
_NOT_OURS = {"Aws", "Path", "RemovalPolicy", "Duration", "RetentionDays"}  # aws_cdk and pathlib names
_TOOLS = ("constructs_lib.review", "constructs_lib.rehearse", "constructs_lib.catalogue", "constructs_lib.bundling")


def readme_imports() -> list[tuple[str, str, str]]:
    """(readme, module, name) for each ``from constructs_lib... import ...`` in a README's Python blocks."""
    found = []
    for readme in READMES:
        for block in _FENCE.findall(readme.read_text()):
            for node in ast.walk(ast.parse(block)):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("constructs_lib"):
                    found.extend((readme.name, str(node.module), alias.name) for alias in node.names)
    return found


def public_classes() -> list[tuple[str, str]]:
    """(module, class) for every public class defined in a construct-library module (the tools' packages
    and private modules aside)."""
    found = []
    for info in pkgutil.walk_packages(constructs_lib.__path__, "constructs_lib."):
        if info.name.startswith(_TOOLS) or any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and value.__module__ == info.name and not name.startswith("_"):
                found.append((info.name, name))
    return sorted(found)


def test_every_name_in_all_imports() -> None:
    assert len(constructs_lib.__all__) == len(set(constructs_lib.__all__)) >= 30
    for name in constructs_lib.__all__:
        assert inspect.isclass(getattr(constructs_lib, name)), name


@pytest.mark.parametrize(("module", "name"), public_classes())
def test_every_public_class_of_the_library_is_exported_from_the_root(module: str, name: str) -> None:
    assert name in constructs_lib.__all__, f"{module}.{name} is public but not exported from constructs_lib"
    assert getattr(constructs_lib, name) is getattr(importlib.import_module(module), name)


def test_the_readmes_code_imports_work() -> None:
    imports = readme_imports()
    assert ("README.md", "constructs_lib", "NotebookInstance") in imports
    for readme, module, name in imports:
        assert hasattr(importlib.import_module(module), name), f"{readme}: from {module} import {name} fails"


def test_every_class_the_library_readme_shows_is_importable_from_the_root() -> None:
    text = (REPO / "constructs_lib" / "README.md").read_text()
    shown = (set(_CLASS_CALL.findall(text)) | set(_ENUM_MEMBER.findall(text))) - _NOT_OURS
    assert {"StudioDomain", "StudioUserProfile", "StudioAppType", "PrivateNotebookNetwork"} <= shown
    missing = sorted(name for name in shown if name not in constructs_lib.__all__)
    assert not missing, f"the README shows {missing}, which `from constructs_lib import ...` does not give"


def test_every_catalogue_factory_in_the_readme_table_is_importable() -> None:
    section = (REPO / "constructs_lib" / "README.md").read_text().split("## Script catalogue", 1)[1].split("\n## ")[0]
    table = re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE)
    catalogue = importlib.import_module("constructs_lib.catalogue")
    assert len(table) >= 15
    assert [name for name in table if not callable(getattr(catalogue, name, None))] == []


def test_an_unknown_name_fails_like_a_module_attribute() -> None:
    with pytest.raises(AttributeError, match="module 'constructs_lib' has no attribute 'StudioDomian'"):
        constructs_lib.StudioDomian  # noqa: B018
    with pytest.raises(ImportError):
        exec("from constructs_lib import StudioDomian")


def test_the_root_and_the_tools_load_without_aws_cdk_lib() -> None:
    code = (
        "import sys, constructs_lib, constructs_lib.review.cli, constructs_lib.rehearse.cli\n"
        "print(sorted(m for m in sys.modules if m.startswith(('aws_cdk', 'jsii'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_py_typed_marks_the_package() -> None:
    assert (Path(constructs_lib.__file__).parent / "py.typed").is_file()
