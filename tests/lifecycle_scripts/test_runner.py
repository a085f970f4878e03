"""The generated hook run for real with bash in a sandbox root: failures are survived and logged."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from aws_cdk import Duration

from constructs_lib import Compression, Encoding, LifecycleBundle, Mode, Module, RunAs
from constructs_lib.bundling.limits import LOG_CAP_BYTES, LOG_DRAIN_SECONDS, STOP_SECONDS, USER_LOG_KEEP_BYTES
from tests.support.sandbox import Sandbox

BUDGET_SLEEPER = 2


def troublesome_modules() -> list[Module]:
    return [
        Module(name="fails", script="#!/bin/bash\necho about to fail >&2\nexit 1\n"),
        Module(name="missing-command", script="#!/bin/bash\nno-such-command-anywhere --flag\n"),
        Module(name="missing-interpreter", script="#!/no/such/interpreter\nprint('x')\n"),
        Module(
            name="sleeper",
            script="#!/bin/bash\necho going to sleep\nsleep 60\necho never printed\n",
            budget=Duration.seconds(BUDGET_SLEEPER),
        ),
        Module(
            name="slow-worker",
            script='#!/bin/bash\necho working\nsleep 3\necho "$GREETING" >"$PERSIST_DIR/worker-output"\n',
            mode=Mode.BACKGROUND,
            budget=Duration.minutes(5),
            settings={"GREETING": "done at last"},
        ),
        Module(
            name="as-user",
            script='#!/bin/bash\necho "user=$USER home=$HOME persist=$PERSIST_DIR cwd=$PWD"\n',
            user=RunAs.NOTEBOOK_USER,
        ),
        Module(
            name="carries-files",
            script='#!/bin/bash\ncat "$MODULE_DIR/files/conf/app.ini"\n',
            files={"conf/app.ini": "[app]\nkey = value\n"},
        ),
    ]


@pytest.fixture(scope="module")
def hook_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sandbox, str, float]:
    sandbox = Sandbox(tmp_path_factory.mktemp("runner"))
    bundle = LifecycleBundle(hook="on-start", modules=troublesome_modules())
    started = time.monotonic()
    result = sandbox.run_hook(bundle.script)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    return sandbox, result.stdout, elapsed


def lines_of(stdout: str, module: str) -> list[str]:
    return [line.split(f"[{module}] ", 1)[1] for line in stdout.splitlines() if f"[on-start] [{module}] " in line]


def test_hook_exits_0_although_modules_fail(hook_run: tuple[Sandbox, str, float]) -> None:
    _, stdout, _ = hook_run
    assert lines_of(stdout, "runner")[-1].startswith(
        "hook end: 7 modules, 4 failed (fails missing-command missing-interpreter sleeper), 1 in background"
    )


def test_failing_module_is_logged_with_its_output_and_status(hook_run: tuple[Sandbox, str, float]) -> None:
    lines = lines_of(hook_run[1], "fails")
    assert lines[0] == "start: user root, budget 30s"
    assert lines[1] == "about to fail"
    assert lines[2].startswith("end: failed with exit status 1, exit 1, ")


def test_missing_command_and_interpreter_are_logged(hook_run: tuple[Sandbox, str, float]) -> None:
    assert "no-such-command-anywhere: command not found" in lines_of(hook_run[1], "missing-command")[1]
    assert lines_of(hook_run[1], "missing-command")[-1].startswith("end: failed with exit status 127, exit 127")
    # the module's own output names the cause; the runner's end line gives the status
    assert "missing-interpreter/run: " in lines_of(hook_run[1], "missing-interpreter")[1]
    assert lines_of(hook_run[1], "missing-interpreter")[-1].startswith("end: failed with exit status 127, exit 127")


def test_module_past_its_budget_is_killed_and_the_hook_goes_on(hook_run: tuple[Sandbox, str, float]) -> None:
    lines = lines_of(hook_run[1], "sleeper")
    assert "going to sleep" in lines and "never printed" not in lines
    assert lines[-1].startswith(f"end: timed out after {BUDGET_SLEEPER}s, killed, exit 124")
    assert lines_of(hook_run[1], "carries-files")[-1].startswith("end: ok")


def test_blocking_time_stays_within_the_declared_budgets(hook_run: tuple[Sandbox, str, float]) -> None:
    _, _, elapsed = hook_run
    blocking = sum(m.budget_seconds for m in troublesome_modules() if m.mode is Mode.BLOCKING)
    assert elapsed < blocking
    assert BUDGET_SLEEPER <= elapsed < BUDGET_SLEEPER + 5, "only the sleeper should take real time"


def test_notebook_user_module_runs_through_sudo_with_the_notebook_environment(
    hook_run: tuple[Sandbox, str, float],
) -> None:
    sandbox, stdout, _ = hook_run
    assert lines_of(stdout, "as-user")[1] == (f"user=ec2-user home={sandbox.home} persist={sandbox.persist} cwd=/")
    assert any(call[1:4] == ["-n", "-u", "ec2-user"] and "env" in call for call in sandbox.calls("sudo"))


def test_carried_files_are_readable(hook_run: tuple[Sandbox, str, float]) -> None:
    assert lines_of(hook_run[1], "carries-files")[1:3] == ["[app]", "key = value"]


def test_background_module_outlives_the_hook_and_writes_its_marker(hook_run: tuple[Sandbox, str, float]) -> None:
    sandbox, stdout, _ = hook_run
    assert lines_of(stdout, "slow-worker")[0].startswith("started in background")
    marker = sandbox.persist / ".lifecycle" / "markers" / "on-start.slow-worker.done"
    assert sandbox.wait_for(marker, timeout=30), "background module never completed"
    assert marker.read_text().startswith("exit=0 seconds=3")
    assert (sandbox.persist / "worker-output").read_text() == "done at last\n"
    log = (sandbox.persist / ".lifecycle" / "logs" / "on-start.slow-worker.log").read_text()
    assert "[slow-worker] working" in log and "background end: ok" in log


def test_every_line_reaches_the_persisted_and_root_logs_with_the_module_name(
    hook_run: tuple[Sandbox, str, float],
) -> None:
    sandbox, stdout, _ = hook_run
    persisted = (sandbox.persist / ".lifecycle" / "logs" / "on-start.log").read_text()
    root_log = (sandbox.root / "var" / "log" / "sagemaker-lifecycle" / "on-start.log").read_text()
    assert persisted == root_log == stdout
    for line in stdout.splitlines():
        assert " [on-start] [" in line


def test_bundle_directory_is_not_writable_by_others(hook_run: tuple[Sandbox, str, float]) -> None:
    sandbox, _, _ = hook_run
    bundle_dir = sandbox.root / "var" / "lib" / "sagemaker-lifecycle" / "on-start"
    for path in [bundle_dir, *bundle_dir.rglob("*")]:
        if path.parent.name == "work" or path.name == "work":
            continue
        assert path.stat().st_mode & 0o022 == 0, path
    assert (bundle_dir / "work").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_unpacked_directories_are_0755_whatever_the_callers_umask(tmp_path: Path, umask: int) -> None:
    sandbox = Sandbox(tmp_path)
    module = Module(name="hello", script="#!/bin/bash\necho hi\n", files={"conf/deep/app.ini": "x\n"})
    path = tmp_path / "hook.sh"
    path.write_bytes(LifecycleBundle(hook="on-start", modules=[module]).script)
    result = subprocess.run(
        ["bash", str(path)], cwd="/", env=sandbox.env(), capture_output=True, text=True, umask=umask, timeout=60
    )
    assert "[hello] hi" in result.stdout, result.stdout + result.stderr
    bundle_dir = sandbox.root / "var" / "lib" / "sagemaker-lifecycle" / "on-start"
    directories = [p for p in bundle_dir.rglob("*") if p.is_dir() and p.name != "work"]
    assert {str(p.relative_to(bundle_dir)) for p in directories} >= {"modules", "modules/01-hello/files/conf/deep"}
    assert {p.stat().st_mode & 0o777 for p in directories} == {0o755}
    assert (bundle_dir / "modules" / "01-hello" / "files" / "conf" / "deep" / "app.ini").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("encoding", list(Encoding))
@pytest.mark.parametrize("compression", list(Compression))
def test_every_encoding_and_compression_unpacks_with_real_tools(
    tmp_path: Path, encoding: Encoding, compression: Compression
) -> None:
    sandbox = Sandbox(tmp_path)
    module = Module(name="hello", script="#!/bin/bash\necho hello from the bundle\n")
    bundle = LifecycleBundle(hook="on-create", modules=[module], encoding=encoding, compression=compression)
    result = sandbox.run_hook(bundle.script)
    assert result.returncode == 0
    assert "[on-create] [hello] hello from the bundle" in result.stdout


def test_without_xz_the_archive_is_unpacked_with_python_lzma(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "sb")
    no_xz = tmp_path / "no-xz"
    no_xz.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        for entry in os.scandir(directory):
            if not entry.name.startswith(("xz", "unxz", "lzma")) and not (no_xz / entry.name).exists():
                (no_xz / entry.name).symlink_to(entry.path)
    bundle = LifecycleBundle(hook="on-start", modules=[Module(name="hello", script="#!/bin/bash\necho hi\n")])
    result = sandbox.run_hook(bundle.script, env={"PATH": f"{sandbox.bin}:{no_xz}"})
    assert result.returncode == 0, result.stderr
    assert "[on-start] [hello] hi" in result.stdout


def test_corrupted_archive_runs_nothing_and_still_exits_0(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path)
    bundle = LifecycleBundle(hook="on-start", modules=[Module(name="hello", script="#!/bin/bash\necho hi\n")])
    start = bundle.script.index(b"\n", bundle.script.index(b"<<'LCC_PAYLOAD'")) + 1
    corrupted = bundle.script[:start] + b"AAAA" + bundle.script[start + 4 :]
    assert corrupted != bundle.script
    result = sandbox.run_hook(corrupted)
    assert result.returncode == 0
    assert "archive checksum mismatch" in result.stdout
    assert "could not unpack the bundle: no module ran" in result.stdout
    assert "[hello]" not in result.stdout


# -- chatty modules: output logged as it comes, capped, within the module's budget --------------------

LATER = Module(name="later", script="#!/bin/bash\necho later ran\n")
AWKS = ("gawk", "mawk")
"""Amazon Linux's awk is gawk, Debian's and Ubuntu's (Studio images) mawk: they read pipes differently."""


