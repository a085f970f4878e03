"""The part of a rehearsal that runs next to the hook: builds the instance-like root, runs the hook,
watches what each module changes, and writes the raw results as JSON.

This file imports nothing but the standard library, because it is started as a script
(``python -I engine.py SPEC``): in namespace mode it is process 1 of a private PID, mount, network,
UTS and IPC namespace (``unshare``), so that every process the hook leaves behind dies with it, and
no mount it makes is seen outside. In directory mode it is a child subreaper of the processes it
starts, so that it can find and stop detached ones.

Namespace root (``self.root``): a tmpfs skeleton whose top-level entries are
  * overlays of this machine's top-level directories (``/usr``, ``/etc``, ``/var``, ``/opt``...):
    reads come from the machine, every write lands in an upper directory on a tmpfs that only this
    namespace sees; directories that must look fresh (``/etc/profile.d``, the cron spool, ``/opt/ml``,
    ``/var/tmp``...) are opaque directories of the upper layer;
  * fresh directories for ``/home``, ``/root``, ``/tmp`` and ``/run``;
  * a private ``/proc`` (of the new PID namespace), a minimal ``/dev`` and a read-only ``/sys``;
  * ``/run/lcc-rehearse``: a bind mount of the control directory (stubs, hook, fifo, call log).
What changed is therefore exactly what the upper layers and the fresh directories hold, which is
what a snapshot walks.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import select
import shlex
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CONTROL_MOUNT = "/run/lcc-rehearse"
KILL_GRACE_SECONDS = 2
PR_SET_CHILD_SUBREAPER = 36
TEXT_LIMIT = 16384
SPECIAL_TOP = ("proc", "sys", "dev")
FRESH_TOP = ("home", "root", "tmp", "run")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
SYSTEM_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"
FIXED_SHADOW_DAYS = 19000

Entry = dict[str, Any]
State = dict[str, Entry]

# -- programs written into the root ---------------------------------------------------------------
# Every stand-in records its call as one line: user, program, arguments (each shell-quoted).
RECORD = r"""line="$(id -un 2>/dev/null || id -u)"$'\t'"${0##*/}"
for arg in "$@"; do printf -v arg '%q' "$arg"; line+=$'\t'"$arg"; done
printf '%s\n' "$line" >>"$calls" 2>/dev/null || true"""

STUB_BODIES: dict[str, str] = {
    # systemd: every unit is loaded and active, every action succeeds.
    "systemctl": r"""verb="" prop="" quiet=0
while [ $# -gt 0 ]; do
  case "$1" in
    -p | --property) prop="${2-}"; shift 2 ;;
    --property=*) prop="${1#*=}"; shift ;;
    -q | --quiet) quiet=1; shift ;;
    -*) shift ;;
    *) if [ -z "$verb" ]; then verb="$1"; fi; shift ;;
  esac
done
case "$verb" in
  is-active) [ "$quiet" = 1 ] || echo active ;;
  is-enabled) [ "$quiet" = 1 ] || echo enabled ;;
  show)
    case "$prop" in
      LoadState) echo LoadState=loaded ;;
      ActiveState) echo ActiveState=active ;;
      "") ;;
      *) echo "$prop=" ;;
    esac ;;
esac
exit 0""",
    # upstart: every job is running, every action succeeds.
    "initctl": r"""if [ "${1-}" = status ]; then echo "${2-job} start/running, process 1"; fi
exit 0""",
    # sudo [-n] [-u USER] [-g GROUP] [-i] [-H] [-E] [--] CMD...: runs CMD as the calling user.
    "sudo": r"""while [ $# -gt 0 ]; do
  case "$1" in
    -u | -g | -C | -D | -p | -r | -t | -U) shift 2 ;;
    --) shift; break ;;
    -*) shift ;;
    *) break ;;
  esac
done
exec "$@"
""",
    # crontab [-u USER] (-l | -r | - | FILE): one spool file per user under the root.
    "crontab": r"""u="$(id -un)"
if [ "${1-}" = -u ]; then u="$2"; shift 2; fi
spool="${LCC_ROOT-}/var/spool/cron/$u"
mkdir -p "${spool%/*}"
case "${1-}" in
  -l) [ -f "$spool" ] || { echo "no crontab for $u" >&2; exit 1; }; cat "$spool" ;;
  -r) rm -f "$spool" ;;
  - | "") cat >"$spool" ;;
  *) cat "$1" >"$spool" ;;
