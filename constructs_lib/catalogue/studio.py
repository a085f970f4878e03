"""Idle shutdown of Studio apps that have none built in (JupyterServer, KernelGateway, JupyterLab opted out).

The same ``autostop.py`` as ``idle_autostop`` runs in its Studio mode (``--target studio``): it reads the
app's ``/opt/ml/metadata/resource-metadata.json`` and calls ``sagemaker:DescribeApp`` and
``sagemaker:DeleteApp`` on that app. Studio runs lifecycle scripts as ``sagemaker-user`` without root
and usually without cron, so the module starts one detached loop instead of a cron job.
"""

from __future__ import annotations

from aws_cdk import Duration

from constructs_lib.bundling import Module, RunAs, Target
from constructs_lib.catalogue._common import script, whole_minutes
from constructs_lib.catalogue.autostop import AUTOSTOP_PROGRAM, program, program_settings

STUDIO_SCRIPTS_PACKAGE = "lifecycle_scripts.studio"
_SIXTY_MINUTES = Duration.minutes(60)
_FIFTEEN_MINUTES = Duration.minutes(15)
_FIVE_MINUTES = Duration.minutes(5)


def studio_idle_shutdown(
    *,
    idle: Duration = _SIXTY_MINUTES,
    grace: Duration = _FIFTEEN_MINUTES,
    ignore_connections: bool = False,
    dry_run: bool = False,
    jupyter_url: str = "http://localhost:8888/jupyterlab/default",
    check_every: Duration = _FIVE_MINUTES,
) -> Module:
    """Delete this Studio app after ``idle`` without Jupyter activity, checked every ``check_every``.

    Installs ``autostop.py`` under ``~/.local/lib/sagemaker-lifecycle`` and starts one detached loop
    (replacing the loop of an earlier run of the hook) that runs it with ``--target studio`` and the first
    of ``/opt/conda/bin/python`` and ``python3`` that has boto3, logging to
    ``~/.lifecycle/logs/idle-shutdown.log``. Never within ``grace`` of the Jupyter server's start. The
    execution role needs ``sagemaker:DescribeApp`` and ``sagemaker:DeleteApp`` on the app.
    """
    factory = "studio_idle_shutdown"
    settings = program_settings(
        factory, idle=idle, grace=grace, ignore_connections=ignore_connections, dry_run=dry_run, jupyter_url=jupyter_url
    )
    check_minutes = whole_minutes(factory, "check_every", check_every, minimum=1, maximum=60)
    return Module(
        name="studio-idle-shutdown",
        script=script("idle_shutdown.sh", package=STUDIO_SCRIPTS_PACKAGE),
        strip_comments=True,
        user=RunAs.NOTEBOOK_USER,
        budget=Duration.seconds(30),
        settings={**settings, "CHECK_MINUTES": str(check_minutes)},
        files={AUTOSTOP_PROGRAM: program()},
        targets=frozenset({Target.STUDIO}),
        description=f"delete the Studio app after {settings['IDLE_MINUTES']} idle minutes "
        f"(checked every {check_minutes}m, grace {settings['GRACE_MINUTES']}m)" + (", dry run" if dry_run else ""),
    )
