"""The idle auto-stop program: its pure decision, and the program run against real servers.

The integration tests run ``autostop.py`` as cron would (a subprocess) against a real Jupyter Server
(kernels driven over their websocket, terminals over theirs) and a notebook instance in a moto server,
then read the instance status back with boto3. ``--now`` moves the program's clock forward instead of
waiting real minutes; the timezone test uses the real clock. The unit tests give ``decide`` the four
REST answers (``/api/status``, ``/api/sessions``, ``/api/kernels``, ``/api/terminals``) as Jupyter writes them.
"""

from __future__ import annotations

import ast
import datetime as dt
import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lifecycle_scripts.autostop import autostop as a

from .conftest import (
    AUTOSTOP,
    REPO,
    Credentials,
    JupyterServer,
    MotoIam,
    Notebook,
    aws_env,
    create_notebook,
    find_python37,
    free_port,
    instance_name_for,
    iso,
    parse_iso,
    run_program,
    utcnow,
)

UTC = dt.UTC
T0 = dt.datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
IDLE, GRACE = dt.timedelta(minutes=60), dt.timedelta(minutes=15)
Answers = tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


def later(minutes: float) -> str:
    """``--now`` value: the real clock plus some minutes."""
    return iso(utcnow() + dt.timedelta(minutes=minutes))


def ago(minutes: float, tz: dt.tzinfo = UTC) -> str:
    """The time ``minutes`` before T0 as Jupyter writes it (UTC, 'Z'), or with the offset of ``tz``."""
    moment = T0 - dt.timedelta(minutes=minutes)
    return iso(moment) if tz is UTC else moment.astimezone(tz).isoformat()


def kernel(
    state: str = "idle", minutes_ago: float = 120, connections: int = 0, kid: str = "3f2a91c0-aaaa", **kw: Any
) -> dict[str, Any]:
    """A /api/kernels model; ``path=...`` makes ``jstate`` add a notebook session for it."""
    model = {"id": kid, "name": "python3", "execution_state": state, "connections": connections}
    return {**model, "last_activity": ago(minutes_ago), **kw}


def terminal(minutes_ago: float, name: str = "1") -> dict[str, Any]:
    return {"name": name, "last_activity": ago(minutes_ago)}


def jstate(
    kernels: tuple[dict[str, Any], ...] = (),
    terminals: tuple[dict[str, Any], ...] = (),
    started_ago: float = 600,
    activity_ago: float | None = None,
) -> Answers:
    """The four REST answers: a session for each kernel that has a ``path``."""
    status = {"started": ago(started_ago)}
    if activity_ago is not None:
        status["last_activity"] = ago(activity_ago)
    models, sessions = [], []
    for k in kernels:
        model = dict(k)
        if "path" in model:
            sessions.append({"id": "s-" + model["id"], "path": model.pop("path"), "kernel": {"id": model["id"]}})
        models.append(model)
    return status, sessions, models, list(terminals)


def decide(
    state: Answers,
    instance_ago: float | None = 600,
    idle: dt.timedelta = IDLE,
    grace: dt.timedelta = GRACE,
    ignore_connections: bool = False,
) -> Any:
    started = None if instance_ago is None else T0 - dt.timedelta(minutes=instance_ago)
    return a.decide(state, started, T0, idle, grace, ignore_connections)


# ==================================================================================================
# Unit: timestamps


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T10:00:00.123456Z", dt.datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-01-01T10:00:00.123456789Z", dt.datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-01-01T10:00:00.1Z", dt.datetime(2024, 1, 1, 10, 0, 0, 100000, tzinfo=UTC)),
        ("2024-01-01T10:00:00Z", T0),
        ("2024-01-01T10:00Z", T0),
        ("2024-01-01T10:00:00+00:00", T0),
        ("2024-01-01T15:30:00+05:30", T0),
        ("2024-01-01T02:00:00-08:00", T0),
        ("2024-01-01T15:30:00+0530", T0),
        ("2024-01-01T15:00:00+05", T0),
        ("2024-01-01t10:00:00z", T0),
        ("2024-01-01 10:00:00", T0),  # no offset: UTC, never local time
        (T0.replace(tzinfo=None), T0),
        (T0.astimezone(dt.timezone(dt.timedelta(hours=-8))), T0),
        (T0.timestamp(), T0),
        (None, None),
        ("", None),
    ],
)
def test_parse_timestamp(text: Any, expected: dt.datetime | None) -> None:
    parsed = a.parse_timestamp(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    "text", ["yesterday", "2024-13-01T10:00:00Z", "2024-01-01T10:00:00+5", "24-01-01T10:00Z", "2024-01-01T10:00:00Zx"]
)
def test_parse_timestamp_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        a.parse_timestamp(text)


