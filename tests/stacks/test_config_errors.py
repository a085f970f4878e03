"""Configuration errors through the real CDK CLI: one line naming the key, no traceback, a non-zero exit;
and the configFile reader against hostile files (bounded time and memory, one-line errors)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from app import MAX_CONFIG_BYTES, read_config_file
from stacks.config_values import ConfigError
from tests.conftest import REPO, cdk_synth


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def test_a_bad_context_value_prints_the_key_and_no_traceback(tmp_path: Path) -> None:
    raw = {"notebooks": [{"id": "Nb", "instanceType": "ml.t3.meduim"}]}
    result = cdk_synth(REPO, tmp_path / "out", "-c", f"notebookEnvironment={json.dumps(raw)}")
    assert result.returncode != 0
    assert _error_lines(result.stderr) == [
        "error: notebookEnvironment.notebooks[0].instanceType: 'ml.t3.meduim' is not a notebook instance type; "
        "did you mean 'ml.t3.medium' or 'ml.t2.medium' or 'ml.t3.large'? See the list in constructs_lib/data "
        "(from the CloudFormation schema)."
    ], result.stderr
    assert "Traceback" not in result.stderr and 'File "' not in result.stderr


def test_a_bad_config_file_prints_the_key_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "team").mkdir()
    config = {
        "notebookEnvironment": {
            "notebooks": [{"id": "Nb", "onStart": [{"script": "team/../../etc/passwd", "runAs": "root"}]}]
        }
    }
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    result = cdk_synth(REPO, tmp_path / "out", "-c", f"configFile={config_file}")
    assert result.returncode != 0
    (line,) = _error_lines(result.stderr)
    assert line.startswith("error: notebookEnvironment.notebooks[0].onStart[0].script: ") and "leaves the" in line
    assert "Traceback" not in result.stderr


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "expected a JSON object at the top, got list"),
        (b"\xff\xfe{}", "not valid JSON"),
        ('{"notebookEnvironment": ' + _nested(100_000) + "}", "not valid JSON"),
        (" " * (MAX_CONFIG_BYTES + 1), f"larger than {MAX_CONFIG_BYTES} bytes"),
    ],
)
def test_hostile_config_files_fail_with_one_line(content: str | bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    started = time.monotonic()
    with pytest.raises(ConfigError, match=message) as error:
        read_config_file(str(path))
    assert "\n" not in str(error.value) and time.monotonic() - started < 5


@pytest.mark.parametrize("kind", ["fifo", "directory", "device", "missing"])
def test_config_files_that_are_not_regular_files_are_refused_without_blocking(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    if kind == "fifo":
        os.mkfifo(path)  # opening it for reading would wait for a writer forever
    elif kind == "directory":
        path.mkdir()
    elif kind == "device":
        path = Path("/dev/zero")  # endless
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"not a regular file|cannot read it"):
        read_config_file(str(path))
    assert time.monotonic() - started < 5


def test_a_config_file_gives_its_directory_as_the_base_of_script_paths(tmp_path: Path) -> None:
    path = tmp_path / "team" / "config.json"
    path.parent.mkdir()
    path.write_text('{"notebookEnvironment": {"notebooks": []}}')
    assert read_config_file(str(path)) == ({"notebookEnvironment": {"notebooks": []}}, path.parent.resolve())
