"""Real servers for tests (their fixtures: tests/conftest.py, tests/lifecycle_scripts/conftest.py):
 a Jupyter Server over TLS, moto servers, a fault-injecting proxy.

* ``jupyter_server`` (session): ``python -m jupyter_server`` on 127.0.0.1, a free port, a token, a
  self-signed certificate (as on a notebook instance, where Jupyter is ``https://localhost:8443``), a
  temporary root dir and isolated config/runtime dirs. Kernels use the ipykernel of this interpreter.
* ``jupyter`` (per test): the same server, plus a finalizer that closes the websockets the test opened
  and deletes every session, kernel and terminal, so that tests do not see each other's kernels.
* ``moto_server`` (session): ``python -m moto.server`` on 127.0.0.1 and a free port.
* ``moto_iam_server`` (session): a second moto server with IAM enforcement (INITIAL_NO_AUTH_ACTION_COUNT)
  and users whose policies lack the auto-stop permissions.
* ``notebook`` (per test): a notebook instance of its own in moto (name derived from the test) and the
  ``resource-metadata.json`` for it.
* ``autostop``: runs the program as a subprocess, as cron would, and parses its log lines.

Every REST call of this harness carries ``no_track_activity=1`` so that the harness itself does not
move Jupyter's server-wide ``last_activity``; only kernel and terminal activity does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import http.server
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import boto3
import pytest
import websocket
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
AUTOSTOP = REPO / "lifecycle_scripts" / "autostop" / "autostop.py"
REGION = "eu-west-1"  # not the boto3 default: the program must take the region from the ARN
ROLE_ARN = "arn:aws:iam::123456789012:role/notebook-execution"
LOG_LINE = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z) autostop: (.*)")
NO_VERIFY = ssl.create_default_context()
NO_VERIFY.check_hostname = False
NO_VERIFY.verify_mode = ssl.CERT_NONE


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerExited(RuntimeError):
    """A server process ended while being waited for (not retried by wait_until)."""


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except ServerExited:
            raise
        except Exception as exc:  # still starting
            last_error = exc
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last error: {last_error!r})")


def stop_process(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


# --------------------------------------------------------------------------------------------------
# Jupyter


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "jupyter.crt", directory / "jupyter.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certfile, keyfile


class KernelChannel:
    """The ``/api/kernels/{id}/channels`` websocket of one kernel (what a notebook tab holds open)."""

    def __init__(self, server: JupyterServer, kernel_id: str) -> None:
        self.kernel_id = kernel_id
        self.session = uuid.uuid4().hex
        self.ws = websocket.create_connection(
            f"{server.ws_url}/api/kernels/{kernel_id}/channels?session_id={self.session}",
            header=[f"Authorization: token {server.token}"],
            sslopt={"cert_reqs": ssl.CERT_NONE, "check_hostname": False},
            timeout=60,
        )

    def execute(self, code: str, wait: bool = True, timeout: float = 60) -> None:
        msg_id = uuid.uuid4().hex
        self.ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "username": "test",
                        "session": self.session,
                        "msg_type": "execute_request",
                        "version": "5.3",
                        "date": iso(utcnow()),
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        if not wait:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if (
                message.get("msg_type") == "status"
                and message.get("parent_header", {}).get("msg_id") == msg_id
                and message["content"]["execution_state"] == "idle"
            ):
                return
        raise AssertionError(f"kernel {self.kernel_id} did not finish {code!r}")

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already gone with its kernel
            self.ws.close()


class TerminalChannel:
    def __init__(self, server: JupyterServer, name: str) -> None:
        self.name = name
        self.ws = websocket.create_connection(
            f"{server.ws_url}/terminals/websocket/{name}",
            header=[f"Authorization: token {server.token}"],
            sslopt={"cert_reqs": ssl.CERT_NONE, "check_hostname": False},
            timeout=30,
        )

    def type(self, text: str) -> None:
        self.ws.send(json.dumps(["stdin", text]))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()


@dataclass
class JupyterServer:
    url: str
    token: str
    process: subprocess.Popen[Any]
    log_file: Path
    channels: list[Any] = field(default_factory=list)

    @property
    def ws_url(self) -> str:
        return self.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)

    def request(self, method: str, path: str, body: Any = None, track: bool = False) -> Any:
        """A REST call; ``track=True`` omits no_track_activity (counts as user activity)."""
        url = self.url + path + ("" if track else ("&" if "?" in path else "?") + "no_track_activity=1")
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"token {self.token}", "Content-Type": "application/json"}
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=30, context=NO_VERIFY) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def status(self) -> dict[str, Any]:
        return self.request("GET", "/api/status")  # type: ignore[no-any-return]

    def kernels(self) -> list[dict[str, Any]]:
        return self.request("GET", "/api/kernels")  # type: ignore[no-any-return]

    def kernel(self, kernel_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/kernels/{kernel_id}")  # type: ignore[no-any-return]

    def terminals(self) -> list[dict[str, Any]]:
        return self.request("GET", "/api/terminals")  # type: ignore[no-any-return]

    def start_kernel(self) -> str:
        return str(self.request("POST", "/api/kernels", {"name": "python3"})["id"])

    def start_session(self, path: str) -> str:
        """A notebook session (what opening a notebook does); returns its kernel id."""
        model = self.request(
            "POST", "/api/sessions", {"path": path, "name": path, "type": "notebook", "kernel": {"name": "python3"}}
        )
        return str(model["kernel"]["id"])

    def wait_kernel(self, kernel_id: str, timeout: float = 60, **expected: Any) -> dict[str, Any]:
        def matches() -> dict[str, Any] | None:
            model = self.kernel(kernel_id)
            return model if all(model[key] == value for key, value in expected.items()) else None

        return wait_until(matches, timeout, f"kernel {kernel_id} with {expected}")  # type: ignore[no-any-return]

    def connect(self, kernel_id: str) -> KernelChannel:
        """Open the kernel's channels websocket; the kernel leaves 'starting' and becomes idle."""
        channel = KernelChannel(self, kernel_id)
        self.channels.append(channel)
        self.wait_kernel(kernel_id, execution_state="idle")
        return channel

    def idle_kernel(self, path: str | None = None) -> str:
        """A kernel that ran some code, is idle and has no open connection."""
        kernel_id = self.start_session(path) if path else self.start_kernel()
        channel = self.connect(kernel_id)
        channel.execute("x = 1 + 1")
        channel.close()
        self.wait_kernel(kernel_id, execution_state="idle", connections=0)
        return kernel_id

    def start_terminal(self) -> TerminalChannel:
        name = str(self.request("POST", "/api/terminals")["name"])
        channel = TerminalChannel(self, name)
        self.channels.append(channel)
        return channel

    def cleanup(self) -> None:
        for channel in self.channels:
            channel.close()
        self.channels.clear()
        for session in self.request("GET", "/api/sessions"):
            self.request("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.kernels():
            self.request("DELETE", f"/api/kernels/{kernel['id']}")
        for terminal in self.terminals():
            self.request("DELETE", f"/api/terminals/{terminal['name']}")
        wait_until(lambda: not self.kernels() and not self.terminals(), 30, "kernels and terminals to go")


def start_jupyter_server(base: Path) -> JupyterServer:
    """Start a Jupyter Server over TLS in ``base`` (root dir, certificate, config) and wait until it answers."""
    root = base / "root"
    root.mkdir(exist_ok=True)
    certfile, keyfile = self_signed_certificate(base)
    port = free_port()
    token = uuid.uuid4().hex
    env = {key: value for key, value in os.environ.items() if not key.startswith("JUPYTER")}
    env.update(
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        IPYTHONDIR=str(base / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    log_file = base / "jupyter.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={token}",
                "--ServerApp.open_browser=False",
                "--ServerApp.allow_root=True",
                f"--ServerApp.root_dir={root}",
                f"--ServerApp.certfile={certfile}",
                f"--ServerApp.keyfile={keyfile}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=base,
        )
    server = JupyterServer(f"https://127.0.0.1:{port}", token, process, log_file)

    def ready() -> bool:
        if process.poll() is not None:
            raise ServerExited(f"jupyter server exited {process.returncode}:\n{log_file.read_text()}")
        return bool(server.status())

    try:
        wait_until(ready, 60, "the jupyter server")
    except BaseException:
        stop_process(process)
        raise
    return server


# --------------------------------------------------------------------------------------------------
# moto


@dataclass
class MotoServer:
    url: str
    process: subprocess.Popen[Any]
    access_key: str = "testing"
    secret_key: str = "testing"

    def client(self, service: str, access_key: str | None = None, secret_key: str | None = None) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(retries={"max_attempts": 0}),
        )


def start_moto(tmp_dir: Path, extra_env: dict[str, str] | None = None) -> MotoServer:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(extra_env or {})
    log = (tmp_dir / f"moto-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    log.close()
    server = MotoServer(f"http://127.0.0.1:{port}", process)

    def ready() -> bool:
        if process.poll() is not None:
            raise ServerExited(f"moto server exited {process.returncode}")
        with urllib.request.urlopen(f"{server.url}/moto-api/", timeout=5) as response:
            return bool(response.status == 200)

    try:
        wait_until(ready, 60, "the moto server")
    except BaseException:
        stop_process(process)
        raise
    return server


@dataclass
class Credentials:
    access_key: str
    secret_key: str


@dataclass
class MotoIam:
    server: MotoServer
    admin: Credentials
    describe_only: Credentials  # may describe, may not stop
    nothing: Credentials  # no sagemaker permission at all


class FaultProxy:
    """An HTTP proxy in front of moto answering ThrottlingException to the first N calls of some actions."""

    def __init__(self, upstream: str, throttle: dict[str, int]) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.remaining = dict(throttle)
        self.calls: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                action = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
                proxy.calls.append(action)
                if proxy.remaining.get(action, 0) > 0:
                    proxy.remaining[action] -= 1
                    payload = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
                    self.send_response(400)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                    self.send_header("x-amzn-RequestId", uuid.uuid4().hex)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                connection = http.client.HTTPConnection(proxy.upstream, timeout=30)
                headers = {key: value for key, value in self.headers.items() if key.lower() != "connection"}
                connection.request("POST", self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                connection.close()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --------------------------------------------------------------------------------------------------
# Notebook instance and the program


@dataclass
class Notebook:
    name: str
    arn: str
    metadata_file: Path
    client: Any

    def status(self) -> str:
        return str(self.client.describe_notebook_instance(NotebookInstanceName=self.name)["NotebookInstanceStatus"])

    def started(self) -> dt.datetime:
        value = self.client.describe_notebook_instance(NotebookInstanceName=self.name)["LastModifiedTime"]
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


def create_notebook(client: Any, name: str, directory: Path) -> Notebook:
    arn = client.create_notebook_instance(NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE_ARN)[
        "NotebookInstanceArn"
    ]
    metadata_file = directory / f"{name}-resource-metadata.json"
    metadata_file.write_text(json.dumps({"ResourceName": name, "ResourceArn": arn}))
    notebook = Notebook(name, arn, metadata_file, client)
    assert notebook.status() == "InService"
    return notebook


def instance_name_for(request: pytest.FixtureRequest) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name.removeprefix("test_")).strip("-")[:40]
    return f"{stem}-{uuid.uuid4().hex[:6]}"


def aws_env(endpoint: str, access_key: str = "testing", secret_key: str = "testing", **extra: str) -> dict[str, str]:
    """The program's environment: no real AWS configuration can leak in."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=access_key,
        AWS_SECRET_ACCESS_KEY=secret_key,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
    )
    env.update(extra)
    return env


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    messages: list[str]

    def has(self, text: str) -> bool:
        return any(text in message for message in self.messages)

    def one(self, pattern: str) -> re.Match[str]:
        found = [match for match in (re.search(pattern, message) for message in self.messages) if match]
        assert len(found) == 1, f"{pattern!r} in {self.messages}"
        return found[0]

    def __str__(self) -> str:
        return f"exit {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


_CARRIED: list[Path] = []


def carried_program(target: Literal["notebook", "studio"] = "notebook") -> Path:
    """``autostop.py`` as the ``target``'s module carries it (minified at synth), written once per session: the
    integration tests run this form, the unit tests import the source."""
    if not _CARRIED:
        import atexit
        import tempfile

        from constructs_lib.catalogue.autostop import program

        directory = Path(tempfile.mkdtemp(prefix="autostop-carried-"))
        atexit.register(shutil.rmtree, directory, True)
        for name in ("notebook", "studio"):
            (directory / name).mkdir()
            (directory / name / "autostop.py").write_bytes(program("studio" if name == "studio" else "notebook"))
        _CARRIED.append(directory)
    return _CARRIED[0] / target / "autostop.py"


QUIET_SIGNALS = {"--warn-minutes": "0", "--cpu-percent": "0", "--wall": "", "--nvidia-smi": "/nonexistent/nvidia-smi"}
"""Defaults of ``run_program`` unless a test gives them: no warning step, no CPU signal (this machine is
shared: its load is not the notebook's), no wall, no GPU; the tests of those signals set them."""


def run_program(
    argv: list[str], env: dict[str, str], python: list[str] | None = None, program: Path | None = None
) -> Run:
    """The carried program as cron runs it, with QUIET_SIGNALS and a state directory of its own (never
    the instance's /var/lib) unless ``argv`` gives them."""
    argv = list(argv)
    for option, value in QUIET_SIGNALS.items():
        if option not in argv:
            argv += [option, value]
    if "--state-dir" not in argv and "--check-setup" not in argv:
        import atexit
        import tempfile

        state = tempfile.mkdtemp(prefix="autostop-state-")
        atexit.register(shutil.rmtree, state, True)
        argv += ["--state-dir", state]
    completed = subprocess.run(
        [
            *(python or [sys.executable]),
            str(program or carried_program("studio" if "--target" in argv else "notebook")),
            *argv,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    messages = []
    for line in completed.stdout.splitlines():
        match = LOG_LINE.fullmatch(line)
        assert match, f"log line without a UTC timestamp: {line!r}\n{completed.stderr}"
        messages.append(match.group(2))
    return Run(completed.returncode, completed.stdout, completed.stderr, messages)


def find_python37() -> str | None:
    """An interpreter of the oldest supported version (3.7), if this machine has one."""
    candidates: list[str | None] = []
    candidates += sorted(str(path) for path in Path.home().glob(".pyenv/versions/3.7*/bin/python3.7"))
    candidates.append(shutil.which("python3.7"))  # may be a pyenv shim that does not work: tried below
    for candidate in candidates:
        if not candidate:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 7))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.stdout.strip() == "True":
            return candidate
    return None