@pytest.fixture(params=AWKS)
def awk_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """PATH for a hook whose ``awk`` is the given implementation (both are in the Makefile's SYSTEM_DEPS)."""
    shim = tmp_path / f"with-{request.param}"
    shim.mkdir()
    real = shutil.which(request.param)
    assert real is not None, f"{request.param} is missing: run make system-deps"
    (shim / "awk").symlink_to(real)
    return {"PATH": f"{shim}:{tmp_path / 'sb' / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin"}


def logs_of(sandbox: Sandbox) -> tuple[str, str]:
    persisted = (sandbox.persist / ".lifecycle" / "logs" / "on-start.log").read_text(errors="replace")
    root_log = (sandbox.root / "var" / "log" / "sagemaker-lifecycle" / "on-start.log").read_text(errors="replace")
    return persisted, root_log


def test_a_million_lines_cost_no_more_than_the_budget_and_are_capped_with_a_cut_line(
    tmp_path: Path, awk_env: dict[str, str]
) -> None:
    sandbox = Sandbox(tmp_path / "sb")
    chatty = Module(
        name="chatty", script="#!/bin/bash\nseq 1000000 | sed 's/^/line /'\necho last\n", budget=Duration.seconds(10)
    )
    started = time.monotonic()
    result = sandbox.run_hook(LifecycleBundle(hook="on-start", modules=[chatty, LATER]).script, env=awk_env)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 10 + STOP_SECONDS + 2, "the module's output must cost no more than its budget"
    lines = lines_of(result.stdout, "chatty")
    assert lines[1] == "line 1" and lines[-1].startswith("end: ok, exit 0")
    cut = lines[-2]
    assert cut.startswith("[log cut: ") and f" past {LOG_CAP_BYTES}]" in cut
    kept = int(lines[-3].split()[1])
    assert cut.startswith(f"[log cut: {1_000_001 - kept} lines ("), "every line is kept or counted"
    assert "last" not in lines, "lines after the cap are cut, not logged out of order"
    assert lines_of(result.stdout, "later")[1] == "later ran"
    persisted, root_log = logs_of(sandbox)
    assert persisted == root_log == result.stdout
    chatty_bytes = sum(len(line) + 1 for line in result.stdout.splitlines() if "[chatty] line " in line)
    assert LOG_CAP_BYTES - 100 < chatty_bytes <= LOG_CAP_BYTES