# ==================================================================================================
# Unit: the decision


def test_busy_kernel_is_not_idle() -> None:
    decision = decide(jstate((kernel("busy", minutes_ago=500),)))
    assert not decision.stop
    assert decision.reason == "not idle: kernel 3f2a91c0 busy"


def test_busy_kernel_is_not_idle_even_when_connections_are_ignored() -> None:
    assert not decide(jstate((kernel("busy", connections=1),)), ignore_connections=True).stop


def test_idle_kernel_past_idle_time_is_idle() -> None:
    decision = decide(jstate((kernel(minutes_ago=73, path="work/analysis.ipynb"),)))
    assert decision.stop
    assert decision.idle_for == dt.timedelta(minutes=73)
    assert decision.reason.startswith("idle for 73.0 min >= 60 (last activity: kernel 3f2a91c0 (work/analysis.ipynb)")


def test_idle_kernel_within_idle_time_is_not_idle() -> None:
    decision = decide(jstate((kernel(minutes_ago=59),)))
    assert not decision.stop
    assert decision.reason.startswith("not idle: idle for 59.0 min < 60")


def test_exactly_idle_time_is_idle() -> None:
    assert decide(jstate((kernel(minutes_ago=60),))).stop


def test_latest_activity_over_kernels_and_terminals_counts() -> None:
    state = jstate((kernel(minutes_ago=300), kernel(minutes_ago=10, kid="b")), (terminal(200),))
    decision = decide(state)
    assert not decision.stop
    assert decision.last_activity == T0 - dt.timedelta(minutes=10)


def test_open_connection_keeps_up_unless_ignored() -> None:
    state = jstate((kernel(minutes_ago=300, connections=2),))
    decision = decide(state)
    assert not decision.stop
    assert "kernel 3f2a91c0 has 2 connection(s)" in decision.reason
    assert decide(state, ignore_connections=True).stop


def test_kernel_stuck_in_starting_is_ignored_even_with_connections() -> None:
    decision = decide(jstate((kernel("starting", minutes_ago=300, connections=1),)))
    assert decision.stop
    assert decision.notes == ["kernel 3f2a91c0 stuck starting since 2024-01-01T05:00:00Z: ignored"]


def test_kernel_starting_recently_counts_as_activity() -> None:
    decision = decide(jstate((kernel("starting", minutes_ago=2),)))
    assert not decision.stop
    assert decision.notes == []


def test_stuck_kernel_does_not_hide_a_busy_one() -> None:
    decision = decide(jstate((kernel("starting", minutes_ago=300), kernel("busy", kid="b0b"))))
    assert not decision.stop
    assert "kernel b0b busy" in decision.reason


def test_active_terminal_keeps_up_and_idle_terminal_does_not() -> None:
    decision = decide(jstate((kernel(minutes_ago=300),), (terminal(5, "7"),)))
    assert not decision.stop
    assert "last activity: terminal 7" in decision.reason
    assert decide(jstate((kernel(minutes_ago=300),), (terminal(61),))).stop


@pytest.mark.parametrize(
    ("started_ago", "activity_ago", "instance_ago", "stop", "source"),
    [
        (600, 600, 30, False, "instance start"),  # instance started 30 min ago
        (30, 600, 600, False, "jupyter server start"),  # jupyter restarted 30 min ago
        (600, 30, 600, False, "jupyter server activity"),  # a kernel was deleted 30 min ago
        (600, 90, 70, True, "instance start"),  # nothing for 70 min: the field bug was never stopping
        (600, 90, None, True, "jupyter server activity"),
    ],
)
def test_no_sessions_counts_from_the_latest_start_or_activity(
    started_ago: float, activity_ago: float, instance_ago: float | None, stop: bool, source: str
) -> None:
    decision = decide(jstate(started_ago=started_ago, activity_ago=activity_ago), instance_ago=instance_ago)
    assert decision.stop is stop
    assert f"last activity: {source}" in decision.reason


def test_server_wide_activity_is_not_counted_when_kernels_exist() -> None:
    # /api/status last_activity moves with any API call (a browser tab polling); kernels say more.
    assert decide(jstate((kernel(minutes_ago=300),), activity_ago=1)).stop


