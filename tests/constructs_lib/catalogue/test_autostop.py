"""idle_autostop: settings, the carried (minified) program and validation."""

import ast
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration

from constructs_lib import LifecycleConfigError, RunAs
from constructs_lib.bundling import ArchiveLocation, LifecycleBundle
from constructs_lib.catalogue import idle_autostop, studio_idle_shutdown
from constructs_lib.catalogue.autostop import for_target, minify_python, program


def test_defaults() -> None:
    module = idle_autostop()
    assert module.user is RunAs.ROOT
    assert module.name == "idle-autostop"
    assert dict(module.settings) == {
        "CPU_PERCENT": "30",
        "DEADLINE_SECONDS": "120",
        "DRY_RUN": "0",
        "GPU_PERCENT": "10",
        "GRACE_MINUTES": "15",
        "IDLE_FOR": "",
        "IDLE_MINUTES": "60",
        "IGNORE_CONNECTIONS": "0",
        "JUPYTER_URL": "https://localhost:8443",
        "SCHEDULE": "*/5 * * * *",
        "VERIFY_TLS": "0",
        "WARN_MINUTES": "10",
    }


def test_carries_the_program_minified_deterministic_and_valid_for_old_pythons() -> None:
    source = resources.files("lifecycle_scripts.autostop").joinpath("autostop.py").read_text()
    carried = idle_autostop().files["autostop.py"]
    assert isinstance(carried, bytes) and list(idle_autostop().files) == ["autostop.py"]
    assert carried == program() == idle_autostop().files["autostop.py"]  # deterministic
    text = carried.decode()
    assert text.startswith("#!/usr/bin/env python3\n") and "# " not in text.splitlines()[1]
    assert len(carried) < 0.7 * len(source.encode())
    tree = ast.parse(text, feature_version=(3, 7))
    names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert "main" in names  # the entry point keeps its name; other globals are shortened
    checked = 0
    for python in old_pythons():
        compiled = subprocess.run(
            [python, "-c", "import sys; compile(sys.stdin.read(), 'autostop.py', 'exec')"],
            input=text,
            text=True,
            capture_output=True,
            check=False,
        )
        assert compiled.returncode == 0, (python, compiled.stderr)
        checked += 1
    assert checked == len(old_pythons())


def test_each_target_carries_only_its_own_mode() -> None:
    """The notebook form has no Studio mode (no --target, no app, no activity file); Studio keeps all of it; both
    forms are whole programs (a tagged line split by the formatter would leave an indented orphan)."""
    notebook, studio = program("notebook").decode(), program("studio").decode()
    assert idle_autostop().files["autostop.py"] == program("notebook")
    assert studio_idle_shutdown().files["autostop.py"] == program("studio")
    for text in notebook, studio:
        ast.parse(text, feature_version=(3, 7))
    assert "'target'" not in notebook and "describe_app" not in notebook and "activity_file" not in notebook
    assert "'target'" in studio and "'app'" in studio and "'activity_file'" in studio  # options are OPTIONS' keys
    source = resources.files("lifecycle_scripts.autostop").joinpath("autostop.py").read_text()
    tagged = [line for line in source.splitlines() if "# [studio]" in line or "# [notebook]" in line]
    assert len(tagged) >= 10 and all("  # [" in line for line in tagged)
    assert for_target(source, "studio").count("\n") == source.count("\n") - source.count("  # [notebook]")
    with pytest.raises(ValueError, match="target 'space' is invalid"):
        for_target(source, "space")  # type: ignore[arg-type]


def test_idle_autostop_alone_shrank() -> None:
    """An on-start hook of idle-autostop alone inline was 17,292 characters before the notebook form dropped the
    Studio mode (SageMaker's limit: 16,384); the notebook form carries no Studio code (the Studio form no AWS CLI
    fallback, so the two differ)."""
    bundle = LifecycleBundle(hook="on-start", modules=[idle_autostop()], archive_location=ArchiveLocation.AUTO)
    assert bundle.inline_length is not None and bundle.inline_length < 17000
    assert program("notebook") != program("studio") and len(program("notebook")) < 17000


def old_pythons() -> list[str]:
    """Interpreters 3.7 and 3.9 (AL2023's system python) that run on this machine, if any."""
    found = []
    for version in ("3.7", "3.9"):
        candidates = [str(p) for p in sorted(Path.home().glob(f".pyenv/versions/{version}*/bin/python{version}"))]
        candidates.append(shutil.which(f"python{version}") or "")
        for python in candidates:
            if python and subprocess.run([python, "-c", ""], capture_output=True, check=False).returncode == 0:
                found.append(python)
                break
    return found


def test_minify_keeps_the_program() -> None:
    source = '#!/usr/bin/env python3\n# comment\ndef main(long_name):\n    """doc"""\n    return long_name * 2\n'
    out = minify_python(source)
    namespace: dict[str, Any] = {}
    exec(compile(out, "m", "exec"), namespace)
    assert namespace["main"](21) == 42
    assert "comment" not in out and "doc" not in out
    assert out.startswith("#!/usr/bin/env python3\n") and minify_python(source) == out


def test_signal_and_policy_options() -> None:
    module = idle_autostop(
        warn=Duration.minutes(0),
        cpu_percent=None,
        gpu_percent=50,
        gpu_idle=Duration.minutes(20),
        idle_by_instance_type={"ml.m5.4xlarge": Duration.minutes(30), "ml.c5.*": Duration.hours(2)},
        deadline=Duration.seconds(60),
    )
    settings = dict(module.settings)
    assert settings["IDLE_FOR"] == "ml.c5.*=120 ml.m5.4xlarge=30 ml.g*=20 ml.p*=20"
    assert (settings["CPU_PERCENT"], settings["GPU_PERCENT"], settings["WARN_MINUTES"]) == ("0", "50", "0")
    assert settings["DEADLINE_SECONDS"] == "60"


