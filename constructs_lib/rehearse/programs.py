"""The programs a rehearsal puts first on the hook's ``PATH`` (``/run/lcc-rehearse/bin``): recording
stand-ins for commands that only make sense on an instance or act on the whole machine, ``sudo`` as
the sandbox has it, and the ``timeout`` wrapper that tells the rehearsal when each module starts and
ends. Written by the CLI (outside the sandbox) into the read-only control directory.
"""

from __future__ import annotations

import shlex

# Every stand-in records its call as one line: user, program, arguments (each shell-quoted).
RECORD = r"""line="$(id -un 2>/dev/null || id -u)"$'\t'"${0##*/}"
for arg in "$@"; do printf -v arg '%q' "$arg"; line+=$'\t'"$arg"; done
printf '%s\n' "$line" >>"$calls" 2>/dev/null || true"""

ENV_PYTHON = "conda-env-python"
"""The stand-in copied to ``<prefix>/bin/python`` of every environment the conda stand-in makes."""

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
    # sudo (one-uid sandbox: there is only one user): runs CMD as the calling user.
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
    # crontab [-u USER] (-l | -r | - | FILE): one spool file per user.
    "crontab": r"""u="$(id -un)"
if [ "${1-}" = -u ]; then u="$2"; shift 2; fi
spool="/var/spool/cron/$u"
mkdir -p "${spool%/*}"
case "${1-}" in
  -l) [ -f "$spool" ] || { echo "no crontab for $u" >&2; exit 1; }; cat "$spool" ;;
  -r) rm -f "$spool" ;;
  - | "") cat >"$spool" ;;
  *) cat "$1" >"$spool" ;;
esac""",
    # conda create|install ... --prefix P ...: P becomes an environment (conda-meta/history, and a
    # bin/python stand-in that "has" ipykernel); nothing is downloaded. Other verbs succeed.
    "conda": r"""verb="${1-}" prefix="" prev=""
for arg in "$@"; do
  case "$prev" in -p | --prefix) prefix="$arg" ;; esac
  case "$arg" in --prefix=*) prefix="${arg#*=}" ;; esac
  prev="$arg"
done
case "$verb" in
  create | install)
    if [ -z "$prefix" ]; then echo "conda (rehearsal stand-in): $verb needs --prefix" >&2; exit 2; fi
    mkdir -p "$prefix/conda-meta" "$prefix/bin"
    printf '# %s\n' "$*" >>"$prefix/conda-meta/history"
    install -m 0755 "${0%/*}/@ENV_PYTHON@" "$prefix/bin/python"
    echo "conda (rehearsal stand-in): $verb $prefix done" ;;
  *) ;;
esac
exit 0""".replace("@ENV_PYTHON@", ENV_PYTHON),
    # python of an environment made by the conda stand-in: `-m ipykernel install --user --name N
    # --display-name D` writes the kernel spec as ipykernel would; everything else succeeds.
    ENV_PYTHON: r"""if [ "${1-}" = -m ] && [ "${2-}" = ipykernel ] && [ "${3-}" = install ]; then
  name="" display=""
  shift 3
  while [ $# -gt 0 ]; do
    case "$1" in
      --name) name="$2"; shift 2 ;;
      --display-name) display="$2"; shift 2 ;;
      *) shift ;;
    esac
  done
  dir="$HOME/.local/share/jupyter/kernels/${name:-python3}"
  mkdir -p "$dir"
  printf '{"argv": ["%s", "-m", "ipykernel_launcher", "-f", "{connection_file}"], ' "$0" >"$dir/kernel.json"
  printf '"display_name": "%s", "language": "python"}\n' "${display:-$name}" >>"$dir/kernel.json"
  echo "Installed kernelspec $name in $dir"
fi
exit 0""",
}

DEFAULT_STUBS = (
    "systemctl",
    "service",
    "amazon-ssm-agent",
    "rpm",
    "yum",
    "dnf",
    "conda",
    "update-ca-trust",
    "reboot",
    "shutdown",
    "poweroff",
    "halt",
)
"""Commands that only make sense on an instance, or act on the whole machine."""

ONE_UID_STUBS = ("sudo", "chown", "chgrp", "crontab")
"""Stand-ins where the sandbox has a single uid (rehearsal run without root): there is no other user."""

SUDO = r"""#!/bin/bash
# sudo as the rehearsal sandbox has it (bubblewrap mounts everything nosuid, so the real sudo cannot
# work): sudo [-n] [-u USER] [-g GROUP] [-i] [-H] [-E] [--] CMD... switches to USER for real with
# setpriv (uid, gid and the groups of the sandbox's /etc/group), sets HOME, USER, LOGNAME and SHELL
# as sudo does, then runs CMD (with -i: in a login shell, from USER's home).
user=root login=0
while [ $# -gt 0 ]; do
  case "$1" in
    -u) user="${2-}"; shift 2 ;;
    --user=*) user="${1#*=}"; shift ;;
    -i | --login) login=1; shift ;;
    -g | -C | -D | -p | -r | -t | -U) shift 2 ;;
    --) shift; break ;;
    -*) shift ;;
    *) break ;;
  esac
done
if ! IFS=: read -r name _ uid gid _ home shell < <(getent passwd "$user"); then
  echo "sudo: unknown user $user" >&2
  exit 1
fi
if [ "$login" = 1 ]; then
  cd "$home" 2>/dev/null || cd /
  if [ $# -eq 0 ]; then set -- "${shell:-/bin/bash}" -l; else set -- "${shell:-/bin/bash}" -lc "$*"; fi
fi
if [ $# -eq 0 ]; then echo "usage: sudo -u USER CMD..." >&2; exit 1; fi
if [ "$uid" = "$(id -u)" ]; then exec "$@"; fi
exec setpriv --reuid="$uid" --regid="$gid" --init-groups -- \
  env HOME="$home" USER="$name" LOGNAME="$name" SHELL="${shell:-/bin/bash}" "$@"
"""

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
        f"{'behaves as described in constructs_lib/rehearse/programs.py' if name in STUB_BODIES else 'succeeds'}.\n"
        f"{record}{body}\n"
    )


def timeout_wrapper(real: str, ctl: str) -> str:
    return TIMEOUT_WRAPPER.replace("@REAL@", shlex.quote(real)).replace("@CTL@", shlex.quote(ctl))


def programs(stubs: list[str], *, calls: str, ctl: str, real_timeout: str, one_uid: bool) -> dict[str, str]:
    """File name -> text of every program of ``/run/lcc-rehearse/bin``."""
    files = {name: stub_program(name, calls) for name in stubs}
    if "conda" in stubs:
        files[ENV_PYTHON] = stub_program(ENV_PYTHON, calls)
    if not one_uid:
        files["sudo"] = SUDO
    files["timeout"] = timeout_wrapper(real_timeout, ctl)
    return files
