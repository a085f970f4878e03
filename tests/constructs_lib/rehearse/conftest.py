"""Fixtures of the rehearsal tests: a deliberately broken app, and what "this machine" looks like."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from aws_cdk import App, Duration, Stack

from constructs_lib import Mode, Module, NotebookLifecycleConfig, RunAs
from constructs_lib.catalogue import conda_env_kernels, conda_packages_background, conda_persistent_envs
from constructs_lib.rehearse.sandbox import ID_COUNT, SANDBOX_HOST_ID

DAEMON_MARK = "31415"  # `sleep 31415`: the process a module leaves behind
SURVIVOR_MARK = "31417"  # `sleep 31417`: a process that ignores signals and tries to outlive the rehearsal
ESCAPE_TARGET = "/var/tmp/lcc-escape-target"  # this machine's directory the escape module tries to write in
ESCAPE_MARKER = ".lcc-escape-marker"  # the file it tries to create in every mount it finds
SYSCTLS = ("kernel/core_pattern", "vm/swappiness", "kernel/domainname", "kernel/pid_max")

# Files and directories a rehearsal would touch if it leaked out of its root.
WATCHED_FILES = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/hosts", "/etc/hostname")
WATCHED_TREES = ("/var/spool/cron", "/etc/profile.d", "/etc/sudoers.d", "/usr/local/lib/sagemaker-lifecycle")
LISTED_TREES = ("/home", "/opt", "/usr/local/lib")  # names only, two levels
WATCHED_PATHS = (
    "/var/lib/sagemaker-lifecycle",
    "/var/log/sagemaker-lifecycle",
    "/tmp/sagemaker-lifecycle",
    "/run/lcc-rehearse",
    "/run/systemd/system",
    "/usr/local/lib/sagemaker-lifecycle",
)


def _tree(top: str, depth: int = 3, content: bool = True) -> list[tuple[str, int, int, int, str]]:
    """(path, mode, uid, gid, content or link) of everything under ``top``, ``depth`` levels down."""
    rows = []
    base = top.rstrip("/").count("/")
    for dirpath, dirnames, filenames in os.walk(top):
        if dirpath.count("/") - base >= depth:
            dirnames[:] = []
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            if os.path.islink(path):
                content = "-> " + os.readlink(path)
            elif content and os.path.isfile(path) and info.st_size < 65536:
                content = Path(path).read_bytes().hex()
            else:
                content = ""
            rows.append((path, info.st_mode, info.st_uid, info.st_gid, content))
    return sorted(rows)


def host_state() -> dict[str, object]:
    """What a leaking rehearsal would change on this machine."""
    state: dict[str, object] = {"hostname": socket.gethostname()}
    for name in WATCHED_FILES:
        state[name] = Path(name).read_bytes() if os.path.exists(name) else None
    for top in WATCHED_TREES:
        state[top] = _tree(top)
    for top in LISTED_TREES:
        state[top] = _tree(top, depth=2, content=False)
    for path in WATCHED_PATHS:
        state[path] = os.path.lexists(path)
    state["/tmp"] = sorted(name for name in os.listdir("/tmp") if name.startswith("lcc-rehearse-"))
    return state


def rehearsal_processes() -> list[str]:
    """Live processes of a rehearsal (its temp dir or the control mount in their command line)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        command = raw.replace(b"\0", b" ").decode("utf-8", "replace")
        if state != "Z" and ("lcc-rehearse" in command or f"sleep {DAEMON_MARK}" in command):
            found.append(f"{entry}: {command}")
    return found


def sandbox_processes() -> list[str]:
    """Live processes of this machine whose uid is one of the sandbox's (any rehearsal run as root)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
        state = next(line for line in status.splitlines() if line.startswith("State:")).split()[1]
        if SANDBOX_HOST_ID <= uid < SANDBOX_HOST_ID + ID_COUNT and state != "Z":
            found.append(f"{entry}: uid {uid}")
    return found


# Each attempt prints "<name>: blocked" or "<name>: ESCAPED"; this machine is checked by the test too.
ESCAPES = rf"""#!/bin/bash
target={ESCAPE_TARGET}
attempt() {{ if "${{@:2}}" >/dev/null 2>&1; then echo "$1: ESCAPED"; else echo "$1: blocked"; fi; }}
chroot_escape() {{
  python3 - "$target" <<'PY'
import os, sys
os.makedirs("/tmp/jail", exist_ok=True)
fd = os.open("/", os.O_RDONLY)
os.chroot("/tmp/jail")
os.fchdir(fd)
for _ in range(64):
    os.chdir("..")
os.chroot(".")
open(sys.argv[1] + "/chroot", "w").write("escaped")
PY
}}
attempt chroot chroot_escape
attempt sysctl sysctl -w kernel.core_pattern='|/tmp/pwn'
attempt proc-sys sh -c 'echo 0 >/proc/sys/vm/swappiness'
attempt proc-1-root sh -c 'echo x >/proc/1/root$0/proc-root' "$target"
attempt proc-self-root sh -c 'echo x >/proc/self/root$0/proc-root' "$target"
attempt mknod mknod /tmp/disk b 8 0
attempt remount mount -o remount,rw /usr
attempt mount-proc mount -t proc proc /tmp
attempt new-userns-remount unshare -Urm sh -c 'mount -o remount,rw /usr && touch /usr/{ESCAPE_MARKER}'
wrote=0
while read -r _ _ _ _ point _; do
  point=$(printf '%b' "$point")
  case "$point" in /proc* | /dev*) continue ;; esac
  if touch "$point/{ESCAPE_MARKER}" 2>/dev/null; then
    if [ -e "$point/{ESCAPE_MARKER}" ]; then rm -f "$point/{ESCAPE_MARKER}"; fi
    wrote=$((wrote + 1))
  fi