def test_grace_period_after_start() -> None:
    state = jstate((kernel(minutes_ago=300),), started_ago=10)
    decision = decide(state, grace=dt.timedelta(minutes=15), idle=dt.timedelta(minutes=5))
    assert not decision.stop
    assert "in 15 min grace after start at 2024-01-01T09:50:00Z" in decision.reason
    assert decide(state, grace=dt.timedelta(0), idle=dt.timedelta(minutes=5)).stop
    # The later of the two starts counts.
    assert not decide(
        jstate(started_ago=300), instance_ago=10, grace=dt.timedelta(minutes=15), idle=dt.timedelta(minutes=5)
    ).stop


def test_activity_in_the_future_is_not_idle() -> None:
    assert not decide(jstate((kernel(minutes_ago=-5),))).stop


def test_nothing_known_is_not_idle() -> None:
    decision = a.decide(({}, [], [], []), None, T0, IDLE, GRACE)
    assert not decision.stop
    assert decision.reason == "not stopping: no activity time known"


def test_decision_does_not_depend_on_the_timezone_of_its_inputs() -> None:
    india, la = dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-8))
    base = jstate((kernel(minutes_ago=61),), (terminal(90),))
    shifted = (
        {"started": ago(600, india)},
        [],
        [{**base[2][0], "last_activity": ago(61, la)}],
        [{**base[3][0], "last_activity": ago(90, india)}],
    )
    assert shifted[2][0]["last_activity"].endswith("-08:00") and shifted[0]["started"].endswith("+05:30")
    instance = T0 - dt.timedelta(minutes=600)
    expected = a.decide(base, instance, T0, IDLE, GRACE)
    assert a.decide(shifted, instance.astimezone(india), T0.astimezone(la), IDLE, GRACE) == expected
    assert expected.stop


def test_kernels_are_labelled_with_their_notebook_and_session_only_kernels_count() -> None:
    session_kernel = {"id": "k2", "name": "python3", "last_activity": "2024-01-01T09:40:00Z", "execution_state": "idle"}
    k1 = {"id": "k1", "name": "python3", "last_activity": "2024-01-01T09:10:00Z", "execution_state": "idle"}

    def answers(k1: dict[str, Any], k2: dict[str, Any]) -> Answers:
        sessions = [
            {"id": "s1", "path": "a.ipynb", "kernel": {"id": "k1"}},
            {"id": "s2", "path": "b.ipynb", "kernel": k2},
        ]
        status = {"started": "2024-01-01T08:00:00.5Z", "last_activity": "2024-01-01T09:30:00Z"}
        return status, sessions, [k1], [{"name": "1", "last_activity": "2024-01-01T09:20:00Z"}]

    now = T0 + dt.timedelta(minutes=60)
    decision = a.decide(answers(k1, session_kernel), None, now, IDLE, GRACE)
    assert decision.stop  # k2, only known from its session, was the last activity
    assert decision.reason == "idle for 80.0 min >= 60 (last activity: kernel k2 (b.ipynb) at 2024-01-01T09:40:00Z)"
    busy = a.decide(answers({**k1, "execution_state": "busy"}, session_kernel), None, now, IDLE, GRACE)
    assert busy.reason == "not idle: kernel k1 (a.ipynb) busy"
    connected = a.decide(answers(k1, {**session_kernel, "connections": 1}), None, now, IDLE, GRACE)
    assert connected.reason.startswith("not idle: kernel k2 (b.ipynb) has 1 connection(s)")
    grace = a.decide(answers(k1, session_kernel), None, now, IDLE, dt.timedelta(minutes=200))
    assert grace.reason.endswith("grace after start at 2024-01-01T08:00:00Z")


@pytest.mark.parametrize(
    "answers",
    [
        ([], [], [], []),
        ({}, {}, [], []),
        ({}, [], [{"name": "no id"}], []),
        ({}, [], [{"id": "k", "last_activity": "last tuesday"}], []),
        ({}, [], [], [{"last_activity": "2024-01-01T09:20:00Z"}]),
    ],
)
def test_unexpected_jupyter_answers_raise(answers: Answers) -> None:
    # run() turns these into "not stopping: bad Jupyter answer" (see the integration test)
    with pytest.raises((AttributeError, LookupError, TypeError, ValueError)):
        a.decide(answers, None, T0, IDLE, GRACE)


# ==================================================================================================
# Unit: AWS errors, backoff, command line


class FakeClientError(Exception):
    def __init__(self, code: str, status: int = 400, message: str = "") -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}


