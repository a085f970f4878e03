"""The rehearsal's sandbox: bubblewrap, with our policy.

Policy (what the hook sees):
  * new user, mount, PID, IPC, UTS, network and cgroup namespaces; ``pivot_root`` into a fresh root;
    no network at all; a new session; the sandbox dies with the rehearsal (``--die-with-parent``);
  * this machine's system directories (``/usr``, ``/bin``, ``/lib*``, ``/sbin``, ``/var``) bound
    read-only; its home directories, ``/root``, ``/tmp``, ``/run``, ``/opt``, ``/srv``, ``/mnt`` and
    everything else not at all;
  * fresh tmpfs directories for what an instance writes (``/etc``, filled with a copy of this machine's
    ``/etc`` and the sandbox's own users, ``/home``, ``/root``, ``/tmp``, ``/run``, ``/opt``, ``/var/tmp``,
    ``/var/log``, ``/var/spool``); a directory that holds both (``/usr``, ``/usr/local``, ``/var``...)
    is a tmpfs with each of this machine's entries bound read-only in it, so new files can be made
    there but this machine's cannot be changed;
  * a fresh ``/proc`` of the sandbox's PID namespace (``/proc/sys`` read-only), a minimal ``/dev``;
  * the hook and everything it starts hold only CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
    CAP_FOWNER, CAP_FSETID, CAP_KILL, CAP_SETUID and CAP_SETGID, and those only over the sandbox's
    own user namespace;
  * users: run as root, the sandbox's uids and gids 0..65535 are this machine's unused
    ``SANDBOX_HOST_ID`` .. ``+65535`` (never this machine's root or users), so root, the notebook user
    (uid 1000, whatever this machine's /etc/passwd says) and every other user are real and distinct;
    run without root, the sandbox has one uid (the invoking user's, as root inside), and ``sudo``,
    ``chown``, ``chgrp`` and ``crontab`` are stand-ins.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CONTROL = "/run/lcc-rehearse"
OUT = f"{CONTROL}/out"
HOST_ETC = f"{CONTROL}/host-etc"
SANDBOX_HOST_ID = 0x70000000
"""This machine's uid and gid of the sandbox's root when the rehearsal runs as root (a range nobody uses)."""
ID_COUNT = 65536
NOTEBOOK_UID = 1000

SYSTEM = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "var")
"""Top-level directories of this machine bound read-only (the others are fresh, or absent)."""
FRESH = (
    "/etc",
    "/home",
    "/root",
    "/tmp",
    "/run",
    "/opt",
    "/var/tmp",
    "/var/log",
    "/var/spool",
    "/var/lib/sagemaker-lifecycle",
    "/usr/local/lib/sagemaker-lifecycle",
)
"""Fresh (tmpfs) directories of the sandbox; the lifecycle directories are fresh even when this machine has
them (a build host that ran a hook, or the auto-stop program's state), so the instance's view starts empty."""
NEW_ENTRIES = ("/usr/local/lib", "/var/lib", "/usr/bin")
"""Directories where an instance's modules add entries (``/usr/local/lib/sagemaker-lifecycle``,
``/var/lib/sagemaker-lifecycle``), and ``/usr/bin``, whose directory must be root's as on an instance (the
auto-stop module refuses an interpreter in a directory anyone but root could change): a tmpfs holding this
machine's entries read-only, as every parent of a fresh directory is."""
FRESH_MODES = {
    "/tmp": "1777",
    "/var/tmp": "1777",
    "/root": "0700",
    "/run/lock": "1777",
    "/opt/ml/metadata": "0755",
    # AL2023's system trust store, where a team's CA certificate goes (this machine may have another layout)
    "/etc/pki/ca-trust/source/anchors": "0755",
}
CRON_SPOOL = "/var/spool/cron/crontabs"


def fresh_modes() -> dict[str, str]:
    """Directories the engine makes in the fresh ones (octal modes, root's): an instance's, and the cron
    spool as this machine's cron expects it (Debian's crontabs/, when this machine has it)."""
    modes = dict(FRESH_MODES)
    if os.path.isdir(CRON_SPOOL):
        modes["/var/spool/cron"] = "0755"
        modes[CRON_SPOOL] = f"{stat.S_IMODE(os.stat(CRON_SPOOL).st_mode):04o}"
    return modes


