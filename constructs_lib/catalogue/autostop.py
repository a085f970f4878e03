"""Idle auto-stop of notebook instances, with the program carried in the bundle (nothing downloaded)."""

from __future__ import annotations

import io
import re
import tokenize
from importlib import resources

from aws_cdk import Duration

from constructs_lib.bundling import Module, RunAs
from constructs_lib.catalogue._common import NOTEBOOK_ONLY, check_type, fail, script, whole_minutes

AUTOSTOP_PACKAGE = "lifecycle_scripts.autostop"
AUTOSTOP_PROGRAM = "autostop.py"

_SIXTY_MINUTES = Duration.minutes(60)
_FIFTEEN_MINUTES = Duration.minutes(15)
_CRON_FIELD = re.compile(r"[0-9*/,-]+")
# (name, lowest, highest) of the five cron fields
_CRON_RANGES = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_CRON_ITEM = re.compile(r"(\*|(?P<low>[0-9]+)(-(?P<high>[0-9]+))?)(/(?P<step>[0-9]+))?")
_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")


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


def without_comments(source: str) -> str:
    """Python ``source`` without its comments (the shebang line stays): the same code, statement for statement.

    Comment-only lines go and trailing comments are cut; a comment token can never be inside a string,
    so strings (and so blank or ``#`` lines inside them) are untouched. Tests check the AST is unchanged.
    """
    lines = source.splitlines(keepends=True)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and token.start[0] > 1:
            row, column = token.start
            code = lines[row - 1][:column].rstrip()
            lines[row - 1] = code + "\n" if code else ""
    return "".join(lines)


def program() -> bytes:
    """The auto-stop program as the modules carry it: ``lifecycle_scripts/autostop/autostop.py`` without
    its comments (about 400 fewer encoded characters in a hook; the file keeps them for readers)."""
    source = resources.files(AUTOSTOP_PACKAGE).joinpath(AUTOSTOP_PROGRAM).read_text(encoding="utf-8")
    return without_comments(source).encode("utf-8")


def program_settings(
    factory: str, *, idle: Duration, grace: Duration, ignore_connections: bool, dry_run: bool, jupyter_url: str
) -> dict[str, str]:
    """Validate the program's options (shared by the notebook and Studio factories) into module settings."""
    idle_minutes = whole_minutes(factory, "idle", idle, minimum=5, maximum=1440)
    grace_minutes = whole_minutes(factory, "grace", grace, minimum=0, maximum=1440)
    check_type(factory, "ignore_connections", ignore_connections, bool, "True or False")
    check_type(factory, "dry_run", dry_run, bool, "True or False")
    if not isinstance(jupyter_url, str) or not _URL.fullmatch(jupyter_url):
        raise fail(
            factory,
            "jupyter_url",
            jupyter_url,
            "give an http:// or https:// URL of a host, an optional port and path (letters, digits, '.-_~/'), "
            "for example 'https://localhost:8443'.",
        )
    return {
        "IDLE_MINUTES": str(idle_minutes),
        "GRACE_MINUTES": str(grace_minutes),
        "JUPYTER_URL": jupyter_url,
        "IGNORE_CONNECTIONS": "1" if ignore_connections else "0",
        "DRY_RUN": "1" if dry_run else "0",
    }


def idle_autostop(
    *,
    idle: Duration = _SIXTY_MINUTES,
    schedule: str = "*/5 * * * *",
    grace: Duration = _FIFTEEN_MINUTES,
    ignore_connections: bool = False,
    dry_run: bool = False,
    jupyter_url: str = "https://localhost:8443",
) -> Module:
    """Stop the notebook instance after ``idle`` without Jupyter activity, checked on ``schedule`` (cron).

    Runs as root to install ``autostop.py`` (carried in the bundle) root-owned under
    ``/usr/local/lib/sagemaker-lifecycle`` and to set up its log; the cron job itself runs as the
    notebook user (it needs no root), with the first of JupyterSystemEnv's python, ``/usr/bin/python3``
    and ``python3`` that has boto3. Never within ``grace`` of the Jupyter or instance start.
    The instance role needs ``sagemaker:DescribeNotebookInstance`` and ``sagemaker:StopNotebookInstance``.
    """
    factory = "idle_autostop"
    settings = program_settings(
        factory, idle=idle, grace=grace, ignore_connections=ignore_connections, dry_run=dry_run, jupyter_url=jupyter_url
    )
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
        f"grace {settings['GRACE_MINUTES']}m)" + (", dry run" if dry_run else ""),
    )
