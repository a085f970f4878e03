"""A sandbox root for running lifecycle hooks and modules with real bash.

A temporary directory stands in for ``/`` (the runner and the catalogue scripts prefix every path
with ``$LCC_ROOT``), and the external commands that only exist on an instance, or that would change
this machine, are small recording programs first on ``PATH``. Every call is appended to
``calls.log`` as one line: the program name and its arguments, tab separated.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

# The runner gives modules a clean environment that keeps LCC_ROOT: calls.log sits beside the root.
_RECORD = (
    'calls="${SANDBOX_CALLS:-$LCC_ROOT/../calls.log}"; '
    'printf "%s" "$(basename "$0")" >>"$calls"; printf "\\t%s" "$@" >>"$calls"; echo >>"$calls"'
)

# name -> body run after the call was recorded
FAKES: dict[str, str] = {
    # sudo -n -u USER -- CMD...: runs CMD as the current user.
    "sudo": (
        'while [ $# -gt 0 ]; do case "$1" in -u|-g) shift 2;; --) shift; break;; -*) shift;; *) break;; esac; done\n'
        'exec "$@"'
    ),
    "chown": "exit 0",
    "chgrp": "exit 0",
    "systemctl": "exit 0",
    "initctl": "exit 0",
    "status": "exit 0",
    "stop": "exit 0",
    "yum": "exit 0",
    "dnf": "exit 0",
    "rpm": "exit 1",
    # crontab [-u USER] (-l | - | FILE): a spool file per user inside the sandbox.
    "crontab": (
        'u=root; if [ "${1-}" = -u ]; then u=$2; shift 2; fi\n'
        'spool="$LCC_ROOT/var/spool/cron/$u"; mkdir -p "${spool%/*}"\n'
        'case "${1-}" in\n'
        '  -l) [ -f "$spool" ] || { echo "no crontab for $u" >&2; exit 1; }; cat "$spool";;\n'
        '  -r) rm -f "$spool";;\n'
        '  -|"") cat >"$spool";;\n'
        '  *) cat "$1" >"$spool";;\n'
        "esac"
    ),
}


class Sandbox:
    """An instance-like root under ``base`` for one test."""

    def __init__(self, base: Path, *, user: str = "ec2-user", persist_subdir: str = "SageMaker") -> None:
        self.base = base
        self.root = base / "root"
        self.bin = base / "bin"
        self.calls_file = base / "calls.log"
        self.user = user
        self.home = self.root / "home" / user
        self.persist = self.home / persist_subdir if persist_subdir else self.home
        for directory in (
            self.persist,
            self.root / "etc" / "profile.d",
            self.root / "opt" / "ml" / "metadata",
            self.root / "var" / "spool" / "cron",
            self.bin,
        ):
            directory.mkdir(parents=True, exist_ok=True)
        self.calls_file.touch()
        for name, body in FAKES.items():
            self.add_fake(name, body)

    def add_fake(self, name: str, body: str = "exit 0") -> None:
        """Put a recording program called ``name`` first on PATH; ``body`` runs after recording."""
        path = self.bin / name
        path.write_text(f"#!/bin/bash\n{_RECORD}\n{body}\n")
        path.chmod(0o755)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {
            "PATH": f"{self.bin}:/usr/sbin:/usr/bin:/sbin:/bin",
            "LCC_ROOT": str(self.root),
            "SANDBOX_CALLS": str(self.calls_file),
            "LANG": "C.UTF-8",
        }
        env.update(extra or {})
        return env

    def run_hook(
        self, script: bytes, *, name: str = "hook.sh", env: Mapping[str, str] | None = None, timeout: float = 320
    ) -> subprocess.CompletedProcess[str]:
        """Run a generated lifecycle script with bash from ``/``, as SageMaker does."""
        path = self.base / name
        path.write_bytes(script)
        return subprocess.run(
            ["bash", str(path)], cwd="/", env=self.env(env), capture_output=True, text=True, timeout=timeout
        )

    def calls(self, program: str | None = None) -> list[list[str]]:
        rows = [line.split("\t") for line in self.calls_file.read_text().splitlines() if line]
        return [row for row in rows if program is None or row[0] == program]

    def wait_for(self, path: Path, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists() and path.stat().st_size > 0:
                return True
            time.sleep(0.1)
        return False

    def snapshot(self, *, exclude: tuple[str, ...] = ()) -> dict[str, tuple[str, int, str]]:
        """Every path under the root: (kind, mode, content or link target), for idempotence checks."""
        state: dict[str, tuple[str, int, str]] = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in dirnames + filenames:
                path = Path(dirpath) / name
                rel = str(path.relative_to(self.root))
                if any(rel.startswith(prefix) for prefix in exclude):
                    continue
                info = path.lstat()
                if path.is_symlink():
                    state[rel] = ("link", 0, os.readlink(path))
                elif path.is_dir():
                    state[rel] = ("dir", info.st_mode & 0o7777, "")
                else:
                    state[rel] = ("file", info.st_mode & 0o7777, path.read_bytes().decode("utf-8", "replace"))
        return state
