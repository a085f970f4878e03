"""environment_variables / studio_environment_variables: the values reach Jupyter kernels and terminals.

Real parts: the generated hooks run with real bash in a sandbox root (tests/support/sandbox.py), systemd's
own parser (systemd-analyze, systemd 252 as on AL2023) reads the generated EnvironmentFile and checks the
drop-in, and a real Jupyter Server is started as each platform starts it, then drives a kernel over its
websocket and a terminal over its websocket. ``systemctl`` is a recording stand-in (there is no systemd
manager here); its answers are set per test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from constructs_lib import LifecycleBundle, LifecycleConfigError, Target
from constructs_lib.catalogue import environment_variables
from constructs_lib.catalogue.environment_files import (
    JUPYTER_SERVER_DROPIN_PATH,
    JUPYTER_SERVER_ENV_PATH,
    systemd_environment_file,
)
from constructs_lib.catalogue.studio_home import studio_environment_variables
from tests.support.sandbox import Sandbox
from tests.support.servers import (
    JupyterServer,
    ServerExited,
    free_port,
    self_signed_certificate,
    stop_process,
    wait_until,
)

SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # what systemd gives services
LOGS = ("var/log", "var/lib/sagemaker-lifecycle", "home/ec2-user/SageMaker/.lifecycle")
LOADED = 'if [ "$1 $2 $3" = "show -p LoadState" ]; then echo LoadState=loaded; fi\nexit 0'


def hostile(tmp_path: Path) -> dict[str, str]:
    return {
        "MLFLOW_TRACKING_URI": "https://mlflow.example.com:8443/a?b=c&d=e",
        "QUOTES": "it's \"double\" and 'single'",
        "DOLLAR": "$HOME ${PATH} $((1+1)) $",
        "SUBSTITUTION": f"$(touch {tmp_path}/pwned-subst)",
        "BACKTICKS": f"`touch {tmp_path}/pwned-backtick`",
        "SEMICOLON": f"x; touch {tmp_path}/pwned-semicolon",
        "NEWLINES": f"\nline one\nline two\ntouch {tmp_path}/pwned-newline\n",
        "BACKSLASHES": "a\\b\\n\\'c\\",
        "EQUALS": "=a=b==c",
        "SPACES": "  two  spaces  ",
        "TABS": "\ta\tb\t",
        "GLOB": "* ? [a-z] ]![^-",
        "PERCENT": "100% %n %%",
        "UNICODE": "héllo ✓ — 日本",
        "HASH": "# not a comment",
        "EMPTY": "",
    }


# -- systemd's reading of the files ------------------------------------------------------------------


def systemd_reads(env_file: Path, name: str, value: str) -> bool:
    """Whether systemd's env-file parser reads ``name`` as exactly ``value`` (not empty: see below).

    systemd-analyze evaluates ConditionOSRelease= against the file named by SYSTEMD_OS_RELEASE, parsed
    by the same parse_env_file code as EnvironmentFile=. ``$=`` is an fnmatch comparison: every
    character is backslash-escaped, so leading spaces and glob characters count literally.
    """
    return systemd_matches(env_file, name, "".join("\\" + char for char in value))


def systemd_matches(env_file: Path, name: str, pattern: str) -> bool:
    """ConditionOSRelease=NAME$=PATTERN, quoted for the unit-file word parser and its % specifiers."""
    word = '"' + f"{name}$={pattern}".replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%") + '"'
    completed = subprocess.run(
        ["systemd-analyze", "condition", f"ConditionOSRelease={word}"],
        env={"PATH": SYSTEMD_PATH, "SYSTEMD_OS_RELEASE": str(env_file), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return completed.returncode == 0


def test_systemd_reads_every_value_literally(tmp_path: Path) -> None:
    values = hostile(tmp_path)
    env_file = tmp_path / "jupyter-server.env"
    env_file.write_text(systemd_environment_file(values))
    for name, value in values.items():
        if value:
            assert systemd_reads(env_file, name, value), name
            # the check can fail: one character more or less is not the value
            assert not systemd_reads(env_file, name, value + "x"), name
            assert not systemd_reads(env_file, name, value[1:]), name
        else:  # a condition cannot name an empty value; it is not a non-empty one (bash: below)
            assert systemd_matches(env_file, name, "*") and not systemd_matches(env_file, name, "?*"), name
    assert not list(tmp_path.glob("pwned*"))


def test_bash_reads_the_same_file_as_systemd(tmp_path: Path) -> None:
    """The dialect is also POSIX shell: ``set -a; . FILE`` gives the same values (how the proofs below
    start Jupyter: there is no systemd manager here)."""
    values = hostile(tmp_path)
    env_file = tmp_path / "jupyter-server.env"
    env_file.write_text(systemd_environment_file(values))
    assert sourced(env_file) == values
    assert not list(tmp_path.glob("pwned*"))


def sourced(env_file: Path) -> dict[str, str]:
    completed = subprocess.run(
        ["env", "-i", f"PATH={SYSTEMD_PATH}", "bash", "-c", 'set -a; . "$1"; set +a; env -0', "sh", str(env_file)],
        capture_output=True,
        check=True,
        timeout=30,
    )
    pairs = [item.decode() for item in completed.stdout.split(b"\0") if item]
    ignored = {"PATH", "PWD", "SHLVL", "_", "OLDPWD"}
    return {key: value for key, value in (pair.split("=", 1) for pair in pairs) if key not in ignored}


def test_systemd_loads_the_dropin_without_complaint(tmp_path: Path) -> None:
    module = environment_variables(variables={"A": "b"})
    units = tmp_path / "units"
    (units / "jupyter-server.service.d").mkdir(parents=True)
    (units / "jupyter-server.service").write_text("[Service]\nExecStart=/bin/true\n")
    dropin = units / "jupyter-server.service.d" / Path(JUPYTER_SERVER_DROPIN_PATH).name
    dropin.write_bytes(module.carried_files["jupyter-server.conf"])
    assert f"EnvironmentFile=-{JUPYTER_SERVER_ENV_PATH}\n" in dropin.read_text()

    def verify() -> str:
        completed = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", str(units / "jupyter-server.service")],
            env={"PATH": SYSTEMD_PATH, "SYSTEMD_UNIT_PATH": f"{units}:"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        return completed.stderr

    assert dropin.name not in verify()
    # the drop-in is read: the same file with a relative path draws a warning naming it
    dropin.write_text(dropin.read_text().replace("=-/", "=-relative/"))
    assert dropin.name in verify()


# -- the notebook-instance script --------------------------------------------------------------------


def notebook_sandbox(tmp_path: Path, systemctl: str | None = LOADED) -> Sandbox:
    sandbox = Sandbox(tmp_path)
    if systemctl is not None:
        (sandbox.root / "run" / "systemd" / "system").mkdir(parents=True)
        sandbox.add_fake("systemctl", systemctl)
    return sandbox


def run_notebook_hook(sandbox: Sandbox, variables: Mapping[str, str]) -> list[str]:
    bundle = LifecycleBundle(hook="on-start", modules=[environment_variables(variables=variables)])
    result = sandbox.run_hook(bundle.script, timeout=120)
    assert result.returncode == 0, result.stderr
    prefix = "[environment-variables] "
    lines = [line.split(prefix, 1)[1] for line in result.stdout.splitlines() if prefix in line]
    assert lines[0].startswith("start: ") and lines[-1].startswith("end: ok, exit 0,"), lines
    return lines[1:-1]  # the module's own lines


def systemctl_calls(sandbox: Sandbox) -> list[list[str]]:
    return [call[1:] for call in sandbox.calls("systemctl")]


def test_files_are_root_owned_0644_and_the_server_restarts_only_on_change(tmp_path: Path) -> None:
    sandbox = notebook_sandbox(tmp_path)
    lines = run_notebook_hook(sandbox, {"STAGE": "dev"})
    assert lines[-1] == "jupyter-server.service try-restart requested: kernels get STAGE", lines
    assert systemctl_calls(sandbox) == [
        ["show", "-p", "LoadState", "jupyter-server.service"],
        ["daemon-reload"],
        ["--no-block", "try-restart", "jupyter-server.service"],
    ]
    for path in (JUPYTER_SERVER_ENV_PATH, JUPYTER_SERVER_DROPIN_PATH, "/etc/profile.d/notebook-environment.sh"):
        info = (sandbox.root / path.lstrip("/")).lstat()
        assert (info.st_mode & 0o7777, info.st_uid) == (0o644, os.getuid()), path
    state = sandbox.snapshot(exclude=LOGS)

    # second run (on-create then on-start at creation): nothing changes, no reload, no restart
    sandbox.calls_file.write_text("")
    lines = run_notebook_hook(sandbox, {"STAGE": "dev"})
    assert "jupyter-server.service environment up to date; no restart" in lines
    assert systemctl_calls(sandbox) == []
    assert sandbox.snapshot(exclude=LOGS) == state

    # new values: the drop-in is the same, so a restart without daemon-reload
    sandbox.calls_file.write_text("")
    run_notebook_hook(sandbox, {"STAGE": "prod"})
    assert systemctl_calls(sandbox) == [
        ["show", "-p", "LoadState", "jupyter-server.service"],
        ["--no-block", "try-restart", "jupyter-server.service"],
    ]
    assert sourced(sandbox.root / JUPYTER_SERVER_ENV_PATH.lstrip("/")) == {"STAGE": "prod"}
    assert sorted(p.name for p in (sandbox.root / "etc" / "sagemaker-lifecycle").iterdir()) == ["jupyter-server.env"]


@pytest.mark.parametrize(
    ("systemctl", "expected"),
    [
        (None, "no systemd jupyter-server.service: only login shells get the values"),
        ("exit 0", "no systemd jupyter-server.service: only login shells get the values"),
        (
            LOADED.replace("exit 0", '[ "$1" = daemon-reload ] && exit 1; exit 0'),
            "warning: daemon-reload failed",
        ),
        (
            LOADED.replace("exit 0", '[ "$2" = try-restart ] && exit 5; exit 0'),
            "warning: try-restart failed",
        ),
    ],
    ids=["no-systemd", "no-unit", "reload-fails", "restart-fails"],
)
def test_without_a_working_unit_the_module_logs_and_succeeds(
    tmp_path: Path, systemctl: str | None, expected: str
) -> None:
    sandbox = notebook_sandbox(tmp_path, systemctl)
    bundle = LifecycleBundle(hook="on-start", modules=[environment_variables(variables={"STAGE": "dev"})])
    result = sandbox.run_hook(bundle.script, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"[environment-variables] {expected}" in result.stdout, result.stdout
    assert "[environment-variables] end: ok, exit 0" in result.stdout, result.stdout
    assert (sandbox.root / JUPYTER_SERVER_ENV_PATH.lstrip("/")).is_file()


def test_a_hanging_systemctl_is_cut_short(tmp_path: Path) -> None:
    sandbox = notebook_sandbox(tmp_path, LOADED.replace("exit 0", '[ "$1" = daemon-reload ] && exec sleep 600; exit 0'))
    started = time.monotonic()
    lines = run_notebook_hook(sandbox, {"STAGE": "dev"})
    assert time.monotonic() - started < 30
    assert lines[-1].startswith("warning: daemon-reload failed"), lines


@pytest.mark.parametrize("value", ["a\rb", "\x1b[31m", "bell\x07", "del\x7f", "\x0b", "\x0c"])
def test_values_systemd_would_drop_are_rejected_at_synth(value: str) -> None:
    with pytest.raises(LifecycleConfigError, match=r"^environment_variables: variables=.* control character"):
        environment_variables(variables={"X": value})


def test_tab_and_newline_are_accepted() -> None:
    module = environment_variables(variables={"X": "a\tb\nc"})
    assert module.carried_files["jupyter-server.env"].decode().endswith('X="a\tb\nc"\n')


# -- real Jupyter servers ----------------------------------------------------------------------------


def start_server(base: Path, launcher: list[str], env: Mapping[str, str], config: str = "") -> JupyterServer:
    """``launcher`` + ``python -m jupyter_server ...`` with exactly ``env`` (nothing of this process's)."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "root").mkdir(exist_ok=True)
    (base / "config").mkdir(exist_ok=True)
    (base / "config" / "jupyter_server_config.py").write_text(config)
    certfile, keyfile = self_signed_certificate(base)
    port, token = free_port(), os.urandom(16).hex()
    argv = [
        *launcher,
        sys.executable,
        "-m",
        "jupyter_server",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        "--ServerApp.allow_root=True",
        f"--ServerApp.root_dir={base / 'root'}",
        f"--ServerApp.certfile={certfile}",
        f"--ServerApp.keyfile={keyfile}",
    ]
    log_file = base / "jupyter.log"
    full_env = {**env, "JUPYTER_CONFIG_DIR": str(base / "config"), "JUPYTER_RUNTIME_DIR": str(base / "runtime")}
    with log_file.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=full_env, cwd=base)
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


