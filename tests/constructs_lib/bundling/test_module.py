"""Module validation: every bad input fails at once with a message naming the field and the fix."""

from pathlib import Path

import pytest
from aws_cdk import Duration

from constructs_lib import LifecycleConfigError, Mode, Module, RunAs

SCRIPT = "#!/bin/bash\necho hi\n"


def test_line_endings_are_normalised_to_lf() -> None:
    module = Module(name="crlf", script="#!/bin/bash\r\necho a\r\necho b\r")
    assert module.script == "#!/bin/bash\necho a\necho b\n"


def test_script_without_shebang_is_rejected() -> None:
    with pytest.raises(LifecycleConfigError, match=r"module 'plain'.*no shebang.*#!/bin/bash"):
        Module(name="plain", script="echo hi\n")


@pytest.mark.parametrize("name", ["", "Upper", "-lead", "with space", "x" * 49, "under_score"])
def test_invalid_names_are_rejected(name: str) -> None:
    with pytest.raises(LifecycleConfigError, match="module name"):
        Module(name=name, script=SCRIPT)


def test_unknown_user_is_rejected() -> None:
    with pytest.raises(LifecycleConfigError, match=r"unknown user 'bob'.*RunAs.ROOT or RunAs.NOTEBOOK_USER"):
        Module(name="m", script=SCRIPT, user="bob")  # type: ignore[arg-type]


def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(LifecycleConfigError, match="unknown mode"):
        Module(name="m", script=SCRIPT, mode="later")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mode", "budget"),
    [
        (Mode.BLOCKING, Duration.seconds(0)),
        (Mode.BLOCKING, Duration.seconds(268)),
        (Mode.BLOCKING, Duration.minutes(5)),
        (Mode.BLOCKING, Duration.millis(1500)),
        (Mode.BACKGROUND, Duration.hours(25)),
    ],
)
def test_budget_out_of_range_is_rejected(mode: Mode, budget: Duration) -> None:
    with pytest.raises(LifecycleConfigError, match=r"budget .* out of range"):
        Module(name="m", script=SCRIPT, mode=mode, budget=budget)


def test_negative_budget_is_rejected_by_cdk_or_us() -> None:
    with pytest.raises(Exception, match=r"(?i)negative|out of range"):
        Module(name="m", script=SCRIPT, budget=Duration.seconds(-5))


def test_largest_blocking_budget_is_accepted() -> None:
    assert Module(name="m", script=SCRIPT, budget=Duration.seconds(267)).budget_seconds == 267


def test_budget_must_be_a_duration() -> None:
    with pytest.raises(LifecycleConfigError, match=r"aws_cdk\.Duration"):
        Module(name="m", script=SCRIPT, budget=30)  # type: ignore[arg-type]


def test_missing_script_file_is_reported_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(LifecycleConfigError, match=r"nope\.sh.*does not exist"):
        Module.from_file(tmp_path / "nope.sh")


def test_missing_carried_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(LifecycleConfigError, match=r"file 'tool.py'.*does not exist"):
        Module(name="m", script=SCRIPT, files={"tool.py": tmp_path / "tool.py"})


def test_from_file_reads_script_and_names_it_after_the_file(tmp_path: Path) -> None:
    path = tmp_path / "my_step.sh"
    path.write_bytes(b"#!/bin/sh\r\ntrue\r\n")
    module = Module.from_file(path, user=RunAs.NOTEBOOK_USER)
    assert (module.name, module.script, module.user) == ("my-step", "#!/bin/sh\ntrue\n", RunAs.NOTEBOOK_USER)


@pytest.mark.parametrize("rel", ["/abs", "../up", "a/../b", "sp ace", ""])
def test_invalid_file_paths_are_rejected(rel: str) -> None:
    with pytest.raises(LifecycleConfigError, match="file path"):
        Module(name="m", script=SCRIPT, files={rel: "x"})


@pytest.mark.parametrize("key", ["lower", "1X", "PATH", "LCC_ROOT", "MODULE_DIR", "A-B"])
def test_invalid_or_reserved_setting_names_are_rejected(key: str) -> None:
    with pytest.raises(LifecycleConfigError, match=f"setting name '{key}'"):
        Module(name="m", script=SCRIPT, settings={key: "v"})


def test_setting_value_with_nul_is_rejected() -> None:
    with pytest.raises(LifecycleConfigError, match="without NUL"):
        Module(name="m", script=SCRIPT, settings={"X": "a\x00b"})


def test_non_utf8_script_is_rejected() -> None:
    with pytest.raises(LifecycleConfigError, match="not UTF-8"):
        Module(name="m", script=b"#!/bin/bash\n\xff\n")  # type: ignore[arg-type]
