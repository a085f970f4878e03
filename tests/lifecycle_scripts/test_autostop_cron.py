"""idle_autostop's installer run for real in a sandbox root, and the proof that the notebook user cannot
stop the platform's idle policy (RootAccess disabled).

The installer runs as root (as on an instance) with the sandbox's ``/usr/bin/python3`` a link to this
machine's root-owned system python (Debian's, with botocore from python3-boto3, as AL2023's system python
with its botocore or the image's AWS CLI). The "notebook user" is a real, separate uid (``setpriv``): what it
tries is done with its own permissions, not simulated.
"""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from constructs_lib.catalogue import idle_autostop
from tests.support.sandbox import Sandbox

from .test_notebook_scripts import MARKER, NB_USER, mode_of, run_module, systemd

USER_UID = 4243  # no other process of this machine runs as this uid
CRON_FILE = Path("etc/cron.d/sagemaker-lifecycle-autostop")
PROGRAM = Path("usr/local/lib/sagemaker-lifecycle/autostop.py")
LOG = Path("var/log/sagemaker-lifecycle/autostop.log")
SYSTEM_PYTHON = "/usr/bin/python3"


def system_python(sandbox: Sandbox) -> Path:
    link = sandbox.root / "usr" / "bin" / "python3"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(SYSTEM_PYTHON)
    return link


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    # Not under pytest's tmp dir (0700): the notebook user's uid must reach its home in the sandbox.
    base = Path(tempfile.mkdtemp(prefix="autostop-sandbox-", dir="/tmp"))
    base.chmod(0o755)
    box = Sandbox(base)
    system_python(box)
    yield box
    shutil.rmtree(base, ignore_errors=True)


def cron_command(sandbox: Sandbox) -> tuple[str, str, str]:
    """(schedule, user, command) of the one job line of the installed cron.d file."""
    lines = [line for line in (sandbox.root / CRON_FILE).read_text().splitlines() if line[:1] in "*0123456789"]
    assert len(lines) == 1, lines
    fields = lines[0].split(" ", 6)
    return " ".join(fields[:5]), fields[5], fields[6]


