"""The auto-stop program (its carried, minified form) against hostile input: a Jupyter that trickles, answers
1.5 GB, numeric or far-future timestamps, garbage or deeply nested JSON; a second check while one runs; a
non-loopback Jupyter without certificate verification. Each fails closed: no stop (the notebook instance in
moto stays InService), one log line, a distinct exit code, bounded time and memory (the child's own peak RSS
from os.wait4).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import http.server
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    LOG_LINE,
    JupyterServer,
    MotoServer,
    Notebook,
    Run,
    aws_env,
    carried_program,
    iso,
    utcnow,
)

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


def later(minutes: float) -> str:
    return iso(utcnow() + dt.timedelta(minutes=minutes))


def answer(request: http.server.BaseHTTPRequestHandler, body: bytes, length: int | None = None) -> None:
    request.send_response(200)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(body) if length is None else length))
    request.end_headers()
    request.wfile.write(body)


def normal(status: dict[str, Any], kernels: list[dict[str, Any]]) -> Handler:
    def handle(request: http.server.BaseHTTPRequestHandler) -> None:
        what = request.path.split("?")[0].rsplit("/", 1)[-1]
        answer(request, json.dumps({"status": status, "kernels": kernels}.get(what, [])).encode())

    return handle


@pytest.fixture
def stand_in() -> Iterator[Callable[[Handler], str]]:
    """A Jupyter stand-in on 127.0.0.1 whose every GET is answered by the given handler."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(handle: Handler) -> str:
        class Request(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    handle(self)

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Request)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# A small intermediate process starts the program and reports the program's own peak RSS: a child forked from
# this (large) test process would count this process's size in its ru_maxrss until it execs.
PEAK = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[2:]).returncode\n"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code if code >= 0 else 128 - code)\n"
)