@pytest.fixture
def servers() -> Iterator[list[JupyterServer]]:
    started: list[JupyterServer] = []
    yield started
    for server in started:
        for channel in server.channels:
            channel.close()
        stop_process(server.process)


def kernel_environ(server: JupyterServer, names: list[str], out: Path) -> dict[str, str | None]:
    """Start a kernel, open its channel and have it write ``os.environ`` of ``names`` to ``out``."""
    channel = server.connect(server.start_kernel())
    channel.execute(
        f"import os, json; open({str(out)!r}, 'w').write(json.dumps({{n: os.environ.get(n) for n in {names!r}}}))"
    )
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def terminal_environ(server: JupyterServer, out: Path) -> dict[str, str]:
    """Open a terminal and have its shell write its whole environment (NUL-separated) to ``out``."""
    terminal = server.start_terminal()
    terminal.type(f"env -0 >{out}.tmp && mv {out}.tmp {out}\r")
    wait_until(out.exists, 30, "the terminal's environment")
    pairs = [item for item in out.read_text().split("\0") if item]
    return dict(pair.split("=", 1) for pair in pairs)


def test_notebook_instance_kernels_and_terminals_get_the_literal_values(
    tmp_path: Path, servers: list[JupyterServer]
) -> None:
    values = hostile(tmp_path)
    sandbox = notebook_sandbox(tmp_path / "instance")
    run_notebook_hook(sandbox, values)
    env_file = sandbox.root / JUPYTER_SERVER_ENV_PATH.lstrip("/")
    for name, value in values.items():  # what systemd hands the restarted unit
        assert not value or systemd_reads(env_file, name, value), name
    # the server as the unit starts it: a clean environment plus the EnvironmentFile
    home = tmp_path / "home"
    home.mkdir()
    launcher = ["env", "-i", f"PATH={SYSTEMD_PATH}", f"HOME={home}", "LANG=C.UTF-8"]
    launcher += ["bash", "-c", 'set -a; . "$1"; set +a; shift; exec "$@"', "jupyter-server", str(env_file)]
    server = start_server(tmp_path / "server", launcher, {})
    servers.append(server)
    assert kernel_environ(server, sorted(values), tmp_path / "kernel.json") == values
    terminal = terminal_environ(server, tmp_path / "terminal.env")
    assert {name: terminal.get(name) for name in values} == values
    assert not list(tmp_path.glob("pwned*"))


