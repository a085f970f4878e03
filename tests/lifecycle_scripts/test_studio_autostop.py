"""The auto-stop program in its Studio mode (``--target studio``): DescribeApp, then DeleteApp when idle.

The Jupyter side is the same real Jupyter Server as in ``test_autostop.py``. The SageMaker side is NOT
moto: moto's server (5.2.5) does not implement Studio apps; ``DescribeApp`` and ``DeleteApp`` answer
HTTP 500 there (``NotImplementedError: The describe_app action has not been implemented``, checked in
``test_moto_still_lacks_studio_apps``). So a small local HTTP server on 127.0.0.1 speaks the SageMaker
JSON protocol for exactly these two calls (``X-Amz-Target: SageMaker.DescribeApp`` / ``SageMaker.DeleteApp``),
records every call with its parameters and can answer AccessDenied (HTTP 400,
``__type: AccessDeniedException``) or a status other than ``InService``.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .conftest import REGION, JupyterServer, MotoServer, Run, aws_env, iso, run_program, utcnow

ACCOUNT = "123456789012"
DOMAIN = "d-abc123def456"


@dataclass
class StudioApp:
    """The app of the test: its metadata file (as Studio writes it) and what DeleteApp must receive."""

    metadata: dict[str, str]
    owner: tuple[str, str]  # ("UserProfileName" | "SpaceName", value)

    @property
    def arn(self) -> str:
        return self.metadata["ResourceArn"]

    @property
    def params(self) -> dict[str, str]:
        name = self.metadata["ResourceName"]
        return {"DomainId": DOMAIN, "AppType": self.metadata["AppType"], "AppName": name, self.owner[0]: self.owner[1]}


def studio_app(app_type: str, owner: tuple[str, str], name: str = "default") -> StudioApp:
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:app/{DOMAIN}/{owner[1]}/{app_type.lower()}/{name}"
    metadata = {"AppType": app_type, "DomainId": DOMAIN, owner[0]: owner[1], "ResourceName": name, "ResourceArn": arn}
    return StudioApp(metadata, owner)


USER_APP = studio_app("JupyterServer", ("UserProfileName", "alice"))
SPACE_APP = studio_app("JupyterLab", ("SpaceName", "team-space"))


@dataclass
class FakeSageMaker:
    """DescribeApp / DeleteApp over the SageMaker JSON protocol; ``calls`` holds (action, parameters)."""

    status: str = "InService"
    denied: set[str] = field(default_factory=set)  # actions answered with AccessDeniedException
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    url: str = ""

    def actions(self) -> list[str]:
        return [action for action, _ in self.calls]


@pytest.fixture
def sagemaker() -> Iterator[FakeSageMaker]:
    fake = FakeSageMaker()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def answer(self, status: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("x-amzn-RequestId", "fake-request")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            params = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            target = self.headers.get("X-Amz-Target") or ""
            action = target.removeprefix("SageMaker.")
            fake.calls.append((action, params))
            if action in fake.denied:
                message = f"User: arn:aws:sts::{ACCOUNT}:assumed-role/studio/x is not authorized to perform: "
                self.answer(400, {"__type": "AccessDeniedException", "Message": message + f"sagemaker:{action}"})
            elif action == "DescribeApp":
                self.answer(200, {**params, "Status": fake.status, "CreationTime": 1704067200.0})
            elif action == "DeleteApp":
                self.answer(200, {})
            else:
                self.answer(400, {"__type": "UnknownOperationException", "Message": target})

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def studio(jupyter: JupyterServer, sagemaker: FakeSageMaker, tmp_path: Path) -> Callable[..., Run]:
    """Run the program in Studio mode for ``app`` against the real Jupyter Server and the fake SageMaker."""

    def run(*args: str, app: StudioApp = USER_APP) -> Run:
        metadata = tmp_path / "resource-metadata.json"
        metadata.write_text(json.dumps(app.metadata))
        argv = ["--target", "studio", *args, "--jupyter-url", jupyter.url, "--token", jupyter.token]
        return run_program([*argv, "--metadata-file", str(metadata)], aws_env(sagemaker.url))

    return run


def later(minutes: float) -> str:
    return iso(utcnow() + dt.timedelta(minutes=minutes))


def test_moto_still_lacks_studio_apps(moto_server: MotoServer) -> None:
    """Why the fake exists: if moto learns DescribeApp, these tests could use it instead."""
    client = moto_server.client("sagemaker")
    with pytest.raises(Exception) as error:
        client.describe_app(**USER_APP.params)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500  # type: ignore[attr-defined]


@pytest.mark.parametrize("app", [USER_APP, SPACE_APP], ids=["user-profile-app", "space-app"])
def test_idle_app_is_deleted(jupyter: JupyterServer, sagemaker: FakeSageMaker, studio: Any, app: StudioApp) -> None:
    kernel_id = jupyter.idle_kernel(path="notebook.ipynb")
    run = studio("--now", later(61), app=app)
    assert run.returncode == 0, run
    assert sagemaker.calls == [("DescribeApp", app.params), ("DeleteApp", app.params)]
    assert run.one(
        rf"^idle for 6\d\.\d min >= 60 \(last activity: kernel {kernel_id[:8]} \(notebook.ipynb\) at .*\): "
        rf"delete Studio app default$"
    )
    assert run.has("delete requested for Studio app default"), run


def test_busy_kernel_keeps_the_app(jupyter: JupyterServer, sagemaker: FakeSageMaker, studio: Any) -> None:
    kernel_id = jupyter.start_kernel()
    jupyter.connect(kernel_id).execute("import time; time.sleep(30)", wait=False)
    jupyter.wait_kernel(kernel_id, execution_state="busy")
    run = studio("--now", later(120), "--ignore-connections")
    assert run.returncode == 0, run
    assert run.has(f"not idle: kernel {kernel_id[:8]} busy"), run
    assert sagemaker.actions() == ["DescribeApp"]


def test_dry_run_never_deletes(jupyter: JupyterServer, sagemaker: FakeSageMaker, studio: Any) -> None:
    jupyter.idle_kernel()
    run = studio("--now", later(24 * 60), "--dry-run", app=SPACE_APP)
    assert run.returncode == 0, run
    assert run.one(r"^dry-run: would delete Studio app default: idle for \d+\.\d min >= 60"), run
    assert sagemaker.actions() == ["DescribeApp"]


def test_grace_period_after_the_jupyter_start(jupyter: JupyterServer, sagemaker: FakeSageMaker, studio: Any) -> None:
    status = jupyter.status()
    started = dt.datetime.fromisoformat(status["started"].replace("Z", "+00:00"))
    active = dt.datetime.fromisoformat(status["last_activity"].replace("Z", "+00:00"))  # other tests' cleanup
    now = iso(max(started, active) + dt.timedelta(minutes=61))
    held = studio("--now", now, "--grace-minutes", "120")
    start = started.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert held.one(rf"^not stopping: idle for \d+\.\d min >= 60, in 120 min grace after start at {start}$")
    assert sagemaker.actions() == ["DescribeApp"]
    released = studio("--now", now)
    assert released.has("delete Studio app default"), released
    assert sagemaker.actions()[-1] == "DeleteApp"


@pytest.mark.parametrize("action", ["DescribeApp", "DeleteApp"])
def test_access_denied_names_the_permission_and_the_app(sagemaker: FakeSageMaker, studio: Any, action: str) -> None:
    sagemaker.denied = {action}  # no kernels: idle since the Jupyter start, hours before --now
    run = studio("--now", later(120))
    assert run.returncode == 3, run
    denied = run.one(r"^access denied: the Studio app's role lacks permission (\S+) on (\S+) \[(.*)\]$")
    assert denied.group(1, 2) == (f"sagemaker:{action}", USER_APP.arn), run
    assert denied.group(3).startswith(f"AccessDeniedException: User: arn:aws:sts::{ACCOUNT}:assumed-role/"), run
    assert sagemaker.actions() == ["DescribeApp"] if action == "DescribeApp" else ["DescribeApp", "DeleteApp"]


@pytest.mark.parametrize("status", ["Pending", "Deleting"])
def test_app_not_in_service_is_left_alone(sagemaker: FakeSageMaker, studio: Any, status: str) -> None:
    sagemaker.status = status
    run = studio("--now", later(120))
    assert run.returncode == 0, run
    assert run.has(f"not stopping: Studio app default is {status}"), run
    assert sagemaker.actions() == ["DescribeApp"]


def test_incomplete_metadata_is_reported(sagemaker: FakeSageMaker, studio: Any) -> None:
    broken = studio_app("KernelGateway", ("UserProfileName", "bob"))
    del broken.metadata["DomainId"]
    run = studio("--now", later(120), app=broken)
    assert run.returncode == 1, run
    assert run.one(r"^cannot read \S+resource-metadata\.json: KeyError\('DomainId'\)"), run
    assert sagemaker.calls == []


CODE_EDITOR_APP = studio_app("CodeEditor", ("SpaceName", "editor-space"))


@pytest.fixture
def code_editor(sagemaker: FakeSageMaker, tmp_path: Path) -> Callable[..., Run]:
    """The program for a Code Editor app: no Jupyter server, the built-in detector's activity file."""

    def run(*args: str) -> Run:
        metadata = tmp_path / "resource-metadata.json"
        metadata.write_text(json.dumps(CODE_EDITOR_APP.metadata))
        argv = ["--target", "studio", "--jupyter-url", "none", "--metadata-file", str(metadata), *args]
        return run_program([*argv, "--activity-file", str(tmp_path / "last-active")], aws_env(sagemaker.url))

    return run


