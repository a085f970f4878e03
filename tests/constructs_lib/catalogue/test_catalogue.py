"""What every catalogue factory promises: one target each, least privilege, scripts from the package."""

from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest

from constructs_lib import ArchiveLocation, LifecycleBundle, Mode, Module, RunAs, Target, catalogue
from constructs_lib.bundling.limits import MAX_BLOCKING_BUDGET_SECONDS

DEFAULTS: dict[str, Callable[[], Module]] = {
    "conda_persistent_envs": catalogue.conda_persistent_envs,
    "conda_env_kernels": catalogue.conda_env_kernels,
    "conda_packages_background": lambda: catalogue.conda_packages_background(env_name="ml", packages=["numpy"]),
    "stop_ssm_agent": catalogue.stop_ssm_agent,
    "persist_dotfolders": catalogue.persist_dotfolders,
    "persisted_bin_on_path": catalogue.persisted_bin_on_path,
    "environment_variables": lambda: catalogue.environment_variables(variables={"TEAM": "data"}),
    "idle_autostop": catalogue.idle_autostop,
    "git_config": lambda: catalogue.git_config(user_name="Jane Doe", user_email="jane@example.com"),
}

# The least-privileged user that can do each job: root only to write system files or control services.
EXPECTED_USER = {
    "conda_persistent_envs": RunAs.NOTEBOOK_USER,
    "conda_env_kernels": RunAs.NOTEBOOK_USER,
    "conda_packages_background": RunAs.NOTEBOOK_USER,
    "stop_ssm_agent": RunAs.ROOT,
    "persist_dotfolders": RunAs.NOTEBOOK_USER,
    "persisted_bin_on_path": RunAs.ROOT,
    "environment_variables": RunAs.ROOT,
    "idle_autostop": RunAs.ROOT,
    "git_config": RunAs.NOTEBOOK_USER,
}

SCRIPTS_DIR = Path(str(resources.files("lifecycle_scripts.notebook")))
STUDIO_SCRIPTS_DIR = Path(str(resources.files("lifecycle_scripts.studio")))

# Studio factories: the script name and the user (Studio has no root).
STUDIO_DEFAULTS: dict[str, tuple[Callable[[], Module], str]] = {
    "studio_idle_shutdown": (catalogue.studio_idle_shutdown, "idle_shutdown.sh"),
}


NOT_FACTORIES = {"ArgumentError", "register", "registered", "script_module"}


def test_every_factory_is_exported() -> None:
    assert sorted(set(catalogue.__all__) - NOT_FACTORIES) == sorted([*DEFAULTS, *STUDIO_DEFAULTS])


@pytest.mark.parametrize("factory", sorted(STUDIO_DEFAULTS))
def test_studio_factory_builds_a_studio_only_module_for_the_studio_user(
    factory: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make, script_name = STUDIO_DEFAULTS[factory]
    monkeypatch.chdir(tmp_path)  # found inside the package, from any working directory
    module = make()
    assert module.targets == frozenset({Target.STUDIO})
    assert module.user is RunAs.NOTEBOOK_USER
    assert module.script == (STUDIO_SCRIPTS_DIR / script_name).read_text()
    assert module.script.startswith("#!/bin/bash\n") and "ec2-user" not in module.script
    assert module.description


@pytest.mark.parametrize("factory", sorted(DEFAULTS))
def test_factory_builds_a_notebook_only_module(factory: str) -> None:
    module = DEFAULTS[factory]()
    assert module.targets == frozenset({Target.NOTEBOOK_INSTANCE})
    assert module.user is EXPECTED_USER[factory]
    assert module.script == (SCRIPTS_DIR / f"{factory}.sh").read_text()
    assert module.script.startswith("#!/bin/bash\n")
    assert module.description


@pytest.mark.parametrize("factory", sorted(DEFAULTS))
def test_scripts_are_found_from_any_working_directory(
    factory: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert DEFAULTS[factory]().script == (SCRIPTS_DIR / f"{factory}.sh").read_text()


def test_only_the_conda_install_runs_in_the_background() -> None:
    modes = {name: make().mode for name, make in DEFAULTS.items()}
    assert {name for name, mode in modes.items() if mode is Mode.BACKGROUND} == {"conda_packages_background"}


def test_blocking_budgets_of_all_modules_fit_in_one_hook() -> None:
    blocking = [make() for make in DEFAULTS.values() if make().mode is Mode.BLOCKING]
    assert all(1 <= m.budget_seconds <= 60 for m in blocking)
    # budgets plus the runner's 2 s kill grace each, within the hook's blocking time
    assert sum(m.budget_seconds + 2 for m in blocking) <= MAX_BLOCKING_BUDGET_SECONDS
    assert DEFAULTS["conda_env_kernels"]().budget_seconds == 60


def test_all_but_auto_stop_fit_in_one_on_start_hook() -> None:
    modules = [make() for name, make in DEFAULTS.items() if name != "idle_autostop"]
    assert LifecycleBundle(hook="on-start", modules=modules).encoded_length <= 16384


def test_auto_stop_fits_in_a_hook_with_the_small_modules() -> None:
    modules = [
        catalogue.idle_autostop(),
        catalogue.conda_persistent_envs(),
        catalogue.conda_env_kernels(),
        catalogue.persist_dotfolders(),
    ]
    # The trusted auto-stop program (root cron, signals, warnings, fail-closed checks) is larger than an inline
    # hook allows beside these modules; archiveLocation auto keeps the scripts inline and carries the program
    # in a small S3 asset (a split hook).
    bundle = LifecycleBundle(hook="on-start", modules=modules, archive_location=ArchiveLocation.AUTO)
    assert bundle.archive_location is ArchiveLocation.SPLIT and bundle.encoded_length <= 16384
    assert bundle.side is not None and list(bundle.side.files) == ["modules/01-idle-autostop/files/autostop.py"]
