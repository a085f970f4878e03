"""``IdleBackstop``: a scheduled Lambda function that stops what runs too long or outside working hours.

It enforces, from outside the instances, what no on-instance program can guarantee: a hard maximum
running time per notebook instance and per Studio app (JupyterLab, Code Editor), and optional working
hours. The function's code is ``lifecycle_scripts/backstop/handler.py`` (its docstring describes the
rules, the opt-out tag and the log lines).
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from constructs_lib._props import check_type
from constructs_lib.errors import LifecycleConfigError
from constructs_lib.nag import acknowledge_wildcard
from constructs_lib.notebook_instance import NotebookInstance
from constructs_lib.studio_domain import StudioDomain

HANDLER_DIR = Path(__file__).resolve().parent.parent / "lifecycle_scripts" / "backstop"
OPT_OUT_TAG = "idle-backstop:keep-running-until"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
RUNTIME = lambda_.Runtime.PYTHON_3_14
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]{0,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}")
DEFAULT_MAX_KEEP_RUNNING = Duration.days(7)
DEFAULT_SCHEDULE_INTERVAL = Duration.minutes(15)
_PSEUDO_ARN = "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>"


@dataclass(frozen=True, kw_only=True)
class WorkingHours:
    """Hours in which things may run: ``start`` to ``end`` (``HH:MM``, the same day) on ``weekdays``, in the
    IANA ``time_zone`` (daylight saving time included). Outside them the backstop stops everything in scope."""

    time_zone: str
    start: str = "07:00"
    end: str = "20:00"
    weekdays: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri")

    def __post_init__(self) -> None:
        if not isinstance(self.time_zone, str) or not _ZONE.fullmatch(self.time_zone):
            raise LifecycleConfigError(
                f"WorkingHours time_zone {self.time_zone!r} is invalid: give an IANA name such as 'Europe/Berlin'."
            )
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise LifecycleConfigError(
                f"WorkingHours time_zone {self.time_zone!r} is unknown: give an IANA name such as 'Europe/Berlin'."
            ) from None
        for field in ("start", "end"):
            value = getattr(self, field)
            if not isinstance(value, str) or not _CLOCK.fullmatch(value):
                raise LifecycleConfigError(f"WorkingHours {field} {value!r} is invalid: give HH:MM (00:00 to 23:59).")
        if not self.start < self.end:
            raise LifecycleConfigError(
                f"WorkingHours start {self.start!r} must be before end {self.end!r} (hours within one day)."
            )
        days = self.weekdays
        if not isinstance(days, tuple) or not days or len(set(days)) != len(days) or not set(days) <= set(WEEKDAYS):
            raise LifecycleConfigError(
                f"WorkingHours weekdays {days!r} is invalid: give a tuple of distinct days of {', '.join(WEEKDAYS)}."
            )

    def to_json(self) -> str:
        """The handler's ``WORKING_HOURS`` value (days in week order: the same input gives the same text)."""
        days = sorted(self.weekdays, key=WEEKDAYS.index)
        value = {"timeZone": self.time_zone, "start": self.start, "end": self.end, "weekdays": days}
        return json.dumps(value, sort_keys=True, separators=(",", ":"))


