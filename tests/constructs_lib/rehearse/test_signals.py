"""SIGINT and SIGTERM stop a rehearsal: everything it started is stopped, its directories removed."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.constructs_lib.rehearse.conftest import logical_id, rehearsal_processes, sandbox_processes

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_everything_and_removes_the_temporary_directories(
    broken_assembly: Path, signum: signal.Signals
) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="rehearse-signal-", dir="/tmp"))
    tmp.chmod(0o711)  # reachable by the sandbox's root, so that the rehearsal puts its directories here
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "constructs_lib.rehearse", str(broken_assembly), "--config",
             logical_id(broken_assembly, "Slow")],
            cwd=REPO, env={**os.environ, "TMPDIR": str(tmp)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert proc.stderr is not None
        seen = b""
        deadline = time.monotonic() + 60
        while b"slow: started" not in seen and time.monotonic() < deadline:  # the slow module sleeps 30 s
            if select.select([proc.stderr], [], [], 1)[0]:
                seen += os.read(proc.stderr.fileno(), 4096)
        assert b"slow: started" in seen, seen
        assert list(tmp.iterdir()) and sandbox_processes()  # it runs, from there
        started = time.monotonic()
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=20)
        assert time.monotonic() - started < 10
        assert proc.returncode == 128 + signum
        assert f"stopped by {signum.name}" in err.decode()
        assert list(tmp.iterdir()) == []
        assert sandbox_processes() == [] and rehearsal_processes() == []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