def as_user(script: str, home: Path) -> subprocess.CompletedProcess[str]:
    """``script`` run by bash as the notebook user's uid, with its home."""
    return subprocess.run(
        ["setpriv", f"--reuid={USER_UID}", f"--regid={USER_UID}", "--clear-groups", "bash", "-c", script],
        env={"PATH": "/usr/bin:/bin", "HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_installs_a_root_owned_cron_entry_once(sandbox: Sandbox) -> None:
    user_crontab = f"0 3 * * * echo nightly\n*/5 * * * * /home/ec2-user/anaconda3/python /old/autostop.py {MARKER}\n"
    (sandbox.root / "var" / "spool" / "cron" / NB_USER).write_text(user_crontab)
    first = run_module(sandbox, idle_autostop(dry_run=True))
    assert first.returncode == 0, first.output
    program = sandbox.root / PROGRAM
    assert program.read_bytes() == idle_autostop().files["autostop.py"]  # the minified program
    assert mode_of(program) == 0o644 and program.stat().st_uid == 0 and mode_of(program.parent) == 0o755
    cron = sandbox.root / CRON_FILE
    assert mode_of(cron) == 0o644 and cron.stat().st_uid == 0
    schedule, user, command = cron_command(sandbox)
    assert (schedule, user) == ("*/5 * * * *", "root")
    words = shlex.split(command.split(" >>")[0])
    assert words[:3] == [str(sandbox.root / "usr/bin/python3"), "-I", str(program)]
    assert "--dry-run" in words and words[words.index("--cpu-users") + 1] == NB_USER
    assert words[words.index("--warn-minutes") + 1] == "10" and words[words.index("--notice-file") + 1] == (
        str(sandbox.home / "IDLE-SHUTDOWN-NOTICE.txt")
    )
    assert not any("/home/" in w or "anaconda3" in w for w in words[:3])
    values = dict(itertools.pairwise(words))
    assert [values[f"--{o}"] for o in ("idle-minutes", "grace-minutes", "jupyter-url", "cpu-percent")] == [
        "60",
        "15",
        "https://localhost:8443",
        "30",
    ]
    assert [values[f"--{o}"] for o in ("gpu-percent", "deadline-seconds", "state-dir")] == [
        "10",
        "120",
        str(sandbox.root / "var/lib/sagemaker-lifecycle/autostop"),
    ]
    assert "--verify-tls" not in words and "--ignore-connections" not in words
    # The user's crontab (on the root volume, reset at every start) is neither used nor changed: a line of an
    # earlier version cannot survive a restart, and the hook only runs at a start.
    assert (sandbox.root / "var" / "spool" / "cron" / NB_USER).read_text() == user_crontab
    assert first.lines[0] == "/usr/local/lib/sagemaker-lifecycle/autostop.py installed"
    assert first.lines[1].startswith("interpreter: /usr/bin/python3 -I; AWS through botocore ")
    assert first.lines[-1] == "/etc/cron.d/sagemaker-lifecycle-autostop installed"
    before = sandbox.snapshot(exclude=("var/log",))
    second = run_module(sandbox, idle_autostop(dry_run=True))
    assert second.returncode == 0, second.output
    assert second.lines[0] == "/usr/local/lib/sagemaker-lifecycle/autostop.py already up to date"
    assert second.lines[-1] == "/etc/cron.d/sagemaker-lifecycle-autostop already up to date"
    assert sandbox.snapshot(exclude=("var/log",)) == before
    # an older entry and a program that is a link (to the same text) are replaced by regular root-owned files
    (sandbox.root / CRON_FILE).write_text("*/5 * * * * root /old/command\n")
    (sandbox.base / "elsewhere.py").write_bytes(program.read_bytes())
    program.unlink()
    program.symlink_to(sandbox.base / "elsewhere.py")
    third = run_module(sandbox, idle_autostop(dry_run=True))
    assert third.returncode == 0, third.output
    assert third.lines[0] == "/usr/local/lib/sagemaker-lifecycle/autostop.py installed"
    assert third.lines[-1] == "/etc/cron.d/sagemaker-lifecycle-autostop installed"
    assert sandbox.snapshot(exclude=("var/log",)) == before
    assert not list((sandbox.root / CRON_FILE).parent.glob("*.new")) and not list(program.parent.glob("*.new"))


def test_options_reach_the_cron_line(sandbox: Sandbox) -> None:
    from aws_cdk import Duration

    module = idle_autostop(
        schedule="*/10 8-20 * * 1-5",
        gpu_idle=Duration.minutes(20),
        cpu_percent=None,
        warn=Duration.minutes(0),
        ignore_connections=True,
    )
    assert run_module(sandbox, module).returncode == 0
    schedule, _, command = cron_command(sandbox)
    words = shlex.split(command.split(" >>")[0])
    assert schedule == "*/10 8-20 * * 1-5"
    assert [words[i + 1] for i, w in enumerate(words) if w == "--idle-for"] == ["ml.g*=20", "ml.p*=20"]
    assert words[words.index("--cpu-percent") + 1] == "0" and words[words.index("--warn-minutes") + 1] == "0"
    assert "--ignore-connections" in words


def test_no_root_owned_python_is_not_scheduled(sandbox: Sandbox, tmp_path: Path) -> None:
    """A python3 the notebook user could write (group/other-writable) is never run as root."""
    (sandbox.root / "usr" / "bin" / "python3").unlink()
    planted = sandbox.root / "usr" / "bin" / "python3"
    marker = tmp_path / "ran-as-root"
    planted.write_text(f"#!/bin/sh\ntouch {marker}\n")
    planted.chmod(0o777)
    result = run_module(sandbox, idle_autostop())
    assert result.returncode == 1, result.output
    assert result.lines[-1] == f"NOT scheduled: {planted} missing, not root-owned or writable by others"
    assert not marker.exists() and not (sandbox.root / CRON_FILE).exists()


def test_a_root_owned_python_that_does_not_reach_aws_is_not_scheduled(sandbox: Sandbox) -> None:
    (sandbox.root / "usr" / "bin" / "python3").unlink()
    python = sandbox.root / "usr" / "bin" / "python3"
    python.write_text("#!/bin/sh\necho 'autostop: no botocore and no root-owned AWS CLI'\nexit 1\n")
    python.chmod(0o755)
    result = run_module(sandbox, idle_autostop())
    assert result.returncode == 1, result.output
    assert result.lines[-1] == (
        f"NOT scheduled: {python} does not reach AWS: autostop: no botocore and no root-owned AWS CLI"
    )
    assert not (sandbox.root / CRON_FILE).exists()


def test_starts_crond_when_systemd_has_it_stopped(sandbox: Sandbox) -> None:
    systemd(sandbox, agent=False)
    sandbox.add_fake("systemctl", 'if [ "$1" = is-active ]; then exit 3; fi')
    result = run_module(sandbox, idle_autostop())
    assert result.returncode == 0, result.output
    assert "crond started" in result.lines


def test_the_notebook_user_cannot_stop_the_next_check(sandbox: Sandbox) -> None:
    """As the notebook user's uid: crontab -r, editing the home directory, the persisted volume and the conda
    environments (a planted JupyterSystemEnv python, sitecustomize/usercustomize, PYTHONPATH in .bashrc),
    and trying to edit the cron entry and the program. The next check still runs the shipped program."""
    result = run_module(sandbox, idle_autostop(dry_run=True))
    assert result.returncode == 0, result.output
    _, user, command = cron_command(sandbox)
    cron_before, program_before = (sandbox.root / CRON_FILE).read_bytes(), (sandbox.root / PROGRAM).read_bytes()
    home = sandbox.home
    for path in [home, *home.rglob("*")]:
        os.chown(path, USER_UID, USER_UID)
    pwned = sandbox.base / "pwned"
    pwned.mkdir(mode=0o777)
    pwned.chmod(0o777)
    attack = f"""
    set -u
    crontab -r 2>/dev/null; echo "crontab -r: $?"
    evil='#!/bin/sh
touch {pwned}/python-ran; exec /usr/bin/python3 "$@"'
    mkdir -p "$HOME/anaconda3/envs/JupyterSystemEnv/bin" "$HOME/SageMaker/.conda/envs/x/bin"
    for p in "$HOME/anaconda3/envs/JupyterSystemEnv/bin/python" "$HOME/SageMaker/.conda/envs/x/bin/python"; do
      printf '%s\\n' "$evil" >"$p" && chmod +x "$p"
    done
    for v in 3.9 3.11; do
      mkdir -p "$HOME/.local/lib/python$v/site-packages"
      echo "open('{pwned}/usercustomize-ran', 'w')" >"$HOME/.local/lib/python$v/site-packages/usercustomize.py"
    done
    echo "open('{pwned}/sitecustomize-ran', 'w')" >"$HOME/sitecustomize.py"
    echo "export PYTHONPATH=$HOME PYTHONSTARTUP=$HOME/sitecustomize.py" >>"$HOME/.bashrc"
    echo "* * * * * root touch {pwned}/cron-edited" >>{sandbox.root / CRON_FILE} 2>/dev/null; echo "edit cron: $?"
    echo "import os" >>{sandbox.root / PROGRAM} 2>/dev/null; echo "edit program: $?"
    rm -f {sandbox.root / CRON_FILE} 2>/dev/null; echo "remove cron: $?"
    """
    attempted = as_user(attack, home)
    assert "edit cron: 1" in attempted.stdout and "edit program: 1" in attempted.stdout, attempted
    assert "remove cron: 1" in attempted.stdout or (sandbox.root / CRON_FILE).exists(), attempted
    assert (home / "anaconda3/envs/JupyterSystemEnv/bin/python").stat().st_uid == USER_UID, attempted  # it wrote
    assert (sandbox.root / CRON_FILE).read_bytes() == cron_before
    assert (sandbox.root / PROGRAM).read_bytes() == program_before
    # The next check, as cron runs a cron.d line: root, the file's SHELL and PATH, HOME of root.
    assert user == "root"
    log = sandbox.root / LOG
    size = log.stat().st_size
    completed = subprocess.run(
        ["/bin/bash", "-c", command],
        env={"SHELL": "/bin/bash", "PATH": "/sbin:/bin:/usr/sbin:/usr/bin", "HOME": "/root", "LOGNAME": "root"},
        cwd="/",
        timeout=120,
        check=False,
    )
    written = log.read_text()[size:]
    # the shipped program ran and logged (no instance metadata in the sandbox: its exit 1), nothing planted ran
    assert completed.returncode == 1, written
    assert "autostop: cannot read " in written and "resource-metadata.json" in written, written
    assert sorted(p.name for p in pwned.iterdir()) == []
