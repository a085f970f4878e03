"""Studio home-directory modules run for real as the Studio user, twice, in a sandbox home."""

import subprocess
from pathlib import Path

import pytest

from constructs_lib import LifecycleBundle, LifecycleConfigError, Target
from constructs_lib.catalogue.studio_home import (
    studio_conda_env_kernels,
    studio_conda_persistent_envs,
    studio_environment_variables,
)
from tests.support.sandbox import Sandbox

HOSTILE = {
    "QUOTES": 'it\'s "quoted"',
    "DOLLAR": "$HOME and ${PATH}",
    "BACKTICKS": "`touch /tmp/studio-pwned`",
    "SUBSHELL": "$(touch /tmp/studio-pwned)",
    "NEWLINE": "line one\nline two",
}


def run_twice(tmp_path: Path) -> tuple[Sandbox, dict[str, tuple[str, int, str]], dict[str, tuple[str, int, str]]]:
    sandbox = Sandbox(tmp_path, user="sagemaker-user", persist_subdir="")
    bundle = LifecycleBundle(
        hook="jupyterlab",
        modules=[
            studio_conda_persistent_envs(),
            studio_conda_env_kernels(),
            studio_environment_variables(variables=HOSTILE),
        ],
        target=Target.STUDIO,
    )
    volatile = ("tmp/", "home/sagemaker-user/.lifecycle")
    first = sandbox.run_hook(bundle.script)
    assert first.returncode == 0, first.stderr
    after_first = sandbox.snapshot(exclude=volatile)
    second = sandbox.run_hook(bundle.script)
    assert second.returncode == 0
    return sandbox, after_first, sandbox.snapshot(exclude=volatile)


def test_second_run_changes_nothing(tmp_path: Path) -> None:
    _, first, second = run_twice(tmp_path)
    assert first == second
    assert "home/sagemaker-user/.bashrc" in first


def test_environment_arrives_literally_and_nothing_runs(tmp_path: Path) -> None:
    sandbox, _, _ = run_twice(tmp_path)
    Path("/tmp/studio-pwned").unlink(missing_ok=True)
    names = " ".join(f'"${name}"' for name in HOSTILE)
    result = subprocess.run(
        ["bash", "-c", f'HOME={sandbox.home}; . "$HOME/.bashrc"; printf "%s\\0" {names}'],
        capture_output=True,
        text=True,
    )
    assert result.stdout.split("\0")[:-1] == list(HOSTILE.values())
    assert not Path("/tmp/studio-pwned").exists()
    bashrc = (sandbox.home / ".bashrc").read_text().splitlines()
    assert len([line for line in bashrc if "sagemaker-lifecycle/environment.sh" in line]) == 1


def test_condarc_lists_the_home_envs_dir_first(tmp_path: Path) -> None:
    sandbox, _, _ = run_twice(tmp_path)
    assert (sandbox.home / ".condarc").read_text() == (
        "envs_dirs:\n  - /home/sagemaker-user/.conda/envs\npkgs_dirs:\n  - /home/sagemaker-user/.conda/pkgs\n"
    )


def test_studio_modules_never_mention_ec2_user() -> None:
    for module in (
        studio_conda_persistent_envs(),
        studio_conda_env_kernels(),
        studio_environment_variables(variables={"A": "b"}),
    ):
        assert "ec2-user" not in module.script
        assert module.targets == frozenset({Target.STUDIO})


def test_notebook_instance_module_cannot_go_into_a_studio_hook() -> None:
    from constructs_lib.catalogue import conda_persistent_envs

    with pytest.raises(LifecycleConfigError, match="made for notebook-instance, not studio"):
        LifecycleBundle(hook="jupyterlab", modules=[conda_persistent_envs()], target=Target.STUDIO)


def test_reserved_names_are_rejected_in_studio_too() -> None:
    with pytest.raises(LifecycleConfigError, match="studio_environment_variables: variables='LD_PRELOAD'"):
        studio_environment_variables(variables={"LD_PRELOAD": "/x.so"})
