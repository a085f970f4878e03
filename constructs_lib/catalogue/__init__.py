"""Ready-made lifecycle modules for SageMaker notebook instances and Studio apps.

Each factory validates its keyword-only arguments at once (raising ``LifecycleConfigError`` that names
the argument, the value and what is allowed) and returns a ``Module`` for ``Target.NOTEBOOK_INSTANCE``
whose script ships in ``lifecycle_scripts.notebook``, or (``studio_idle_shutdown``) for ``Target.STUDIO``
with its script in ``lifecycle_scripts.studio``. The scripts are idempotent: running a hook twice
leaves the instance or app as running it once.

========================== ============= ============================================================
factory                    runs as       does
========================== ============= ============================================================
conda_persistent_envs      notebook user persisted envs (and pkgs) dirs first in ``~/.condarc``
conda_env_kernels          notebook user a Jupyter kernel per persisted env that has ipykernel
conda_packages_background  notebook user (background) create an env on the volume and install packages
stop_ssm_agent             root          stop/disable (optionally uninstall) amazon-ssm-agent
persist_dotfolders         notebook user ``~/.ssh``, ``~/.config``... kept on the volume, linked from home
persisted_bin_on_path      root          a persisted ``bin`` on the notebook user's PATH (profile.d)
environment_variables      root          ``export`` lines in ``/etc/profile.d``, quoted at synth time
idle_autostop              root          install the auto-stop program; cron job as the notebook user
git_config                 notebook user ``git config --global`` of name, e-mail and extra options
studio_idle_shutdown       Studio user   one detached loop running the auto-stop program: DeleteApp when idle
========================== ============= ============================================================

``register(name, factory, targets=...)`` makes a factory usable from configuration files as
``{"module": name, ...}`` (see ``constructs_lib.catalogue.registry``); the factories above are registered
under their configuration names (``conda-persistent-envs``, ..., ``studio-idle-shutdown``).
``script_module`` builds a module from a team's own script file.
"""

from collections.abc import Callable

from constructs_lib.bundling import Module, Target
from constructs_lib.catalogue._common import ArgumentError
from constructs_lib.catalogue.autostop import idle_autostop
from constructs_lib.catalogue.conda import conda_env_kernels, conda_packages_background, conda_persistent_envs
from constructs_lib.catalogue.home import git_config, persist_dotfolders
from constructs_lib.catalogue.registry import register, registered
from constructs_lib.catalogue.services import stop_ssm_agent
from constructs_lib.catalogue.shell import environment_variables, persisted_bin_on_path
from constructs_lib.catalogue.studio import studio_idle_shutdown
from constructs_lib.catalogue.studio_home import (
    studio_conda_env_kernels,
    studio_conda_persistent_envs,
    studio_environment_variables,
)
from constructs_lib.catalogue.studio_team import studio_team_conda_builder, studio_team_conda_envs
from constructs_lib.catalogue.team import script_module

_NOTEBOOK_FACTORIES: tuple[tuple[str, Callable[..., Module]], ...] = (
    ("conda-persistent-envs", conda_persistent_envs),
    ("conda-env-kernels", conda_env_kernels),
    ("stop-ssm-agent", stop_ssm_agent),
    ("persist-dotfolders", persist_dotfolders),
    ("persisted-bin-on-path", persisted_bin_on_path),
    ("environment-variables", environment_variables),
    ("idle-autostop", idle_autostop),
    ("conda-packages-background", conda_packages_background),
    ("git-config", git_config),
)
_STUDIO_FACTORIES: tuple[tuple[str, Callable[..., Module]], ...] = (
    ("studio-conda-persistent-envs", studio_conda_persistent_envs),
    ("studio-conda-env-kernels", studio_conda_env_kernels),
    ("studio-environment-variables", studio_environment_variables),
    ("studio-idle-shutdown", studio_idle_shutdown),
    ("studio-team-conda-envs", studio_team_conda_envs),
    ("studio-team-conda-builder", studio_team_conda_builder),
)
for _name, _factory in _NOTEBOOK_FACTORIES:
    register(_name, _factory)
for _name, _factory in _STUDIO_FACTORIES:
    register(_name, _factory, targets=(Target.STUDIO,))

__all__ = [
    "ArgumentError",
    "conda_env_kernels",
    "conda_packages_background",
    "conda_persistent_envs",
    "environment_variables",
    "git_config",
    "idle_autostop",
    "persist_dotfolders",
    "persisted_bin_on_path",
    "register",
    "registered",
    "script_module",
    "stop_ssm_agent",
    "studio_idle_shutdown",
]
