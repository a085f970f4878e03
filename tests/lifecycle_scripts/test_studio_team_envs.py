"""Team conda environments rehearsed for real: a bundled Studio 'jupyterlab' hook run with real bash as a
non-root user (nobody, through setpriv) with the sandbox's sudo stand-in, the team file system being a
directory at /mnt/custom-file-systems/efs/fs-... in the sandbox root, and a recording conda stand-in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from constructs_lib import LifecycleBundle, LifecycleConfigError, Target
from constructs_lib.catalogue.studio_home import studio_conda_persistent_envs
from constructs_lib.catalogue.studio_team import studio_team_conda_builder, studio_team_conda_envs
from tests.support.sandbox import Sandbox

NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
FS = "mnt/custom-file-systems/efs/fs-0123456789abcdef0"
TEAM = f"{FS}/team-conda"
KERNELS = "home/sagemaker-user/.local/share/jupyter/kernels"
MARKER = "home/sagemaker-user/.lifecycle/markers/jupyterlab.studio-team-conda-builder.done"
BUILDER_LOG = "tmp/sagemaker-lifecycle/logs/jupyterlab.studio-team-conda-builder.log"  # the runner's log of it
ENVIRONMENTS = [{"name": "analytics", "python": "3.11", "packages": ["pandas>=2", "scikit-learn"]}, {"name": "nlp"}]
# conda create --yes --quiet -p PREFIX ...: a prefix whose bin/python runs this machine's python3.
FAKE_CONDA = """
prefix=""; while [ $# -gt 0 ]; do case "$1" in -p) prefix=$2; shift 2;; *) shift;; esac; done
mkdir -p "$prefix/bin" "$prefix/conda-meta"
printf '#!/bin/sh\\nexec /usr/bin/python3 "$@"\\n' >"$prefix/bin/python"; chmod 0755 "$prefix/bin/python"
echo created >"$prefix/conda-meta/history"
"""


class NonRootSandbox(Sandbox):
    """The sandbox, owned by nobody and run as nobody: the runner then reaches sagemaker-user through sudo."""

    def __init__(self, base: Path, space: str) -> None:
        super().__init__(base, user="sagemaker-user", persist_subdir="")
        (self.root / FS).mkdir(parents=True)
        conda = self.root / "opt/conda/bin/conda"
        conda.parent.mkdir(parents=True)
        conda.write_text(f"#!/bin/bash\n{self.bin.joinpath('sudo').read_text().splitlines()[1]}\n{FAKE_CONDA}")
        conda.chmod(0o755)
        self.set_space(space)

    def set_space(self, space: str) -> None:
        metadata = {"DomainId": "d-abc", "SpaceName": space, "AppType": "JupyterLab", "ResourceName": "default"}
        (self.root / "opt/ml/metadata/resource-metadata.json").write_text(json.dumps(metadata))

    def run_as_nobody(self, script: bytes) -> subprocess.CompletedProcess[str]:
        (self.base / "hook.sh").write_bytes(script)
        subprocess.run(["chown", "-R", "65534:65534", str(self.base)], check=True)
        return subprocess.run(
            [*NOBODY, "bash", str(self.base / "hook.sh")],
            cwd="/",
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def hook(self, environments: list[dict[str, object]] = ENVIRONMENTS) -> subprocess.CompletedProcess[str]:
        marker = self.root / MARKER
        marker.unlink(missing_ok=True)
        bundle = LifecycleBundle(
            hook="jupyterlab",
            modules=[
                studio_conda_persistent_envs(),
                studio_team_conda_builder(environments=environments, manager_space="team-lab"),
                studio_team_conda_envs(),
            ],
            target=Target.STUDIO,
        )
        result = self.run_as_nobody(bundle.script)
        assert result.returncode == 0, result.stderr
        assert self.wait_for(marker, timeout=60), result.stdout
        return result


@pytest.fixture
def base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="studio-team-envs-"))  # pytest's temp root is private to root
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def kernel(sandbox: Sandbox, name: str) -> dict[str, object]:
    return dict(json.loads((sandbox.root / KERNELS / f"team-{name}" / "kernel.json").read_text()))


def as_nobody(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NOBODY, *command], capture_output=True, text=True)


def test_manager_space_builds_read_only_envs_and_every_start_registers_their_kernels(base: Path) -> None:
    sandbox = NonRootSandbox(base, space="team-lab")
    first = sandbox.hook()
    assert "[studio-team-conda-envs] team environments in" in first.stdout and "0 registered" in first.stdout
    second = sandbox.hook()
    assert "2 registered" in second.stdout, second.stdout
    team = sandbox.root / TEAM
    for name in ("analytics", "nlp"):
        assert (team / "ready" / name).read_text().strip(), name
        assert kernel(sandbox, name)["argv"] == [
            f"/{TEAM}/envs/{name}/bin/python",
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
        ]
        assert kernel(sandbox, name)["display_name"] == f"team ({name})"
    # Read-only for users: the Studio user (here nobody, the owner of the tree) cannot write into an env.
    denied = as_nobody("touch", str(team / "envs/analytics/bin/extra"))
    assert denied.returncode != 0 and "Permission denied" in denied.stderr
    assert not any(os.stat(p).st_mode & 0o222 for p in (team / "envs/analytics").rglob("*") if not p.is_symlink())
    # Every module ran as the Studio user through sudo, never as root.
    sudo = sandbox.calls("sudo")
    assert sudo and all(call[1:4] == ["-n", "-u", "sagemaker-user"] for call in sudo)
    conda = sandbox.calls("conda")
    assert len(conda) == 2, "built once each; the second start found them up to date"
    assert conda[0][1:5] == ["create", "--yes", "--quiet", "-p"]
    assert {"python=3.11", "ipykernel", "pandas>=2", "scikit-learn"} <= set(conda[0])
    # The user's own envs dir first, the team's (read-only) after it.
    condarc = (sandbox.home / ".condarc").read_text()
    assert condarc.index("/home/sagemaker-user/.conda/envs") < condarc.index(f"/{TEAM}/envs")
    assert condarc.count(f"/{TEAM}/envs") == 1


def test_a_third_start_changes_nothing(base: Path) -> None:
    sandbox = NonRootSandbox(base, space="team-lab")
    sandbox.hook()
    sandbox.hook()
    volatile = ("tmp/", "home/sagemaker-user/.lifecycle", "var/log", f"{TEAM}/logs", f"{TEAM}/.build.lock")
    state = sandbox.snapshot(exclude=volatile)
    third = sandbox.hook()
    assert "0 registered, 2 unchanged, 0 removed" in third.stdout
    assert sandbox.snapshot(exclude=volatile) == state


def test_other_spaces_build_nothing_and_only_read(base: Path) -> None:
    sandbox = NonRootSandbox(base, space="team-lab")
    sandbox.hook()
    sandbox.set_space("alice-lab")
    subprocess.run(["chmod", "-R", "a-w", str(sandbox.root / TEAM)], check=True)  # as if another uid owned it
    result = sandbox.hook()
    log = (sandbox.root / BUILDER_LOG).read_text()
    assert "space 'alice-lab' is not the manager space 'team-lab': nothing to build" in log
    assert "2 registered" in result.stdout
    assert len(sandbox.calls("conda")) == 2


def test_an_environment_left_out_of_the_spec_is_removed_with_its_kernel(base: Path) -> None:
    sandbox = NonRootSandbox(base, space="team-lab")
    sandbox.hook()
    sandbox.hook()
    third = sandbox.hook(environments=ENVIRONMENTS[:1])  # the builder (in the background) removes nlp
    fourth = sandbox.hook(environments=ENVIRONMENTS[:1])
    assert not (sandbox.root / TEAM / "envs/nlp").exists()
    assert "nlp: removed (no longer in the team's environments)" in (sandbox.root / BUILDER_LOG).read_text()
    # The kernel goes in the start that first sees the marker gone (the builder runs alongside).
    assert "nlp: kernel removed (environment no longer ready)" in third.stdout + fourth.stdout
    assert not (sandbox.root / KERNELS / "team-nlp").exists()
    assert (sandbox.root / KERNELS / "team-analytics/kernel.json").exists()


def test_hostile_contents_of_the_shared_directory_are_skipped(base: Path) -> None:
    sandbox = NonRootSandbox(base, space="elsewhere")
    team = sandbox.root / TEAM
    for name in ('x$(echo PWNED)"', "bad name", "ok"):
        (team / "ready").mkdir(parents=True, exist_ok=True)
        (team / "ready" / name).write_text("hash\n")
    (team / "envs/ok/bin").mkdir(parents=True)  # ready, but no python: skipped
    (sandbox.root / KERNELS / "team-mine").mkdir(parents=True)
    (sandbox.root / KERNELS / "team-mine/kernel.json").write_text('{"display_name": "my own"}')
    result = sandbox.hook()
    assert "not a valid environment name" in result.stdout
    assert "ok: skipped: marked ready but" in result.stdout
    assert "xPWNED" not in result.stdout and 'x$(echo PWNED)": skipped' in result.stdout
    assert sorted(p.name for p in (sandbox.root / KERNELS).iterdir()) == ["team-mine"], "a user's own kernel stays"


def test_without_a_mounted_file_system_the_module_says_so_and_succeeds(base: Path) -> None:
    sandbox = NonRootSandbox(base, space="alice-lab")
    shutil.rmtree(sandbox.root / FS)
    result = sandbox.hook()
    assert "no team file system mounted (/mnt/custom-file-systems/efs/fs-*); nothing to register" in result.stdout
    assert "[studio-team-conda-envs] end: ok, exit 0" in result.stdout


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"environments": [{"name": "base"}]}, r"name='base' is invalid"),
        ({"environments": [{"name": "a", "packages": ["x; rm -rf /"]}]}, r"packages='x; rm -rf /' is invalid"),
        ({"environments": [{"name": "a"}, {"name": "a"}]}, r"give each environment once"),
        ({"environments": [{"name": "a", "extra": 1}]}, r"each item is"),
        ({"environments": []}, r"non-empty list"),
        ({"manager_space": "bad_space"}, r"manager_space='bad_space' is invalid"),
        ({"mount_dir": "/mnt/../etc"}, r"mount_dir='/mnt/../etc' is invalid"),
        ({"team_dir": "../escape"}, r"team_dir='../escape' is invalid"),
    ],
)
def test_builder_arguments_are_validated(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"environments": [{"name": "a"}], "manager_space": "team-lab", **kwargs}
    with pytest.raises(LifecycleConfigError, match=message):
        studio_team_conda_builder(**arguments)  # type: ignore[arg-type]


def test_display_prefix_cannot_break_the_kernel_json() -> None:
    with pytest.raises(LifecycleConfigError, match="display_prefix"):
        studio_team_conda_envs(display_prefix='team", "argv": ["sh"]')
