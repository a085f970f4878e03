#!/usr/bin/env python3
"""Stop this SageMaker notebook instance when its Jupyter server has been idle long enough.

One run (from cron, with a Python that has boto3) reads the Jupyter REST API, decides (``decide``: pure,
no I/O, reusable for other targets such as Studio apps) and calls StopNotebookInstance when idle. Each
decision is logged on stdout as one line starting with a UTC timestamp.

Idle rules: a busy kernel, or a kernel with open connections (unless --ignore-connections), keeps the
instance up; a kernel stuck in 'starting' for longer than the idle time is ignored. Otherwise the idle
time runs from the latest of: every kernel's and terminal's last_activity, the Jupyter server start, the
instance start (LastModifiedTime) and, only with no kernels and no terminals, /api/status last_activity.
Never within --grace-minutes of the later start. All times are aware UTC, whatever TZ says. The check's
own requests carry no_track_activity=1 so that they do not count as activity.

Nothing is stopped when Jupyter cannot be queried (exit 0) or the instance is not InService. Needs
sagemaker:DescribeNotebookInstance and sagemaker:StopNotebookInstance on this instance's ARN.
Exit status: 0 checked, 1 environment (boto3, metadata, region), 2 usage, 3 AWS call failed, 4 other.
Python 3.7+, standard library and boto3 only.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import ssl
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.client import HTTPException
from typing import Any

# Python 3.7 compatible spelling (datetime.UTC is 3.11+).
UTC = timezone.utc  # noqa: UP017

EXIT_OK = 0
EXIT_ENVIRONMENT = 1
EXIT_USAGE = 2
EXIT_AWS = 3
EXIT_UNEXPECTED = 4

DEFAULT_JUPYTER_URL = "https://localhost:8443"
DEFAULT_METADATA_FILE = "/opt/ml/metadata/resource-metadata.json"
DEFAULT_MAX_ATTEMPTS = 5

ACCESS_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"})
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "BandwidthLimitExceeded",
    }
)


# --------------------------------------------------------------------------------------------------
# Time


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC (never as local time)."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)


def parse_timestamp(value: Any) -> datetime | None:
    """Parse an ISO-8601 timestamp (``2024-01-01T10:00:00.123456Z``, offsets allowed) into aware UTC.

    ``None`` and ``""`` give ``None``; a value without offset is UTC; epoch seconds are accepted.
    Works on Python 3.7 (``datetime.fromisoformat`` only accepts ``Z`` from 3.11).
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    match = _TIMESTAMP.match(str(value).strip())
    if not match:
        raise ValueError(f"unrecognised timestamp {value!r}")
    year, month, day, hour, minute = (int(part) for part in match.group(1, 2, 3, 4, 5))
    second = int(match.group(6) or 0)
    microsecond = int(((match.group(7) or "") + "000000")[:6])
    moment = datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)
    offset = match.group(8)
    if offset and offset not in ("Z", "z"):
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        moment = moment - delta if offset[0] == "+" else moment + delta
    return moment


