"""Idle auto-stop of notebook instances, with the program carried in the bundle (nothing downloaded)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from typing import Literal

import python_minifier
from aws_cdk import Duration

from constructs_lib.bundling import Module, RunAs
from constructs_lib.catalogue._common import NOTEBOOK_ONLY, check_type, fail, script, whole_minutes

AUTOSTOP_PACKAGE = "lifecycle_scripts.autostop"
AUTOSTOP_PROGRAM = "autostop.py"

_SIXTY_MINUTES = Duration.minutes(60)
_FIFTEEN_MINUTES = Duration.minutes(15)
_TEN_MINUTES = Duration.minutes(10)
_TWO_MINUTES = Duration.minutes(2)
GPU_FAMILIES = ("ml.g*", "ml.p*")
"""Instance types with NVIDIA GPUs (g4dn, g5, g6, p3, p4d, p5...): ``gpu_idle`` applies to them."""
_TYPE_GLOB = re.compile(r"ml\.[a-z0-9.*?]+")
_LOOPBACK = re.compile(r"https?://(localhost|127(\.[0-9]{1,3}){3}|\[::1\])(:[0-9]{1,5})?(/.*)?", re.IGNORECASE)
_CRON_FIELD = re.compile(r"[0-9*/,-]+")
# (name, lowest, highest) of the five cron fields
_CRON_RANGES = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_CRON_ITEM = re.compile(r"(\*|(?P<low>[0-9]+)(-(?P<high>[0-9]+))?)(/(?P<step>[0-9]+))?")
_URL = re.compile(r"https?://([A-Za-z0-9.-]+|\[::1\])(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")


def _check_schedule(schedule: object) -> str:
    allowed = (
        "give 5 cron fields (minute hour day-of-month month day-of-week) made of digits and '*', '/', ',', '-', "
        "for example '*/5 * * * *'."
    )
    if not isinstance(schedule, str):
        raise fail("idle_autostop", "schedule", schedule, allowed)
    fields = schedule.split()
    if len(fields) != 5 or not all(_CRON_FIELD.fullmatch(f) for f in fields):
        raise fail("idle_autostop", "schedule", schedule, allowed)
    for text, (name, lowest, highest) in zip(fields, _CRON_RANGES, strict=True):
        for item in text.split(","):
            match = _CRON_ITEM.fullmatch(item)
            numbers = [int(n) for n in (match.group("low"), match.group("high")) if n is not None] if match else []
            step = match.group("step") if match else None
            if (
                match is None
                or any(not lowest <= n <= highest for n in numbers)
                or (len(numbers) == 2 and numbers[0] > numbers[1])
                or (step is not None and int(step) == 0)
            ):
                raise fail(
                    "idle_autostop",
                    "schedule",
                    schedule,
                    f"the {name} field {text!r} must hold '*', numbers {lowest}-{highest}, ranges 'a-b' (a <= b) "
                    "and steps '/n' (n >= 1), separated by ','.",
                )
    return " ".join(fields)


ProgramTarget = Literal["notebook", "studio"]
_TAGS: dict[str, str] = {"notebook": "  # [studio]", "studio": "  # [notebook]"}


def program(target: ProgramTarget = "notebook") -> bytes:
    """The auto-stop program as the modules carry it for ``target``: ``lifecycle_scripts/autostop/autostop.py``
    without the lines tagged for the other target (:func:`for_target`), minified by python-minifier (pinned;
    docstrings, comments and argparse help gone, names shortened, the shebang kept), valid for Python 3.7+ and
    the same bytes on every run. The file keeps its comments for readers."""
    source = resources.files(AUTOSTOP_PACKAGE).joinpath(AUTOSTOP_PROGRAM).read_text(encoding="utf-8")
    return minify_python(for_target(source, target)).encode("utf-8")


def for_target(source: str, target: ProgramTarget) -> str:
    """``source`` without the lines only the other target needs: a notebook instance carries no Studio mode
    (``--target``, the app, the activity file: lines tagged ``# [studio]``), Studio none tagged ``# [notebook]``."""
    if target not in _TAGS:
        raise ValueError(f"target {target!r} is invalid: use 'notebook' or 'studio'.")
    tag = _TAGS[target]
    return "".join(line for line in source.splitlines(keepends=True) if tag not in line)


def minify_python(source: str) -> str:
    """``source`` minified: the same program (tests run the carried form), deterministic."""
    minified = python_minifier.minify(
        source, remove_literal_statements=True, rename_globals=True, preserve_globals=["main"], hoist_literals=False
    )
    return str(minified) + "\n"


def _percent(factory: str, argument: str, value: object) -> int:
    """A load threshold in percent, or None (off, passed as 0): 0 itself is refused, say None."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise fail(factory, argument, value, "give a whole number of percent from 1 to 100, or None (off).")
    return value


def _idle_for(factory: str, by_type: Mapping[str, Duration] | None, gpu_idle: Duration | None) -> str:
    """``TYPE=MINUTES`` words for ``--idle-for`` (first match wins): the explicit types, then the GPU ones."""
    if by_type is not None and not isinstance(by_type, Mapping):
        raise fail(factory, "idle_by_instance_type", by_type, "give a mapping of instance type (glob) to Duration.")
    pairs = []
    for pattern, duration in sorted((by_type or {}).items()):
        if not isinstance(pattern, str) or not _TYPE_GLOB.fullmatch(pattern):
            raise fail(
                factory,
                "idle_by_instance_type",
                pattern,
                "give instance types such as 'ml.g5.xlarge' or globs such as 'ml.p4d.*' (ml. followed by "
                "lower-case letters, digits, '.', '*' and '?').",
            )
        minutes = whole_minutes(factory, f"idle_by_instance_type[{pattern!r}]", duration, minimum=5, maximum=1440)
        pairs.append(f"{pattern}={minutes}")
    if gpu_idle is not None:
        minutes = whole_minutes(factory, "gpu_idle", gpu_idle, minimum=5, maximum=1440)
        pairs += [f"{family}={minutes}" for family in GPU_FAMILIES]
    return " ".join(pairs)


def program_settings(
    factory: str,
    *,
    idle: Duration,
    grace: Duration,
    ignore_connections: bool,
    dry_run: bool,
    jupyter_url: str | None,
    verify_tls: bool = False,
    warn: Duration = _TEN_MINUTES,
    cpu_percent: int | None = 30,
    gpu_percent: int | None = 10,
    idle_by_instance_type: Mapping[str, Duration] | None = None,
    gpu_idle: Duration | None = None,
    deadline: Duration = _TWO_MINUTES,
) -> dict[str, str]:
    """Validate the program's options (shared by the notebook and Studio factories) into module settings."""
    idle_minutes = whole_minutes(factory, "idle", idle, minimum=5, maximum=1440)
    grace_minutes = whole_minutes(factory, "grace", grace, minimum=0, maximum=1440)
    warn_minutes = whole_minutes(factory, "warn", warn, minimum=0, maximum=60)
    check_type(factory, "ignore_connections", ignore_connections, bool, "True or False")
    check_type(factory, "dry_run", dry_run, bool, "True or False")
    check_type(factory, "verify_tls", verify_tls, bool, "True or False")
    if not isinstance(deadline, Duration) or not 10 <= deadline.to_seconds() <= 600 or deadline.to_seconds() % 1:
        raise fail(factory, "deadline", deadline, "give an aws_cdk.Duration of whole seconds from 10 to 600.")
    if jupyter_url is not None and (not isinstance(jupyter_url, str) or not _URL.fullmatch(jupyter_url)):
        raise fail(
            factory,
            "jupyter_url",
            jupyter_url,
            "give an http:// or https:// URL of a host, an optional port and path (letters, digits, '.-_~/'), "
            "for example 'https://localhost:8443', or None (no Jupyter server: Code Editor).",
        )
    if jupyter_url is not None and not verify_tls and not _LOOPBACK.fullmatch(jupyter_url):
        raise fail(
            factory,
            "jupyter_url",
            jupyter_url,
            "without verify_tls=True only a loopback host (localhost, 127.x.x.x, [::1]) may be used: the "
            "program would send its token to an unverified server.",
        )
    if jupyter_url is not None and verify_tls and not jupyter_url.startswith("https://"):
        raise fail(factory, "jupyter_url", jupyter_url, "verify_tls=True needs an https:// URL.")
    return {
        "IDLE_MINUTES": str(idle_minutes),
        "GRACE_MINUTES": str(grace_minutes),
        "WARN_MINUTES": str(warn_minutes),
        "JUPYTER_URL": jupyter_url or "none",
        "VERIFY_TLS": "1" if verify_tls else "0",
        "IGNORE_CONNECTIONS": "1" if ignore_connections else "0",
        "DRY_RUN": "1" if dry_run else "0",
        "CPU_PERCENT": str(_percent(factory, "cpu_percent", cpu_percent)),
        "GPU_PERCENT": str(_percent(factory, "gpu_percent", gpu_percent)),
        "IDLE_FOR": _idle_for(factory, idle_by_instance_type, gpu_idle),
        "DEADLINE_SECONDS": str(int(deadline.to_seconds())),
    }


def idle_autostop(
    *,
    idle: Duration = _SIXTY_MINUTES,
    schedule: str = "*/5 * * * *",
    grace: Duration = _FIFTEEN_MINUTES,
    warn: Duration = _TEN_MINUTES,
    ignore_connections: bool = False,
    dry_run: bool = False,
    jupyter_url: str = "https://localhost:8443",
    verify_tls: bool = False,
    cpu_percent: int | None = 30,
    gpu_percent: int | None = 10,
    gpu_idle: Duration | None = None,
    idle_by_instance_type: Mapping[str, Duration] | None = None,
    deadline: Duration = _TWO_MINUTES,
) -> Module:
    """Stop the notebook instance after ``idle`` without activity, checked on ``schedule`` (cron).

    Activity: Jupyter kernels and terminals, CPU load of the notebook user's processes over the last
    interval at or above ``cpu_percent`` (% of one core; a ``nohup python train.py &`` counts), GPU load from
    ``nvidia-smi`` at or above ``gpu_percent`` (no-op without GPUs); None turns a signal off. ``gpu_idle``
    (GPU types ``ml.g*``/``ml.p*``) and ``idle_by_instance_type`` (glob -> Duration, first match in sorted
    order) shorten or lengthen ``idle`` per instance type. ``warn`` ahead of a stop (0: no warning) the
    program tells open terminals (``wall``, and the user's own ``/dev/pts`` terminals, Jupyter's among them) and
    writes ``~/IDLE-SHUTDOWN-NOTICE.txt``; activity cancels it.

    The platform's idle policy holds even with RootAccess disabled: the check runs from a root-owned
    ``/etc/cron.d`` entry, with ``autostop.py`` (carried minified in the bundle) installed root-owned under
    ``/usr/local/lib/sagemaker-lifecycle``, interpreted by the root-owned system ``/usr/bin/python3 -I``
    (isolated: no user site, no PYTHON* variables), reaching AWS through the system python's botocore or
    else a root-owned AWS CLI; nothing under the notebook user's home is ever executed. Never within
    ``grace`` of the Jupyter or instance start; the whole check ends within ``deadline``, one at a time.
    The instance role needs ``sagemaker:DescribeNotebookInstance`` and ``sagemaker:StopNotebookInstance``.
    """
    factory = "idle_autostop"
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
    if jupyter_url is None:
        raise fail(factory, "jupyter_url", jupyter_url, "give the notebook's Jupyter URL (https://localhost:8443).")
    cron = _check_schedule(schedule)
    return Module(
        name="idle-autostop",
        script=script("idle_autostop.sh"),
        strip_comments=True,
        user=RunAs.ROOT,
        budget=Duration.seconds(30),
        settings={**settings, "SCHEDULE": cron},
        files={AUTOSTOP_PROGRAM: program()},
        targets=NOTEBOOK_ONLY,
        description=f"stop the instance after {settings['IDLE_MINUTES']} idle minutes (cron '{cron}', "
        f"grace {settings['GRACE_MINUTES']}m, warn {settings['WARN_MINUTES']}m)" + (", dry run" if dry_run else ""),
    )
