"""Studio variants of the home-directory modules, for ``sagemaker-user`` (home = persisted volume).

Studio runs lifecycle scripts as ``sagemaker-user`` in the app's container: there is no ``ec2-user``,
no root and no ``/etc/profile.d`` to write, and ``/home/sagemaker-user`` is the persisted volume.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration

from constructs_lib.bundling import Module, RunAs, Target
from constructs_lib.catalogue._common import script
from constructs_lib.catalogue.conda import env_kernels_module, persistent_envs_module
from constructs_lib.catalogue.environment_files import ipython_startup_file
from constructs_lib.catalogue.shell import check_variables, profile_script

STUDIO_ONLY = frozenset({Target.STUDIO})


def studio_conda_persistent_envs(*, envs_dir: str = ".conda/envs", pkgs_dir: str | None = ".conda/pkgs") -> Module:
    """``~/<envs_dir>`` first in ``envs_dirs`` of ``~/.condarc`` (and ``pkgs_dir`` in ``pkgs_dirs``)."""
    return persistent_envs_module(
        "studio_conda_persistent_envs", "studio-conda-persistent-envs", STUDIO_ONLY, envs_dir, pkgs_dir
    )


def studio_conda_env_kernels(*, envs_dir: str = ".conda/envs", display_prefix: str = "conda") -> Module:
    """A Jupyter kernel for every environment in ``~/<envs_dir>`` that has ipykernel."""
    return env_kernels_module(
        "studio_conda_env_kernels", "studio-conda-env-kernels", STUDIO_ONLY, envs_dir, display_prefix
    )


def studio_environment_variables(*, variables: Mapping[str, str], allow_variables: Sequence[str] = ()) -> Module:
    """Export ``variables`` to shells and to the Python kernels of JupyterLab and Code Editor apps.

    Shells and terminals: ``~/.config/sagemaker-lifecycle/environment.sh``, sourced by ``~/.bashrc`` and
    ``~/.profile``. Kernels: the image starts its server without reading either (supervisord runs
    ``start-jupyter-server`` / ``start-code-editor``, possibly before this script ends), so an IPython
    start-up file, ``~/.ipython/profile_default/startup/00-sagemaker-lifecycle-environment.py``, sets
    ``os.environ`` in every IPython kernel as it starts, whenever the server started. Values are quoted
    at synth time (``shlex.quote``, Python ``repr``), so they arrive literally. Risky names (see
    ``environment_variables``) need ``allow_variables``: KernelGateway apps run as root."""
    check_variables("studio_environment_variables", variables, allow_variables)
    names = sorted(variables)
    return Module(
        name="studio-environment-variables",
        script=script("environment_variables.sh", package="lifecycle_scripts.studio"),
        strip_comments=True,
        user=RunAs.NOTEBOOK_USER,
        budget=Duration.seconds(10),
        settings={"VARIABLE_NAMES": " ".join(names)},
        files={"environment.sh": profile_script(variables), "environment.py": ipython_startup_file(variables)},
        targets=STUDIO_ONLY,
        description=f"~/.config/sagemaker-lifecycle/environment.sh and an IPython start-up file: {', '.join(names)}",
    )
