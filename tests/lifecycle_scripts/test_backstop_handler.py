"""The idle backstop's Lambda handler (``lifecycle_scripts/backstop/handler.py``).

Notebook instances: against moto's real server (InService, Stopped, tagged, untagged, other stacks'
instances alongside), with the time of judgement injected. Studio apps: moto's server (5.2.5) does not
implement them (``ListApps`` answers HTTP 500, checked in ``test_moto_still_lacks_studio_apps``), so a small
local HTTP server speaks the SageMaker JSON protocol for ListApps, ListTags and DeleteApp, records every
call and answers what a test sets. The same fake serves the hostile answers (odd items, endless pages)
that moto cannot be made to give.
"""

from __future__ import annotations

import datetime as dt
import http.server
import io
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from lifecycle_scripts.backstop import handler as backstop
from tests.support.servers import REGION, ROLE_ARN, MotoIam, MotoServer, aws_env

HANDLER = Path(backstop.__file__)
ACCOUNT = "123456789012"
DOMAIN = "d-abc123def456"
DOMAIN_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:domain/{DOMAIN}"
UTC = dt.UTC
BERLIN_OFFICE = json.dumps(
    {"timeZone": "Europe/Berlin", "start": "08:00", "end": "18:00", "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri"]}
)


def settings(**env: str) -> backstop.Settings:
    return backstop.Settings.from_environment(env)


def run(config: backstop.Settings, client: Any, now: dt.datetime, **kwargs: Any) -> list[dict[str, Any]]:
    """One pass; its log lines, each checked to be one JSON object."""
    stream = io.StringIO()
    backstop.run(config, client, now, stream=stream, **kwargs)
    lines = stream.getvalue().splitlines()
    assert lines, "no log line at all"
    parsed = [json.loads(line) for line in lines]
    assert all(isinstance(entry, dict) and "backstop" in entry for entry in parsed)
    assert parsed[-1]["backstop"] == "summary"
    return parsed


def events(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["backstop"] == name]


def resources(lines: list[dict[str, Any]], name: str) -> list[str]:
    return sorted(line["resource"] for line in events(lines, name))


