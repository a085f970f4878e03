"""Studio variants of the home-directory modules, for ``sagemaker-user`` (home = persisted volume).

Studio runs lifecycle scripts as ``sagemaker-user`` in the app's container: there is no ``ec2-user``,
no root and no ``/etc/profile.d`` to write, and ``/home/sagemaker-user`` is the persisted volume.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration

from constructs_lib.bundling import Module, RunAs, Target
from constructs_lib.catalogue._common import display_text, relative_dir, script
from constructs_lib.catalogue.shell import check_variables, profile_script

STUDIO_ONLY = frozenset({Target.STUDIO})


def studio_conda_persistent_envs(*, envs_dir: str = ".conda/envs", pkgs_dir: str | None = ".conda/pkgs") -> Module:
    """``~/<envs_dir>`` first in ``envs_dirs`` of ``~/.condarc`` (and ``pkgs_dir`` in ``pkgs_dirs``)."""
    factory = "studio_conda_persistent_envs"
    envs = relative_dir(factory, "envs_dir", envs_dir)
    pkgs = "" if pkgs_dir is None else relative_dir(factory, "pkgs_dir", pkgs_dir)
    return Module(
        name="studio-conda-persistent-envs",
        script=script("conda_persistent_envs.sh"),
        strip_comments=True,
        user=RunAs.NOTEBOOK_USER,
        budget=Duration.seconds(20),
        settings={"ENVS_DIR": envs, "PKGS_DIR": pkgs},
        targets=STUDIO_ONLY,
        description=f"conda envs_dirs ~/{envs} first in ~/.condarc",
    )


def studio_conda_env_kernels(*, envs_dir: str = ".conda/envs", display_prefix: str = "conda") -> Module:
    """A Jupyter kernel for every environment in ``~/<envs_dir>`` that has ipykernel."""
    factory = "studio_conda_env_kernels"
    envs = relative_dir(factory, "envs_dir", envs_dir)
    prefix = display_text(factory, "display_prefix", display_prefix, max_length=40)
    return Module(
        name="studio-conda-env-kernels",
        script=script("conda_env_kernels.sh"),
        strip_comments=True,
        user=RunAs.NOTEBOOK_USER,
        budget=Duration.seconds(60),
        settings={"ENVS_DIR": envs, "DISPLAY_PREFIX": prefix},
        targets=STUDIO_ONLY,
        description=f"Jupyter kernels for the conda envs in ~/{envs}",
    )


def studio_environment_variables(*, variables: Mapping[str, str]) -> Module:
    """Export ``variables`` from ``~/.config/sagemaker-lifecycle/environment.sh``, sourced by ``~/.bashrc``
    and ``~/.profile``; values are quoted at synth time, so they arrive literally."""
    check_variables("studio_environment_variables", variables)
    names = sorted(variables)
    return Module(
        name="studio-environment-variables",
        script=script("environment_variables.sh", package="lifecycle_scripts.studio"),
        strip_comments=True,
        user=RunAs.NOTEBOOK_USER,
        budget=Duration.seconds(10),
        settings={"VARIABLE_NAMES": " ".join(names)},
        files={"environment.sh": profile_script(variables)},
        targets=STUDIO_ONLY,
        description=f"~/.config/sagemaker-lifecycle/environment.sh exporting {', '.join(names)}",
    )
