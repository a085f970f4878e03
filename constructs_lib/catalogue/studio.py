"""Idle shutdown of Studio apps: JupyterServer, KernelGateway, JupyterLab, or Code Editor (no Jupyter server).

The same ``autostop.py`` as ``idle_autostop`` runs in its Studio mode (``--target studio``): it reads the
app's ``/opt/ml/metadata/resource-metadata.json`` and calls ``sagemaker:DescribeApp`` and
``sagemaker:DeleteApp`` on that app. Studio runs lifecycle scripts as ``sagemaker-user`` without root
and usually without cron, so the module starts one detached loop instead of a cron job.

It cooperates with the built-in idle detector of JupyterLab and Code Editor instead of fighting it: it
reads ``/tmp/.sagemaker-last-active-timestamp`` (the extensions write the time of the user's last activity
there; Code Editor activity counts that way) and, when it sees CPU or GPU load, writes the current time
there, so that the built-in idle shutdown does not stop a training run either.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration

from constructs_lib.bundling import Module, RunAs, Target
from constructs_lib.catalogue._common import script, whole_minutes
from constructs_lib.catalogue.autostop import AUTOSTOP_PROGRAM, program, program_settings

STUDIO_SCRIPTS_PACKAGE = "lifecycle_scripts.studio"
_SIXTY_MINUTES = Duration.minutes(60)
_FIFTEEN_MINUTES = Duration.minutes(15)
_TEN_MINUTES = Duration.minutes(10)
_FIVE_MINUTES = Duration.minutes(5)
_TWO_MINUTES = Duration.minutes(2)


def studio_idle_shutdown(
    *,
    idle: Duration = _SIXTY_MINUTES,
    grace: Duration = _FIFTEEN_MINUTES,
    warn: Duration = _TEN_MINUTES,
    ignore_connections: bool = False,
    dry_run: bool = False,
    jupyter_url: str | None = "http://localhost:8888/jupyterlab/default",
    verify_tls: bool = False,
    check_every: Duration = _FIVE_MINUTES,
    cpu_percent: int | None = 30,
    gpu_percent: int | None = 10,
    gpu_idle: Duration | None = None,
    idle_by_instance_type: Mapping[str, Duration] | None = None,
    deadline: Duration = _TWO_MINUTES,
) -> Module:
    """Delete this Studio app after ``idle`` without activity, checked every ``check_every``.

    Activity as for ``idle_autostop`` (Jupyter, CPU of ``sagemaker-user``'s processes, GPU), plus the
    built-in detector's activity file; ``jupyter_url=None`` for Code Editor (no Jupyter server). Installs
    ``autostop.py`` under ``~/.local/lib/sagemaker-lifecycle`` and starts one detached loop (replacing the loop
    of an earlier run of the hook) that runs it with ``--target studio`` and the first of
    ``/opt/conda/bin/python`` and ``python3`` that reaches AWS, logging to ``~/.lifecycle/logs/idle-shutdown.log``.
    ``warn`` ahead it writes ``~/IDLE-SHUTDOWN-NOTICE.txt``. The execution role needs ``sagemaker:DescribeApp``
    and ``sagemaker:DeleteApp`` on the app (``StudioDomain.grant_delete_own_apps`` scopes the latter to the
    caller's own apps).
    """
    factory = "studio_idle_shutdown"
    settings = program_settings(
        factory,
        idle=idle,
        grace=grace,
        ignore_connections=ignore_connections,
        dry_run=dry_run,
        jupyter_url=jupyter_url,
        verify_tls=verify_tls,
        warn=warn,
        cpu_percent=cpu_percent,
        gpu_percent=gpu_percent,
        idle_by_instance_type=idle_by_instance_type,
        gpu_idle=gpu_idle,
        deadline=deadline,
    )
    check_minutes = whole_minutes(factory, "check_every", check_every, minimum=1, maximum=60)
    return Module(
        name="studio-idle-shutdown",
        script=script("idle_shutdown.sh", package=STUDIO_SCRIPTS_PACKAGE),
        strip_comments=True,
        user=RunAs.NOTEBOOK_USER,
        budget=Duration.seconds(30),
        settings={**settings, "CHECK_MINUTES": str(check_minutes)},
        files={AUTOSTOP_PROGRAM: program("studio")},
        targets=frozenset({Target.STUDIO}),
        description=f"delete the Studio app after {settings['IDLE_MINUTES']} idle minutes "
        f"(checked every {check_minutes}m, grace {settings['GRACE_MINUTES']}m, warn {settings['WARN_MINUTES']}m)"
        + (", dry run" if dry_run else ""),
    )