FRESH_IN_ETC = ("profile.d", "sudoers.d", "cron.d")
CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETUID",
    "CAP_SETGID",
)
PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3")


class SandboxError(Exception):
    """The sandbox cannot be made here; the message says what is missing."""


def bwrap() -> str:
    found = shutil.which("bwrap")
    if found is None:
        raise SandboxError(
            "bubblewrap (bwrap) is not installed: the rehearsal runs hooks only inside its sandbox "
            "(Debian/Ubuntu: apt-get install bubblewrap, or `make system-deps`)."
        )
    return found


def python_inside() -> str:
    """A python3 under /usr (bound into the sandbox) for the engine, which needs only the standard library."""
    for path in PYTHONS:
        if os.access(path, os.X_OK):
            return path
    raise SandboxError(f"no python3 for the sandbox at {' or '.join(PYTHONS)} (install python3).")


def identity_files(user: str, home: str, target: str) -> tuple[dict[str, tuple[str, int]], int, int]:
    """The sandbox's own passwd, group, shadow, gshadow and sudoers (never this machine's entries),
    and the notebook user's uid and gid: ec2-user 1000:1000 as on Amazon Linux, sagemaker-user
    1000:100 as in SageMaker Distribution images."""
    gid = 100 if target == "studio" else NOTEBOOK_UID
    groups = [("root", 0, ""), ("wheel", 10, user), ("users", 100, user if gid != 100 else "")]
    if gid != 100:
        groups.append((user, gid, ""))
    groups.append(("nogroup", 65534, ""))
    passwd = (
        "root:x:0:0:root:/root:/bin/bash\n"
        f"{user}:x:{NOTEBOOK_UID}:{gid}:{user}:{home}:/bin/bash\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    group = "".join(f"{name}:x:{number}:{members}\n" for name, number, members in groups)
    shadow = "".join(f"{name}:!!:19000:0:99999:7:::\n" for name in ("root", user, "nobody"))
    gshadow = "".join(f"{name}:!::{members}\n" for name, _, members in groups)
    files = {
        "passwd": (passwd, 0o644),
        "group": (group, 0o644),
        "shadow": (shadow, 0o600),
        "gshadow": (gshadow, 0o600),
        # as on a notebook instance with root access enabled
        "sudoers": (f"Defaults env_reset\nroot ALL=(ALL) ALL\n{user} ALL=(ALL) NOPASSWD: ALL\n", 0o440),
        "hostname": ("sagemaker-rehearsal\n", 0o644),
        "hosts": ("127.0.0.1\tlocalhost\n127.0.1.1\tsagemaker-rehearsal\n::1\tlocalhost ip6-localhost\n", 0o644),
    }
    return files, NOTEBOOK_UID, gid


@dataclass
class Layout:
    """bubblewrap's file system arguments, and what is this machine's (read-only) in the sandbox."""

    args: list[str] = field(default_factory=list)
    read_only: list[str] = field(default_factory=list)

    def fresh(self, path: str) -> None:
        self.args += ["--tmpfs", path]

    def host(self, path: str) -> None:
        if os.path.islink(path):
            self.args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path) or os.path.isfile(path):
            self.args += ["--ro-bind", path, path]
            self.read_only.append(path)

    def split(self, path: str, fresh: Sequence[str], new: Sequence[str]) -> None:
        """``path`` as a tmpfs holding this machine's entries read-only, but the fresh ones."""
        self.fresh(path)
        for name in sorted(os.listdir(path)):
            child = f"{path.rstrip('/')}/{name}"
            if child in fresh:
                self.fresh(child)
            elif _holds(child, fresh, new) and os.path.isdir(child) and not os.path.islink(child):
                self.split(child, fresh, new)
            else:
                self.host(child)


def _holds(path: str, fresh: Sequence[str], new: Sequence[str]) -> bool:
    """Whether ``path`` must be split: it takes new entries, or holds a fresh or such directory."""
    return path in new or any(p.startswith(path + "/") for p in (*fresh, *new))