def test_error_classification() -> None:
    def denied(e: Exception) -> bool:
        return bool(a.aws_error(e)[3])

    def throttled(e: Exception) -> bool:
        return bool(a.aws_error(e)[2])

    assert denied(FakeClientError("AccessDeniedException", 400))
    assert denied(FakeClientError("AccessDenied", 403))
    moto_style = FakeClientError(
        "403",
        403,
        "<ErrorResponse><Error><Code>AccessDenied</Code><Message>User: u is not authorized to perform: x</Message>",
    )
    assert denied(moto_style)
    assert a.aws_error(moto_style)[1] == "User: u is not authorized to perform: x"
    assert not denied(FakeClientError("InvalidClientTokenId", 403, "The security token is invalid"))
    assert throttled(FakeClientError("ThrottlingException"))
    assert throttled(FakeClientError("Whatever", 429))
    assert not throttled(FakeClientError("ValidationException"))
    assert not throttled(ValueError("x")) and not denied(ValueError("x"))


def test_backoff_retries_throttling_with_growing_bounded_delays() -> None:
    sleeps: list[float] = []
    logs: list[str] = []
    calls = iter([FakeClientError("ThrottlingException")] * 4 + ["done"])

    def call() -> str:
        outcome = next(calls)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result = a.call_with_backoff(
        call, "op", logs.append, base_delay=1, max_delay=5, sleep=sleeps.append, rand=lambda: 1.0
    )
    assert result == "done"
    assert sleeps == [1, 2, 4, 5]
    assert len(logs) == 4 and "op throttled (ThrottlingException), attempt 1/5" in logs[0]


def test_backoff_gives_up_after_max_attempts_and_does_not_retry_other_errors() -> None:
    sleeps: list[float] = []
    attempts = []

    def throttled() -> None:
        attempts.append(1)
        raise FakeClientError("Throttling")

    with pytest.raises(FakeClientError):
        a.call_with_backoff(throttled, "op", lambda _: None, max_attempts=5, sleep=sleeps.append, rand=lambda: 0.0)
    assert len(attempts) == 5 and sleeps == [0.5, 1, 2, 4]

    def denied() -> None:
        attempts.append(1)
        raise FakeClientError("AccessDeniedException")

    attempts.clear()
    with pytest.raises(FakeClientError):
        a.call_with_backoff(denied, "op", lambda _: None, sleep=sleeps.append)
    assert len(attempts) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["--idle-minutes", "0"],
        ["--idle-minutes", "-5"],
        ["--idle-minutes", "nan"],
        ["--idle-minutes", "inf"],
        ["--grace-minutes", "-1"],
        ["--jupyter-url", "ftp://localhost:8443"],
        ["--jupyter-url", "localhost:8443"],
        ["--token", "a", "--token-file", "b"],
        ["--now", "tomorrow"],
        ["--target", "space"],
        ["--aws", "boto3"],
        ["--idle-for", "ml.g5=0"],
        ["--idle-for", "ML.G5=20"],
        ["--cpu-sample-seconds", "61"],
        ["--jupyter-url", "https://example.com:8443"],
        ["--jupyter-url", "http://example.com", "--verify-tls"],
    ],
)
def test_bad_arguments_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        a.parse_args(argv)
    assert exited.value.code == 2


def test_defaults_and_one_line_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    args = a.parse_args([])
    assert (args.idle_minutes, args.grace_minutes, args.jupyter_url) == (60, 15, "https://localhost:8443")
    assert args.metadata_file == "/opt/ml/metadata/resource-metadata.json" and args.pts_dir == "/dev/pts"
    assert args.target == "notebook" and a.parse_args(["--target", "studio"]).target == "studio"
    assert not args.ignore_connections and not args.dry_run and not args.now
    given = a.parse_args(
        ["--dry-run", "--idle-for", "ml.g*=20", "--idle-for", "ml.p*=30", "--now", "2024-01-01T10:00Z"]
    )
    assert given.dry_run and given.idle_for == [("ml.g*", 20.0), ("ml.p*", 30.0)] and given.now == T0
    assert a.parse_args([]).idle_for == []  # a fresh list each time
    for argv in ["--help"], ["--idle-minutes"], ["--idle-minutes", "x"], ["idle"]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            a.parse_args(argv)
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"autostop.py: {argv[0]}: ") and err.count("\n") == 1, err
        if argv in (["--help"], ["idle"]):
            assert err == f"autostop.py: {argv[0]}: unknown option\n"


# ==================================================================================================
# Unit: the file itself (it runs on instances with whatever Python has boto3)


def test_program_is_python37_syntax_and_imports_only_stdlib_and_botocore() -> None:
    source = AUTOSTOP.read_text()
    tree = ast.parse(source, feature_version=(3, 7))
    assert not any(isinstance(node, ast.AnnAssign | ast.arg) and node.annotation for node in ast.walk(tree))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) == {"botocore"}
    assert not any(isinstance(node, ast.NamedExpr | ast.Match) for node in ast.walk(tree))


