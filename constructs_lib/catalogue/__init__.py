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
"""

from constructs_lib.catalogue.autostop import idle_autostop
from constructs_lib.catalogue.conda import conda_env_kernels, conda_packages_background, conda_persistent_envs
from constructs_lib.catalogue.home import git_config, persist_dotfolders
from constructs_lib.catalogue.services import stop_ssm_agent
from constructs_lib.catalogue.shell import environment_variables, persisted_bin_on_path
from constructs_lib.catalogue.studio import studio_idle_shutdown

__all__ = [
    "conda_env_kernels",
    "conda_packages_background",
    "conda_persistent_envs",
    "environment_variables",
    "git_config",
    "idle_autostop",
    "persist_dotfolders",
    "persisted_bin_on_path",
    "stop_ssm_agent",
    "studio_idle_shutdown",
]