esac""",
}

USERNS_MIRRORED = ("/etc", "/var", "/opt", "/usr/local")
"""Directory trees copied into the upper layers in a user namespace, so that modules can create files there."""

DEFAULT_STUBS = (
    "systemctl",
    "initctl",
    "service",
    "amazon-ssm-agent",
    "rpm",
    "yum",
    "dnf",
    "reboot",
    "shutdown",
    "poweroff",
    "halt",
)
"""Commands that only make sense on an instance, or act on the whole machine."""

TIMEOUT_WRAPPER = r"""#!/bin/bash
# timeout(1) as the rehearsal sees it. When the runner starts a module (its command line is
# "... env -i ... MODULE_NAME=<name> ..."), the rehearsal is told before and after, so that it can
# take a snapshot of the root around the module; every other call is the real timeout.
real=@REAL@
ctl=@CTL@
name="" seen_env=0
for arg in "$@"; do
  case "$arg" in
    env) seen_env=1 ;;
    MODULE_NAME=*) if [ "$seen_env" = 1 ]; then name="${arg#MODULE_NAME=}"; break; fi ;;
  esac
done
if [ -z "$name" ] || [ ! -p "$ctl/requests" ]; then exec "$real" "$@"; fi
# One fifo per answer: a fifo reused for the second answer could still be open from the first.
ack="$ctl/ack.$$"
rm -f "$ack.begin" "$ack.end"
mkfifo -m 0600 "$ack.begin" "$ack.end" || exec "$real" "$@"
printf 'begin\t%s\t%s\n' "$$" "$name" >"$ctl/requests"
read -r _ <"$ack.begin"
"$real" "$@"
rc=$?
printf 'end\t%s\t%s\t%s\n' "$$" "$name" "$rc" >"$ctl/requests"
read -r _ <"$ack.end"
rm -f "$ack.begin" "$ack.end"
exit "$rc"
"""


def stub_program(name: str, calls: str) -> str:
    """A recording stand-in for ``name``: records the call in ``calls``, then acts like the command."""
    body = STUB_BODIES.get(name, "exit 0")
    # sudo only stands in where there are no other users: its calls are the runner's, not news.
    record = "" if name == "sudo" else f"calls={shlex.quote(calls)}\n{RECORD}\n"
    return (
        f"#!/bin/bash\n# Stand-in for {name}, installed by the rehearsal: "
        f"{'' if name == 'sudo' else 'records the call, then '}"
        f"{'behaves as described in constructs_lib/rehearse/engine.py' if name in STUB_BODIES else 'succeeds'}.\n"
        f"{record}{body}\n"
    )


def timeout_wrapper(real: str, ctl: str) -> str:
    return TIMEOUT_WRAPPER.replace("@REAL@", shlex.quote(real)).replace("@CTL@", shlex.quote(ctl))


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
    if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
        return {"kind": "absent"}  # an overlay whiteout: deleted here
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
    if a is None or a.get("kind") == "absent":
        return b is None or b.get("kind") == "absent"
    if b is None or b.get("kind") == "absent":
        return False
    keys = ("kind", "mode", "uid", "gid", "sha256", "target")
    return all(a.get(k) == b.get(k) for k in keys)


def public(entry: Entry | None) -> Entry | None:
    """An entry without its text, for the results file."""
    if entry is None or entry.get("kind") == "absent":
        return None
    return {k: v for k, v in entry.items() if k != "text"}


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


def _first_line(err: Exception) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


# -- processes --------------------------------------------------------------------------------------
def _proc_stat(proc: str, pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of ``pid`` from the procfs at ``proc``."""
    try:
        data = Path(f"{proc}/{pid}/stat").read_text()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def _cmdline(proc: str, pid: int) -> str:
    try:
        raw = Path(f"{proc}/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(shlex.quote(part) for part in raw.decode("utf-8", "replace").split("\0") if part)


def _uid(proc: str, pid: int) -> int:
    try:
        for line in Path(f"{proc}/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1


class Engine:
    """One hook, rehearsed ``runs`` times in one instance-like root."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.namespace = spec["mode"] == "namespace"
        self.userns = bool(spec.get("userns"))
        self.work = Path(spec["workdir"])
        self.control = self.work / "control"
        self.ctl_dir = self.control / "ctl"
        self.layers: dict[str, str] = {}
        self.fresh: list[str] = []
        self.notes: list[str] = []
        self.popen_pids: set[int] = set()
        self.known_leftovers: set[int] = set()
        self.results: dict[str, Any] = {"notes": self.notes, "runs": []}
        self.user = spec["user"]
        self.uid = 0
        self.gid = 0
        self.calls_offset = 0
        if self.namespace:
            self.state_dir = self.work / "ns"
            self.root = self.state_dir / "root"
            self.proc = str(self.root / "proc")
            self.inner_control = CONTROL_MOUNT
        else:
            self.state_dir = self.work
            self.root = self.work / "root"
            self.proc = "/proc"
            self.inner_control = str(self.control)
        self.lower_cache: dict[str, Entry | None] = {}
        self.last: State = {}
        self.active: dict[str, tuple[str, float]] = {}
        self.intervals: list[dict[str, Any]] = []
        self.module_runs: list[dict[str, Any]] = []
        self.module_starts: list[str] = []
        self.requests = -1
        self.seen_pids: dict[int, list[str]] = {}
        self.request_buffer = b""

    # -- paths ------------------------------------------------------------------------------------
    def at(self, rel: str) -> Path:
        """The engine's path of ``rel``, an absolute path inside the instance-like root."""
        return self.root / rel.lstrip("/")

    def _under(self, rel: str, prefixes: list[str]) -> bool:
        return any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in prefixes)

    # -- building the root ----------------------------------------------------------------------
    def _mount(self, *args: str) -> None:
        result = subprocess.run(
            ["mount", *args], capture_output=True, text=True, env={"PATH": SYSTEM_PATH, "LC_ALL": "C"}
        )
        if result.returncode != 0:
            message = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[0]
            raise OSError(f"mount {args[-1]}: {message.split(': ')[-1]}")

    def _free_id(self, files: tuple[str, ...], start: int = 1000) -> int:
        used: set[int] = set()
        for name in files:
            with contextlib.suppress(OSError):
                for line in Path(name).read_text().splitlines():
                    parts = line.split(":")
                    if len(parts) > 2 and parts[2].isdigit():
                        used.add(int(parts[2]))
        value = start
        while value in used:
            value += 1
        return value

    def _chown(self, path: Path, uid: int, gid: int) -> None:
        with contextlib.suppress(OSError):
            os.lchown(path, uid, gid)

    def _mkdirs_like_host(self, base: Path, rel_parts: list[str], host_prefix: str) -> Path:
        """Create ``base/parts...``, each directory with the mode and owner of the host's same path."""
        path = base
        host = host_prefix
        for part in rel_parts:
            path = path / part
            host = f"{host}/{part}"
            if not path.exists():
                path.mkdir()
                info = os.stat(host) if os.path.isdir(host) else None
                os.chmod(path, stat.S_IMODE(info.st_mode) if info else 0o755)
                if info and not self.userns:
                    self._chown(path, info.st_uid, info.st_gid)
        return path

    def _fresh(self, rel: str, mode: int, uid: int = 0, gid: int = 0) -> Path:
        """A fresh (empty, opaque) directory at ``rel``; call before the overlay of its top is mounted."""
        parts = rel.strip("/").split("/")
        top = parts[0]
        if top in self.layers:
            upper = self.state_dir / "layers" / top / "upper"
            parent = self._mkdirs_like_host(upper, parts[1:-1], "/" + top)
            path = parent / parts[-1]
            path.mkdir(exist_ok=True)
            name = "user.overlay.opaque" if self.userns else "trusted.overlay.opaque"
            os.setxattr(path, name, b"y")
        else:
            parent = self._mkdirs_like_host(self.root, parts[:-1], "")
            path = parent / parts[-1]
            path.mkdir(exist_ok=True)
        os.chmod(path, mode)
        if not self.userns:
            self._chown(path, uid, gid)
        self.fresh.append("/" + "/".join(parts))
        return path

    def _write(self, path: Path, text: str, mode: int = 0o644) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.chmod(path, mode)

    def build_namespace_root(self) -> None:
        os.chdir("/")
        self.state_dir.mkdir(exist_ok=True)
        self._mount("-t", "tmpfs", "-o", "mode=0755", "rehearsal-state", str(self.state_dir))
        self.root.mkdir()
        os.chmod(self.root, 0o755)  # noqa: S103  # "/" of the instance-like root
        (self.state_dir / "layers").mkdir()
        tops = sorted(os.listdir("/"))
        for top in tops:
            host = "/" + top
            target = self.root / top
            if os.path.islink(host):
                os.symlink(os.readlink(host), target)
            elif not os.path.isdir(host):
                continue
            elif top in SPECIAL_TOP or top in FRESH_TOP:
                target.mkdir()
                info = os.stat(host)
                os.chmod(target, stat.S_IMODE(info.st_mode))
            else:
                target.mkdir()
                layer = self.state_dir / "layers" / top
                (layer / "upper").mkdir(parents=True)
                (layer / "work").mkdir()
                info = os.stat(host)
                os.chmod(layer / "upper", stat.S_IMODE(info.st_mode))
                if not self.userns:
                    self._chown(layer / "upper", info.st_uid, info.st_gid)
                self.layers[top] = "overlay"
        for top in FRESH_TOP:
            if not (self.root / top).exists():
                (self.root / top).mkdir()
        os.chmod(self.root / "tmp", 0o1777)  # noqa: S103  # /tmp is world-writable and sticky
        os.chmod(self.root / "root", 0o700)
        self.fresh += ["/home", "/root", "/tmp", "/run"]

        # Fresh directories inside the overlays, and files an instance has, before mounting.
        self._prepare_instance_dirs()
        if self.userns:
            for rel in USERNS_MIRRORED:
                self._mirror_dirs(rel)
        for top in list(self.layers):
            layer = self.state_dir / "layers" / top
            options = f"lowerdir=/{top},upperdir={layer / 'upper'},workdir={layer / 'work'}"
            if self.userns:
                options += ",userxattr"
            try:
                self._mount("-t", "overlay", "-o", options, f"rehearsal-{top}", str(self.root / top))
            except OSError as err:
                if self._read_only_bind(f"/{top}", self.root / top):
                    self.layers[top] = "read-only"
                    self.notes.append(f"/{top} is this machine's, read-only (no overlay: {_first_line(err)})")
                else:
                    self.layers[top] = "empty"
                    self.notes.append(f"/{top} is an empty directory (no overlay: {_first_line(err)})")
        self._special_mounts()
        self._identity()
        self._mount("--bind", str(self.control), str(self.root / CONTROL_MOUNT.lstrip("/")))

    def _read_only_bind(self, source: str, target: Path) -> bool:
        """Bind ``source`` (with its submounts) at ``target``, every mount of it read-only; or nothing."""
        try:
            self._mount("--rbind", source, str(target))
        except OSError:
            return False
        mounts = []
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].encode().decode("unicode_escape")
            if point == str(target) or point.startswith(f"{target}/"):
                mounts.append(point)
        try:
            for point in mounts:
                self._mount("-o", "remount,bind,ro", point)
        except OSError:
            subprocess.run(["umount", "-R", "-l", str(target)], capture_output=True, env={"PATH": SYSTEM_PATH})
            return False
        return True

    def _mirror_dirs(self, rel: str) -> None:
        """(User namespace) copy the directory tree under ``rel`` into its upper layer, so that files
        can be created there: the overlay cannot copy up directories owned by users it cannot map."""
        top = rel.strip("/").split("/")[0]
        if self.layers.get(top) != "overlay":
            return
        upper = self.state_dir / "layers" / top / "upper"
        for dirpath, dirnames, _ in os.walk("/" + rel.strip("/")):
            inner = Path(dirpath).relative_to("/" + top)
            if self._under("/" + top + ("/" + str(inner) if str(inner) != "." else ""), self.fresh):
                dirnames[:] = []
                continue
            self._mkdirs_like_host(upper, [p for p in inner.parts if p], "/" + top)
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]

    def _prepare_instance_dirs(self) -> None:
        spec = self.spec
        self._fresh("/etc/profile.d", 0o755)
        self._fresh("/var/tmp", 0o1777)
        self._fresh("/opt/ml", 0o755)
        self._write(self._fresh("/opt/ml/metadata", 0o755) / "resource-metadata.json", spec["resource_metadata"])
        spool = self._fresh("/var/spool/cron", 0o755)
        if os.path.isdir("/var/spool/cron/crontabs"):
            info = os.stat("/var/spool/cron/crontabs")
            (spool / "crontabs").mkdir()
            os.chmod(spool / "crontabs", stat.S_IMODE(info.st_mode))
            if not self.userns:
                self._chown(spool / "crontabs", info.st_uid, info.st_gid)
        for rel in (
            "/var/lib/sagemaker-lifecycle",
            "/var/log/sagemaker-lifecycle",
            "/usr/local/lib/sagemaker-lifecycle",
        ):
            if os.path.exists(rel):
                self._fresh(rel, 0o755)
        (self.root / CONTROL_MOUNT.lstrip("/")).mkdir(parents=True)
        if spec["target"] == "notebook-instance":
            # Notebook instances boot with systemd (Amazon Linux 2 and 2023).
            (self.root / "run/systemd/system").mkdir(parents=True)
        for name in ("lock", "user"):
            (self.root / "run" / name).mkdir(exist_ok=True)
        os.chmod(self.root / "run/lock", 0o1777)  # noqa: S103  # as on an instance

    def _special_mounts(self) -> None:
        root = self.root
        self._mount("-t", "proc", "-o", "nosuid,nodev,noexec", "proc", str(root / "proc"))
        self._mount("-t", "tmpfs", "-o", "mode=0755,nosuid", "rehearsal-dev", str(root / "dev"))
        for name in DEVICES:
            if os.path.exists(f"/dev/{name}"):
                (root / "dev" / name).touch()
                self._mount("--bind", f"/dev/{name}", str(root / "dev" / name))
        for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1")):
            os.symlink(target, root / "dev" / name)
        os.symlink("/proc/self/fd/2", root / "dev" / "stderr")
        (root / "dev" / "shm").mkdir()
        self._mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "rehearsal-shm", str(root / "dev" / "shm"))
        try:
            self._mount("-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs", str(root / "sys"))
        except OSError as err:
            self.notes.append(f"/sys is empty ({err})")

    def _etc_file(self, name: str, text: str, mode: int = 0o644) -> None:
        """Replace /etc/<name> in the root: through the overlay, or (user namespace) by a bind mount."""
        target = self.root / "etc" / name
        if self.layers.get("etc") == "overlay" and not self.userns:
            target.write_text(text)
            return
        copy = self.control / "etc" / name
        self._write(copy, text, mode)
        if target.exists():
            self._mount("--bind", str(copy), str(target))

    def _identity(self) -> None:
        """Host name, /etc/hosts, and the notebook user in passwd, group and shadow."""
        hostname = self.spec["hostname"]
        with contextlib.suppress(OSError):
            socket.sethostname(hostname)
        self._etc_file("hostname", hostname + "\n")
        self._etc_file("hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n::1\tlocalhost ip6-localhost\n")
        self.uid = self._free_id(("/etc/passwd",))
        self.gid = self._free_id(("/etc/group",), self.uid)
        user = self.user
        additions = {
            "passwd": f"{user}:x:{self.uid}:{self.gid}:{user}:{self.spec['home']}:/bin/bash\n",
            "group": f"{user}:x:{self.gid}:\n",
            "shadow": f"{user}:!!:{FIXED_SHADOW_DAYS}:0:99999:7:::\n",
            "gshadow": f"{user}:!::\n",
        }
        for name, line in additions.items():
            host = Path("/etc") / name
            try:
                current = host.read_text()
            except OSError:
                continue
            if current and not current.endswith("\n"):
                current += "\n"
            self._etc_file(name, current + line, stat.S_IMODE(os.stat(host).st_mode))
        self._make_home()

    def _make_home(self) -> None:
        spec = self.spec
        home = self.at(spec["home"])
        persist = self.at(spec["persist"])
        studio = spec["target"] == "studio"
        home.mkdir(parents=True, exist_ok=True)
        os.chmod(home, 0o755 if studio else 0o700)
        persist.mkdir(parents=True, exist_ok=True)
        os.chmod(persist, 0o755)  # noqa: S103  # the volume's root, as on an instance
        if self.namespace and not self.userns:
            self._chown(home, self.uid, self.gid)
            self._chown(persist, self.uid, self.gid)

    def build_directory_root(self) -> None:
        """The weaker sandbox: a directory stands in for / through LCC_ROOT."""
        spec = self.spec
        self.root.mkdir()
        for rel, mode in (
            ("etc/profile.d", 0o755),
            ("opt/ml/metadata", 0o755),
            ("var/spool/cron", 0o755),
            ("var/tmp", 0o1777),
            ("tmp", 0o1777),
            ("root", 0o700),
        ):
            (self.root / rel).mkdir(parents=True, exist_ok=True)
            os.chmod(self.root / rel, mode)
        self._write(self.root / "opt/ml/metadata/resource-metadata.json", spec["resource_metadata"])
        if spec["target"] == "notebook-instance":
            (self.root / "run/systemd/system").mkdir(parents=True)
        self.uid, self.gid = os.getuid(), os.getgid()
        self._make_home()

    def install_programs(self) -> None:
        """Stand-ins and the timeout wrapper in control/bin (first on the hook's PATH), the hook file."""
        bin_dir = self.control / "bin"
        bin_dir.mkdir(exist_ok=True)
        calls = f"{self.inner_control}/calls.log"
        for name in self.spec["stubs"]:
            self._write(bin_dir / name, stub_program(name, calls), 0o755)
        real = next(
            (f"{d}/timeout" for d in ("/usr/bin", "/bin") if os.access(f"{d}/timeout", os.X_OK)), "/usr/bin/timeout"
        )
        self._write(bin_dir / "timeout", timeout_wrapper(real, f"{self.inner_control}/ctl"), 0o755)
        self.ctl_dir.mkdir(exist_ok=True)
        os.chmod(self.ctl_dir, 0o1777)  # noqa: S103  # the wrapper makes its fifo here as any user
        calls_file = self.control / "calls.log"
        calls_file.touch()
        os.chmod(calls_file, 0o666)  # noqa: S103  # stand-ins record calls as any user
        os.chmod(self.control, 0o755)  # noqa: S103  # programs in it run as the notebook user
        fifo = self.ctl_dir / "requests"
        os.mkfifo(fifo)
        os.chmod(fifo, 0o666)  # noqa: S103  # written by the wrapper as any user
        self.requests = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        self.request_buffer = b""

    # -- snapshots ----------------------------------------------------------------------------------
    def _walk(self, base: Path, rel: str, state: State, skip: tuple[str, ...]) -> None:
        try:
            info = os.lstat(base)
        except OSError:
            return
        entry = entry_of(str(base), info)
        if entry is None:
            return
        state[rel] = entry
        if entry["kind"] != "dir":
            return
        try:
            names = sorted(os.listdir(base))
        except OSError:
            return
        for name in names:
            child = f"{rel.rstrip('/')}/{name}"
            if child in skip:
                continue
            self._walk(base / name, child, state, skip)

    def snapshot(self) -> State:
        state: State = {}
        skip = (CONTROL_MOUNT,) if self.namespace else ()
        for top in sorted(os.listdir(self.root)):
            if self.namespace and top in SPECIAL_TOP:
                continue
            layer = self.layers.get(top)
            if layer == "overlay":
                self._walk(self.state_dir / "layers" / top / "upper", "/" + top, state, skip)
            elif layer is None:
                self._walk(self.root / top, "/" + top, state, skip)
        return state

    def lower(self, rel: str) -> Entry | None:
        """What the instance-like root shows at ``rel`` when its upper layer holds nothing there."""
        if not self.namespace:
            return None
        top = rel.strip("/").split("/")[0]
        if self.layers.get(top) != "overlay" or self._under(rel, self.fresh):
            return None
        if rel not in self.lower_cache:
            self.lower_cache[rel] = entry_of(rel)
        return self.lower_cache[rel]

    def effective(self, state: State, rel: str) -> Entry | None:
        entry = state[rel] if rel in state else self.lower(rel)
        return None if entry is None or entry.get("kind") == "absent" else entry

    def diff(self, before: State, after: State, *, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        changes = []
        for rel in sorted(set(before) | set(after)):
            if exclude and self._under(rel, list(exclude)):
                continue
            old, new = self.effective(before, rel), self.effective(after, rel)
            if same(old, new):
                continue
            change = "created" if old is None else "deleted" if new is None else "modified"
            record: dict[str, Any] = {"path": rel, "change": change, "before": public(old), "after": public(new)}
            lines = text_diff(old, new, rel) if change == "modified" else []
            if lines:
                record["diff"] = lines
            changes.append(record)
        return changes

    # -- running --------------------------------------------------------------------------------------
    def hook_command(self) -> tuple[list[str], dict[str, str], str]:
        spec = self.spec
        script = f"{self.inner_control}/hooks/{spec['script']}"
        path = f"{self.inner_control}/bin:{SYSTEM_PATH}"
        as_user = spec["target"] == "studio"
        home = spec["home"] if as_user else "/root"
        env = {"PATH": path, "HOME": home, "USER": self.user if as_user else "root"}
        env["LOGNAME"] = env["USER"]
        if not self.namespace:
            env["LCC_ROOT"] = str(self.root)
            return ["/bin/bash", script], env, "/"
        chroot = ["chroot"]
        if as_user and not self.userns:
            chroot += [f"--userspec={self.uid}:{self.gid}", f"--groups={self.gid}"]
        inner = ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items()), "/bin/bash", script]
        return [*chroot, str(self.root), *inner], {"PATH": SYSTEM_PATH}, "/"

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
                self.module_starts.append(fields[2])
            elif fields[0] == "end" and len(fields) == 4:
                ended = time.monotonic()
                self.close_interval()
                name, started = self.active.pop(fields[1], (fields[2], ended))
                self.module_runs.append(
                    {"module": name, "exit": int(fields[3]), "seconds": round(ended - started, 3), "pid": fields[1]}
                )
            else:
                continue
            self._ack(fields[1], fields[0])

    def _new_calls(self) -> list[str]:
        with open(self.control / "calls.log", "rb") as handle:
            handle.seek(self.calls_offset)
            data = handle.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.calls_offset += len(complete)
        return [line for line in complete.decode("utf-8", "replace").splitlines() if line]

    def close_interval(self) -> None:
        """Snapshot now; what changed since the last one belongs to the modules running meanwhile."""
        current = self.snapshot()
        changes = self.diff(self.last, current)
        calls = self._new_calls()
        modules = sorted({name for name, _ in self.active.values()})
        if changes or calls:
            self.intervals.append({"modules": modules, "changes": changes, "calls": calls})
        self.last = current
        for pid in self.processes():
            self.seen_pids.setdefault(pid, modules)

    def reap(self) -> None:
        """Collect exited orphans (adopted by this process), but never a child subprocess still tracks."""
        for entry in os.listdir(self.proc):
            if not entry.isdigit():
                continue
            info = _proc_stat(self.proc, int(entry))
            if info and info[0] == "Z" and info[1] == os.getpid() and int(entry) not in self.popen_pids:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(int(entry), os.WNOHANG)

    def processes(self) -> list[int]:
        """Live processes this rehearsal started (all of the PID namespace, or this process's descendants)."""
        me = os.getpid()
        parents: dict[int, int] = {}
        for entry in os.listdir(self.proc):
            if entry.isdigit():
                info = _proc_stat(self.proc, int(entry))
                if info and info[0] != "Z":
                    parents[int(entry)] = info[1]
        if self.namespace:
            return sorted(pid for pid in parents if pid != me)
        found: set[int] = set()
        frontier = {me}
        while frontier:
            frontier = {pid for pid, parent in parents.items() if parent in frontier and pid not in found}
            found |= frontier
        return sorted(found)

    def describe(self, pids: list[int]) -> list[dict[str, Any]]:
        """Each process: pid, uid, command line, and the modules running when it was first seen."""
        return [
            {
                "pid": pid,
                "uid": _uid(self.proc, pid),
                "command": _cmdline(self.proc, pid),
                "modules": self.seen_pids.get(pid, []),
            }
            for pid in pids
        ]

    def run(self, index: int) -> dict[str, Any]:
        spec = self.spec
        self.active = {}
        self.module_runs = []
        self.module_starts = []
        self.intervals = []
        background = spec["background"]
        log_paths = {b["name"]: self.at(f"{spec['log_dir']}/{spec['hook']}.{b['name']}.log") for b in background}
        log_sizes = {name: (path.stat().st_size if path.exists() else 0) for name, path in log_paths.items()}
        command, env, cwd = self.hook_command()
        out_path = self.control / f"run-{index}.out"
        started = time.monotonic()
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                start_new_session=True,
            )  # fmt: skip
        self.popen_pids.add(proc.pid)
        timed_out = False
        while proc.poll() is None:
            self.serve(0.05)
            if time.monotonic() - started > spec["hook_limit"]:
                # As SageMaker gives up on the hook: everything the rehearsal started stops here.
                timed_out = True
                self.kill_all()
                proc.wait()
        blocking = time.monotonic() - started
        self.popen_pids.discard(proc.pid)
        while True:  # requests sent just before the hook ended
            before = len(self.request_buffer)
            self.serve(0.01)
            if len(self.request_buffer) == before and not select.select([self.requests], [], [], 0)[0]:
                break
        self.close_interval()

        # Background modules: wait (bounded) for their markers, then for their processes to end.
        markers = {
            b["name"]: self.at(f"{spec['persist']}/.lifecycle/markers/{spec['hook']}.{b['name']}.done")
            for b in background
        }
        wait = min(spec["background_wait"], max((b["budget"] for b in background), default=0) + KILL_GRACE_SECONDS + 15)
        deadline = time.monotonic() + (wait if background else 0)
        waited_out = False
        while background and not all(m.exists() and m.stat().st_size for m in markers.values()):
            if time.monotonic() > deadline:
                waited_out = True
                break
            self.serve(0.1)
            self.reap()
        settle = time.monotonic() + 5  # for background runners to exit after writing their markers
        while time.monotonic() < settle:
            self.reap()
            if not any("runner.sh" in _cmdline(self.proc, p) for p in self.processes()):
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
            "started": self.module_starts,
            "intervals": self.intervals,
            "background_logs": logs,
            "markers": {n: (m.read_text(errors="replace").strip() if m.exists() else None) for n, m in markers.items()},
            "background_waited_out": waited_out,
            "background_wait_seconds": wait if background else 0,
            "left_running": self.describe(leftovers),
        }

    def idempotence(self, first: State, second: State, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        spec = self.spec
        state_dir = f"{spec['persist'].rstrip('/')}/.lifecycle"
        logs = (spec["log_dir"], f"{state_dir}/logs", f"{state_dir}/markers")
        changes = self.diff(first, second, exclude=logs)
        for marker in sorted(set(first) | set(second)):  # markers: whether they exist, not their times
            if self._under(marker, [f"{state_dir}/markers"]) and (marker in first) != (marker in second):
                changes.append({"path": marker, "change": "created" if marker in second else "deleted"})
        last = runs[-1]["intervals"]
        for change in changes:
            change["modules"] = sorted(
                {
                    m
                    for interval in last
                    for m in interval["modules"]
                    for c in interval["changes"]
                    if c["path"] == change["path"]
                }
            )
        return changes

    def keep(self, target: Path, baseline: State, final: State) -> None:
        """Copy what differs from the start (final state) to ``target``/changed, for a look afterwards."""
        for change in self.diff(baseline, final):
            after = change["after"]
            if after is None:
                continue
            dest = target / "changed" / change["path"].lstrip("/")
            source = self.state_dir / "layers" / change["path"].lstrip("/").split("/")[0] / "upper"
            source = source.joinpath(*change["path"].strip("/").split("/")[1:])
            if not self.namespace or (not source.exists() and not source.is_symlink()):
                source = self.at(change["path"])
            with contextlib.suppress(OSError):
                dest.parent.mkdir(parents=True, exist_ok=True)
                if after["kind"] == "dir":
                    dest.mkdir(exist_ok=True)
                elif after["kind"] == "link":
                    os.symlink(after["target"], dest)
                elif after["kind"] == "file":
                    dest.write_bytes(source.read_bytes())

    def kill_all(self) -> None:
        """SIGKILL every process this rehearsal started (until none is left), and collect the orphans."""
        for _ in range(100):
            pids = self.processes()
            if not pids:
                break
            if self.namespace:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(-1, signal.SIGKILL)
            else:
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
            self.reap()

    def stop_everything(self) -> list[dict[str, Any]]:
        """Kill every process this rehearsal started and collect them; returns what was still running."""
        described = self.describe(self.processes())
        self.kill_all()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # collect every child (all are dead by now)
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.01)
        return described

    def main(self) -> int:
        spec = self.spec
        result = self.results
        try:
            if not self.namespace:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
                self.build_directory_root()
            else:
                self.build_namespace_root()
            self.install_programs()
            result["user"] = {"name": self.user, "uid": self.uid, "gid": self.gid}
            result["layout"] = dict(self.layers)
            result["root"] = str(self.root)
            self.active = {}
            self.intervals = []
            self.last = baseline = self.snapshot()
            finals: list[State] = []
            for index in range(1, spec["runs"] + 1):
                result["runs"].append(self.run(index))
                finals.append(self.last)
            if len(finals) > 1:
                result["idempotence"] = self.idempotence(finals[0], finals[-1], result["runs"])
            result["owners"] = self._owners()
            if spec.get("keep"):
                self.keep(Path(spec["keep"]), baseline, self.last)
        except Exception as err:  # reported to the CLI, which prints it with the hook's name
            result["error"] = f"{type(err).__name__}: {err}"
        finally:
            result["killed_at_end"] = self.stop_everything()
            (self.control / "result.json").write_text(json.dumps(result, indent=1))
        return 0

    def _owners(self) -> dict[str, dict[str, str]]:
        """uid and gid -> name, as the root's passwd and group files say."""
        owners: dict[str, dict[str, str]] = {"users": {}, "groups": {}}
        for key, name in (("users", "passwd"), ("groups", "group")):
            with contextlib.suppress(OSError):
                for line in (self.root / "etc" / name).read_text().splitlines():
                    parts = line.split(":")
                    if len(parts) > 2:
                        owners[key].setdefault(parts[2], parts[0])
        if not self.namespace:  # the sandbox's files belong to this machine's users
            for key, name in (("users", "passwd"), ("groups", "group")):
                with contextlib.suppress(OSError):
                    for line in (Path("/etc") / name).read_text().splitlines():
                        parts = line.split(":")
                        if len(parts) > 2:
                            owners[key].setdefault(parts[2], parts[0])
        if not owners["users"]:
            owners["users"].setdefault(str(self.uid), self.user)
            owners["users"].setdefault("0", "root")
            owners["groups"].setdefault("0", "root")
        return owners


if __name__ == "__main__":
    spec_path = Path(sys.argv[1])
    sys.exit(Engine(json.loads(spec_path.read_text())).main())
