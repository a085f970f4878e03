"""conda_persistent_envs, conda_env_kernels and conda_packages_background: settings and validation."""

from typing import Any

import pytest
from aws_cdk import Duration

from constructs_lib import LifecycleConfigError, Mode, RunAs
from constructs_lib.catalogue import conda_env_kernels, conda_packages_background, conda_persistent_envs

BAD_DIRS = ["", "/abs/path", "../up", "a/../b", "a/./b", "a//b", "trailing/", "with space", "semi;colon", "$HOME", 3]


def test_persistent_envs_settings() -> None:
    module = conda_persistent_envs()
    assert module.name == "conda-persistent-envs"
    assert module.user is RunAs.NOTEBOOK_USER
    assert dict(module.settings) == {"ENVS_DIR": ".conda/envs", "PKGS_DIR": ".conda/pkgs"}
    assert dict(conda_persistent_envs(envs_dir="envs", pkgs_dir=None).settings) == {"ENVS_DIR": "envs", "PKGS_DIR": ""}


@pytest.mark.parametrize("argument", ["envs_dir", "pkgs_dir"])
@pytest.mark.parametrize("value", BAD_DIRS)
def test_persistent_envs_rejects_unsafe_dirs(argument: str, value: Any) -> None:
    with pytest.raises(
        LifecycleConfigError, match=rf"conda_persistent_envs: {argument}=.* is invalid: give a relative"
    ):
        conda_persistent_envs(**{argument: value})


def test_persistent_envs_rejects_the_same_dir_twice() -> None:
    with pytest.raises(LifecycleConfigError, match=r"pkgs_dir='x' is invalid: give a directory other than envs_dir"):
        conda_persistent_envs(envs_dir="x", pkgs_dir="x")


def test_env_kernels_settings() -> None:
    module = conda_env_kernels(envs_dir="envs", display_prefix="Team env")
    assert dict(module.settings) == {"ENVS_DIR": "envs", "DISPLAY_PREFIX": "Team env"}
    assert module.budget_seconds == 60


@pytest.mark.parametrize("value", BAD_DIRS)
def test_env_kernels_rejects_unsafe_dirs(value: Any) -> None:
    with pytest.raises(LifecycleConfigError, match=r"conda_env_kernels: envs_dir=.* is invalid"):
        conda_env_kernels(envs_dir=value)


@pytest.mark.parametrize("value", ["", "   ", "two\nlines", "tab\there", "x" * 41, None])
def test_env_kernels_rejects_bad_display_prefix(value: Any) -> None:
    with pytest.raises(LifecycleConfigError, match=r"conda_env_kernels: display_prefix=.* is invalid: give 1 to 40"):
        conda_env_kernels(display_prefix=value)


def test_packages_background_settings() -> None:
    module = conda_packages_background(
        env_name="ml_2024.1",
        packages=["numpy>=1.26", "conda-forge::xgboost", "pytorch=2.1=*cuda*"],
        channel="conda-forge",
    )
    assert module.name == "conda-packages-ml-2024-1"
    assert module.mode is Mode.BACKGROUND
    assert module.user is RunAs.NOTEBOOK_USER
    assert module.budget_seconds == 45 * 60
    assert dict(module.settings) == {
        "CHANNEL": "conda-forge",
        "DISPLAY_PREFIX": "conda",
        "ENVS_DIR": ".conda/envs",
        "ENV_NAME": "ml_2024.1",
        "PACKAGES": "numpy>=1.26 conda-forge::xgboost pytorch=2.1=*cuda*",
        "PYTHON_VERSION": "3.11",
    }
    private = conda_packages_background(
        env_name="ml",
        packages=["pandas"],
        channel="https://mirror.example.com:8443/conda/main",
        budget=Duration.hours(2),
    )
    assert private.settings["CHANNEL"] == "https://mirror.example.com:8443/conda/main"
    assert private.budget_seconds == 7200


@pytest.mark.parametrize(
    ("argument", "value", "allowed"),
    [
        ("env_name", "", "give 1-64 letters"),
        ("env_name", "base", "not 'base' or 'root'"),
        ("env_name", "my env", "give 1-64 letters"),
        ("env_name", "-x", "give 1-64 letters"),
        ("env_name", "a/b", "give 1-64 letters"),
        ("env_name", "x" * 65, "give 1-64 letters"),
        ("env_name", 7, "give a string"),
        ("packages", "numpy", "give a list of package specs"),
        ("packages", [], "give at least one package spec"),
        ("packages", ["numpy; rm -rf /"], "no spaces, quotes or other shell metacharacters"),
        ("packages", ["$(touch x)"], "no spaces, quotes or other shell metacharacters"),
        ("packages", ["a|b"], "no spaces, quotes or other shell metacharacters"),
        ("packages", ["numpy `id`"], "no spaces, quotes or other shell metacharacters"),
        ("packages", ["it's"], "no spaces, quotes or other shell metacharacters"),
        ("packages", [3], "no spaces, quotes or other shell metacharacters"),
        ("python_version", "2.7", "give a Python 3 version"),
        ("python_version", "3", "give a Python 3 version"),
        ("python_version", "3.11; id", "give a Python 3 version"),
        ("python_version", 3.11, "give a string"),
        ("channel", "", "give None, a channel name"),
        ("channel", "conda forge", "give None, a channel name"),
        ("channel", "ftp://mirror", "give None, a channel name"),
        ("channel", "https://mirror/$(id)", "give None, a channel name"),
        ("budget", Duration.seconds(30), "from 1 minute to 1440 minutes"),
        ("budget", Duration.hours(25), "from 1 minute to 1440 minutes"),
        ("budget", 600, "from 1 minute to 1440 minutes"),
        ("envs_dir", "../x", "give a relative path"),
        ("display_prefix", "", "give 1 to 40"),
    ],
)
def test_packages_background_rejects(argument: str, value: Any, allowed: str) -> None:
    arguments: dict[str, Any] = {"env_name": "ml", "packages": ["numpy"], argument: value}
    with pytest.raises(LifecycleConfigError) as error:
        conda_packages_background(**arguments)
    assert str(error.value).startswith(f"conda_packages_background: {argument}=")
    assert "is invalid" in str(error.value)
    assert allowed in str(error.value)