def test_studio_kernels_and_terminals_get_the_literal_values(tmp_path: Path, servers: list[JupyterServer]) -> None:
    values = hostile(tmp_path)
    sandbox = Sandbox(tmp_path / "space", user="sagemaker-user", persist_subdir="")
    # the image's server (supervisord -> start-jupyter-server) is already up when the script runs, with
    # the image's terminal setting (/etc/jupyter/jupyter_server_config.py: bash, not a login shell)
    env = {"PATH": f"{Path(sys.executable).parent}:{SYSTEMD_PATH}", "HOME": str(sandbox.home), "LANG": "C.UTF-8"}
    config = 'c.ServerApp.terminado_settings = {"shell_command": ["/bin/bash"]}\n'
    server = start_server(tmp_path / "server", [], env, config)
    servers.append(server)
    before = kernel_environ(server, sorted(values), tmp_path / "before.json")
    assert before == dict.fromkeys(values)

    bundle = LifecycleBundle(
        hook="jupyterlab", modules=[studio_environment_variables(variables=values)], target=Target.STUDIO
    )
    for _ in range(2):  # idempotent: the second run writes nothing
        result = sandbox.run_hook(bundle.script, timeout=120)
        assert result.returncode == 0, result.stderr
    assert "00-sagemaker-lifecycle-environment.py already up to date" in result.stdout, result.stdout
    startup = sandbox.home / ".ipython" / "profile_default" / "startup" / "00-sagemaker-lifecycle-environment.py"
    assert startup.stat().st_mode & 0o7777 == 0o644

    assert kernel_environ(server, sorted(values), tmp_path / "kernel.json") == values
    terminal = terminal_environ(server, tmp_path / "terminal.env")
    assert {name: terminal.get(name) for name in values} == values
    assert not list(tmp_path.glob("pwned*"))