def measured(argv: list[str], env: dict[str, str]) -> tuple[Run, float, float]:
    """(the run, wall seconds, peak RSS in MiB) of the carried program (its own deadline bounds the wait)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as where:
        peak_file = Path(where) / "peak"
        started = time.monotonic()
        command = [sys.executable, "-c", PEAK, str(peak_file), sys.executable, str(carried_program()), *argv]
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        proc.wait()
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
        peak = int(peak_file.read_text()) / 1024
    messages = [m.group(2) for m in (LOG_LINE.fullmatch(line) for line in stdout.splitlines()) if m]
    return Run(proc.returncode, stdout, stderr, messages), seconds, peak


@pytest.fixture
def check(notebook: Notebook, moto_server: MotoServer, tmp_path: Path) -> Callable[..., tuple[Run, float, float]]:
    def run(url: str, *extra: str) -> tuple[Run, float, float]:
        argv = ["--jupyter-url", url, "--metadata-file", str(notebook.metadata_file), "--now", later(600)]
        argv += ["--state-dir", str(tmp_path / "state"), "--warn-minutes", "0", "--cpu-percent", "0", "--wall", ""]
        return measured([*argv, *extra], aws_env(moto_server.url))

    return run


def test_a_trickling_jupyter_meets_the_deadline(check: Any, stand_in: Any, notebook: Notebook) -> None:
    def trickle(request: http.server.BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Length", "100000")
        request.end_headers()
        for _ in range(200):  # one byte every 0.2 s: each read succeeds, the answer never ends
            request.wfile.write(b" ")
            request.wfile.flush()
            time.sleep(0.2)

    run, seconds, _ = check(stand_in(trickle), "--deadline-seconds", "3")
    assert run.returncode == 6, run
    assert run.messages == ["not stopping: deadline 3 s passed"], run
    assert seconds < 3 + 10  # the deadline, plus starting Python on this loaded 2-core machine
    assert notebook.status() == "InService"


def test_a_huge_answer_is_not_read(check: Any, stand_in: Any, notebook: Notebook) -> None:
    def huge(request: http.server.BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Length", str(1_500_000_000))
        request.end_headers()
        chunk = b"[" + b"0," * (1 << 19)
        for _ in range(1500):
            request.wfile.write(chunk)

    run, seconds, peak = check(stand_in(huge))
    assert run.returncode == 7, run
    assert run.messages == ["not stopping: jupyter not usable: GET /api/status: over 4 MB"], run
    assert seconds < 20 and peak < 150, (seconds, peak)  # was 3.1 GB RSS
    assert notebook.status() == "InService"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "JSONDecodeError"),
        (b"[" * 200_000 + b"]" * 200_000, "RecursionError"),
        (b"\xff\xfe\x00garbage", "JSONDecodeError"),
    ],
    ids=["garbage", "nested", "not-utf8"],
)
def test_garbage_json_fails_closed(check: Any, stand_in: Any, notebook: Notebook, body: bytes, error: str) -> None:
    run, seconds, _ = check(stand_in(lambda request: answer(request, body)))
    assert run.returncode == 7, run
    assert len(run.messages) == 1 and run.messages[0].startswith(
        f"not stopping: bad Jupyter answer: GET /api/status: {error}"
    ), run
    assert seconds < 20
    assert notebook.status() == "InService"


def test_a_numeric_timestamp_of_1e20_fails_closed(check: Any, stand_in: Any, notebook: Notebook) -> None:
    kernel = {"id": "k1", "execution_state": "idle", "connections": 0, "last_activity": 1e20}
    run, _, _ = check(stand_in(normal({"started": "2024-01-01T00:00:00Z"}, [kernel])))
    assert run.returncode == 7, run
    assert run.messages == ["not stopping: bad Jupyter answer: ValueError('not a time: 1e+20')"], run
    assert notebook.status() == "InService"


def test_a_timestamp_hours_ahead_is_clock_skew_and_holds_the_stop(
    check: Any, stand_in: Any, notebook: Notebook
) -> None:
    ahead = iso(utcnow() + dt.timedelta(minutes=600 + 180))  # --now is 600 min ahead of the real clock
    kernel = {"id": "k1", "execution_state": "idle", "connections": 0, "last_activity": ahead}
    run, _, _ = check(stand_in(normal({"started": "2024-01-01T00:00:00Z"}, [kernel])))
    assert run.returncode == 0, run
    assert run.one(r"^not stopping: clock skew: kernel k1 at \S+ is 18\d\.\d min ahead$"), run
    assert notebook.status() == "InService"


def test_a_timestamp_years_ahead_is_ignored_and_the_instance_still_stops(
    check: Any, stand_in: Any, notebook: Notebook
) -> None:
    """Before, any future time meant 'never idle': the instance never stopped."""
    kernel = {"id": "k1", "execution_state": "idle", "connections": 0, "last_activity": "2999-01-01T00:00:00Z"}
    run, _, _ = check(stand_in(normal({"started": "2024-01-01T00:00:00Z"}, [kernel])))
    assert run.returncode == 0, run
    assert run.has("kernel k1 at 2999-01-01T00:00:00Z over a day ahead: ignored"), run
    assert run.has(f"stop requested for notebook instance {notebook.name}"), run
    assert notebook.status() == "Stopped"


def test_a_second_check_while_one_runs_is_skipped(
    check: Any, stand_in: Any, notebook: Notebook, tmp_path: Path
) -> None:
    (tmp_path / "state").mkdir(mode=0o700)
    with open(tmp_path / "state" / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a running check holds it
        run, seconds, _ = check(stand_in(normal({}, [])))
    assert run.returncode == 5, run
    assert run.messages == ["not checking: another check runs"], run
    assert seconds < 10
    assert notebook.status() == "InService"


def test_unverified_tls_only_on_loopback(
    jupyter: JupyterServer, notebook: Notebook, moto_server: MotoServer, tmp_path: Path
) -> None:
    base = ["--metadata-file", str(notebook.metadata_file), "--state-dir", str(tmp_path / "s"), "--dry-run"]
    base += ["--token", jupyter.token, "--warn-minutes", "0", "--cpu-percent", "0", "--now", later(600)]
    env = aws_env(moto_server.url)
    remote, _, _ = measured([*base, "--jupyter-url", "https://jupyter.example.com:8443"], env)
    assert remote.returncode == 2 and "is not loopback: give an https URL and --verify-tls" in remote.stderr, remote
    # verification on against the self-signed server: refused; with its certificate as CA: used
    refused, _, _ = measured([*base, "--jupyter-url", jupyter.url, "--verify-tls"], env)
    assert refused.returncode == 7 and refused.one(r"^not stopping: jupyter not usable: .*CERTIFICATE_VERIFY_FAILED")
    ca = str(jupyter.log_file.parent / "jupyter.crt")
    verified, _, _ = measured([*base, "--jupyter-url", jupyter.url, "--verify-tls", "--ca-file", ca], env)
    assert verified.returncode == 0 and verified.has("dry-run: would stop notebook instance"), verified
    assert notebook.status() == "InService"
