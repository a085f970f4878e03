"""Idle-shutdown backstop: a Lambda function run on a schedule, outside the instances it watches.

It enforces what no program on an instance can (a user with root or a broken on-start script can stop
that one): a hard maximum running time per notebook instance and per Studio app, and optional working
hours outside which everything in scope is stopped. Each run looks at

* the notebook instances named in ``NOTEBOOK_NAMES`` (ListNotebookInstances, ``InService`` only); an
  instance's running time is ``now - LastModifiedTime``. SageMaker offers no "in service since" field;
  an in-service instance cannot be updated, so its last modification is its last start (status change).
  Limits: the time counts from the status change, so an instance may run up to the maximum plus one
  schedule interval; moto keeps LastModifiedTime at creation.
* the JupyterLab and Code Editor apps of the domain in ``STUDIO_DOMAIN_ARN`` (ListApps, ``InService``
  only), aged by ``CreationTime``, stopped with DeleteApp (the user's files stay on the space's volume).
  JupyterServer apps (the free ``system`` Studio Classic UI) and KernelGateway apps are never touched.

Opt-out: the tag ``idle-backstop:keep-running-until`` with a UTC time ``YYYY-MM-DDTHH:MM[:SS]Z`` on the
notebook instance, or on the space (or user profile) an app belongs to, keeps it running until then, at
most ``MAX_KEEP_RUNNING_MINUTES`` ahead. Any other value is not honoured (logged, the limit applies).

Every decision is one JSON line on stdout (CloudWatch Logs); ``DRY_RUN=true`` logs ``would-stop`` /
``would-delete`` and acts on nothing. The answers of the API (names, tags, times) come from others: an
item that cannot be read is left alone with one ``error`` line, and no single item ends the run. A run
reads at most ``MAX_ITEMS`` items per kind and stops early when the Lambda's time runs out.

Also a command for a local dry run: ``python handler.py --dry-run [--now ISO-TIME]`` with the same
environment variables. Exit: 0 done, 1 some item failed, 2 bad configuration or usage.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

OPT_OUT_TAG = "idle-backstop:keep-running-until"
DELETABLE_APP_TYPES = ("JupyterLab", "CodeEditor")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
PAGE_SIZE = 100
MAX_ITEMS = 5000  # per kind and run
SAFETY_MILLIS = 15_000  # stop starting new work when the invocation has less time left than this
MAX_FIELD = 200  # characters of any outside value written to a log line

_NAME = re.compile(r"[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}")  # notebook, user profile, space and app names
_DOMAIN_ARN = re.compile(r"arn:(aws[a-z-]{0,20}):sagemaker:([a-z0-9-]{1,30}):(\d{12}):domain/(d-[a-z0-9]{1,63})")
_NOTEBOOK_ARN = re.compile(r"arn:aws[a-z-]{0,20}:sagemaker:[a-z0-9-]{1,30}:\d{12}:notebook-instance/(\S{1,63})")
_UNTIL = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?Z")
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]{0,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}")
_MINUTES = re.compile(r"[1-9]\d{0,6}")


class ConfigError(ValueError):
    """The function's own configuration (environment) is wrong: nothing is done."""


@dataclass(frozen=True)
class WorkingHours:
    zone_name: str
    zone: dt.tzinfo
    start: dt.time
    end: dt.time
    weekdays: frozenset[int]

    def contains(self, now: dt.datetime) -> bool:
        local = now.astimezone(self.zone)
        return local.weekday() in self.weekdays and self.start <= local.time().replace(tzinfo=None) < self.end

    def __str__(self) -> str:
        days = ",".join(WEEKDAYS[d] for d in sorted(self.weekdays))
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.zone_name}"


@dataclass(frozen=True)
class Domain:
    partition: str
    region: str
    account: str
    domain_id: str

    def owner_arn(self, kind: str, name: str) -> str:
        return f"arn:{self.partition}:sagemaker:{self.region}:{self.account}:{kind}/{self.domain_id}/{name}"


