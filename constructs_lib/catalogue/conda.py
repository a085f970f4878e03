"""Conda on notebook instances: persisted environments, their Jupyter kernels, background installs.

``~/anaconda3`` is on the root volume, which is reset at every start: environments that must survive
live on the persisted volume (``~/SageMaker``) and are found through ``envs_dirs`` in ``~/.condarc``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Duration

from constructs_lib.bundling import Mode, Module, RunAs, Target
from constructs_lib.catalogue._common import (
    NOTEBOOK_ONLY,
    check_type,
    display_text,
    fail,
    relative_dir,
    script,
)

_ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# A conda match spec without whitespace or shell metacharacters other than the comparison operators,
# for example "numpy", "numpy>=1.26", "pandas=2.1.*", "conda-forge::xgboost", "pytorch=2.1=*cuda*".
_PACKAGE_SPEC = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._-]*(::[A-Za-z0-9][A-Za-z0-9._-]*)?([=<>!~][A-Za-z0-9.*+_,=<>!~-]*)?"
)
_PYTHON_VERSION = re.compile(r"3(\.[0-9]{1,2}){1,2}")
_CHANNEL = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?)")
_FORTY_FIVE_MINUTES = Duration.minutes(45)
MAX_BACKGROUND_MINUTES = 24 * 60


def persistent_envs_module(
    factory: str, name: str, targets: frozenset[Target], envs_dir: str, pkgs_dir: str | None
) -> Module:
    """The module behind ``conda_persistent_envs`` and its Studio variant."""
    envs = relative_dir(factory, "envs_dir", envs_dir)
    pkgs = "" if pkgs_dir is None else relative_dir(factory, "pkgs_dir", pkgs_dir)
    if pkgs and pkgs == envs:
        raise fail(factory, "pkgs_dir", pkgs_dir, "give a directory other than envs_dir, or None.")
    return Module(
        name=name,
        script=script("conda_persistent_envs.sh"),
        strip_comments=True,
        user=RunAs.NOTEBOOK_USER,
        budget=Duration.seconds(20),
        settings={"ENVS_DIR": envs, "PKGS_DIR": pkgs},
        targets=targets,
        description=f"persisted conda envs_dirs first in ~/.condarc ({envs}" + (f", pkgs {pkgs})" if pkgs else ")"),
    )


def env_kernels_module(
    factory: str, name: str, targets: frozenset[Target], envs_dir: str, display_prefix: str
) -> Module:
    """The module behind ``conda_env_kernels`` and its Studio variant."""
    envs = relative_dir(factory, "envs_dir", envs_dir)
    prefix = display_text(factory, "display_prefix", display_prefix, max_length=40)
    return Module(
        name=name,
        script=script("conda_env_kernels.sh"),
        strip_comments=True,
        user=RunAs.NOTEBOOK_USER,
        budget=Duration.seconds(60),
        settings={"ENVS_DIR": envs, "DISPLAY_PREFIX": prefix},
        targets=targets,
        description=f"Jupyter kernels for the conda environments in {envs} that have ipykernel",
    )


def conda_persistent_envs(*, envs_dir: str = ".conda/envs", pkgs_dir: str | None = ".conda/pkgs") -> Module:
    """Put ``$PERSIST_DIR/<envs_dir>`` first in ``envs_dirs`` of ``~/.condarc`` (and ``pkgs_dir`` in
    ``pkgs_dirs``; ``None`` leaves the package cache alone), creating the directories.

    Runs as the notebook user; other keys and entries of ``.condarc`` are kept, nothing is duplicated.
    """
    return persistent_envs_module("conda_persistent_envs", "conda-persistent-envs", NOTEBOOK_ONLY, envs_dir, pkgs_dir)


def conda_env_kernels(*, envs_dir: str = ".conda/envs", display_prefix: str = "conda") -> Module:
    """Register a Jupyter kernel, shown as ``"<display_prefix> (<env>)"``, for every environment in
    ``$PERSIST_DIR/<envs_dir>`` that has ipykernel. Runs as the notebook user; a broken environment is
    logged and the others are still registered.
    """
    return env_kernels_module("conda_env_kernels", "conda-env-kernels", NOTEBOOK_ONLY, envs_dir, display_prefix)


def conda_packages_background(
    *,
    env_name: str,
    packages: Sequence[str],
    python_version: str = "3.11",
    channel: str | None = None,
    budget: Duration = _FORTY_FIVE_MINUTES,
    envs_dir: str = ".conda/envs",
    display_prefix: str = "conda",
) -> Module:
    """Create (if missing) the conda environment ``<envs_dir>/<env_name>`` on the persisted volume with
    python and ipykernel, install ``packages`` and register its kernel, in the background.

    Runs as the notebook user, detached from the hook (conda easily takes longer than the 5 minutes a
    hook has); the runner writes its completion marker, conda's output goes to
    ``.lifecycle/logs/conda-<env_name>.log`` on the volume. ``channel`` (a name or an ``https://`` URL
    of a private mirror) is searched before the configured channels.
    """
    factory = "conda_packages_background"
    check_type(factory, "env_name", env_name, str, "a string")
    if not _ENV_NAME.fullmatch(env_name) or env_name in {"base", "root"}:
        raise fail(
            factory,
            "env_name",
            env_name,
            "give 1-64 letters, digits, '.', '_' and '-', starting with a letter or digit (not 'base' or 'root').",
        )
    if isinstance(packages, str) or not isinstance(packages, Sequence):
        raise fail(factory, "packages", packages, "give a list of package specs such as ['numpy', 'pandas>=2'].")
    if not packages:
        raise fail(factory, "packages", packages, "give at least one package spec.")
    for spec in packages:
        if not isinstance(spec, str) or not _PACKAGE_SPEC.fullmatch(spec):
            raise fail(
                factory,
                "packages",
                spec,
                "each spec is a conda match spec such as 'numpy', 'numpy>=1.26' or 'conda-forge::xgboost': letters, "
                "digits, '.', '_', '-', '::' and the operators = < > ! ~ * , + only (no spaces, quotes or other shell "
                "metacharacters).",
            )
    check_type(factory, "python_version", python_version, str, "a string such as '3.11'")
    if not _PYTHON_VERSION.fullmatch(python_version):
        raise fail(factory, "python_version", python_version, "give a Python 3 version such as '3.11' or '3.10.14'.")
    if channel is not None and (not isinstance(channel, str) or not _CHANNEL.fullmatch(channel)):
        raise fail(
            factory,
            "channel",
            channel,
            "give None, a channel name such as 'conda-forge', or an http(s) URL of letters, digits and '.-_~/:'.",
        )
    if not isinstance(budget, Duration) or not 60 <= budget.to_seconds() <= MAX_BACKGROUND_MINUTES * 60:
        shown = budget.to_human_string() if isinstance(budget, Duration) else repr(budget)
        raise fail(
            factory, "budget", shown, f"give an aws_cdk.Duration from 1 minute to {MAX_BACKGROUND_MINUTES} minutes."
        )
    if budget.to_seconds() != int(budget.to_seconds()):
        raise fail(factory, "budget", budget.to_human_string(), "give whole seconds.")
    envs = relative_dir(factory, "envs_dir", envs_dir)
    prefix = display_text(factory, "display_prefix", display_prefix, max_length=40)
    return Module(
        name=f"conda-packages-{env_name.lower().replace('.', '-').replace('_', '-')}"[:48].rstrip("-"),
        script=script("conda_packages_background.sh"),
        strip_comments=True,
        user=RunAs.NOTEBOOK_USER,
        mode=Mode.BACKGROUND,
        budget=budget,
        settings={
            "ENV_NAME": env_name,
            "PACKAGES": " ".join(packages),
            "PYTHON_VERSION": python_version,
            "CHANNEL": channel or "",
            "ENVS_DIR": envs,
            "DISPLAY_PREFIX": prefix,
        },
        targets=NOTEBOOK_ONLY,
        description=f"conda environment {env_name} (python {python_version}) with {' '.join(packages)}, in background",
    )
