"""The part of a rehearsal that runs inside the sandbox, next to the hook: makes the instance-like
files the sandbox starts without, runs the hook, watches what each module changes, and writes the
raw results as JSON.

This file imports nothing but the standard library: it is started by bubblewrap as process 1 of
the sandbox's PID namespace (``python3 -I /run/lcc-rehearse/engine.py SPEC``), so every process the
hook leaves behind is its child or orphan, and dies with it. What bubblewrap bound in is fixed by
the CLI (``constructs_lib.rehearse.sandbox``): this machine's system directories read-only, fresh
tmpfs directories for what an instance writes, and the control directory ``/run/lcc-rehearse``
(read-only, but for ``/run/lcc-rehearse/out``). Everything that is not a read-only bind is the
sandbox's own, so a snapshot is a walk of the whole root without those binds.

It is one file on purpose: ``python3 -I`` does not put the script's directory on ``sys.path`` (3.11+), so a
sibling module could not be imported, and copying a package into the sandbox would be one more thing to bind.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import select
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

KILL_GRACE_SECONDS = 2
BACKGROUND_SLACK_SECONDS = 5
TEXT_LIMIT = 16384
STEP_OUTPUT_LIMIT = 65536
"""The last bytes of a ``--then`` step's output kept in the results."""
FIXED_SHADOW_DAYS = 19000

Entry = dict[str, Any]
State = dict[str, Entry]


# -- snapshots --------------------------------------------------------------------------------------
_digests: dict[tuple[int, int, int, int, int], tuple[str, str | None]] = {}


def entry_of(path: str, info: os.stat_result | None = None) -> Entry | None:
    """What is at ``path`` (not following a final link): kind, mode, owner, content digest or target."""
    try:
        info = info or os.lstat(path)
    except OSError:
        return None
    base: Entry = {"mode": stat.S_IMODE(info.st_mode), "uid": info.st_uid, "gid": info.st_gid}
    if stat.S_ISLNK(info.st_mode):
        return {"kind": "link", "target": os.readlink(path), **base}
    if stat.S_ISDIR(info.st_mode):
        return {"kind": "dir", **base}
    if not stat.S_ISREG(info.st_mode):
        return {"kind": "other", **base}
    key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    cached = _digests.get(key)
    if cached is None:
        digest = hashlib.sha256()
        text: str | None = None
        try:
            with open(path, "rb") as handle:
                data = handle.read(TEXT_LIMIT + 1)
                digest.update(data)
                if len(data) <= TEXT_LIMIT:
                    with contextlib.suppress(UnicodeDecodeError):
                        text = data.decode("utf-8")
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError as err:
            return {"kind": "file", "size": info.st_size, "sha256": f"unreadable: {err.strerror}", **base}
        cached = (digest.hexdigest(), text)
        _digests[key] = cached
    entry: Entry = {"kind": "file", "size": info.st_size, "sha256": cached[0], **base}
    if cached[1] is not None:
        entry["text"] = cached[1]
    return entry


def same(a: Entry | None, b: Entry | None) -> bool:
    """Equal as far as state goes: kind, mode, owner, content or target (not times, not sizes of dirs)."""
    if a is None or b is None:
        return a is b
    keys = ("kind", "mode", "uid", "gid", "sha256", "target")
    return all(a.get(k) == b.get(k) for k in keys)


def public(entry: Entry | None) -> Entry | None:
    """An entry without its text, for the results file."""
    return None if entry is None else {k: v for k, v in entry.items() if k != "text"}


def text_diff(before: Entry | None, after: Entry | None, path: str, limit: int = 20) -> list[str]:
    old = (before or {}).get("text")
    new = (after or {}).get("text")
    if old is None and new is None:
        return []
    lines = list(
        difflib.unified_diff(
            (old or "").splitlines(), (new or "").splitlines(), f"{path} (before)", f"{path} (after)", lineterm="", n=1
        )
    )
    return lines[:limit] + ([f"... {len(lines) - limit} more lines"] if len(lines) > limit else [])