@dataclass(frozen=True)
class Settings:
    notebook_names: tuple[str, ...]
    domain: Domain | None
    max_notebook_running: dt.timedelta | None
    max_app_age: dt.timedelta | None
    working_hours: WorkingHours | None
    max_keep_running: dt.timedelta
    dry_run: bool

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Settings:
        names = tuple(n for n in env.get("NOTEBOOK_NAMES", "").split(",") if n)
        for name in names:
            if not _NAME.fullmatch(name):
                raise ConfigError(f"NOTEBOOK_NAMES: {name[:MAX_FIELD]!r} is not a notebook instance name")
        domain = None
        if env.get("STUDIO_DOMAIN_ARN"):
            match = _DOMAIN_ARN.fullmatch(env["STUDIO_DOMAIN_ARN"])
            if not match:
                raise ConfigError(f"STUDIO_DOMAIN_ARN: {env['STUDIO_DOMAIN_ARN'][:MAX_FIELD]!r} is not a domain ARN")
            domain = Domain(*match.groups())
        dry_run = env.get("DRY_RUN", "false")
        if dry_run not in ("true", "false"):
            raise ConfigError(f"DRY_RUN: {dry_run[:MAX_FIELD]!r} is not 'true' or 'false'")
        hours = _working_hours(env["WORKING_HOURS"]) if env.get("WORKING_HOURS") else None
        settings = cls(
            notebook_names=names,
            domain=domain,
            max_notebook_running=_minutes(env, "MAX_NOTEBOOK_RUNNING_MINUTES"),
            max_app_age=_minutes(env, "MAX_APP_AGE_MINUTES"),
            working_hours=hours,
            max_keep_running=_minutes(env, "MAX_KEEP_RUNNING_MINUTES") or dt.timedelta(days=7),
            dry_run=dry_run == "true",
        )
        if not names and domain is None:
            raise ConfigError("nothing to watch: set NOTEBOOK_NAMES or STUDIO_DOMAIN_ARN")
        if hours is None and settings.max_notebook_running is None and settings.max_app_age is None:
            raise ConfigError("no rule: set MAX_NOTEBOOK_RUNNING_MINUTES, MAX_APP_AGE_MINUTES or WORKING_HOURS")
        return settings


def _minutes(env: Mapping[str, str], key: str) -> dt.timedelta | None:
    value = env.get(key, "")
    if not value:
        return None
    if not _MINUTES.fullmatch(value):
        raise ConfigError(f"{key}: {value[:MAX_FIELD]!r} is not a whole number of minutes")
    return dt.timedelta(minutes=int(value))


def _working_hours(text: str) -> WorkingHours:
    try:
        raw = json.loads(text)
    except ValueError:
        raise ConfigError("WORKING_HOURS: not JSON") from None
    if not isinstance(raw, dict) or set(raw) != {"timeZone", "start", "end", "weekdays"}:
        raise ConfigError("WORKING_HOURS: give exactly timeZone, start, end and weekdays")
    clocks = []
    for key in ("start", "end"):
        match = _CLOCK.fullmatch(raw[key]) if isinstance(raw[key], str) else None
        if not match:
            raise ConfigError(f"WORKING_HOURS.{key}: {str(raw[key])[:MAX_FIELD]!r} is not HH:MM")
        clocks.append(dt.time(int(match[1]), int(match[2])))
    if not clocks[0] < clocks[1]:
        raise ConfigError("WORKING_HOURS: start must be before end (the same day)")
    days = raw["weekdays"]
    if not isinstance(days, list) or not days or not all(d in WEEKDAYS for d in days) or len(set(days)) != len(days):
        raise ConfigError(f"WORKING_HOURS.weekdays: give distinct days of {', '.join(WEEKDAYS)}")
    zone_name = raw["timeZone"]
    if not isinstance(zone_name, str):
        raise ConfigError("WORKING_HOURS.timeZone: not a string")
    return WorkingHours(zone_name, load_zone(zone_name), clocks[0], clocks[1], frozenset(map(WEEKDAYS.index, days)))


def load_zone(name: str) -> dt.tzinfo:
    """The IANA zone: the system's database, else python-dateutil's bundled one (botocore needs dateutil, so
    it is there wherever boto3 is, also on a Lambda runtime image without /usr/share/zoneinfo)."""
    if not _ZONE.fullmatch(name):
        raise ConfigError(f"WORKING_HOURS.timeZone: {name[:MAX_FIELD]!r} is not an IANA time zone name")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    try:
        from dateutil.zoneinfo import get_zonefile_instance  # type: ignore[import-untyped]

        zone: dt.tzinfo | None = get_zonefile_instance().get(name)
    except ImportError:
        zone = None
    if zone is None:
        raise ConfigError(f"WORKING_HOURS.timeZone: {name!r} is unknown here (no time zone database has it)")
    return zone