def test_a_per_type_idle_time_must_be_a_duration() -> None:
    with pytest.raises(LifecycleConfigError, match=r"idle_by_instance_type\['ml.g5.xlarge'\]=30 is invalid"):
        idle_autostop(idle_by_instance_type={"ml.g5.xlarge": 30})  # type: ignore[dict-item]


def test_a_remote_jupyter_needs_tls_verification() -> None:
    with pytest.raises(LifecycleConfigError, match="only a loopback host"):
        idle_autostop(jupyter_url="https://jupyter.example.com:8443")
    module = idle_autostop(jupyter_url="https://jupyter.example.com:8443", verify_tls=True)
    assert module.settings["VERIFY_TLS"] == "1"
    with pytest.raises(LifecycleConfigError, match="needs an https:// URL"):
        idle_autostop(jupyter_url="http://jupyter.example.com", verify_tls=True)
    assert idle_autostop(jupyter_url="https://127.0.0.1:8443").settings["VERIFY_TLS"] == "0"


def test_options() -> None:
    module = idle_autostop(
        idle=Duration.hours(2),
        schedule="0,30  8-18 * * 1-5",
        grace=Duration.minutes(0),
        ignore_connections=True,
        dry_run=True,
        jupyter_url="http://127.0.0.1:8888/jupyter",
    )
    settings = dict(module.settings)
    assert (settings["DRY_RUN"], settings["GRACE_MINUTES"], settings["IDLE_MINUTES"]) == ("1", "0", "120")
    assert settings["IGNORE_CONNECTIONS"] == "1" and settings["SCHEDULE"] == "0,30 8-18 * * 1-5"
    assert settings["JUPYTER_URL"] == "http://127.0.0.1:8888/jupyter"


@pytest.mark.parametrize(
    ("argument", "value", "allowed"),
    [
        ("idle", Duration.minutes(4), "whole minutes from 5 to 1440"),
        ("idle", Duration.minutes(1441), "whole minutes from 5 to 1440"),
        ("idle", Duration.seconds(390), "whole minutes from 5 to 1440"),
        ("idle", 60, "whole minutes from 5 to 1440"),
        ("grace", Duration.seconds(30), "whole minutes from 0 to 1440"),
        ("grace", "15m", "whole minutes from 0 to 1440"),
        ("schedule", "*/5 * * *", "give 5 cron fields"),
        ("schedule", "*/5 * * * * *", "give 5 cron fields"),
        ("schedule", "@hourly", "give 5 cron fields"),
        ("schedule", "*/5 * * * MON", "give 5 cron fields"),
        ("schedule", "*/5 * * * *; rm -rf /", "give 5 cron fields"),
        ("schedule", "*/5 * * * * \n* * * * * id", "give 5 cron fields"),
        ("schedule", "60 * * * *", "the minute field '60'"),
        ("schedule", "*/0 * * * *", "the minute field '*/0'"),
        ("schedule", "* 24 * * *", "the hour field '24'"),
        ("schedule", "* * 0 * *", "the day of month field '0'"),
        ("schedule", "* * * 13 *", "the month field '13'"),
        ("schedule", "* * * * 8", "the day of week field '8'"),
        ("schedule", "* 9-5 * * *", "the hour field '9-5'"),
        ("schedule", "*/5,, * * * *", "the minute field"),
        ("schedule", "-5 * * * *", "the minute field"),
        ("schedule", None, "give 5 cron fields"),
        ("ignore_connections", "yes", "give True or False"),
        ("dry_run", 1, "give True or False"),
        ("jupyter_url", "localhost:8443", "give an http:// or https:// URL"),
        ("jupyter_url", "ftp://localhost", "give an http:// or https:// URL"),
        ("jupyter_url", "https://localhost:8443/%2F", "give an http:// or https:// URL"),
        ("jupyter_url", "https://localhost/$(id)", "give an http:// or https:// URL"),
        ("jupyter_url", "https://local host", "give an http:// or https:// URL"),
        ("jupyter_url", "https://localhost/?a=b&c", "give an http:// or https:// URL"),
        ("jupyter_url", "https://localhost.evil.example/", "only a loopback host"),
        ("jupyter_url", None, "give the notebook's Jupyter URL"),
        ("verify_tls", "no", "give True or False"),
        ("warn", Duration.minutes(61), "whole minutes from 0 to 60"),
        ("cpu_percent", 0, "from 1 to 100, or None"),
        ("cpu_percent", 101, "from 1 to 100, or None"),
        ("gpu_percent", True, "from 1 to 100, or None"),
        ("gpu_idle", Duration.minutes(2), "whole minutes from 5 to 1440"),
        ("idle_by_instance_type", {"g5.xlarge": Duration.minutes(30)}, "give instance types such as"),
        ("idle_by_instance_type", {"ml.g5;id": Duration.minutes(30)}, "give instance types such as"),
        ("idle_by_instance_type", [("ml.g5.xlarge", Duration.minutes(30))], "give a mapping"),
        ("deadline", Duration.seconds(5), "whole seconds from 10 to 600"),
        ("deadline", Duration.minutes(11), "whole seconds from 10 to 600"),
    ],
)
def test_rejects(argument: str, value: Any, allowed: str) -> None:
    with pytest.raises(LifecycleConfigError, match=rf"^idle_autostop: {argument}=.* is invalid") as error:
        idle_autostop(**{argument: value})
    assert allowed in str(error.value)