def until(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


# -- moto: notebook instances --------------------------------------------------------------------------------


@dataclass
class Fleet:
    client: Any

    def create(self, stem: str, tags: dict[str, str] | None = None) -> str:
        name = f"bs-{stem}-{uuid.uuid4().hex[:8]}"
        self.client.create_notebook_instance(
            NotebookInstanceName=name,
            InstanceType="ml.t3.medium",
            RoleArn=ROLE_ARN,
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        )
        return name

    def status(self, name: str) -> str:
        return str(self.client.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"])

    def started(self, name: str) -> dt.datetime:
        value: dt.datetime = self.client.describe_notebook_instance(NotebookInstanceName=name)["LastModifiedTime"]
        return value.astimezone(UTC)


@pytest.fixture
def fleet(moto_server: MotoServer) -> Fleet:
    return Fleet(moto_server.client("sagemaker"))


def test_past_the_maximum_is_stopped_and_nothing_else_is_touched(fleet: Fleet) -> None:
    old, kept, stopped, foreign = (fleet.create(s) for s in ("old", "kept", "stopped", "foreign"))
    fleet.client.stop_notebook_instance(NotebookInstanceName=stopped)
    now = fleet.started(old) + dt.timedelta(hours=12, minutes=1)
    fleet.client.add_tags(
        ResourceArn=fleet.client.describe_notebook_instance(NotebookInstanceName=kept)["NotebookInstanceArn"],
        Tags=[{"Key": backstop.OPT_OUT_TAG, "Value": until(now + dt.timedelta(hours=3))}],
    )
    config = settings(NOTEBOOK_NAMES=f"{old},{kept},{stopped}", MAX_NOTEBOOK_RUNNING_MINUTES="720")
    lines = run(config, fleet.client, now)
    assert [fleet.status(n) for n in (old, kept, stopped, foreign)] == ["Stopped", "InService", "Stopped", "InService"]
    (stop,) = events(lines, "stopped")
    assert stop["resource"] == old and stop["kind"] == "notebook"
    assert stop["reason"].startswith("running 12.0 h ago, limit 12.0 h"), stop
    (keep,) = events(lines, "keep")
    assert keep["resource"] == kept and keep["opt_out_until"] == until(now + dt.timedelta(hours=3))[:-1] + ":00Z"
    assert not events(lines, "error"), lines


def test_within_the_maximum_nothing_happens(fleet: Fleet) -> None:
    name = fleet.create("young")
    now = fleet.started(name) + dt.timedelta(hours=11, minutes=59)
    lines = run(settings(NOTEBOOK_NAMES=name, MAX_NOTEBOOK_RUNNING_MINUTES="720"), fleet.client, now)
    assert fleet.status(name) == "InService"
    assert [line["backstop"] for line in lines] == ["summary"]


def test_dry_run_logs_and_does_not_stop(fleet: Fleet) -> None:
    name = fleet.create("dry")
    now = fleet.started(name) + dt.timedelta(days=2)
    lines = run(settings(NOTEBOOK_NAMES=name, MAX_NOTEBOOK_RUNNING_MINUTES="60", DRY_RUN="true"), fleet.client, now)
    assert fleet.status(name) == "InService"
    assert resources(lines, "would-stop") == [name]
    assert lines[-1]["dry_run"] is True and lines[-1]["would-stop"] == 1


# 2026-03-29 is the EU switch to summer time: 06:30 UTC is 07:30 in Berlin on the Friday before (outside
# 08:00-18:00) and 08:30 on the Monday after (inside). A naive UTC comparison gets one of them wrong.
@pytest.mark.parametrize(
    ("now", "inside"),
    [
        (dt.datetime(2026, 3, 27, 6, 30, tzinfo=UTC), False),
        (dt.datetime(2026, 3, 30, 6, 30, tzinfo=UTC), True),
        (dt.datetime(2026, 3, 30, 16, 59, tzinfo=UTC), False),  # 18:59 summer time
        (dt.datetime(2026, 3, 28, 10, 0, tzinfo=UTC), False),  # Saturday
    ],
    ids=["before-dst-0730", "after-dst-0830", "evening-1859", "saturday"],
)
def test_working_hours_in_the_time_zone(fleet: Fleet, now: dt.datetime, inside: bool) -> None:
    name = fleet.create("hours")
    lines = run(settings(NOTEBOOK_NAMES=name, WORKING_HOURS=BERLIN_OFFICE), fleet.client, now)
    assert fleet.status(name) == ("InService" if inside else "Stopped")
    assert lines[-1]["outside_working_hours"] is not inside
    if not inside:
        (stop,) = events(lines, "stopped")
        assert stop["reason"] == "outside working hours (Mon,Tue,Wed,Thu,Fri 08:00-18:00 Europe/Berlin)"


@pytest.mark.parametrize(
    ("value", "ignored"),
    [
        (lambda now: until(now + dt.timedelta(days=8)), "is more than 168.0 h ahead"),
        (lambda now: until(now - dt.timedelta(minutes=1)), "has expired"),
        (lambda now: "forever", "is not YYYY-MM-DDTHH:MM[:SS]Z"),
        (lambda now: "2026-13-01T00:00Z", "is not a valid time"),
        (lambda now: until(now + dt.timedelta(hours=1)).replace("Z", "+01:00"), "is not YYYY-MM-DDTHH:MM[:SS]Z"),
        (lambda now: "", "is not YYYY-MM-DDTHH:MM[:SS]Z"),
    ],
    ids=["too-far", "expired", "word", "month-13", "offset", "empty"],
)
def test_an_opt_out_tag_that_does_not_hold_is_not_honoured(
    fleet: Fleet, value: Callable[[dt.datetime], str], ignored: str
) -> None:
    probe = fleet.create("probe")
    now = fleet.started(probe) + dt.timedelta(hours=2)
    name = fleet.create("tagged", {backstop.OPT_OUT_TAG: value(now)})
    lines = run(settings(NOTEBOOK_NAMES=name, MAX_NOTEBOOK_RUNNING_MINUTES="60"), fleet.client, now)
    assert fleet.status(name) == "Stopped"
    (stop,) = events(lines, "stopped")
    assert ignored in stop["opt_out_ignored"], stop


def test_every_page_is_read(fleet: Fleet) -> None:
    names = [fleet.create(f"page{i}") for i in range(5)]
    now = max(fleet.started(n) for n in names) + dt.timedelta(hours=2)
    lines = run(
        settings(NOTEBOOK_NAMES=",".join(names), MAX_NOTEBOOK_RUNNING_MINUTES="60"), fleet.client, now, page_size=2
    )
    assert resources(lines, "stopped") == sorted(names)


def test_names_match_case_insensitively_and_the_stop_uses_the_answered_name(fleet: Fleet) -> None:
    name = fleet.create("case")
    now = fleet.started(name) + dt.timedelta(hours=2)
    lines = run(settings(NOTEBOOK_NAMES=name.upper(), MAX_NOTEBOOK_RUNNING_MINUTES="60"), fleet.client, now)
    assert resources(lines, "stopped") == [name]
    assert fleet.status(name) == "Stopped"


def test_the_lambda_entry_point_reads_its_environment(
    fleet: Fleet, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``handler(event, context)`` as Lambda calls it: real now, no day of the week is a working day today."""
    name = fleet.create("entry")
    today = backstop.WEEKDAYS[dt.datetime.now(UTC).astimezone(backstop.load_zone("Pacific/Kiritimati")).weekday()]
    others = [d for d in backstop.WEEKDAYS if d != today]
    hours = {"timeZone": "Pacific/Kiritimati", "start": "00:00", "end": "23:59", "weekdays": others}
    for key, value in aws_env(moto_server.url, AWS_DEFAULT_REGION=REGION).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NOTEBOOK_NAMES", name)
    monkeypatch.setenv("WORKING_HOURS", json.dumps(hours))

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 290_000

    counts = backstop.handler({"now": "ignored"}, Context())
    assert counts == {"stopped": 1}
    assert fleet.status(name) == "Stopped"


def test_access_denied_is_one_line_and_the_command_exits_1(moto_iam_server: MotoIam) -> None:
    """With IAM enforced (moto), a role without ListNotebookInstances lists nothing and says so once."""
    creds = moto_iam_server.nothing
    env = aws_env(moto_iam_server.server.url, creds.access_key, creds.secret_key, AWS_DEFAULT_REGION=REGION)
    env.update(NOTEBOOK_NAMES="nb-1", MAX_NOTEBOOK_RUNNING_MINUTES="60")
    done = subprocess.run([sys.executable, str(HANDLER)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["backstop"] for line in lines] == ["error", "summary"]
    reason = lines[0]["reason"]  # moto answers this JSON-protocol call with an XML body
    assert reason.startswith("listing failed: ClientError: ") and "<Code>AccessDenied</Code>" in reason, reason


def test_command_dry_run_with_now(fleet: Fleet, moto_server: MotoServer) -> None:
    name = fleet.create("cli")
    now = (fleet.started(name) + dt.timedelta(hours=2)).isoformat()
    env = aws_env(moto_server.url, AWS_DEFAULT_REGION=REGION, NOTEBOOK_NAMES=name, MAX_NOTEBOOK_RUNNING_MINUTES="60")
    done = subprocess.run(
        [sys.executable, str(HANDLER), "--dry-run", "--now", now], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["backstop"] for line in done.stdout.splitlines()] == ["would-stop", "summary"]
    assert fleet.status(name) == "InService"


# -- configuration ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "nothing to watch"),
        ({"NOTEBOOK_NAMES": "nb"}, "no rule"),
        ({"NOTEBOOK_NAMES": "nb;rm -rf /", "MAX_NOTEBOOK_RUNNING_MINUTES": "60"}, "NOTEBOOK_NAMES: 'nb;rm -rf /'"),
        (
            {"STUDIO_DOMAIN_ARN": "arn:aws:sagemaker:eu-west-1:1:domain/d-x", "MAX_APP_AGE_MINUTES": "60"},
            "STUDIO_DOMAIN_ARN",
        ),
        ({"NOTEBOOK_NAMES": "nb", "MAX_NOTEBOOK_RUNNING_MINUTES": "1e3"}, "MAX_NOTEBOOK_RUNNING_MINUTES: '1e3'"),
        ({"NOTEBOOK_NAMES": "nb", "MAX_NOTEBOOK_RUNNING_MINUTES": "0"}, "MAX_NOTEBOOK_RUNNING_MINUTES: '0'"),
        ({"NOTEBOOK_NAMES": "nb", "MAX_NOTEBOOK_RUNNING_MINUTES": "60", "DRY_RUN": "yes"}, "DRY_RUN: 'yes'"),
        ({"NOTEBOOK_NAMES": "nb", "WORKING_HOURS": "{"}, "WORKING_HOURS: not JSON"),
        ({"NOTEBOOK_NAMES": "nb", "WORKING_HOURS": "[]"}, "give exactly timeZone"),
        (
            {"NOTEBOOK_NAMES": "nb", "WORKING_HOURS": BERLIN_OFFICE.replace("Europe/Berlin", "Mars/Olympus")},
            "'Mars/Olympus' is unknown",
        ),
        (
            {"NOTEBOOK_NAMES": "nb", "WORKING_HOURS": BERLIN_OFFICE.replace("Europe/Berlin", "../../etc/passwd")},
            "is not an IANA time zone name",
        ),
        (
            {"NOTEBOOK_NAMES": "nb", "WORKING_HOURS": BERLIN_OFFICE.replace("08:00", "8:00")},
            "start: '8:00' is not HH:MM",
        ),
        (
            {"NOTEBOOK_NAMES": "nb", "WORKING_HOURS": BERLIN_OFFICE.replace("08:00", "19:00")},
            "start must be before end",
        ),
        ({"NOTEBOOK_NAMES": "nb", "WORKING_HOURS": BERLIN_OFFICE.replace('"Mon"', '"Monday"')}, "weekdays"),
    ],
)
def test_bad_configuration_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(backstop.ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        backstop.Settings.from_environment(env)


def test_command_bad_configuration_exits_2_with_one_line() -> None:
    env = {"PATH": os.environ["PATH"], "NOTEBOOK_NAMES": "x" * 100_000, "MAX_NOTEBOOK_RUNNING_MINUTES": "60"}
    done = subprocess.run([sys.executable, str(HANDLER)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    (line,) = done.stdout.splitlines()
    assert json.loads(line)["backstop"] == "config-error" and len(line) < 400
    bad_now = subprocess.run(
        [sys.executable, str(HANDLER), "--now", "2026-01-01T00:00"],
        env={**env, "NOTEBOOK_NAMES": "nb"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad_now.returncode == 2 and "has no UTC offset" in bad_now.stdout, bad_now


def test_time_zones_without_a_system_database_come_from_dateutil(tmp_path: Path) -> None:
    """A Lambda image without /usr/share/zoneinfo and without the tzdata package still knows Europe/Berlin."""
    code = (
        "import sys, datetime as dt; sys.modules['tzdata'] = None\n"
        "import zoneinfo\n"
        "try:\n    zoneinfo.ZoneInfo('Europe/Berlin'); print('system')\nexcept zoneinfo.ZoneInfoNotFoundError: pass\n"
        f"sys.path.insert(0, {str(HANDLER.parent)!r}); import handler\n"
        "zone = handler.load_zone('Europe/Berlin')\n"
        "print(type(zone).__module__, dt.datetime(2026, 7, 1, 12, tzinfo=dt.UTC).astimezone(zone).strftime('%H:%M'))\n"
    )
    env = {"PATH": os.environ["PATH"], "PYTHONTZPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["dateutil.zoneinfo", "14:00"]


# -- the fake SageMaker: Studio apps and hostile answers ------------------------------------------------------


@dataclass
class FakeSageMaker:
    """SageMaker's JSON protocol on 127.0.0.1. ``answers[action](params) -> (status, body)``; ``calls`` records."""

    answers: dict[str, Callable[[dict[str, Any]], tuple[int, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    url: str = ""

    def client(self) -> Any:
        return boto3.client(
            "sagemaker",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 0}, connect_timeout=5, read_timeout=10),
        )

    def actions(self, name: str) -> list[dict[str, Any]]:
        return [params for action, params in self.calls if action == name]


@pytest.fixture
def fake() -> Iterator[FakeSageMaker]:
    server_fake = FakeSageMaker()
    defaults: dict[str, Callable[[dict[str, Any]], tuple[int, Any]]] = {
        "ListTags": lambda p: (200, {"Tags": []}),
        "DeleteApp": lambda p: (200, {}),
        "StopNotebookInstance": lambda p: (200, {}),
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            params = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            action = (self.headers.get("X-Amz-Target") or "").removeprefix("SageMaker.")
            server_fake.calls.append((action, params))
            answer = server_fake.answers.get(action) or defaults.get(action)
            status, payload = answer(params) if answer else (400, {"__type": "UnknownOperationException"})
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("x-amzn-RequestId", "fake")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server_fake
    server.shutdown()
    server.server_close()


NOW = dt.datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # a Wednesday


def hours_ago(hours: float) -> float:
    return (NOW - dt.timedelta(hours=hours)).timestamp()


def app(name: str, app_type: str, hours: float, status: str = "InService", **owner: str) -> dict[str, Any]:
    return {
        "DomainId": DOMAIN,
        "AppType": app_type,
        "AppName": name,
        "Status": status,
        "CreationTime": hours_ago(hours),
    } | (owner or {"SpaceName": f"space-{name}"})


def test_moto_still_lacks_studio_apps(moto_server: MotoServer) -> None:
    """Why the fake exists: if moto learns ListApps, the app tests could use it instead."""
    with pytest.raises(Exception) as error:
        moto_server.client("sagemaker").list_apps(DomainIdEquals=DOMAIN)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500  # type: ignore[attr-defined]


def test_apps_past_their_age_are_deleted_others_never(fake: FakeSageMaker) -> None:
    apps = [
        app("old-lab", "JupyterLab", 9),
        app("old-editor", "CodeEditor", 9, UserProfileName="alice"),
        app("young-lab", "JupyterLab", 7),
        app("default", "JupyterServer", 900, UserProfileName="alice"),
        app("kg", "KernelGateway", 900, UserProfileName="alice"),
        app("pending-lab", "JupyterLab", 9, status="Pending"),
        app("deleted-lab", "JupyterLab", 9, status="Deleted"),
        app("kept-lab", "JupyterLab", 9),
    ]
    fake.answers["ListApps"] = lambda p: (200, {"Apps": apps})
    tags = {"space-kept-lab": [{"Key": backstop.OPT_OUT_TAG, "Value": until(NOW + dt.timedelta(hours=1))}]}
    fake.answers["ListTags"] = lambda p: (200, {"Tags": tags.get(p["ResourceArn"].rsplit("/", 1)[-1], [])})
    lines = run(settings(STUDIO_DOMAIN_ARN=DOMAIN_ARN, MAX_APP_AGE_MINUTES="480"), fake.client(), NOW)
    assert fake.actions("ListApps") == [{"DomainIdEquals": DOMAIN, "MaxResults": 100}]
    assert fake.actions("DeleteApp") == [
        {"DomainId": DOMAIN, "AppType": "JupyterLab", "AppName": "old-lab", "SpaceName": "space-old-lab"},
        {"DomainId": DOMAIN, "AppType": "CodeEditor", "AppName": "old-editor", "UserProfileName": "alice"},
    ]
    assert [p["ResourceArn"] for p in fake.actions("ListTags")] == [
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:space/{DOMAIN}/space-old-lab",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:user-profile/{DOMAIN}/alice",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:space/{DOMAIN}/space-kept-lab",
    ]
    assert resources(lines, "deleted") == ["alice/CodeEditor/old-editor", "space-old-lab/JupyterLab/old-lab"]
    assert resources(lines, "keep") == ["space-kept-lab/JupyterLab/kept-lab"]
    assert resources(lines, "skip") == [
        "space-deleted-lab/JupyterLab/deleted-lab",
        "space-pending-lab/JupyterLab/pending-lab",
    ]
    assert not events(lines, "error"), lines


def test_apps_outside_working_hours_are_deleted_in_dry_run_only_logged(fake: FakeSageMaker) -> None:
    fake.answers["ListApps"] = lambda p: (200, {"Apps": [app("lab", "JupyterLab", 0.5)]})
    saturday = NOW + dt.timedelta(days=3)
    config = settings(STUDIO_DOMAIN_ARN=DOMAIN_ARN, WORKING_HOURS=BERLIN_OFFICE, DRY_RUN="true")
    lines = run(config, fake.client(), saturday)
    assert resources(lines, "would-delete") == ["space-lab/JupyterLab/lab"]
    assert fake.actions("DeleteApp") == []


def test_hostile_notebook_items_fail_closed_one_line_each(fake: FakeSageMaker) -> None:
    good = {
        "NotebookInstanceName": "good",
        "NotebookInstanceArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance/good",
        "NotebookInstanceStatus": "InService",
        "LastModifiedTime": hours_ago(2),
    }
    evil = 'evil\n{"backstop": "stopped"}' + "x" * 10_000
    items: list[Any] = [  # (an item that is not an object fails botocore's parsing of the whole page: see below)
        {**good, "NotebookInstanceName": evil},
        {**good, "NotebookInstanceName": 42},
        {**good, "NotebookInstanceName": "pending", "NotebookInstanceStatus": "Pending"},  # despite StatusEquals
        {k: v for k, v in good.items() if k != "LastModifiedTime"}
        | {
            "NotebookInstanceName": "no-time",
            "NotebookInstanceArn": good["NotebookInstanceArn"].replace("good", "no-time"),
        },
        {**good, "NotebookInstanceName": "wrong-arn"},  # its ARN names "good"
        {
            **good,
            "NotebookInstanceName": "future",
            "NotebookInstanceArn": good["NotebookInstanceArn"].replace("good", "future"),
            "LastModifiedTime": (NOW + dt.timedelta(days=1)).timestamp(),
        },
        good,
    ]
    fake.answers["ListNotebookInstances"] = lambda p: (200, {"NotebookInstances": items})
    names = "good,pending,no-time,wrong-arn,future"
    lines = run(settings(NOTEBOOK_NAMES=names, MAX_NOTEBOOK_RUNNING_MINUTES="60"), fake.client(), NOW)
    assert fake.actions("StopNotebookInstance") == [{"NotebookInstanceName": "good"}]
    reasons = [(line.get("resource"), line["reason"]) for line in events(lines, "error")]
    assert reasons == [
        (evil[: backstop.MAX_FIELD], "missing or invalid NotebookInstanceName"),
        (42, "missing or invalid NotebookInstanceName"),
        ("no-time", "missing or invalid time (LastModifiedTime)"),
        ("wrong-arn", f"NotebookInstanceArn {good['NotebookInstanceArn']!r} does not name it"),
    ]
    assert resources(lines, "skip") == ["pending"]
    assert resources(lines, "stopped") == ["good"]


def test_hostile_app_items_fail_closed_one_line_each(fake: FakeSageMaker) -> None:
    apps = [
        app("other-domain", "JupyterLab", 9) | {"DomainId": "d-someoneelse"},
        app("two-owners", "JupyterLab", 9, SpaceName="s", UserProfileName="u"),
        app("bad-owner", "JupyterLab", 9, SpaceName="../user-profile/x"),
        app("", "JupyterLab", 9),
        {k: v for k, v in app("no-time", "CodeEditor", 9).items() if k != "CreationTime"},
        app("ok", "JupyterLab", 9),
    ]
    fake.answers["ListApps"] = lambda p: (200, {"Apps": apps})
    lines = run(settings(STUDIO_DOMAIN_ARN=DOMAIN_ARN, MAX_APP_AGE_MINUTES="480"), fake.client(), NOW)
    assert [p["AppName"] for p in fake.actions("DeleteApp")] == ["ok"]
    assert [line["reason"] for line in events(lines, "error")] == [
        "DomainId 'd-someoneelse' is not this domain",
        "needs exactly one valid SpaceName or UserProfileName",
        "needs exactly one valid SpaceName or UserProfileName",
        "missing or invalid AppName",
        "missing or invalid time (CreationTime)",
    ]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ((500, {"__type": "InternalFailure", "message": "boom"}), "listing failed: ClientError"),
        ((200, b"<html>not json</html>"), "listing answer without a NotebookInstances list"),
        ((200, {}), "listing answer without a NotebookInstances list"),
        ((200, {"NotebookInstances": "many"}), "listing failed: AttributeError"),
        ((200, {"NotebookInstances": ["not an object"]}), "listing failed: AttributeError"),
        (
            (200, {"NotebookInstances": [{"NotebookInstanceName": "a", "LastModifiedTime": "yesterday"}]}),
            "listing failed:",
        ),
    ],
    ids=["http-500", "not-json", "no-list", "not-a-list", "item-not-an-object", "bad-timestamp"],
)
def test_a_broken_listing_is_one_line_and_apps_are_still_checked(
    fake: FakeSageMaker, answer: tuple[int, Any], reason: str
) -> None:
    fake.answers["ListNotebookInstances"] = lambda p: answer
    fake.answers["ListApps"] = lambda p: (200, {"Apps": [app("lab", "JupyterLab", 9)]})
    env = {"NOTEBOOK_NAMES": "a", "MAX_NOTEBOOK_RUNNING_MINUTES": "60", "MAX_APP_AGE_MINUTES": "60"}
    lines = run(settings(STUDIO_DOMAIN_ARN=DOMAIN_ARN, **env), fake.client(), NOW)
    (error,) = events(lines, "error")
    assert error["kind"] == "notebook" and error["reason"].startswith(reason), error
    assert len(fake.actions("DeleteApp")) == 1


def test_endless_pages_stop_at_the_item_cap_in_bounded_time(fake: FakeSageMaker) -> None:
    page = [{"NotebookInstanceName": f"n{i}", "NotebookInstanceStatus": "InService"} for i in range(100)]
    fake.answers["ListNotebookInstances"] = lambda p: (200, {"NotebookInstances": page, "NextToken": uuid.uuid4().hex})
    started = time.monotonic()
    lines = run(settings(NOTEBOOK_NAMES="mine", MAX_NOTEBOOK_RUNNING_MINUTES="60"), fake.client(), NOW)
    assert time.monotonic() - started < 60
    assert len(fake.actions("ListNotebookInstances")) == backstop.MAX_ITEMS // 100 + 1
    (error,) = events(lines, "error")
    assert error["reason"] == f"more than {backstop.MAX_ITEMS} items: the rest is left for the next run"


def test_a_repeated_page_token_ends_the_listing(fake: FakeSageMaker) -> None:
    fake.answers["ListNotebookInstances"] = lambda p: (200, {"NotebookInstances": [], "NextToken": "same"})
    lines = run(settings(NOTEBOOK_NAMES="mine", MAX_NOTEBOOK_RUNNING_MINUTES="60"), fake.client(), NOW)
    assert len(fake.actions("ListNotebookInstances")) == 2
    assert [line["reason"] for line in events(lines, "error")] == ["listing answered a bad or repeated NextToken"]


def test_failures_of_one_item_do_not_stop_the_next(fake: FakeSageMaker) -> None:
    def nb(name: str) -> dict[str, Any]:
        arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance/{name}"
        return {
            "NotebookInstanceName": name,
            "NotebookInstanceArn": arn,
            "NotebookInstanceStatus": "InService",
            "LastModifiedTime": hours_ago(5),
        }

    fake.answers["ListNotebookInstances"] = lambda p: (200, {"NotebookInstances": [nb("a"), nb("b"), nb("c")]})
    fake.answers["ListTags"] = lambda p: (
        (400, {"__type": "AccessDeniedException", "Message": "no"}) if p["ResourceArn"].endswith("/a") else (200, {})
    )
    fake.answers["StopNotebookInstance"] = lambda p: (
        (400, {"__type": "ValidationException", "Message": "not InService"})
        if p["NotebookInstanceName"] == "b"
        else (200, {})
    )
    lines = run(settings(NOTEBOOK_NAMES="a,b,c", MAX_NOTEBOOK_RUNNING_MINUTES="60"), fake.client(), NOW)
    assert [(line["resource"], line["reason"].split(":")[0]) for line in events(lines, "error")] == [
        ("a", "ListTags failed"),
        ("b", "stop failed"),
    ]
    (stopped,) = events(lines, "stopped")
    assert stopped["resource"] == "c" and stopped["opt_out_ignored"] == "ListTags answer without a Tags list"


def test_the_run_stops_when_the_invocation_runs_out_of_time(fake: FakeSageMaker) -> None:
    fake.answers["ListNotebookInstances"] = lambda p: (200, {"NotebookInstances": [], "NextToken": uuid.uuid4().hex})
    budget = iter([False, False, True])
    lines = run(
        settings(NOTEBOOK_NAMES="mine", STUDIO_DOMAIN_ARN=DOMAIN_ARN, MAX_NOTEBOOK_RUNNING_MINUTES="60"),
        fake.client(),
        NOW,
        out_of_time=lambda: next(budget),
    )
    assert len(fake.actions("ListNotebookInstances")) == 2 and fake.actions("ListApps") == []
    assert [line["reason"] for line in events(lines, "error")] == [
        "the invocation's time ran out: the rest is left for the next run"
    ]