def format_time(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60.0


def format_minutes(value: float) -> str:
    return f"{value:g}"


# --------------------------------------------------------------------------------------------------
# The facts and the decision (pure: no I/O, no clock)


@dataclass(frozen=True)
class Kernel:
    id: str
    name: str = ""
    execution_state: str = "unknown"
    last_activity: datetime | None = None
    connections: int = 0
    path: str | None = None  # notebook path, from /api/sessions

    @property
    def label(self) -> str:
        text = f"kernel {self.id[:8]}"
        if self.path:
            text += f" ({self.path})"
        return text


@dataclass(frozen=True)
class Terminal:
    name: str
    last_activity: datetime | None = None

    @property
    def label(self) -> str:
        return f"terminal {self.name}"


@dataclass(frozen=True)
class JupyterState:
    started: datetime | None = None
    last_activity: datetime | None = None  # server-wide, from /api/status
    kernels: tuple[Kernel, ...] = ()
    terminals: tuple[Terminal, ...] = ()
    sessions: int = 0


@dataclass(frozen=True)
class Policy:
    idle: timedelta = timedelta(minutes=60)
    grace: timedelta = timedelta(minutes=15)
    ignore_connections: bool = False


@dataclass(frozen=True)
class Decision:
    stop: bool
    reason: str
    idle_for: timedelta | None = None
    last_activity: datetime | None = None
    notes: tuple[str, ...] = field(default=())


def decide(state: JupyterState, instance_started: datetime | None, now: datetime, policy: Policy) -> Decision:
    """Whether the target is idle enough to stop, and why (see the module docstring for the rules)."""
    now = as_utc(now)
    notes = []
    sources = []  # (time, what)
    for kernel in state.kernels:
        last = kernel.last_activity
        if kernel.execution_state == "starting" and (last is None or now - as_utc(last) >= policy.idle):
            since = format_time(last) if last is not None else "an unknown time"
            notes.append(f"{kernel.label} stuck in 'starting' since {since}: ignored")
            continue
        if kernel.execution_state == "busy":
            return Decision(False, f"not idle: {kernel.label} busy", notes=tuple(notes))
        if kernel.connections > 0 and not policy.ignore_connections:
            return Decision(
                False,
                f"not idle: {kernel.label} has {kernel.connections} open connection(s)"
                " (--ignore-connections to disregard)",
                notes=tuple(notes),
            )
        if last is not None:
            sources.append((as_utc(last), kernel.label))
    for terminal in state.terminals:
        if terminal.last_activity is not None:
            sources.append((as_utc(terminal.last_activity), terminal.label))
    if not state.kernels and not state.terminals and state.last_activity is not None:
        sources.append((as_utc(state.last_activity), "jupyter server activity (no kernels, no terminals)"))
    if state.started is not None:
        sources.append((as_utc(state.started), "jupyter server start"))
    if instance_started is not None:
        sources.append((as_utc(instance_started), "instance start"))
    if not sources:
        return Decision(False, "not stopping: no activity time known", notes=tuple(notes))

    last_time, last_what = max(sources, key=lambda source: source[0])
    idle_for = now - last_time
    idle_text = f"{minutes(idle_for):.1f} min"
    threshold = format_minutes(minutes(policy.idle))
    since = f"last activity: {last_what} at {format_time(last_time)}"
    if idle_for < policy.idle:
        return Decision(
            False,
            f"not idle: idle for {idle_text} < {threshold} ({since})",
            idle_for,
            last_time,
            tuple(notes),
        )
    starts = [moment for moment in (state.started, instance_started) if moment is not None]
    if starts:
        started = max(as_utc(moment) for moment in starts)
        if now - started < policy.grace:
            grace = format_minutes(minutes(policy.grace))
            return Decision(
                False,
                f"not stopping: idle for {idle_text} >= {threshold}"
                f" but within the {grace} min grace period after start at {format_time(started)}",
                idle_for,
                last_time,
                tuple(notes),
            )
    return Decision(True, f"idle for {idle_text} >= {threshold} ({since})", idle_for, last_time, tuple(notes))


# --------------------------------------------------------------------------------------------------
# Jupyter


class JupyterError(Exception):
    """Jupyter could not be queried; nothing is stopped."""


class JupyterHTTPError(JupyterError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _kernel_from(model: dict[str, Any], path: str | None) -> Kernel:
    return Kernel(
        id=str(model["id"]),
        name=str(model.get("name") or ""),
        execution_state=str(model.get("execution_state") or "unknown"),
        last_activity=parse_timestamp(model.get("last_activity")),
        connections=int(model.get("connections") or 0),
        path=path,
    )


def parse_jupyter_state(status: Any, sessions: Any, kernels: Any, terminals: Any) -> JupyterState:
    """Build the facts from the four REST answers; raise JupyterError on an unexpected shape."""
    try:
        if not isinstance(status, dict):
            raise TypeError("/api/status is not an object")
        for what, value in (("sessions", sessions), ("kernels", kernels), ("terminals", terminals)):
            if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
                raise TypeError(f"/api/{what} is not a list of objects")
        paths = {}
        session_kernels = {}
        for session in sessions:
            model = session.get("kernel") or {}
            if isinstance(model, dict) and model.get("id"):
                paths[str(model["id"])] = session.get("path") or session.get("name")
                session_kernels[str(model["id"])] = model
        result = [_kernel_from(model, paths.get(str(model["id"]))) for model in kernels]
        known = {kernel.id for kernel in result}
        result.extend(
            _kernel_from(model, paths.get(kernel_id))
            for kernel_id, model in sorted(session_kernels.items())
            if kernel_id not in known
        )
        return JupyterState(
            started=parse_timestamp(status.get("started")),
            last_activity=parse_timestamp(status.get("last_activity")),
            kernels=tuple(result),
            terminals=tuple(
                Terminal(str(item.get("name")), parse_timestamp(item.get("last_activity"))) for item in terminals
            ),
            sessions=len(sessions),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise JupyterError(f"unexpected answer from the Jupyter API: {exc}") from exc


class JupyterClient:
    """Read-only client of the Jupyter Server REST API (self-signed TLS accepted, proxies bypassed)."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        context = ssl.create_default_context()
        # The instance's Jupyter listens on localhost with a self-signed certificate.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
        )

    def get(self, path: str) -> Any:
        # no_track_activity: the check itself must not count as user activity.
        url = f"{self.base_url}{path}?no_track_activity=1"
        headers = {"Accept": "application/json", "User-Agent": "sagemaker-autostop"}
        if self.token:
            headers["Authorization"] = "token " + self.token
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 (scheme checked: http/https)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            hint = " (token missing or wrong?)" if exc.code in (401, 403) else ""
            raise JupyterHTTPError(f"GET {path} answered HTTP {exc.code}{hint}", exc.code) from exc
        except urllib.error.URLError as exc:
            raise JupyterError(f"cannot reach {self.base_url}: {exc.reason}") from exc
        except (OSError, HTTPException) as exc:
            raise JupyterError(f"cannot reach {self.base_url}: {exc or type(exc).__name__}") from exc
        try:
            return json.loads(body.decode("utf-8"))
        except ValueError as exc:
            raise JupyterError(f"GET {path} did not answer JSON: {exc}") from exc

    def state(self) -> JupyterState:
        status = self.get("/api/status")
        sessions = self.get("/api/sessions")
        kernels = self.get("/api/kernels")
        try:
            terminals = self.get("/api/terminals")
        except JupyterHTTPError as exc:
            if exc.status != 404:
                raise
            terminals = []  # terminals disabled on this server
        return parse_jupyter_state(status, sessions, kernels, terminals)


# --------------------------------------------------------------------------------------------------
# AWS


def aws_error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str((response.get("Error") or {}).get("Code") or "")
    return ""


def aws_http_status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        try:
            return int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        except (TypeError, ValueError):
            return 0
    return 0


def aws_error_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    message = ""
    if isinstance(response, dict):
        message = str((response.get("Error") or {}).get("Message") or "")
    inner = re.search(r"<Message>(.*?)</Message>", message, re.S)  # XML error bodies
    if inner:
        message = inner.group(1)
    message = " ".join(message.split()) or str(exc)
    return message[:300]


def is_access_denied(exc: BaseException) -> bool:
    if aws_error_code(exc) in ACCESS_DENIED_CODES:
        return True
    if aws_http_status(exc) == 403:
        message = aws_error_message(exc)
        return "AccessDenied" in message or "not authorized" in message
    return False


def is_throttling(exc: BaseException) -> bool:
    return aws_error_code(exc) in THROTTLING_CODES or aws_http_status(exc) == 429


def call_with_backoff(
    call: Callable[[], Any],
    what: str,
    log: Callable[[str], None],
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
) -> Any:
    """Call, retrying throttling errors at most max_attempts times in all, with exponential backoff."""
    attempt = 1
    while True:
        try:
            return call()
        except Exception as exc:
            if not is_throttling(exc) or attempt >= max_attempts:
                raise
            delay = min(max_delay, base_delay * (2 ** (attempt - 1)))
            delay = delay / 2 + delay / 2 * rand()  # jitter: instances' cron runs start together
            code = aws_error_code(exc) or aws_http_status(exc)
            log(f"{what} throttled ({code}), attempt {attempt}/{max_attempts}: retrying in {delay:.2f} s")
            sleep(delay)
            attempt += 1


@dataclass(frozen=True)
class TargetState:
    status: str
    stoppable: bool
    started: datetime | None


class NotebookInstanceTarget:
    """A notebook instance: DescribeNotebookInstance / StopNotebookInstance.

    Another target (e.g. a Studio app: DescribeApp / DeleteApp) provides the same attributes and methods.
    """

    kind = "notebook instance"
    describe_action = "sagemaker:DescribeNotebookInstance"
    stop_action = "sagemaker:StopNotebookInstance"

    def __init__(self, client: Any, name: str, arn: str | None) -> None:
        self.client = client
        self.name = name
        self.arn = arn or f"notebook-instance/{name}"

    def describe(self) -> TargetState:
        answer = self.client.describe_notebook_instance(NotebookInstanceName=self.name)
        status = str(answer.get("NotebookInstanceStatus") or "unknown")
        return TargetState(status, status == "InService", parse_timestamp(answer.get("LastModifiedTime")))

    def stop(self) -> None:
        self.client.stop_notebook_instance(NotebookInstanceName=self.name)


class AwsCallFailed(Exception):
    """An AWS call failed; the reason has been logged."""


def read_metadata(path: str) -> tuple[str, str | None]:
    """(ResourceName, ResourceArn) from the instance's resource-metadata.json."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    arn = data.get("ResourceArn") or None
    name = data.get("ResourceName") or None
    if not name and arn and "/" in arn:
        name = arn.rsplit("/", 1)[1]
    if not name:
        raise ValueError("no ResourceName")
    return str(name), (str(arn) if arn else None)


def region_from_arn(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[3]:
        return parts[3]
    return None


# --------------------------------------------------------------------------------------------------
# Command line


def log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sys.stdout.write(f"{stamp} autostop: {message}\n")
    sys.stdout.flush()


def _positive(text: str) -> float:
    value = _non_negative(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a finite number >= 0")
    return value


def _jupyter_url(text: str) -> str:
    parsed = urllib.parse.urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise argparse.ArgumentTypeError("must be an http:// or https:// URL")
    return text


def _utc_time(text: str) -> datetime:
    try:
        value = parse_timestamp(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value is None:
        raise argparse.ArgumentTypeError("empty time")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autostop.py",
        description="Stop this SageMaker notebook instance when Jupyter has been idle long enough.",
    )
    parser.add_argument(
        "--idle-minutes",
        type=_positive,
        default=60.0,
        metavar="N",
        help="stop after N minutes without activity (default: 60)",
    )
    parser.add_argument(
        "--grace-minutes",
        type=_non_negative,
        default=15.0,
        metavar="N",
        help="never stop within N minutes of the Jupyter server or instance start (default: 15)",
    )
    parser.add_argument(
        "--jupyter-url",
        type=_jupyter_url,
        default=DEFAULT_JUPYTER_URL,
        help="Jupyter server URL; TLS certificates are not verified (default: %(default)s)",
    )
    token = parser.add_mutually_exclusive_group()
    token.add_argument("--token", help="Jupyter token (sent as 'Authorization: token ...')")
    token.add_argument("--token-file", metavar="PATH", help="file holding the Jupyter token")
    parser.add_argument(
        "--ignore-connections",
        action="store_true",
        help="open kernel connections (e.g. a notebook open in a browser) do not keep the instance up",
    )
    parser.add_argument("--dry-run", action="store_true", help="log the decision but never stop the instance")
    parser.add_argument(
        "--metadata-file",
        default=DEFAULT_METADATA_FILE,
        metavar="PATH",
        help="instance metadata with ResourceName and ResourceArn (default: %(default)s)",
    )
    parser.add_argument("--region", help="AWS region (default: from the ResourceArn)")
    # Test hooks, not shown in --help.
    parser.add_argument("--now", type=_utc_time, help=argparse.SUPPRESS)
    parser.add_argument("--retry-base-seconds", type=_non_negative, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS, help=argparse.SUPPRESS)
    parser.add_argument("--http-timeout", type=_positive, default=10.0, help=argparse.SUPPRESS)
    return parser


def _load_boto3() -> Any:
    import boto3
    from botocore.config import Config

    return boto3, Config


def _aws_call(
    target: NotebookInstanceTarget, action: str, call: Callable[[], Any], args: argparse.Namespace, sleep: Any
) -> Any:
    try:
        return call_with_backoff(
            call,
            action,
            log,
            max_attempts=max(1, args.max_attempts),
            base_delay=args.retry_base_seconds,
            sleep=sleep,
        )
    except Exception as exc:
        code = aws_error_code(exc)
        if is_access_denied(exc):
            also = ""
            if target.arn != target.arn.lower():
                also = f" (IAM may evaluate the lower-case ARN {target.arn.lower()}: grant both)"
            detail = f"{code or aws_http_status(exc)}: {aws_error_message(exc)}"
            log(f"access denied: the instance's role lacks permission {action} on {target.arn}{also} [{detail}]")
        elif is_throttling(exc):
            log(f"{action} still throttled after {args.max_attempts} attempts: giving up until the next run")
        elif code:
            log(f"{action} failed: {code}: {aws_error_message(exc)}")
        elif type(exc).__module__.startswith("botocore"):
            log(f"{action} failed: {type(exc).__name__}: {exc}")
        else:
            raise
        raise AwsCallFailed(action) from exc


def run(args: argparse.Namespace, sleep: Callable[[float], None] = time.sleep) -> int:
    try:
        boto3, config_class = _load_boto3()
    except ImportError as exc:
        log(f"boto3 not importable by {sys.executable}: {exc}; run this with a Python that has boto3")
        return EXIT_ENVIRONMENT

    try:
        name, arn = read_metadata(args.metadata_file)
    except (OSError, ValueError) as exc:
        log(f"cannot read instance metadata {args.metadata_file}: {exc}")
        return EXIT_ENVIRONMENT

    token = args.token
    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError as exc:
            log(f"cannot read token file {args.token_file}: {exc}")
            return EXIT_ENVIRONMENT

    try:
        state = JupyterClient(args.jupyter_url, token, args.http_timeout).state()
    except JupyterError as exc:
        log(f"not stopping: jupyter not usable: {exc}")
        return EXIT_OK

    region = args.region or region_from_arn(arn)
    try:
        client = boto3.session.Session().client(
            "sagemaker",
            region_name=region,
            # Retries are done here (call_with_backoff) so that they are bounded and logged.
            config=config_class(retries={"max_attempts": 0}, connect_timeout=10, read_timeout=30),
        )
    except Exception as exc:
        log(f"cannot create a SageMaker client (region {region}): {type(exc).__name__}: {exc}")
        return EXIT_ENVIRONMENT
    target = NotebookInstanceTarget(client, name, arn)

    try:
        described = _aws_call(target, target.describe_action, target.describe, args, sleep)
    except AwsCallFailed:
        return EXIT_AWS
    if not described.stoppable:
        log(f"not stopping: {target.kind} {name} is {described.status}, not InService")
        return EXIT_OK

    now = args.now if args.now is not None else datetime.now(UTC)
    policy = Policy(
        idle=timedelta(minutes=args.idle_minutes),
        grace=timedelta(minutes=args.grace_minutes),
        ignore_connections=args.ignore_connections,
    )
    decision = decide(state, described.started, now, policy)
    log(
        "{} kernel(s), {} terminal(s), {} session(s); jupyter started {}, instance started {}".format(
            len(state.kernels),
            len(state.terminals),
            state.sessions,
            format_time(state.started) if state.started else "?",
            format_time(described.started) if described.started else "?",
        )
    )
    for note in decision.notes:
        log(note)
    if not decision.stop:
        log(decision.reason)
        return EXIT_OK
    if args.dry_run:
        log(f"dry-run: would stop {target.kind} {name}: {decision.reason}")
        return EXIT_OK
    log(f"{decision.reason}: stopping {target.kind} {name}")
    try:
        _aws_call(target, target.stop_action, target.stop, args, sleep)
    except AwsCallFailed:
        return EXIT_AWS
    log(f"stop requested for {target.kind} {name}")
    return EXIT_OK


def main(argv: list[str] | None = None, sleep: Callable[[float], None] = time.sleep) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args, sleep)
    except Exception as exc:
        log(f"not stopping: unexpected error: {type(exc).__name__}: {exc}")
        traceback.print_exc()
        return EXIT_UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())