def test_endless_output_is_stopped_at_the_budget_and_later_modules_still_run(
    tmp_path: Path, awk_env: dict[str, str]
) -> None:
    sandbox = Sandbox(tmp_path / "sb")
    endless = Module(name="endless", script="#!/bin/bash\nyes 'all work and no play'\n", budget=Duration.seconds(2))
    long_line = Module(name="no-newline", script="#!/bin/bash\nhead -c 30000000 /dev/zero | tr '\\0' x\necho\n")
    started = time.monotonic()
    bundle = LifecycleBundle(hook="on-start", modules=[endless, long_line, LATER])
    result = sandbox.run_hook(bundle.script, env=awk_env)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 2 + STOP_SECONDS + 4
    endless_lines = lines_of(result.stdout, "endless")
    assert endless_lines[-1].startswith("end: timed out after 2s, killed, exit 124")
    assert endless_lines[-2].startswith("[log cut: ")
    long_lines = lines_of(result.stdout, "no-newline")
    assert long_lines[-2].startswith("[log cut: ") and long_lines[-1].startswith("end: ok")
    assert max(len(line) for line in long_lines) <= 4096, "a line without end is logged in bounded pieces"
    assert lines_of(result.stdout, "later")[1] == "later ran"
    assert all(len(log) < 3 * LOG_CAP_BYTES for log in logs_of(sandbox))


