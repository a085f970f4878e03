"""Issue #13: the notebook user cannot switch idle auto-stop off, proven on the real rehearsal.

The default app's notebook on-start hook is rehearsed in bubblewrap (real users: the rehearsal runs as root),
then, in the same sandbox (``--then``):

1. as ec2-user (uid 1000): try to change the installed program, the cron entry, its log and state (each must
   fail with EACCES or EPERM); ``crontab -r``; plant files in ~ and ~/SageMaker that would run in place of the
   program or inside its interpreter (fake pythons early on PATHs, a tampered ~/anaconda3 and JupyterSystemEnv,
   a conda env, sitecustomize, usercustomize, a .pth file, autostop.py copies, ~/.bashrc and ~/.profile lines).
   Each planted file writes a marker named for itself when it runs: the user runs each once into a check
   directory (so a planted file that could not leave a marker would fail the test), and runs the system python
   without -I once (the user site does run there: the planting works);
2. as root, as cron would: the job line of ``/etc/cron.d/sagemaker-lifecycle-autostop`` is parsed from the file
   and its command run with the file's environment. The program it names must be the one the assembly carries
   (sha256), its interpreter root-owned in root-owned directories and run with -I, the program must have logged a
   check (the sandbox has no network: the check fails closed and logs), and no planted file may have run.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.bundling.inspect import script_of
from constructs_lib.rehearse.cli import main
from tests.conftest import hook_files, templates_of

STACK = "SageMakerNotebooks"
NOTEBOOK_LIFECYCLE_CONFIG = "AWS::SageMaker::NotebookInstanceLifecycleConfig"
CRON_FILE = "/etc/cron.d/sagemaker-lifecycle-autostop"
LIB = "/usr/local/lib/sagemaker-lifecycle"
PROGRAM = f"{LIB}/autostop.py"
LOG = "/var/log/sagemaker-lifecycle/autostop.log"
STATE = "/var/lib/sagemaker-lifecycle/autostop"
MARKERS = "/tmp/tamper-markers"  # inside the sandbox: where a planted file says it ran
SELF_CHECK = "/tmp/tamper-self-check"  # the same files run once by the user
CONTROL = "/tmp/tamper-control"  # the system python run without -I by the user
DENIED = {"EACCES", "EPERM"}

# name -> path of every planted executable (a fake python that leaves its marker, then runs the real one)
PLANTED_PROGRAMS = {
    "home-bin-python3": "~/bin/python3",
    "local-bin-python3": "~/.local/bin/python3",
    "persisted-bin-python3": "~/SageMaker/bin/python3",
    "anaconda-python3": "~/anaconda3/bin/python3",
    "anaconda-python": "~/anaconda3/bin/python",
    "jupyter-system-env-python3": "~/anaconda3/envs/JupyterSystemEnv/bin/python3",
    "jupyter-system-env-python": "~/anaconda3/envs/JupyterSystemEnv/bin/python",
    "persisted-conda-env-python3": "~/SageMaker/.conda/envs/tampered/bin/python3",
}
# name -> path of every planted python file ($SITE: the user site directory of the system python)
PLANTED_PYTHON = {
    "user-site-pth": "$SITE/tamper.pth",
    "user-site-usercustomize": "$SITE/usercustomize.py",
    "user-site-sitecustomize": "$SITE/sitecustomize.py",
    "home-sitecustomize": "~/sitecustomize.py",
    "persisted-sitecustomize": "~/SageMaker/sitecustomize.py",
    "home-autostop": "~/autostop.py",
    "persisted-autostop": "~/SageMaker/autostop.py",
}
PLANTED_SHELL = ("bashrc", "profile", "bash_profile", "bash_login")  # a line appended to ~/.NAME
PLANT = "\n".join(
    [f"plant_program {name} {path}" for name, path in PLANTED_PROGRAMS.items()]
    + [f"plant_python {name} {path}" for name, path in PLANTED_PYTHON.items()]
)
SELF_CHECK_RUNS = "\n".join(
    [f"{path} -c pass" for path in PLANTED_PROGRAMS.values()]
    + [f"/usr/bin/python3 -I {path}" for path in PLANTED_PYTHON.values()]
)

USER_STEP = rf"""set -u
umask 022
for dir in {MARKERS} {SELF_CHECK} {CONTROL}; do mkdir -p "$dir" && chmod 1777 "$dir"; done
# 1. the installed program, its schedule, log and state: each write must be refused
/usr/bin/python3 -I - <<'PY'
import errno, os
def attempt(what, action):
    try:
        action()
        print(f"attempt {{what}}: DONE")
    except OSError as err:
        print(f"attempt {{what}}: {{errno.errorcode.get(err.errno, err.errno)}}")