def test_program_passes_ruff_and_py_compile() -> None:
    subprocess.run([sys.executable, "-m", "py_compile", str(AUTOSTOP)], check=True)
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", str(AUTOSTOP)], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr


def test_runs_on_python37() -> None:
    python37 = find_python37()
    if python37 is None:
        pytest.skip("no Python 3.7 interpreter on this machine")
    subprocess.run([python37, "-m", "py_compile", str(AUTOSTOP)], check=True)
    smoke = (
        "import sys; sys.path.insert(0, sys.argv[1]); import autostop as a\n"
        "s = ({'started': '2024-01-01T08:00:00Z'}, [], "
        "[{'id': 'k1', 'last_activity': '2024-01-01T08:30:00.123456Z', 'execution_state': 'idle'}], [])\n"
        "o = a.parse_args(['--target', 'studio', '--now', '2024-01-01T15:01:00+05:30'])\n"
        "r = a.decide(s, None, o.now, o.idle_minutes * a.MINUTE, o.grace_minutes * a.MINUTE)\n"
        "print(o.target, r.stop, r.reason)\n"
    )
    out = subprocess.run(
        [python37, "-I", "-c", smoke, str(AUTOSTOP.parent)],
        capture_output=True,
        text=True,
        check=True,
        env={"TZ": "Asia/Kolkata"},
    ).stdout
    assert out.startswith("studio True idle for 61.0 min >= 60 (last activity: kernel k1")


# ==================================================================================================
# Integration: the program against a real Jupyter Server and a notebook instance in moto


def test_busy_kernel_keeps_instance_up(jupyter: JupyterServer, notebook: Notebook, autostop: Any) -> None:
    kernel_id = jupyter.start_kernel()
    channel = jupyter.connect(kernel_id)
    channel.execute("import time; time.sleep(30)", wait=False)
    jupyter.wait_kernel(kernel_id, execution_state="busy")
    run = autostop("--now", later(120), "--ignore-connections")  # only "busy" can keep it up
    assert run.returncode == 0, run
    assert run.has(f"not idle: kernel {kernel_id[:8]} busy"), run
    assert notebook.status() == "InService"


def test_idle_kernel_past_idle_time_stops_instance(jupyter: JupyterServer, notebook: Notebook, autostop: Any) -> None:
    kernel_id = jupyter.idle_kernel(path="analysis.ipynb")
    run = autostop("--now", later(61), "--idle-minutes", "60")
    assert run.returncode == 0, run
    reason = run.one(
        r"^idle for (\d+\.\d) min >= 60 \(last activity: kernel (\S+) \(analysis.ipynb\) at .*\): "
        r"stop notebook instance (\S+)$"
    )
    assert 60 <= float(reason.group(1)) < 62 and reason.group(2) == kernel_id[:8] and reason.group(3) == notebook.name
    assert run.has(f"stop requested for notebook instance {notebook.name}")
    assert run.has("1 kernel(s), 0 terminal(s), 1 session(s)")
    assert notebook.status() == "Stopped"


def test_idle_kernel_within_idle_time_keeps_instance_up(
    jupyter: JupyterServer, notebook: Notebook, autostop: Any
) -> None:
    jupyter.idle_kernel()
    run = autostop("--now", later(50), "--idle-minutes", "60")
    assert run.returncode == 0, run
    assert run.one(r"^not idle: idle for \d+\.\d min < 60 \(last activity: kernel")
    assert notebook.status() == "InService"


def test_open_connection_keeps_instance_up_unless_ignored(
    jupyter: JupyterServer, notebook: Notebook, autostop: Any
) -> None:
    kernel_id = jupyter.start_kernel()
    jupyter.connect(kernel_id).execute("y = 2")  # stays open, like a notebook tab
    assert jupyter.kernel(kernel_id)["connections"] == 1
    held = autostop("--now", later(120))
    assert held.has(f"not idle: kernel {kernel_id[:8]} has 1 connection(s)"), held
    assert notebook.status() == "InService"
    ignored = autostop("--now", later(120), "--ignore-connections")
    assert ignored.returncode == 0, ignored
    assert ignored.has("stop notebook instance"), ignored
    assert notebook.status() == "Stopped"