def test_output_is_logged_while_the_module_still_runs(tmp_path: Path, awk_env: dict[str, str]) -> None:
    sandbox = Sandbox(tmp_path / "sb")
    slow = Module(name="slow", script="#!/bin/bash\necho early bird\nsleep 4\necho late\n")
    path = tmp_path / "hook.sh"
    path.write_bytes(LifecycleBundle(hook="on-start", modules=[slow]).script)
    root_log = sandbox.root / "var" / "log" / "sagemaker-lifecycle" / "on-start.log"
    with subprocess.Popen(["bash", str(path)], cwd="/", env=sandbox.env(awk_env), stdout=subprocess.PIPE) as hook:
        assert sandbox.wait_for(root_log, timeout=10)
        deadline = time.monotonic() + 3
        while "early bird" not in root_log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        seen_while_running = "early bird" in root_log.read_text() and hook.poll() is None
        hook.communicate(timeout=30)
    assert seen_while_running, "a module's output must reach the log as it comes, not after the module ended"
    assert "[slow] late" in root_log.read_text()


def test_a_process_left_holding_the_output_costs_the_drain_time_only(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path)
    leaves = Module(name="leaves-a-child", script="#!/bin/bash\n(sleep 20; echo too late) &\necho started it\n")
    started = time.monotonic()
    result = sandbox.run_hook(LifecycleBundle(hook="on-start", modules=[leaves, LATER]).script)
    elapsed = time.monotonic() - started
    assert elapsed < LOG_DRAIN_SECONDS + 3
    lines = lines_of(result.stdout, "leaves-a-child")
    assert lines[1] == "started it"
    assert lines[2] == f"output still open {LOG_DRAIN_SECONDS}s after its end: cut"
    assert lines[3].startswith("end: ok")
    assert lines_of(result.stdout, "later")[1] == "later ran"


def test_a_persisted_log_past_its_size_is_moved_aside_once(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path)
    logs = sandbox.persist / ".lifecycle" / "logs"
    logs.mkdir(parents=True)
    (logs / "on-start.log").write_bytes(b"old line\n" * (USER_LOG_KEEP_BYTES // 9 + 1))
    (logs / "on-start.log.1").write_text("older\n")
    bundle = LifecycleBundle(hook="on-start", modules=[LATER])
    sandbox.run_hook(bundle.script)
    assert (logs / "on-start.log.1").read_bytes().startswith(b"old line\n")
    first = (logs / "on-start.log").read_text()
    assert "old line" not in first and "[later] later ran" in first
    sandbox.run_hook(bundle.script)
    assert (logs / "on-start.log").read_text().count("later ran") == 2, "a small log is appended to"