class IdleBackstop(Construct):
    """A Lambda function on an EventBridge schedule that stops this stack's notebook instances and deletes
    its Studio domain's JupyterLab / Code Editor apps when they ran longer than a maximum or are running
    outside working hours. The tag ``idle-backstop:keep-running-until=<UTC time>`` on an instance (or on
    an app's space or user profile) keeps it running until then, at most ``max_keep_running`` ahead.

    Least privilege: StopNotebookInstance and ListTags on the given instances only; DeleteApp on the
    domain's apps and ListTags on its spaces and user profiles; ListNotebookInstances / ListApps, which
    take no resource, on ``*``. With ``dry_run`` the role gets no Stop or Delete permission at all.

    Attributes: ``function``, ``role``, ``log_group``, ``rule``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        notebooks: Sequence[NotebookInstance] = (),
        studio_domain: StudioDomain | None = None,
        max_notebook_running: Duration | None = None,
        max_app_age: Duration | None = None,
        working_hours: WorkingHours | None = None,
        max_keep_running: Duration = DEFAULT_MAX_KEEP_RUNNING,
        schedule_interval: Duration = DEFAULT_SCHEDULE_INTERVAL,
        dry_run: bool = False,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
    ) -> None:
        super().__init__(scope, id)
        notebooks = list(notebooks)
        interval = _minutes(schedule_interval, "schedule_interval", 1, 60)
        env = self._validate(notebooks, studio_domain, max_notebook_running, max_app_age, working_hours, dry_run)
        env["MAX_KEEP_RUNNING_MINUTES"] = str(_minutes(max_keep_running, "max_keep_running", 60, 31 * 24 * 60))
        if not isinstance(log_retention, logs.RetentionDays) or log_retention == logs.RetentionDays.INFINITE:
            raise LifecycleConfigError(
                f"IdleBackstop log_retention {log_retention!r} is invalid: give a RetentionDays other than INFINITE."
            )

        self.log_group = logs.LogGroup(self, "LogGroup", retention=log_retention)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Idle backstop: stops this stack's notebooks and Studio apps past their limits",
        )
        self._grant(notebooks, studio_domain, dry_run)
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(HANDLER_DIR), exclude=["__pycache__", "*.pyc", "__init__.py"]),
            role=self.role,
            timeout=Duration.minutes(5),
            memory_size=256,
            log_group=self.log_group,
            environment=dict(sorted(env.items())),
            description="Idle backstop: hard maximum running time and working hours for SageMaker notebooks and apps",
        )
        self.rule = events.Rule(
            self,
            "Schedule",
            schedule=events.Schedule.rate(Duration.minutes(interval)),
            description="Runs the idle backstop",
            targets=[targets.LambdaFunction(self.function, retry_attempts=0)],
        )

    # -- permissions --------------------------------------------------------------------------------------
    def _grant(self, notebooks: list[NotebookInstance], domain: StudioDomain | None, dry_run: bool) -> None:
        listing = (["sagemaker:ListNotebookInstances"] if notebooks else []) + (
            ["sagemaker:ListApps"] if domain else []
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=listing, resources=["*"]))
        reasons = {"*": "ListNotebookInstances and ListApps take no resource ARN; the handler acts only on its own."}
        if notebooks:
            arns = sorted({_notebook_arn(name) for nb in notebooks for name in _both_cases(nb.notebook_instance_name)})
            actions = ["sagemaker:ListTags"] + ([] if dry_run else ["sagemaker:StopNotebookInstance"])
            self.role.add_to_policy(iam.PolicyStatement(actions=actions, resources=arns))
        if domain is not None:
            domain_id = domain.domain_id
            ref = f"<{Stack.of(domain).resolve(Stack.of(domain).get_logical_id(domain.domain))}.DomainId>"
            owners = [_sagemaker_arn(f"{kind}/{domain_id}/*") for kind in ("space", "user-profile")]
            self.role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:ListTags"], resources=owners))
            for kind in ("space", "user-profile"):
                reasons[f"{_PSEUDO_ARN}:{kind}/{ref}/*"] = (
                    f"The opt-out tag is read from the {kind} an app runs in; Studio users create those at run "
                    "time, and the grant covers only this domain's."
                )
            if not dry_run:
                apps = _sagemaker_arn(f"app/{domain_id}/*")
                self.role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:DeleteApp"], resources=[apps]))
                reasons[f"{_PSEUDO_ARN}:app/{ref}/*"] = (
                    "Studio names apps at run time; the grant covers only this domain's apps, and the handler "
                    "deletes only JupyterLab and Code Editor apps."
                )
        policy = self.role.node.find_child("DefaultPolicy")
        for resource, reason in reasons.items():
            acknowledge_wildcard(policy, f"Resource::{resource}", reason)

    # -- validation ----------------------------------------------------------------------------------------
    @staticmethod
    def _validate(
        notebooks: list[NotebookInstance],
        domain: StudioDomain | None,
        max_notebook_running: Duration | None,
        max_app_age: Duration | None,
        working_hours: WorkingHours | None,
        dry_run: bool,
    ) -> dict[str, str]:
        """The function's environment for valid props; raises naming the prop otherwise."""
        if not all(isinstance(nb, NotebookInstance) for nb in notebooks):
            raise LifecycleConfigError("IdleBackstop notebooks must be NotebookInstance constructs.")
        check_type("IdleBackstop", "studio_domain", domain, StudioDomain, optional=True)
        if not notebooks and domain is None:
            raise LifecycleConfigError("IdleBackstop has nothing to watch: give notebooks or studio_domain.")
        check_type("IdleBackstop", "working_hours", working_hours, WorkingHours, optional=True)
        if not isinstance(dry_run, bool):
            raise LifecycleConfigError(f"IdleBackstop dry_run {dry_run!r} is invalid: give True or False.")
        if max_notebook_running is not None and not notebooks:
            raise LifecycleConfigError("IdleBackstop max_notebook_running is given but notebooks is empty.")
        if max_app_age is not None and domain is None:
            raise LifecycleConfigError("IdleBackstop max_app_age is given but studio_domain is not.")
        if working_hours is None and max_notebook_running is None and max_app_age is None:
            raise LifecycleConfigError(
                "IdleBackstop has no rule: give max_notebook_running, max_app_age or working_hours."
            )
        env = {"DRY_RUN": "true" if dry_run else "false"}
        if notebooks:
            names = sorted({nb.notebook_instance_name for nb in notebooks})
            env["NOTEBOOK_NAMES"] = ",".join(names)
        if domain is not None:
            env["STUDIO_DOMAIN_ARN"] = domain.domain_arn
        year = 366 * 24 * 60
        if max_notebook_running is not None:
            env["MAX_NOTEBOOK_RUNNING_MINUTES"] = str(_minutes(max_notebook_running, "max_notebook_running", 60, year))
        if max_app_age is not None:
            env["MAX_APP_AGE_MINUTES"] = str(_minutes(max_app_age, "max_app_age", 60, year))
        if working_hours is not None:
            env["WORKING_HOURS"] = working_hours.to_json()
        return env


def _minutes(value: Duration, prop: str, low: int, high: int) -> int:
    try:
        seconds = value.to_seconds() if isinstance(value, Duration) else None
    except Exception:  # jsii: not a whole number of seconds
        seconds = None
    if seconds is None or seconds % 60 or not low <= seconds // 60 <= high:
        raise LifecycleConfigError(
            f"IdleBackstop {prop} {_show(value)} is invalid: give a Duration of whole minutes from {low} to {high}."
        )
    return int(seconds // 60)


def _show(value: object) -> str:
    return value.to_human_string() if isinstance(value, Duration) else repr(value)


def _both_cases(name: str) -> list[str]:
    """SageMaker reports notebook ARNs lower-cased while IAM has been seen to match the original case."""
    return sorted({name, name.lower()})


def _sagemaker_arn(resource: str) -> str:
    return f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


def _notebook_arn(name: str) -> str:
    return _sagemaker_arn(f"notebook-instance/{name}")


__all__ = ["OPT_OUT_TAG", "IdleBackstop", "WorkingHours"]