def test_active_terminal_keeps_instance_up(jupyter: JupyterServer, notebook: Notebook, autostop: Any) -> None:
    terminal = jupyter.start_terminal()
    time.sleep(1.5)  # instance and server start are now well before the typing below
    terminal.type("echo autostop-test\r")
    time.sleep(0.5)
    typed = max(parse_iso(t["last_activity"]) for t in jupyter.terminals())
    assert typed - notebook.started() > dt.timedelta(seconds=1.2)
    # 1.2 s idle time: only the terminal's activity is recent enough to keep the instance up.
    common = ("--idle-minutes", "0.02", "--grace-minutes", "0")
    held = autostop(*common, "--now", iso(typed + dt.timedelta(seconds=0.6)))
    assert held.returncode == 0, held
    assert held.one(r"^not idle: idle for 0\.0 min < 0\.02 \(last activity: terminal \d+ at"), held
    assert notebook.status() == "InService"
    released = autostop(*common, "--now", iso(typed + dt.timedelta(seconds=1.5)))
    assert released.has("stop notebook instance"), released
    assert notebook.status() == "Stopped"


def test_kernel_stuck_in_starting_does_not_keep_instance_up(
    jupyter: JupyterServer, notebook: Notebook, autostop: Any
) -> None:
    kernel_id = jupyter.start_kernel()  # nobody opens its channels: it stays in 'starting'
    assert jupyter.kernel(kernel_id)["execution_state"] == "starting"
    fresh = autostop("--now", later(30))
    assert fresh.one(rf"^not idle: .*last activity: kernel {kernel_id[:8]} at"), fresh
    assert notebook.status() == "InService"
    stuck = autostop("--now", later(61))
    assert stuck.returncode == 0, stuck
    assert stuck.has(f"kernel {kernel_id[:8]} stuck starting since "), stuck
    assert stuck.has("stop notebook instance"), stuck
    assert jupyter.kernel(kernel_id)["execution_state"] == "starting"
    assert notebook.status() == "Stopped"


def test_no_sessions_at_all_counts_from_instance_start(
    jupyter: JupyterServer, notebook: Notebook, autostop: Any
) -> None:
    assert not jupyter.kernels() and not jupyter.terminals() and not jupyter.request("GET", "/api/sessions")
    started = notebook.started()
    assert parse_iso(jupyter.status()["last_activity"]) <= started  # the instance started last
    early = autostop("--now", iso(started + dt.timedelta(minutes=59)))
    assert early.one(r"^not idle: idle for 59\.0 min < 60 \(last activity: instance start at"), early
    assert notebook.status() == "InService"
    late = autostop("--now", iso(started + dt.timedelta(minutes=61)))
    assert late.has("0 kernel(s), 0 terminal(s), 0 session(s)"), late
    assert late.one(r"^idle for 61\.0 min >= 60 \(last activity: instance start at .*\): stop "), late
    assert notebook.status() == "Stopped"


