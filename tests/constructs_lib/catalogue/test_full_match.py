"""Every validating pattern matches the whole value: a trailing newline (what ``re.match`` with ``$`` lets
through) is refused, while the same value without it is accepted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import App, Stack

from constructs_lib import LifecycleConfigError, Module, NotebookInstance, NotebookLifecycleConfig, catalogue
from constructs_lib.catalogue.registry import register
from constructs_lib.studio_domain import _check_name
from constructs_lib.studio_lifecycle_config import StudioAppType, StudioLifecycleConfig
from constructs_lib.studio_settings import StudioAppSettings

SCRIPT = "#!/bin/bash\ntrue\n"


def _stack() -> Stack:
    return Stack(App(), "S")


# (what, build from a value, a good value): build(good) works, build(good + "\n") must raise.
CASES: list[tuple[str, Callable[[str], object], str]] = [
    ("module name", lambda v: Module(name=v, script=SCRIPT), "team-step"),
    ("setting name", lambda v: Module(name="m", script=SCRIPT, settings={v: "x"}), "PIP_INDEX"),
    ("carried file", lambda v: Module(name="m", script=SCRIPT, files={v: "x"}), "ca.pem"),
    ("envs_dir", lambda v: catalogue.conda_persistent_envs(envs_dir=v), ".conda/envs"),
    ("dot folder", lambda v: catalogue.persist_dotfolders(folders=[v]), ".ssh"),
    ("display prefix", lambda v: catalogue.conda_env_kernels(display_prefix=v), "conda"),
    ("env name", lambda v: catalogue.conda_packages_background(env_name=v, packages=["numpy"]), "ml"),
    ("package spec", lambda v: catalogue.conda_packages_background(env_name="ml", packages=[v]), "numpy>=1.26"),
    (
        "python version",
        lambda v: catalogue.conda_packages_background(env_name="ml", packages=["x"], python_version=v),
        "3.11",
    ),
    (
        "channel",
        lambda v: catalogue.conda_packages_background(env_name="ml", packages=["x"], channel=v),
        "https://conda.example.com/main",
    ),
    ("variable name", lambda v: catalogue.environment_variables(variables={v: "1"}), "TEAM"),
    ("profile file", lambda v: catalogue.environment_variables(variables={"A": "1"}, file_name=v), "team.sh"),
    ("e-mail", lambda v: catalogue.git_config(user_name="J", user_email=v), "j@example.com"),
    (
        "git key",
        lambda v: catalogue.git_config(user_name="J", user_email="j@example.com", extra={v: "x"}),
        "core.editor",
    ),
    # (a cron schedule is split on whitespace and re-joined, so a trailing newline never reaches the crontab)
    ("jupyter url", lambda v: catalogue.idle_autostop(jupyter_url=v), "https://localhost:8443"),
    ("notebook name", lambda v: NotebookInstance(_stack(), "N", name=v), "nb"),
    ("instance type", lambda v: NotebookInstance(_stack(), "N", instance_type=v), "ml.t3.medium"),
    ("platform", lambda v: NotebookInstance(_stack(), "N", platform_identifier=v), "notebook-al2023-v1"),
    ("notebook config name", lambda v: NotebookLifecycleConfig(_stack(), "C", name=v), "team-config"),
    (
        "studio config prefix",
        lambda v: StudioLifecycleConfig(
            _stack(), "C", app_type=StudioAppType.JUPYTER_LAB, modules=[_studio_module()], name_prefix=v
        ),
        "lab",
    ),
    ("studio instance type", lambda v: StudioAppSettings(default_instance_type=v).validate(_lab(), "x"), "system"),
    ("domain and user names", lambda v: _check_name(v, "name"), "team-domain"),
    ("registered name", lambda v: register(v, _factory), "team-registered-check"),
]


def _studio_module() -> Module:
    return catalogue.studio_idle_shutdown()


def _lab() -> StudioAppType:
    return StudioAppType.JUPYTER_LAB


def _factory() -> Module:
    return Module(name="x", script=SCRIPT)


@pytest.mark.parametrize(("what", "build", "good"), CASES, ids=[c[0] for c in CASES])
def test_trailing_newline_is_refused(what: str, build: Callable[[str], Any], good: str) -> None:
    with pytest.raises(LifecycleConfigError):
        build(good + "\n")
    if what == "registered name":
        return  # registering twice is refused on purpose; the good name is registered in the other test
    build(good)


def test_a_good_name_registers() -> None:
    register("team-registered-check-ok", _factory)