# -- logging -------------------------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value[:MAX_FIELD]
    if isinstance(value, dt.datetime):
        return _iso(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    return repr(value)[:MAX_FIELD]


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: UP017 (3.11 in tests)


class Log:
    """One JSON object per line; every outside value is cut to MAX_FIELD characters (JSON escapes newlines)."""

    def __init__(self, now: dt.datetime, stream: IO[str] | None = None) -> None:
        self.now = now
        self.stream = stream or sys.stdout
        self.counts: dict[str, int] = {}

    def __call__(self, event: str, **fields: Any) -> None:
        self.counts[event] = self.counts.get(event, 0) + 1
        line = {"backstop": event, **{key: _clean(value) for key, value in fields.items()}}
        self.stream.write(json.dumps(line, sort_keys=False) + "\n")
        self.stream.flush()


# -- reading API answers ---------------------------------------------------------------------------------------


class _Stop(Exception):
    """The time budget ran out."""


def _pages(
    call: Callable[..., Any], key: str, log: Log, kind: str, out_of_time: Callable[[], bool], **params: Any
) -> Iterator[Any]:
    """Items of a paginated List* call, at most MAX_ITEMS; a bad answer ends the listing with one error line."""
    token: str | None = None
    seen_tokens: set[str] = set()
    count = 0
    while True:
        if out_of_time():
            raise _Stop
        try:
            page = call(**params, **({"NextToken": token} if token else {}))
        except Exception as err:  # an API or protocol failure: nothing more of this kind this run
            log("error", kind=kind, reason=f"listing failed: {type(err).__name__}: {err}")
            return
        items = page.get(key) if isinstance(page, dict) else None
        if not isinstance(items, list):
            log("error", kind=kind, reason=f"listing answer without a {key} list")
            return
        for item in items:
            count += 1
            if count > MAX_ITEMS:
                log("error", kind=kind, reason=f"more than {MAX_ITEMS} items: the rest is left for the next run")
                return
            yield item
        token = page.get("NextToken")
        if not token:
            return
        if not isinstance(token, str) or token in seen_tokens or len(token) > 8192:
            log("error", kind=kind, reason="listing answered a bad or repeated NextToken")
            return
        seen_tokens.add(token)


def _time(value: Any) -> dt.datetime | None:
    return value if isinstance(value, dt.datetime) and value.utcoffset() is not None else None


def opt_out(tags_answer: Any, now: dt.datetime, max_keep: dt.timedelta) -> tuple[str, str]:
    """('none' | 'honoured' | 'ignored', detail) for a ListTags answer."""
    tags = tags_answer.get("Tags") if isinstance(tags_answer, dict) else None
    if not isinstance(tags, list):
        return "ignored", "ListTags answer without a Tags list"
    values = [tag.get("Value") for tag in tags if isinstance(tag, dict) and tag.get("Key") == OPT_OUT_TAG]
    if not values:
        return "none", ""
    value = values[0]
    match = _UNTIL.fullmatch(value) if isinstance(value, str) else None
    if not match:
        return "ignored", f"{OPT_OUT_TAG}={str(value)[:MAX_FIELD]!r} is not YYYY-MM-DDTHH:MM[:SS]Z"
    try:
        year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
        until = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)  # noqa: UP017
    except ValueError:
        return "ignored", f"{OPT_OUT_TAG}={value!r} is not a valid time"
    if until <= now:
        return "ignored", f"{OPT_OUT_TAG}={value} has expired"
    if until > now + max_keep:
        return "ignored", f"{OPT_OUT_TAG}={value} is more than {_hours(max_keep)} ahead"
    return "honoured", _iso(until)