def layout(root: str = "/") -> Layout:
    """The sandbox's root: this machine's system directories read-only, fresh directories for the rest."""
    result = Layout()
    for name in sorted(os.listdir(root)):
        path = f"/{name}"
        if name in SYSTEM and os.path.islink(path):
            result.host(path)
        elif name in SYSTEM and _holds(path, FRESH, NEW_ENTRIES):
            result.split(path, FRESH, NEW_ENTRIES)
        elif name in SYSTEM:
            result.host(path)
    for path in FRESH:
        if path.count("/") == 1:
            result.fresh(path)
    result.args += ["--proc", "/proc", "--dev", "/dev"]
    return result


def bwrap_command(lay: Layout, *, control: Path, out: Path, command: list[str], hostname: str) -> list[str]:
    """The whole bubblewrap command line."""
    caps = [arg for cap in CAPABILITIES for arg in ("--cap-add", cap)]
    ids = ["--uid", "0", "--gid", "0"]
    return [
        bwrap(),
        "--unshare-user", *ids, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
        "--unshare-cgroup-try", "--hostname", hostname, "--die-with-parent", "--new-session", "--as-pid-1",
        "--cap-drop", "ALL", *caps,
        *lay.args,
        "--ro-bind", str(control), CONTROL,
        "--bind", str(out), OUT,
        "--ro-bind", "/etc", HOST_ETC,
        "--clearenv", "--setenv", "PATH", "/usr/sbin:/usr/bin:/sbin:/bin", "--setenv", "LANG", "C.UTF-8",
        "--chdir", "/",
        "--", *command,
    ]  # fmt: skip


def workdir_parent() -> str:
    """Where a rehearsal's temporary directory goes: the usual temporary directory when the sandbox's
    root (``SANDBOX_HOST_ID`` when run as root) can reach it, else /tmp."""
    base = tempfile.gettempdir()
    if os.geteuid() != 0:
        return base
    path = Path(base).resolve()
    for part in [path, *path.parents]:
        if not part.stat().st_mode & stat.S_IXOTH:
            return "/tmp"
    return str(path)


def start(argv: list[str], *, one_uid: bool, stderr: int) -> subprocess.Popen[bytes]:
    """Start bubblewrap. As root, bwrap runs as the unused ``SANDBOX_HOST_ID`` and (for the uid range)
    waits until this process has written its uid and gid maps: ``SANDBOX_HOST_ID``.. for 0..65535."""
    if os.geteuid() != 0:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
        )  # fmt: skip
    drop = ["setpriv", f"--reuid={SANDBOX_HOST_ID}", f"--regid={SANDBOX_HOST_ID}", "--clear-groups", "--"]
    if one_uid:
        return subprocess.Popen(
            [*drop, *argv], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            start_new_session=True,
        )  # fmt: skip
    block_read, block_write = os.pipe()
    info_read, info_write = os.pipe()
    extra = ["--userns-block-fd", str(block_read), "--info-fd", str(info_write)]
    try:
        proc = subprocess.Popen(
            [*drop, argv[0], *extra, *argv[1:]], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            start_new_session=True, pass_fds=(block_read, info_write),
        )  # fmt: skip
    finally:
        os.close(block_read)
        os.close(info_write)
    try:
        pid = _child_pid(info_read)
        if pid is None:
            return proc  # bwrap failed before making the sandbox: its exit and message tell why
        for name in ("uid_map", "gid_map"):
            Path(f"/proc/{pid}/{name}").write_text(f"0 {SANDBOX_HOST_ID} {ID_COUNT}\n")
        os.write(block_write, b"1")
    except OSError:
        proc.kill()
        proc.wait()
        raise
    finally:
        os.close(block_write)
        os.close(info_read)
    return proc


def _child_pid(fd: int, limit: int = 65536) -> int | None:
    """The sandbox's first process (this machine's pid) from bwrap's --info-fd, or None at EOF."""
    data = b""
    while len(data) < limit:
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        data += chunk
        try:
            info = json.loads(data)
        except ValueError:
            continue
        pid = info.get("child-pid") if isinstance(info, dict) else None
        return pid if isinstance(pid, int) and pid > 0 else None
    return None
