"""studio_idle_shutdown: settings, the carried program, Studio-only, and validation."""

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration

from constructs_lib import LifecycleBundle, LifecycleConfigError, Mode, RunAs, Target
from constructs_lib.catalogue import idle_autostop, studio_idle_shutdown
from constructs_lib.catalogue.autostop import program

SCRIPT = Path(str(resources.files("lifecycle_scripts.studio"))) / "idle_shutdown.sh"


def test_defaults() -> None:
    module = studio_idle_shutdown()
    assert module.name == "studio-idle-shutdown"
    assert module.user is RunAs.NOTEBOOK_USER
    assert module.mode is Mode.BLOCKING  # the script starts its own detached loop and returns
    assert module.targets == frozenset({Target.STUDIO})
    assert module.script == SCRIPT.read_text()
    assert dict(module.settings) == {
        "CHECK_MINUTES": "5",
        "CPU_PERCENT": "30",
        "DEADLINE_SECONDS": "120",
        "GPU_PERCENT": "10",
        "IDLE_FOR": "",
        "VERIFY_TLS": "0",
        "WARN_MINUTES": "10",
        "DRY_RUN": "0",
        "GRACE_MINUTES": "15",
        "IDLE_MINUTES": "60",
        "IGNORE_CONNECTIONS": "0",
        "JUPYTER_URL": "http://localhost:8888/jupyterlab/default",
    }
    assert module.description


def test_carries_the_studio_form_of_the_notebook_module_program() -> None:
    assert studio_idle_shutdown().files == {"autostop.py": program("studio")}  # with its Studio mode, minified
    assert idle_autostop().files == {"autostop.py": program("notebook")}  # the notebook form has none


def test_options() -> None:
    module = studio_idle_shutdown(
        idle=Duration.hours(3),
        grace=Duration.minutes(0),
        ignore_connections=True,
        dry_run=True,
        jupyter_url="http://localhost:8888/jupyter/default",
        check_every=Duration.minutes(1),
    )
    assert dict(module.settings) == {
        "CHECK_MINUTES": "1",
        "CPU_PERCENT": "30",
        "DEADLINE_SECONDS": "120",
        "GPU_PERCENT": "10",
        "IDLE_FOR": "",
        "VERIFY_TLS": "0",
        "WARN_MINUTES": "10",
        "DRY_RUN": "1",
        "GRACE_MINUTES": "0",
        "IDLE_MINUTES": "180",
        "IGNORE_CONNECTIONS": "1",
        "JUPYTER_URL": "http://localhost:8888/jupyter/default",
    }


def test_code_editor_has_no_jupyter_server() -> None:
    module = studio_idle_shutdown(jupyter_url=None, gpu_idle=Duration.minutes(30))
    assert module.settings["JUPYTER_URL"] == "none"
    assert module.settings["IDLE_FOR"] == "ml.g*=30 ml.p*=30"


def test_script_is_for_the_studio_user_only() -> None:
    script = studio_idle_shutdown().script
    assert script.startswith("#!/bin/bash\n")
    assert "ec2-user" not in script and "sudo" not in script and "crontab" not in script
    assert "--target studio" in script


def test_bundles_for_studio_but_not_for_notebook_instances() -> None:
    assert LifecycleBundle(hook="jupyterlab", modules=[studio_idle_shutdown()], target=Target.STUDIO).encoded_length
    with pytest.raises(LifecycleConfigError, match="made for studio, not notebook-instance"):
        LifecycleBundle(hook="on-start", modules=[studio_idle_shutdown()])


@pytest.mark.parametrize(
    ("argument", "value", "allowed"),
    [
        ("idle", Duration.minutes(4), "whole minutes from 5 to 1440"),
        ("idle", Duration.minutes(1441), "whole minutes from 5 to 1440"),
        ("idle", Duration.seconds(390), "whole minutes from 5 to 1440"),
        ("idle", 60, "whole minutes from 5 to 1440"),
        ("grace", Duration.minutes(1441), "whole minutes from 0 to 1440"),
        ("grace", "15m", "whole minutes from 0 to 1440"),
        ("check_every", Duration.minutes(0), "whole minutes from 1 to 60"),
        ("check_every", Duration.minutes(61), "whole minutes from 1 to 60"),
        ("check_every", Duration.seconds(30), "whole minutes from 1 to 60"),
        ("check_every", 5, "whole minutes from 1 to 60"),
        ("ignore_connections", "yes", "give True or False"),
        ("dry_run", 1, "give True or False"),
        ("jupyter_url", "localhost:8888", "give an http:// or https:// URL"),
        ("jupyter_url", "ftp://localhost", "give an http:// or https:// URL"),
        ("jupyter_url", "http://localhost:8888/jupyterlab/default?x=$(id)", "give an http:// or https:// URL"),
        ("jupyter_url", "http://local host", "give an http:// or https:// URL"),
        ("jupyter_url", "https://jupyter.example.com/", "only a loopback host"),
    ],
)
def test_rejects(argument: str, value: Any, allowed: str) -> None:
    with pytest.raises(LifecycleConfigError, match=rf"^studio_idle_shutdown: {argument}=.* is invalid") as error:
        studio_idle_shutdown(**{argument: value})
    assert allowed in str(error.value)