def test_same_decision_in_any_timezone(jupyter: JupyterServer, notebook: Notebook, autostop: Any) -> None:
    """Real clock, no --now: a naive local time compared with UTC would be hours off."""
    zones = ("Asia/Kolkata", "America/Los_Angeles", "UTC")
    offsets = [
        subprocess.run(
            [sys.executable, "-c", "import time; print(time.strftime('%z'))"],
            env={"TZ": zone},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for zone in zones
    ]
    assert offsets[0] == "+0530" and offsets[1] in ("-0800", "-0700") and offsets[2] == "+0000", offsets
    jupyter.idle_kernel()
    for zone in zones:
        run = autostop("--dry-run", "--idle-minutes", "60", "--grace-minutes", "0", env={"TZ": zone})
        idle = run.one(r"^not idle: idle for (\d+\.\d) min < 60 \(last activity: kernel")
        assert float(idle.group(1)) < 2, (zone, run)
        stamp = dt.datetime.strptime(run.stdout[:20], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert abs(stamp - utcnow()) < dt.timedelta(minutes=1), (zone, run.stdout)  # log times are UTC
    time.sleep(1.5)
    for zone in zones:
        run = autostop("--dry-run", "--idle-minutes", "0.02", "--grace-minutes", "0", env={"TZ": zone})
        assert run.one(
            r"^dry-run: would stop notebook instance \S+: idle for \d+\.\d min >= 0\.02 \(last activity: kernel"
        )
    assert notebook.status() == "InService"


@pytest.mark.parametrize("problem", ["closed port", "wrong token", "plain http to the TLS port"])
def test_jupyter_unusable_does_not_stop(
    jupyter: JupyterServer, notebook: Notebook, autostop: Any, problem: str
) -> None:
    jupyter.idle_kernel()  # idle for hours by --now: a check that ignored the error would stop
    extra = {
        "closed port": ["--jupyter-url", f"http://127.0.0.1:{free_port()}"],
        "wrong token": ["--token", "not-the-token"],
        "plain http to the TLS port": ["--jupyter-url", jupyter.url.replace("https://", "http://")],
    }[problem]
    run = autostop("--now", later(600), *extra)
    assert run.returncode == 7, run
    assert run.one(r"^not stopping: jupyter not usable: "), run
    if problem == "wrong token":
        assert run.has("HTTP 403 (token?)"), run
    assert notebook.status() == "InService"


def test_token_file(jupyter: JupyterServer, notebook: Notebook, autostop: Any, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(jupyter.token + "\n")
    run = autostop("--now", later(120), "--token-file", str(token_file), "--dry-run")
    assert run.has(f"dry-run: would stop notebook instance {notebook.name}"), run


def test_dry_run_never_stops(jupyter: JupyterServer, notebook: Notebook, autostop: Any) -> None:
    jupyter.idle_kernel()
    run = autostop("--now", later(24 * 60), "--dry-run")
    assert run.returncode == 0, run
    assert run.one(rf"^dry-run: would stop notebook instance {notebook.name}: idle for \d+\.\d min >= 60"), run
    assert not run.has("stop requested")
    assert notebook.status() == "InService"


def test_grace_period(jupyter: JupyterServer, notebook: Notebook, autostop: Any) -> None:
    started = notebook.started()
    now = iso(started + dt.timedelta(minutes=61))
    held = autostop("--now", now, "--grace-minutes", "120")
    assert held.one(r"^not stopping: idle for 61\.0 min >= 60, in 120 min grace after start at"), held
    assert notebook.status() == "InService"
    released = autostop("--now", now, "--grace-minutes", "15")
    assert released.has("stop notebook instance"), released
    assert notebook.status() == "Stopped"


def test_instance_not_in_service_is_left_alone(notebook: Notebook, autostop: Any) -> None:
    notebook.client.stop_notebook_instance(NotebookInstanceName=notebook.name)
    run = autostop("--now", later(120))
    assert run.returncode == 0, run
    assert run.has(f"not stopping: notebook instance {notebook.name} is Stopped"), run


def test_check_does_not_count_as_jupyter_activity(jupyter: JupyterServer, autostop: Any) -> None:
    before = jupyter.status()["last_activity"]
    run = autostop("--now", later(120), "--dry-run")
    assert run.has("dry-run: would stop"), run
    assert jupyter.status()["last_activity"] == before
    jupyter.request("GET", "/api/kernels", track=True)  # the same request without no_track_activity
    assert jupyter.status()["last_activity"] != before


def test_throttled_calls_are_retried(notebook: Notebook, autostop: Any, fault_proxy: Any) -> None:
    proxy = fault_proxy({"DescribeNotebookInstance": 1, "StopNotebookInstance": 2})
    run = autostop("--now", later(120), "--retry-base-seconds", "0.01", endpoint=proxy.url)
    assert run.returncode == 0, run
    throttled = [m for m in run.messages if "throttled (ThrottlingException)" in m]
    assert len(throttled) == 3, run
    assert proxy.calls == ["DescribeNotebookInstance"] * 2 + ["StopNotebookInstance"] * 3
    assert notebook.status() == "Stopped"


def test_throttling_retries_are_bounded(notebook: Notebook, autostop: Any, fault_proxy: Any) -> None:
    proxy = fault_proxy({"StopNotebookInstance": 100})
    started = time.monotonic()
    run = autostop("--now", later(120), "--retry-base-seconds", "0.01", endpoint=proxy.url)
    assert time.monotonic() - started < 30
    assert run.returncode == 3, run
    assert run.has("attempt 4/5: retrying") and not run.has("attempt 5/5"), run
    assert run.one(r"^sagemaker:StopNotebookInstance failed: ThrottlingException: "), run
    assert proxy.calls.count("StopNotebookInstance") == 5
    assert notebook.status() == "InService"


@pytest.mark.parametrize(
    ("who", "permission"),
    [("describe_only", "sagemaker:StopNotebookInstance"), ("nothing", "sagemaker:DescribeNotebookInstance")],
)
def test_access_denied_names_the_missing_permission(
    jupyter: JupyterServer,
    moto_iam_server: MotoIam,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    who: str,
    permission: str,
) -> None:
    """A moto server enforcing IAM: the user's policy lacks ``permission``."""
    admin = moto_iam_server.admin
    client = moto_iam_server.server.client("sagemaker", admin.access_key, admin.secret_key)
    notebook = create_notebook(client, "AutoStop-" + instance_name_for(request), tmp_path)  # mixed case
    credentials: Credentials = getattr(moto_iam_server, who)
    argv = ["--now", later(120), "--jupyter-url", jupyter.url, "--token", jupyter.token]
    argv += ["--metadata-file", str(notebook.metadata_file)]
    run = run_program(argv, aws_env(moto_iam_server.server.url, credentials.access_key, credentials.secret_key))
    assert run.returncode == 3, run
    denied = run.one(
        r"^access denied: the notebook instance's role lacks permission (\S+) on (\S+)"
        r" \(grant (\S+) too\)"
    )
    assert denied.groups() == (permission, notebook.arn, notebook.arn.lower()), run
    assert run.has(f"not authorized to perform: {permission}"), run
    assert notebook.status() == "InService"


def test_botocore_missing_and_no_cli_is_reported(notebook: Notebook, autostop: Any, tmp_path: Path) -> None:
    # -I -S: no site-packages at all, so botocore cannot be imported (checked first, so the test can fail).
    probe = subprocess.run([sys.executable, "-I", "-S", "-c", "import botocore"], capture_output=True, check=False)
    assert probe.returncode != 0
    missing = str(tmp_path / "no-aws")
    run = autostop("--now", later(120), "--aws-cli", missing, python=[sys.executable, "-I", "-S"])
    assert run.returncode == 1, run
    assert run.one(rf"^no botocore for {sys.executable}, no trusted AWS CLI at {missing}$")
    forced = autostop("--now", later(120), "--aws", "botocore", python=[sys.executable, "-I", "-S"])
    assert forced.returncode == 1 and forced.one(rf"^botocore not importable by {sys.executable}: "), forced
    assert notebook.status() == "InService"


def test_unreadable_metadata_is_reported(autostop: Any, tmp_path: Path) -> None:
    run = autostop("--now", later(120), metadata_file=tmp_path / "missing.json")
    assert run.returncode == 1, run
    assert run.one(f"^cannot read {tmp_path / 'missing.json'}: FileNotFoundError"), run


def test_metadata_with_only_the_arn_gives_name_and_region(notebook: Notebook, autostop: Any, tmp_path: Path) -> None:
    # moto keeps instances per region: the region must come from the ARN (the environment has none)
    metadata = tmp_path / "arn-only.json"
    metadata.write_text(json.dumps({"ResourceArn": notebook.arn}))
    run = autostop("--now", later(120), "--dry-run", metadata_file=metadata)
    assert run.returncode == 0, run
    assert run.has(f"dry-run: would stop notebook instance {notebook.name}: idle for"), run


@pytest.fixture
def garbage_jupyter() -> Iterator[str]:
    """A Jupyter stand-in that answers every GET with a JSON list (the wrong shape for /api/status)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = b"[]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_unexpected_jupyter_answer_does_not_stop(notebook: Notebook, autostop: Any, garbage_jupyter: str) -> None:
    run = autostop("--now", later(600), "--jupyter-url", garbage_jupyter)
    assert run.returncode == 7, run
    assert run.one(r"^not stopping: bad Jupyter answer: TypeError"), run
    assert notebook.status() == "InService"


def test_jupyter_client_works_on_python37(jupyter: JupyterServer) -> None:
    """The urllib/ssl part on the oldest supported Python, against the real server (self-signed TLS)."""
    python37 = find_python37()
    if python37 is None:
        pytest.skip("no Python 3.7 interpreter on this machine")
    kernel_id = jupyter.idle_kernel(path="old.ipynb")
    snippet = (
        "import sys; sys.path.insert(0, sys.argv[1]); import autostop as a\n"
        "s = a.jupyter_answers(sys.argv[2], sys.argv[3])\n"
        "r = a.decide(s, None, sys.argv[4], a.MINUTE * 60, a.MINUTE * 15)\n"
        "k = s[2][0]\n"
        "print(len(s[2]), k['id'], s[1][0]['path'], k['execution_state'], r.stop, r.reason.split(' at ')[0])\n"
    )
    out = subprocess.run(
        [python37, "-I", "-c", snippet, str(AUTOSTOP.parent), jupyter.url, jupyter.token, later(120)],
        capture_output=True,
        text=True,
        check=True,
        env={"TZ": "America/Los_Angeles"},
    ).stdout.split()
    assert out[:5] == ["1", kernel_id, "old.ipynb", "idle", "True"]
    assert " ".join(out[5:]).endswith(f"(last activity: kernel {kernel_id[:8]} (old.ipynb)")