def under(rel: str, prefixes: list[str] | tuple[str, ...]) -> bool:
    return any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in prefixes)


def diff(before: State, after: State, *, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    changes = []
    for rel in sorted(set(before) | set(after)):
        if exclude and under(rel, exclude):
            continue
        old, new = before.get(rel), after.get(rel)
        if same(old, new):
            continue
        change = "created" if old is None else "deleted" if new is None else "modified"
        record: dict[str, Any] = {"path": rel, "change": change, "before": public(old), "after": public(new)}
        lines = text_diff(old, new, rel) if change == "modified" else []
        if lines:
            record["diff"] = lines
        changes.append(record)
    return changes


# -- processes --------------------------------------------------------------------------------------
def kill_session(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the session (process group) that ``proc`` leads."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of ``pid``."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(shlex.quote(part) for part in raw.decode("utf-8", "replace").split("\0") if part)


def _uid(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1


class Engine:
    """One hook, rehearsed ``runs`` times in one sandbox."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.control = Path(spec["control"])
        self.out = Path(spec["out"])
        self.ctl_dir = self.out / "ctl"
        self.skip = (*spec["read_only"], spec["control"], "/proc", "/dev")
        self.notes: list[str] = []
        self.popen_pids: set[int] = set()
        self.known_leftovers: set[int] = set()
        self.results: dict[str, Any] = {"notes": self.notes, "runs": []}
        self.budgets = {m["name"]: m["budget"] for m in spec["modules"]}
        self.calls_offset = 0
        self.last: State = {}
        self.active: dict[str, tuple[str, float]] = {}
        self.intervals: list[dict[str, Any]] = []
        self.module_runs: list[dict[str, Any]] = []
        self.module_starts: dict[str, float] = {}
        self.requests = -1
        self.seen_pids: dict[int, list[str]] = {}
        self.request_buffer = b""
        self.run_index = 0

    def progress(self, message: str) -> None:
        """One line on stderr, as the hook runs (the CLI passes it on)."""
        print(f"rehearse: {self.spec['label']} run {self.run_index}: {message}", file=sys.stderr, flush=True)

    # -- the instance-like files --------------------------------------------------------------------
    def _write(self, path: str, text: str, mode: int = 0o644) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        Path(path).write_text(text)
        os.chmod(path, mode)

    def _dir(self, path: str, mode: int, uid: int = 0, gid: int = 0) -> None:
        os.makedirs(path, exist_ok=True)
        os.chmod(path, mode)
        if not self.spec["one_uid"]:
            os.lchown(path, uid, gid)

    def setup(self) -> None:
        """This machine's /etc copied into the sandbox's own, with the sandbox's users and host name;
        the directories an instance has, fresh; the notebook user's home and persisted volume."""
        spec = self.spec
        source = spec["host_etc"]
        for dirpath, dirnames, filenames in os.walk(source):
            rel = os.path.relpath(dirpath, source)
            target = os.path.normpath(os.path.join("/etc", rel))
            for name in dirnames + filenames:
                src, dst = os.path.join(dirpath, name), os.path.join(target, name)
                try:
                    if os.path.islink(src):
                        os.symlink(os.readlink(src), dst)
                    elif os.path.isdir(src):
                        os.mkdir(dst)
                        os.chmod(dst, stat.S_IMODE(os.stat(src).st_mode))
                    else:
                        shutil.copy2(src, dst)
                except OSError:  # unreadable here (shadow, private keys): the sandbox does without
                    continue
            dirnames[:] = [d for d in dirnames if os.path.isdir(os.path.join(target, d))]
        for name in spec["fresh_in_etc"]:
            shutil.rmtree(f"/etc/{name}", ignore_errors=True)
            self._dir(f"/etc/{name}", 0o755)
        for name, (text, mode) in spec["identity"].items():
            self._write(f"/etc/{name}", text, mode)
        for path, mode in spec["modes"].items():
            self._dir(path, int(mode, 8))
        self._write("/opt/ml/metadata/resource-metadata.json", spec["resource_metadata"])
        if spec["target"] == "notebook-instance":
            os.makedirs("/run/systemd/system", exist_ok=True)  # notebook instances boot with systemd
        uid, gid = spec["uid"], spec["gid"]
        self._dir(spec["home"], 0o755 if spec["target"] == "studio" else 0o700, uid, gid)
        self._dir(spec["persist"], 0o755, uid, gid)

    def install_fifo(self) -> None:
        self.ctl_dir.mkdir(exist_ok=True)
        os.chmod(self.ctl_dir, 0o1777)  # noqa: S103  # the wrapper makes its fifos here as any user
        calls_file = self.out / "calls.log"
        calls_file.touch()
        os.chmod(calls_file, 0o666)  # noqa: S103  # stand-ins record calls as any user
        os.chmod(self.out, 0o755)  # noqa: S103  # read by the hook as the notebook user
        fifo = self.ctl_dir / "requests"
        os.mkfifo(fifo)
        os.chmod(fifo, 0o666)  # noqa: S103  # written by the wrapper as any user
        self.requests = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)

    # -- snapshots ------------------------------------------------------------------------------------
    def _walk(self, path: str, state: State) -> None:
        entry = entry_of(path)
        if entry is None:
            return
        state[path] = entry
        if entry["kind"] != "dir":
            return
        try:
            names = sorted(os.listdir(path))
        except OSError:
            return
        for name in names:
            child = f"{path.rstrip('/')}/{name}"
            if child not in self.skip:
                self._walk(child, state)

    def snapshot(self) -> State:
        """Everything that is the sandbox's own: the root without this machine's read-only binds."""
        state: State = {}
        for name in sorted(os.listdir("/")):
            if f"/{name}" not in self.skip:
                self._walk(f"/{name}", state)
        return state

    # -- running --------------------------------------------------------------------------------------
    def hook_command(self) -> list[str]:
        spec = self.spec
        as_user = spec["target"] == "studio"
        user = spec["user"] if as_user else "root"
        env = {
            "PATH": f"{spec['control']}/bin:/sbin:/bin:/usr/sbin:/usr/bin",
            "HOME": spec["home"] if as_user else "/root",
            "USER": user,
            "LOGNAME": user,
        }
        command = ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items()), "/bin/bash", spec["script"]]
        if as_user and not spec["one_uid"]:
            ids = [f"--reuid={spec['uid']}", f"--regid={spec['gid']}", "--init-groups"]
            command = ["setpriv", *ids, "--", *command]
        return command

    def _ack(self, pid: str, phase: str) -> None:
        """Answer the wrapper ``pid`` through its fifo for ``phase`` (made before it asked)."""
        path = self.ctl_dir / f"ack.{pid}.{phase}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except FileNotFoundError:
                return  # the wrapper is gone
            except OSError:  # ENXIO: it has not opened its end yet
                time.sleep(0.002)
                continue
            try:
                os.write(fd, b"ok\n")
            finally:
                os.close(fd)
            return

    def serve(self, timeout: float) -> None:
        """Answer the timeout wrapper's requests that arrive within ``timeout`` seconds."""
        ready, _, _ = select.select([self.requests], [], [], timeout)
        if not ready:
            return
        try:
            self.request_buffer += os.read(self.requests, 65536)
        except BlockingIOError:
            return
        while b"\n" in self.request_buffer:
            line, self.request_buffer = self.request_buffer.split(b"\n", 1)
            fields = line.decode("utf-8", "replace").split("\t")
            if fields[0] == "begin" and len(fields) == 3:
                self.close_interval()
                self.active[fields[1]] = (fields[2], time.monotonic())
                self.module_starts.setdefault(fields[2], time.monotonic())
                self.progress(f"{fields[2]}: started")
            elif fields[0] == "end" and len(fields) == 4 and fields[3].isdigit():
                ended = time.monotonic()
                self.close_interval()
                name, started = self.active.pop(fields[1], (fields[2], ended))
                seconds = round(ended - started, 3)
                self.module_runs.append({"module": name, "exit": int(fields[3]), "seconds": seconds, "pid": fields[1]})
                budget = self.budgets.get(name, "?")
                self.progress(f"{name}: exit {fields[3]} after {seconds:.2f}s of {budget}s")
            else:
                continue
            self._ack(fields[1], fields[0])

    def _new_calls(self) -> list[str]:
        with open(self.out / "calls.log", "rb") as handle:
            handle.seek(self.calls_offset)
            data = handle.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.calls_offset += len(complete)
        return [line for line in complete.decode("utf-8", "replace").splitlines() if line]

    def close_interval(self) -> None:
        """Snapshot now; what changed since the last one belongs to the modules running meanwhile."""
        current = self.snapshot()
        changes = diff(self.last, current)
        calls = self._new_calls()
        modules = sorted({name for name, _ in self.active.values()})
        if changes or calls:
            self.intervals.append({"modules": modules, "changes": changes, "calls": calls})
        self.last = current
        for pid in self.processes():
            self.seen_pids.setdefault(pid, modules)

    def reap(self) -> None:
        """Collect exited orphans (adopted by this process 1), but never a child subprocess still tracks."""
        for pid in self._pids(zombies=True):
            info = _proc_stat(pid)
            if info and info[0] == "Z" and pid not in self.popen_pids:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)

    def _pids(self, *, zombies: bool = False) -> list[int]:
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid():
                info = _proc_stat(int(entry))
                if info and (zombies or info[0] != "Z"):
                    pids.append(int(entry))
        return sorted(pids)

    def processes(self) -> list[int]:
        """Live processes of the sandbox but this one: all were started by the hook."""
        return self._pids()

    def describe(self, pids: list[int]) -> list[dict[str, Any]]:
        """Each process: pid, uid, command line, and the modules running when it was first seen."""
        return [
            {"pid": pid, "uid": _uid(pid), "command": _cmdline(pid), "modules": self.seen_pids.get(pid, [])}
            for pid in pids
        ]

    def wait_for_background(self, markers: dict[str, Path], hook_end: float) -> tuple[bool, float]:
        """Wait for each background module's marker until its own budget (from its start) has passed;
        (waited out, seconds waited)."""
        started = time.monotonic()
        cap = started + self.spec["background_wait"]
        reported: set[str] = set()
        while True:
            now = time.monotonic()
            missing = []
            for name, marker in markers.items():
                done = marker.exists() and marker.stat().st_size > 0
                if done and name not in reported:
                    reported.add(name)
                    self.progress(f"{name} (background): {marker.read_text(errors='replace').strip()}")
                elif not done:
                    # its own budget from its start; a module that never started gets the grace only
                    begun = self.module_starts.get(name)
                    budget = self.budgets.get(name, 0) if begun is not None else 0
                    if now < (begun or hook_end) + budget + KILL_GRACE_SECONDS + BACKGROUND_SLACK_SECONDS:
                        missing.append(name)
            if not missing:
                break
            if now > cap:
                return True, now - started
            self.serve(0.1)
            self.reap()
        waited_out = any(not (m.exists() and m.stat().st_size) for m in markers.values())
        for name in sorted(set(markers) - reported):
            self.progress(f"{name} (background): no completion marker within its budget")
        return waited_out, time.monotonic() - started

    def run(self, index: int) -> dict[str, Any]:
        spec = self.spec
        self.run_index = index
        self.active = {}
        self.module_runs = []
        self.module_starts = {}
        self.intervals = []
        background = [m for m in spec["modules"] if m["mode"] == "background"]
        log_paths = {b["name"]: Path(f"{spec['log_dir']}/{spec['hook']}.{b['name']}.log") for b in background}
        log_sizes = {name: (path.stat().st_size if path.exists() else 0) for name, path in log_paths.items()}
        out_path = self.out / f"run-{index}.out"
        self.progress(f"hook started ({len(spec['modules'])} modules)")
        started = time.monotonic()
        # As SageMaker gives up on the hook at its limit: everything the rehearsal started stops there.
        proc, timed_out = self.supervise(self.hook_command(), out_path, "/", lambda proc: self.kill_all())
        blocking = time.monotonic() - started
        hook_end = time.monotonic()
        self.popen_pids.discard(proc.pid)
        self.progress(f"hook exited {proc.returncode} after {blocking:.1f}s" + (" (killed)" if timed_out else ""))
        while True:  # requests sent just before the hook ended
            before = len(self.request_buffer)
            self.serve(0.01)
            if len(self.request_buffer) == before and not select.select([self.requests], [], [], 0)[0]:
                break
        self.close_interval()

        markers = {
            b["name"]: Path(f"{spec['persist']}/.lifecycle/markers/{spec['hook']}.{b['name']}.done") for b in background
        }
        waited_out, waited = self.wait_for_background(markers, hook_end) if background else (False, 0.0)
        settle = time.monotonic() + 5  # for background runners to exit after writing their markers
        while time.monotonic() < settle:
            self.reap()
            if not any("runner.sh" in _cmdline(p) for p in self.processes()):
                break
            self.serve(0.05)
        self.reap()
        self.close_interval()
        leftovers = [p for p in self.processes() if p not in self.known_leftovers]
        self.known_leftovers |= set(leftovers)
        logs = {}
        for name, path in log_paths.items():
            with contextlib.suppress(OSError), open(path, "rb") as handle:
                handle.seek(log_sizes[name])
                logs[name] = handle.read().decode("utf-8", "replace")
        return {
            "run": index,
            "exit": proc.returncode,
            "blocking_seconds": round(blocking, 3),
            "timed_out": timed_out,
            "output": out_path.read_text(errors="replace"),
            "modules": self.module_runs,
            "started": sorted(self.module_starts),
            "intervals": self.intervals,
            "background_logs": logs,
            "markers": {n: (m.read_text(errors="replace").strip() if m.exists() else None) for n, m in markers.items()},
            "background_waited_out": waited_out,
            "background_wait_seconds": round(waited, 1),
            "left_running": self.describe(leftovers),
        }

    def supervise(
        self, command: list[str], out_path: Path, cwd: str, at_limit: Callable[[subprocess.Popen[bytes]], None]
    ) -> tuple[subprocess.Popen[bytes], bool]:
        """Run ``command`` in a session of its own, output to ``out_path``, answering the module wrappers
        meanwhile; past the hook's time limit ``at_limit(proc)`` once. (The process, whether it was cut.)"""
        started = time.monotonic()
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                start_new_session=True,
            )  # fmt: skip
        self.popen_pids.add(proc.pid)
        timed_out = False
        while proc.poll() is None:
            self.serve(0.05)
            if not timed_out and time.monotonic() - started > self.spec["hook_limit"]:
                timed_out = True
                at_limit(proc)
        return proc, timed_out

    def run_step(self, index: int, step: dict[str, str]) -> dict[str, Any]:
        """A ``--then`` step after the runs: ``bash SCRIPT`` as root or the notebook user (from the home),
        with the hook's PATH, in this same sandbox; killed (its session) at the hook's time limit."""
        spec = self.spec
        as_user = step["user"] == "notebook-user"
        user, home = (spec["user"], spec["home"]) if as_user else ("root", "/root")
        env = {"PATH": f"{spec['control']}/bin:/sbin:/bin:/usr/sbin:/usr/bin", "HOME": home, "USER": user}
        command = ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in {**env, "LOGNAME": user}.items())]
        command += ["/bin/bash", step["script"]]
        if as_user:  # the CLI refuses a notebook-user step in a one-uid sandbox
            command = ["setpriv", f"--reuid={spec['uid']}", f"--regid={spec['gid']}", "--init-groups", "--", *command]
        self.active, self.intervals = {}, []  # a module wrapper's request now belongs to no run
        out_path = self.out / f"then-{index}.out"
        started = time.monotonic()
        proc, timed_out = self.supervise(command, out_path, home, kill_session)
        self.popen_pids.discard(proc.pid)
        self.reap()
        seconds = round(time.monotonic() - started, 3)
        with open(out_path, "rb") as handle:
            handle.seek(max(0, out_path.stat().st_size - STEP_OUTPUT_LIMIT))
            output = handle.read(STEP_OUTPUT_LIMIT).decode("utf-8", "replace")
        label = f"rehearse: {spec['label']} then {index} ({user})"
        print(f"{label}: exit {proc.returncode} after {seconds:.2f}s", file=sys.stderr, flush=True)
        return {"step": index, "user": user, "exit": proc.returncode, "seconds": seconds, "timed_out": timed_out,
                "output": output}  # fmt: skip

    def idempotence(self, first: State, second: State, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        spec = self.spec
        state_dir = f"{spec['persist'].rstrip('/')}/.lifecycle"
        logs = (spec["log_dir"], f"{state_dir}/logs", f"{state_dir}/markers")
        changes = diff(first, second, exclude=logs)
        for marker in sorted(set(first) | set(second)):  # markers: whether they exist, not their times
            if under(marker, [f"{state_dir}/markers"]) and (marker in first) != (marker in second):
                changes.append({"path": marker, "change": "created" if marker in second else "deleted"})
        last = runs[-1]["intervals"]
        for change in changes:
            change["modules"] = sorted(
                {m for i in last for m in i["modules"] for c in i["changes"] if c["path"] == change["path"]}
            )
        return changes

    def keep(self, baseline: State, final: State) -> None:
        """Copy what differs from the start (final state) to out/changed, for a look afterwards."""
        for change in diff(baseline, final):
            after = change["after"]
            if after is None:
                continue
            dest = self.out / "changed" / change["path"].lstrip("/")
            with contextlib.suppress(OSError):
                dest.parent.mkdir(parents=True, exist_ok=True)
                if after["kind"] == "dir":
                    dest.mkdir(exist_ok=True)
                elif after["kind"] == "link":
                    os.symlink(after["target"], dest)
                elif after["kind"] == "file":
                    dest.write_bytes(Path(change["path"]).read_bytes())

    def kill_all(self) -> None:
        """SIGKILL every other process of the sandbox (until none is left), and collect them."""
        for _ in range(100):
            if not self.processes():
                break
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)
            time.sleep(0.02)
            self.reap()

    def stop_everything(self) -> list[dict[str, Any]]:
        """Kill every process the hook started and collect them; returns what was still running."""
        described = self.describe(self.processes())
        self.kill_all()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.01)
        return described

    def _owners(self) -> dict[str, dict[str, str]]:
        """uid and gid -> name, as the sandbox's passwd and group files say."""
        owners: dict[str, dict[str, str]] = {"users": {}, "groups": {}}
        for key, name in (("users", "passwd"), ("groups", "group")):
            with contextlib.suppress(OSError):
                for line in Path(f"/etc/{name}").read_text().splitlines():
                    parts = line.split(":")
                    if len(parts) > 2:
                        owners[key].setdefault(parts[2], parts[0])
        return owners

    def main(self) -> int:
        spec = self.spec
        result = self.results
        try:
            self.setup()
            self.install_fifo()
            result["user"] = {"name": spec["user"], "uid": spec["uid"], "gid": spec["gid"]}
            self.last = baseline = self.snapshot()
            finals: list[State] = []
            for index in range(1, spec["runs"] + 1):
                result["runs"].append(self.run(index))
                finals.append(self.last)
            if len(finals) > 1:
                result["idempotence"] = self.idempotence(finals[0], finals[-1], result["runs"])
            result["owners"] = self._owners()
            if spec.get("keep"):
                self.keep(baseline, self.last)
            for index, step in enumerate(spec.get("then", []), 1):
                result.setdefault("then", []).append(self.run_step(index, step))
        except Exception as err:  # reported to the CLI, which prints it with the hook's name
            result["error"] = f"{type(err).__name__}: {err}"
        finally:
            result["killed_at_end"] = self.stop_everything()
            (self.out / "result.json").write_text(json.dumps(result, indent=1))
        return 0


if __name__ == "__main__":
    sys.exit(Engine(json.loads(Path(sys.argv[1]).read_text())).main())
