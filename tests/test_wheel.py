"""The library as users get it: a wheel, installed into a fresh virtual environment outside the repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.conftest import REPO, cdk_env

APP = """
import json, sys
from aws_cdk import App, Duration, Stack
import constructs_lib
from constructs_lib import NotebookLifecycleConfig, StudioDomain, StudioSpace, TeamFileSystem
assert sorted(n for n in constructs_lib.__all__ if not hasattr(constructs_lib, n)) == []
from constructs_lib.catalogue import conda_persistent_envs, environment_variables, persist_dotfolders
from constructs_lib.studio_lifecycle_config import StudioAppType, StudioLifecycleConfig
from constructs_lib.catalogue.studio_home import studio_environment_variables

app = App(outdir=sys.argv[1])
stack = Stack(app, "WheelApp")
NotebookLifecycleConfig(stack, "Lifecycle", on_start=[
    conda_persistent_envs(), persist_dotfolders(), environment_variables(variables={"TEAM": "it's \\"us\\""})])
StudioLifecycleConfig(stack, "Lab", app_type=StudioAppType.JUPYTER_LAB,
    modules=[studio_environment_variables(variables={"TEAM": "us"})], name_prefix="lab")
app.synth()
print(constructs_lib.__file__)
"""


def run(python: Path | str, script: Path, out: Path, cwd: Path, extra_path: str | None = None) -> str:
    env = cdk_env()
    env.pop("PYTHONPATH", None)
    if extra_path:
        env["PYTHONPATH"] = extra_path
    result = subprocess.run(
        [str(python), str(script), str(out)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def lifecycle_content(out: Path) -> dict[str, object]:
    template = json.loads((out / "WheelApp.template.json").read_text())
    return {
        logical_id: {k: v for k, v in resource["Properties"].items()}
        for logical_id, resource in template["Resources"].items()
        if resource["Type"].startswith("AWS::SageMaker::")
    }


def test_wheel_carries_every_script_and_synthesizes_what_the_repo_does(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy2(REPO / "pyproject.toml", source)
    for package in ("constructs_lib", "lifecycle_scripts"):
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-build-isolation",
            "--no-deps",
            "--no-index",
            "-q",
            "-w",
            str(wheels),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("*.whl")
    listing = subprocess.run([sys.executable, "-m", "zipfile", "-l", str(wheel)], capture_output=True, text=True).stdout
    shipped = sorted(
        str(p.relative_to(REPO))
        for p in (REPO / "lifecycle_scripts").rglob("*")
        if p.suffix in {".sh", ".in", ".py"} and "__pycache__" not in p.parts
    )
    for path in shipped:
        assert path in listing, f"{path} is missing from the wheel"
    data = sorted(str(p.relative_to(REPO)) for p in (REPO / "constructs_lib" / "data").glob("*.json"))
    assert len(data) >= 2
    for path in ["constructs_lib/py.typed", *data]:
        assert path in listing, f"{path} is missing from the wheel"

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # aws-cdk-lib and friends come from the project's venv (no network in tests); the library from the wheel.
    (site / "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    script = outside / "app.py"
    script.write_text(APP)
    installed_from = run(venv / "bin" / "python", script, tmp_path / "wheel-out", cwd=outside)
    assert installed_from.startswith(str(site)), installed_from
    repo_from = run(sys.executable, script, tmp_path / "repo-out", cwd=outside, extra_path=str(REPO))
    assert repo_from.startswith(str(REPO))
    assert lifecycle_content(tmp_path / "wheel-out") == lifecycle_content(tmp_path / "repo-out")


BANNER = "end-of-life"


def test_jsii_node_picks_the_projects_node_so_an_app_elsewhere_prints_no_eol_banner(tmp_path: Path) -> None:
    """The README's recipe for an app whose PATH starts with an older system Node: JSII_NODE names the
    project's pinned Node, and jsii prints no end-of-life banner."""
    pinned = REPO / "node_modules" / ".bin" / "node"
    system_path = "/usr/local/bin:/usr/bin:/bin"
    code = (
        "import constructs_lib, aws_cdk; print(aws_cdk.Duration.minutes(constructs_lib.StudioSpace and 5).to_seconds())"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("JSII_")}
    base["PATH"] = system_path
    fixed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**base, "PYTHONPATH": str(REPO), "JSII_NODE": str(pinned)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.strip() == "300"
    assert BANNER not in fixed.stderr
    system_node = shutil.which("node", path=system_path)
    if system_node is not None:
        major = int(subprocess.run([system_node, "--version"], capture_output=True, text=True).stdout[1:].split(".")[0])
        plain = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env={**base, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        # The control: jsii on this machine's own Node, which prints the banner when that Node is end-of-life.
        assert (BANNER in plain.stderr) == (major <= 20), (major, plain.stderr[-500:])