for path in ("{PROGRAM}", "{CRON_FILE}", "{LOG}"):
    attempt(f"append {{path}}", lambda: os.close(os.open(path, os.O_WRONLY | os.O_APPEND)))
    attempt(f"chmod {{path}}", lambda: os.chmod(path, 0o666))
    attempt(f"unlink {{path}}", lambda: os.unlink(path))
    attempt(f"rename {{path}}", lambda: os.rename(path, path + ".old"))
for path in ("{PROGRAM}.new", "/etc/cron.d/tamper", "{STATE}/state.json"):
    attempt(f"create {{path}}", lambda: os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)))
for path in ("{LIB}", "/etc/cron.d", "{STATE}"):
    attempt(f"chmod {{path}}", lambda: os.chmod(path, 0o777))
PY
# 2. the user's own crontab, and root's
crontab -r >/dev/null 2>&1; echo "crontab -r: exit $?"
crontab -u root -r >/dev/null 2>&1; echo "crontab -u root -r: exit $?"
# 3. files that would run in place of the program or inside its interpreter
SITE=$(/usr/bin/python3 -c 'import site; print(site.getusersitepackages())')
marker='${{TAMPER_MARKERS:-{MARKERS}}}'
plant_program() {{
  mkdir -p "${{2%/*}}"
  printf '#!/bin/sh\necho ran >"%s/%s"\nexec /usr/bin/python3 "$@"\n' "$marker" "$1" >"$2"
  chmod 0755 "$2"
}}
plant_python() {{
  mkdir -p "${{2%/*}}"
  printf 'import os; open(os.environ.get("TAMPER_MARKERS", "{MARKERS}") + "/%s", "w").write("ran")\n' "$1" >"$2"
}}
{PLANT}
for name in {" ".join(PLANTED_SHELL)}; do printf 'echo ran >"%s/%s"\n' "$marker" "$name" >>~/."$name"; done
echo 'export PATH="$HOME/bin:$HOME/.local/bin:$HOME/anaconda3/bin:$PATH"' >>~/.bashrc
printf 'envs_dirs:\n  - /home/ec2-user/SageMaker/.conda/envs\n' >>~/.condarc
# 4. each planted file, run once by the user, leaves its marker in the check directory
export TAMPER_MARKERS={SELF_CHECK}
{SELF_CHECK_RUNS}
for name in {" ".join(PLANTED_SHELL)}; do bash ~/."$name"; done
# 5. without -I the user site runs in the system python
TAMPER_MARKERS={CONTROL} /usr/bin/python3 -c pass
ls -A {SELF_CHECK} | sed 's/^/self-check: /'
ls -A {CONTROL} | sed 's/^/control: /'
"""

ROOT_STEP = rf"""set -u
# what `crontab -r` does to ec2-user's crontab on an instance (here the user's crontab cannot open the spool:
# it is a setgid program and the sandbox is mounted nosuid)
crontab -u ec2-user -r >/dev/null 2>&1
env_lines=() job=""
while IFS= read -r line; do
  case "$line" in "" | "#"*) continue ;; esac
  if [[ $line =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then env_lines+=("$line"); else job=$line; fi
done <{CRON_FILE}
read -r _ _ _ _ _ user command <<<"$job"
shell=/bin/sh
for pair in "${{env_lines[@]}}"; do [[ $pair == SHELL=* ]] && shell=${{pair#SHELL=}}; done
printf 'job: %s\n' "$job"
printf 'job user: %s\n' "$user"
read -r interpreter _ <<<"$command"
real=$(readlink -f -- "$interpreter")
printf 'interpreter: %s %s\n' "$interpreter" "$real"
path=$real
while [ -n "$path" ]; do stat -c 'owner: %u %g %a %n' -- "$path"; path=${{path%/*}}; done
stat -c 'owner: %u %g %a %n' -- /
echo "log lines before: $(wc -l <{LOG})"
# cron's environment: its defaults for root, then the file's own variables
defaults=(SHELL=/bin/sh HOME=/root LOGNAME=root USER=root PATH=/usr/bin:/bin)
(cd /root && env -i "${{defaults[@]}}" "${{env_lines[@]}}" "$shell" -c "$command")
echo "job exit: $?"
echo "log lines after: $(wc -l <{LOG})"
sed 's/^/log| /' {LOG}
sha256sum {PROGRAM} | sed 's/^/sha256: /'
ls -A {MARKERS} | sed 's/^/marker: /'
"""


def carried_program(assembly: Path) -> bytes:
    """The autostop.py that the default notebook's on-start bundle carries (inline, or in its S3 part)."""
    template = templates_of(assembly)[f"{STACK}.template.json"]
    (config,) = [r for r in template["Resources"].values() if r["Type"] == NOTEBOOK_LIFECYCLE_CONFIG]  # type: ignore[index]
    script, _ = script_of(config["Properties"]["OnStart"][0]["Content"])  # type: ignore[index]
    files = hook_files(assembly, script, config["Metadata"]["LifecycleBundle"]["OnStart"])  # type: ignore[index]
    (name,) = [n for n in files if n.endswith("-idle-autostop/files/autostop.py")]
    return files[name]


def lines_with(output: list[str], prefix: str) -> list[str]:
    return [line[len(prefix) :] for line in output if line.startswith(prefix)]


@pytest.fixture(scope="module")
def tampered(default_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("tamper")
    (work / "user.sh").write_text(USER_STEP)
    (work / "root.sh").write_text(ROOT_STEP)
    argv = [str(default_assembly), "--stack", STACK, "--hook", "OnStart", "--json", str(work / "report.json")]
    code = main([*argv, "--then", "notebook-user", str(work / "user.sh"), "--then", "root", str(work / "root.sh")])
    (report,) = json.loads((work / "report.json").read_text())["hooks"]
    return {"code": code, "report": report, "user": report["then"][0], "root": report["then"][1]}


def test_the_hook_and_both_steps_ran_in_one_rehearsal(tampered: dict[str, Any]) -> None:
    report = tampered["report"]
    assert tampered["code"] == 0, report["problems"]
    assert report["mode"] == "uid-range"  # real users: ec2-user is uid 1000, not root
    assert [(s["user"], s["exit"]) for s in report["then"]] == [("ec2-user", 0), ("root", 0)]
    assert "idle-autostop" in {m["name"] for m in report["runs"][-1]["modules"]}


def test_the_user_cannot_change_the_program_or_its_schedule(tampered: dict[str, Any]) -> None:
    attempts = dict(line.rsplit(": ", 1) for line in lines_with(tampered["user"]["output"], "attempt "))
    assert len(attempts) == 18, tampered["user"]["output"]
    assert {what: errno for what, errno in attempts.items() if errno not in DENIED} == {}


def test_every_planted_file_would_leave_a_marker(tampered: dict[str, Any]) -> None:
    output = tampered["user"]["output"]
    planted = {*PLANTED_PROGRAMS, *PLANTED_PYTHON, *PLANTED_SHELL}
    assert set(lines_with(output, "self-check: ")) == planted, output
    # Run without -I, the system python does run the user's site: the planting is effective.
    assert {"user-site-pth", "user-site-usercustomize"} <= set(lines_with(output, "control: ")), output


def cron_job(output: list[str]) -> list[str]:
    """The command of the cron entry's one job line (as root's step parsed it from the file), split."""
    (job,) = lines_with(output, "job: ")
    fields = job.split(None, 6)
    assert fields[5] == "root" and lines_with(output, "job user: ") == ["root"], job
    return shlex.split(fields[6])


def test_the_cron_job_runs_a_root_owned_python_in_isolated_mode(tampered: dict[str, Any]) -> None:
    output = tampered["root"]["output"]
    argv = cron_job(output)
    assert argv[1:3] == ["-I", PROGRAM], argv  # isolated mode: no user site, no PYTHON* variables, no cwd
    ((interpreter, real),) = [line.split(" ") for line in lines_with(output, "interpreter: ")]
    assert interpreter == argv[0] and Path(real).name.startswith("python3"), (argv, real)
    # The interpreter and every directory above it: root's, writable by nobody else.
    owners = [line.split(" ", 3) for line in lines_with(output, "owner: ")]
    assert [path for *_, path in owners] == [real, *map(str, Path(real).parents)], owners
    assert [(uid, gid, int(mode, 8) & 0o022) for uid, gid, mode, _ in owners] == [("0", "0", 0)] * len(owners)


def test_the_cron_job_names_the_program_the_assembly_carries(tampered: dict[str, Any], default_assembly: Path) -> None:
    (sha,) = lines_with(tampered["root"]["output"], "sha256: ")
    assert sha.split() == [hashlib.sha256(carried_program(default_assembly)).hexdigest(), PROGRAM]


def test_the_program_logged_a_check_and_nothing_planted_ran(tampered: dict[str, Any]) -> None:
    output = tampered["root"]["output"]
    assert lines_with(output, "marker: ") == [], output
    (before,) = (int(n) for n in lines_with(output, "log lines before: "))
    (after,) = (int(n) for n in lines_with(output, "log lines after: "))
    logged = lines_with(output, "log| ")[before:]
    assert after > before and len(logged) == after - before, output
    # the program's own log lines (no network here: the check fails closed and says so)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ autostop: .+", line) for line in logged), logged


def test_the_text_report_shows_the_steps(tampered: dict[str, Any]) -> None:
    from constructs_lib.rehearse.report import render_text

    text = render_text([tampered["report"]])
    assert re.search(r"^then 1 \(ec2-user\): exit 0 after [\d.]+s$", text, re.MULTILINE), text
    assert re.search(r"^then 2 \(root\): exit 0 after [\d.]+s$", text, re.MULTILINE), text