done </proc/self/mountinfo
echo "writable mounts: $wrote"
attempt network sh -c 'exec 3<>/dev/tcp/127.0.0.1/22'
echo "interfaces: $(awk 'NR > 2 {{ sub(":", "", $1); print $1 }}' /proc/net/dev | tr '\n' ' ')"
echo "capabilities of ec2-user: $(sudo -n -u ec2-user -- grep CapEff /proc/self/status | awk '{{print $2}}')"
(trap '' TERM HUP INT; setsid sh -c 'trap "" TERM HUP INT; exec sleep {SURVIVOR_MARK}' </dev/null >/dev/null 2>&1 &)
nohup sleep {SURVIVOR_MARK} </dev/null >/dev/null 2>&1 &
exit 0
"""


def escape_modules() -> list[Module]:
    return [Module(name="tries-to-escape", budget=Duration.seconds(60), script=ESCAPES)]


def conda_modules() -> list[Module]:
    """The catalogue's conda modules as a configuration would use them, and a notebook-user module."""
    return [
        conda_persistent_envs(),
        conda_packages_background(env_name="analysis", packages=["numpy"], budget=Duration.minutes(1)),
        conda_env_kernels(),
        Module(
            name="writes-home",
            user=RunAs.NOTEBOOK_USER,
            script='#!/bin/bash\nset -e\ntouch "$NB_HOME/.rehearsed"\nid -u >"$PERSIST_DIR/uid"\n',
        ),
    ]


def broken_modules() -> list[Module]:
    return [
        Module(
            name="appends-condarc",
            user=RunAs.NOTEBOOK_USER,
            script='#!/bin/bash\necho "channels: [conda-forge]" >>"$NB_HOME/.condarc"\necho appended a line\n',
        ),
        Module(name="exits-one", script="#!/bin/bash\necho about to fail\nexit 1\n"),
        Module(
            name="sleeps-past-budget",
            budget=Duration.seconds(1),
            script="#!/bin/bash\necho going to sleep\nsleep 30\necho never printed\n",
        ),
        Module(
            name="starts-a-daemon",
            script=f"#!/bin/bash\nsetsid sleep {DAEMON_MARK} >/dev/null 2>&1 </dev/null &\necho daemon started\n",
        ),
        Module(name="calls-aws", script="#!/bin/bash\naws s3 ls s3://some-bucket\n"),
        Module(
            name="background-ok",
            mode=Mode.BACKGROUND,
            user=RunAs.NOTEBOOK_USER,
            budget=Duration.seconds(20),
            script='#!/bin/bash\nsleep 1\necho done >"$PERSIST_DIR/background-output"\necho background work done\n',
        ),
    ]


@pytest.fixture(scope="session")
def broken_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cloud assembly with a broken on-start hook (config Broken) and a slow one (config Slow)."""
    out = tmp_path_factory.mktemp("broken.out")
    app = App(outdir=str(out))
    stack = Stack(app, "Rehearsal")
    NotebookLifecycleConfig(stack, "Broken", on_start=broken_modules())
    NotebookLifecycleConfig(
        stack,
        "Slow",
        on_start=[
            Module(name="quick", script="#!/bin/bash\necho quick\n"),
            Module(name="slow", budget=Duration.seconds(60), script="#!/bin/bash\necho slow\nsleep 30\n"),
            Module(name="after-slow", script="#!/bin/bash\necho after\n"),
        ],
    )
    NotebookLifecycleConfig(stack, "Escapes", on_start=escape_modules())
    NotebookLifecycleConfig(stack, "Conda", on_start=conda_modules())
    app.synth()
    return out


def logical_id(assembly: Path, prefix: str) -> str:
    import json

    template = json.loads((assembly / "Rehearsal.template.json").read_text())
    return next(key for key in template["Resources"] if key.startswith(prefix))