def _hours(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


# -- the run ---------------------------------------------------------------------------------------------------


@dataclass
class _Target:
    kind: str  # "notebook" | "app"
    resource: str  # what the log names
    tags_arn: str  # where the opt-out tag is read
    act: Callable[[], Any]
    verb: str  # "stop" | "delete"


def run(
    settings: Settings,
    client: Any,
    now: dt.datetime,
    *,
    stream: IO[str] | None = None,
    out_of_time: Callable[[], bool] = lambda: False,
    page_size: int = PAGE_SIZE,
) -> dict[str, int]:
    """One pass over notebooks and apps; returns the count of each logged event."""
    log = Log(now, stream)
    outside = settings.working_hours is not None and not settings.working_hours.contains(now)
    try:
        if settings.notebook_names:
            for item in _pages(
                client.list_notebook_instances,
                "NotebookInstances",
                log,
                "notebook",
                out_of_time,
                StatusEquals="InService",
                MaxResults=page_size,
            ):
                _each(
                    log,
                    "notebook",
                    item,
                    lambda i: _notebook(settings, client, now, outside, log, i),
                    settings,
                    client,
                    now,
                )
        if settings.domain is not None:
            for item in _pages(
                client.list_apps,
                "Apps",
                log,
                "app",
                out_of_time,
                DomainIdEquals=settings.domain.domain_id,
                MaxResults=page_size,
            ):
                _each(log, "app", item, lambda i: _app(settings, client, now, outside, log, i), settings, client, now)
    except _Stop:
        log("error", reason="the invocation's time ran out: the rest is left for the next run")
    summary = dict(sorted(log.counts.items()))
    log("summary", now=now, dry_run=settings.dry_run, outside_working_hours=outside, **summary)
    return summary


def _each(
    log: Log,
    kind: str,
    item: Any,
    decide: Callable[[dict[str, Any]], _Target | None],
    settings: Settings,
    client: Any,
    now: dt.datetime,
) -> None:
    """Decide and act on one item; whatever it holds, at most one error line and never an exception."""
    try:
        if not isinstance(item, dict):
            log("error", kind=kind, reason="list item is not an object")
            return
        target = decide(item)
        if target is not None:
            _enforce(log, settings, client, now, target)
    except Exception as err:
        log("error", kind=kind, reason=f"unexpected: {type(err).__name__}: {err}")


def _notebook(
    settings: Settings, client: Any, now: dt.datetime, outside: bool, log: Log, item: dict[str, Any]
) -> _Target | None:
    name = item.get("NotebookInstanceName")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        log("error", kind="notebook", resource=name, reason="missing or invalid NotebookInstanceName")
        return None
    if name.lower() not in {n.lower() for n in settings.notebook_names}:
        return None  # not this stack's
    if item.get("NotebookInstanceStatus") != "InService":
        log("skip", kind="notebook", resource=name, reason=f"status {item.get('NotebookInstanceStatus')!r}")
        return None
    arn = item.get("NotebookInstanceArn")
    match = _NOTEBOOK_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if not match or match[1].lower() != name.lower():
        log("error", kind="notebook", resource=name, reason=f"NotebookInstanceArn {arn!r} does not name it")
        return None
    reason = _reason(outside, settings, settings.max_notebook_running, item.get("LastModifiedTime"), now, "running")
    if reason.startswith("error:"):
        log("error", kind="notebook", resource=name, reason=reason.removeprefix("error: ") + " (LastModifiedTime)")
        return None
    if not reason:
        return None
    stop = {"NotebookInstanceName": name}  # as SageMaker answered it (IAM allows both cases of our names)
    return _Target("notebook", name, str(arn), lambda: client.stop_notebook_instance(**stop), "stop:" + reason)


def _app(
    settings: Settings, client: Any, now: dt.datetime, outside: bool, log: Log, item: dict[str, Any]
) -> _Target | None:
    domain = settings.domain
    assert domain is not None
    app_type, app_name = item.get("AppType"), item.get("AppName")
    if app_type not in DELETABLE_APP_TYPES:
        return None  # JupyterServer (Studio Classic UI, free), KernelGateway or unknown: never touched
    owners = [(key, item.get(key)) for key in ("SpaceName", "UserProfileName") if item.get(key) is not None]
    label = f"{app_type}/{app_name}"
    if item.get("DomainId") != domain.domain_id:
        log("error", kind="app", resource=label, reason=f"DomainId {item.get('DomainId')!r} is not this domain")
        return None
    if not isinstance(app_name, str) or not _NAME.fullmatch(app_name):
        log("error", kind="app", resource=label, reason="missing or invalid AppName")
        return None
    if len(owners) != 1 or not isinstance(owners[0][1], str) or not _NAME.fullmatch(owners[0][1]):
        log("error", kind="app", resource=label, reason="needs exactly one valid SpaceName or UserProfileName")
        return None
    owner_key, owner = owners[0][0], str(owners[0][1])
    label = f"{owner}/{app_type}/{app_name}"
    if item.get("Status") != "InService":
        log("skip", kind="app", resource=label, reason=f"status {item.get('Status')!r}")
        return None
    reason = _reason(outside, settings, settings.max_app_age, item.get("CreationTime"), now, "created")
    if reason.startswith("error:"):
        log("error", kind="app", resource=label, reason=reason.removeprefix("error: ") + " (CreationTime)")
        return None
    if not reason:
        return None
    params = {"DomainId": domain.domain_id, "AppType": app_type, "AppName": app_name, owner_key: owner}
    tags_arn = domain.owner_arn("space" if owner_key == "SpaceName" else "user-profile", owner)
    return _Target("app", label, tags_arn, lambda: client.delete_app(**params), "delete:" + reason)


def _reason(
    outside: bool, settings: Settings, limit: dt.timedelta | None, since: Any, now: dt.datetime, what: str
) -> str:
    """Why to act ('' for not at all; 'error: ...' when the time needed is unreadable)."""
    if outside:
        return f"outside working hours ({settings.working_hours})"
    if limit is None:
        return ""
    moment = _time(since)
    if moment is None:
        return "error: missing or invalid time"
    age = now - moment
    return f"{what} {_hours(age)} ago, limit {_hours(limit)}" if age >= limit else ""


def _enforce(log: Log, settings: Settings, client: Any, now: dt.datetime, target: _Target) -> None:
    verb, reason = target.verb.split(":", 1)
    try:
        state, detail = opt_out(
            client.list_tags(ResourceArn=target.tags_arn, MaxResults=100), now, settings.max_keep_running
        )
    except Exception as err:
        log("error", kind=target.kind, resource=target.resource, reason=f"ListTags failed: {type(err).__name__}: {err}")
        return
    if state == "honoured":
        log("keep", kind=target.kind, resource=target.resource, reason=reason, opt_out_until=detail)
        return
    notes = {"opt_out_ignored": detail} if state == "ignored" else {}
    if settings.dry_run:
        log(f"would-{verb}", kind=target.kind, resource=target.resource, reason=reason, **notes)
        return
    try:
        target.act()
    except Exception as err:
        log("error", kind=target.kind, resource=target.resource, reason=f"{verb} failed: {type(err).__name__}: {err}")
        return
    log("stopped" if verb == "stop" else "deleted", kind=target.kind, resource=target.resource, reason=reason, **notes)


# -- entry points ----------------------------------------------------------------------------------------------


def _client() -> Any:
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    config = Config(connect_timeout=5, read_timeout=20, retries={"mode": "standard", "max_attempts": 3})
    return boto3.client("sagemaker", config=config)


def handler(event: Any, context: Any) -> dict[str, int]:
    """The Lambda entry point. The event is ignored: what to do comes only from the environment."""
    settings = Settings.from_environment(os.environ)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    out_of_time = (lambda: remaining() < SAFETY_MILLIS) if callable(remaining) else (lambda: False)
    return run(settings, _client(), dt.datetime.now(dt.timezone.utc), out_of_time=out_of_time)  # noqa: UP017


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="One backstop pass with the Lambda's environment variables.")
    parser.add_argument("--dry-run", action="store_true", help="log what would be done, do nothing")
    parser.add_argument("--now", help="the time to judge by (ISO 8601 with an offset), for rehearsals")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 2 if exit_.code else 0
    try:
        env = dict(os.environ, **({"DRY_RUN": "true"} if args.dry_run else {}))
        settings = Settings.from_environment(env)
        now = dt.datetime.fromisoformat(args.now) if args.now else dt.datetime.now(dt.timezone.utc)  # noqa: UP017
        if now.utcoffset() is None:
            raise ConfigError(f"--now {args.now!r} has no UTC offset")
    except ValueError as err:  # ConfigError, or a bad --now
        print(json.dumps({"backstop": "config-error", "reason": str(err)[:MAX_FIELD]}))
        return 2
    counts = run(settings, _client(), now)
    return 1 if counts.get("error") else 0


if __name__ == "__main__":
    sys.exit(main())