def test_code_editor_activity_in_the_builtin_file_counts(
    sagemaker: FakeSageMaker, code_editor: Any, tmp_path: Path
) -> None:
    now = utcnow()
    (tmp_path / "last-active").write_text(iso(now - dt.timedelta(minutes=20))[:23] + "Z")  # as the extension writes
    held = code_editor("--now", iso(now))
    assert held.one(r"^not idle: idle for 20\.0 min < 60 \(last activity: activity file \S+last-active at"), held
    assert sagemaker.actions() == ["DescribeApp"]
    deleted = code_editor("--now", iso(now + dt.timedelta(minutes=45)))
    assert deleted.has("delete requested for Studio app default"), deleted
    assert sagemaker.actions()[-1] == "DeleteApp"


def test_process_load_is_written_to_the_builtin_file(
    sagemaker: FakeSageMaker, code_editor: Any, tmp_path: Path
) -> None:
    """CPU load of the user's processes (this test's uid, with a busy process of its own) moves the activity file
    forward, so the built-in idle shutdown sees it too."""
    import subprocess
    import sys

    old = "2024-01-01T00:00:00.000Z"
    (tmp_path / "last-active").write_text(old)
    now = utcnow()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        run = code_editor("--now", iso(now), "--cpu-percent", "1", "--cpu-users", str(os.getuid()))
    finally:
        busy.kill()
        busy.wait()
    written = (tmp_path / "last-active").read_text()
    assert run.has("not idle: idle for 0.0 min < 60 (last activity: process activity (CPU"), run
    assert written == now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    assert sagemaker.actions() == ["DescribeApp"]
