"""``rehearse``: run the lifecycle hooks of a synthesized app for real, twice, in a bubblewrap sandbox
that looks like an instance, and report what each module did, how long it took, what it changed,
and whether a second run changes anything again.

    rehearse ASSEMBLY [--stack S] [--config LOGICAL_ID] [--hook OnStart|OnCreate|<StudioAppType>]
             [--json FILE|-] [--stub NAME ...] [--keep DIR] [--mode auto|uid-range|one-uid]
             [--then root|notebook-user SCRIPT ...]

Exit status: 0 when every rehearsed hook passed, 1 when a problem was found (a module failed or
ran over its budget, the hook passed SageMaker's 5-minute limit, or the second run changed the
state), 2 when the rehearsal could not be done (bad assembly or selection, missing programs, no
bubblewrap), 3 on an internal error, 130 or 143 when stopped by SIGINT or SIGTERM (everything it
started is stopped first).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import IO, Any

from constructs_lib.bundling.limits import HOOK_TIMEOUT_SECONDS
from constructs_lib.bundling.reader import InputError, visible
from constructs_lib.rehearse import sandbox
from constructs_lib.rehearse.assembly import STUDIO_TARGET, AssemblyError, Hook, find_hooks
from constructs_lib.rehearse.programs import DEFAULT_STUBS, ONE_UID_STUBS, programs
from constructs_lib.rehearse.report import hook_report, render_text

ENGINE = Path(__file__).with_name("engine.py")
MODES = ("auto", "uid-range", "one-uid")
SYSTEM_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"
REQUIRED = ("bash", "tar", "base64", "sha256sum", "timeout", "setsid", "setpriv", "awk", "mkfifo", "env", "getent")
RESULT_LIMIT = 64 << 20
STDERR_TAIL = 20
RUNS = 2
DEFAULT_BACKGROUND_WAIT = 600
HOSTNAME = "sagemaker-rehearsal"
STEP_USERS = ("root", "notebook-user")
STEP_SCRIPT_LIMIT = 1 << 20
ACCOUNT = "111122223333"
REGION = "us-east-1"


class RehearsalError(Exception):
    """The rehearsal cannot be done here; the message says what is missing."""


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; everything the rehearsal started has been stopped."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}; everything it started was stopped")
        self.signum = signum


def choose_mode(requested: str) -> str:
    """``uid-range`` (real users inside: needs root, to map the sandbox's uids) or ``one-uid``."""
    if requested == "uid-range" and os.geteuid() != 0:
        raise RehearsalError("--mode uid-range needs root (it maps 65536 unused uids into the sandbox).")
    if requested == "auto":
        return "uid-range" if os.geteuid() == 0 else "one-uid"
    return requested


def stubs_for(mode: str, extra: list[str]) -> list[str]:
    stubs = list(DEFAULT_STUBS)
    if mode == "one-uid":
        stubs += ONE_UID_STUBS
    elif shutil.which("crontab", path=SYSTEM_PATH) is None:
        stubs.append("crontab")
    for name in extra:
        if name not in stubs:
            stubs.append(name)
    return stubs


def check_programs(hooks: list[Hook]) -> None:
    needed = list(REQUIRED)
    if any(b"xz -dc" in h.script for h in hooks):
        needed.append("xz")
    if any(b"gzip -dc" in h.script for h in hooks):
        needed.append("gzip")
    missing = [name for name in needed if shutil.which(name, path=SYSTEM_PATH) is None]
    if missing:
        raise RehearsalError(
            f"missing programs the hook needs: {', '.join(missing)} (on Debian: `make system-deps`, or "
            "apt-get install xz-utils cron util-linux)."
        )


def read_step(user: str, script: Path) -> tuple[str, bytes]:
    """A ``--then`` step: the user it runs as and its script (a regular file of at most 1 MiB)."""
    if user not in STEP_USERS:
        raise RehearsalError(f"--then {user!r}: the user is {' or '.join(STEP_USERS)}.")
    try:
        fd = os.open(script, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise RehearsalError(f"--then {user} {script}: {err.strerror}.") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise RehearsalError(f"--then {user} {script}: not a regular file.")
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(STEP_SCRIPT_LIMIT + 1)
    if len(data) > STEP_SCRIPT_LIMIT:
        raise RehearsalError(f"--then {user} {script}: larger than {STEP_SCRIPT_LIMIT >> 20} MiB.")
    return user, data


def resource_metadata(hook: Hook) -> str:
    if hook.target == STUDIO_TARGET:
        domain, space = "d-rehearsal00000", "rehearsal-space"
        data = {
            "AppType": hook.hook,
            "DomainId": domain,
            "SpaceName": space,
            "UserProfileName": "rehearsal-user",
            "ResourceArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:app/{domain}/{space}/{hook.hook}/default",
            "ResourceName": "default",
            "AppImageVersion": "latest",
        }
    else:
        name = hook.config_name or f"rehearsal-{hook.config.lower()}"[:63]
        data = {
            "ResourceArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance/{name.lower()}",
            "ResourceName": name,
        }
    return json.dumps(data, indent=2) + "\n"


def spec_for(hook: Hook, lay: sandbox.Layout, *, mode: str, keep: bool, limit: int, wait: int) -> dict[str, Any]:
    settings = hook.settings
    user, home = settings["NB_USER"], settings["NB_HOME"]
    identity, uid, gid = sandbox.identity_files(user, home, hook.target)
    return {
        "label": hook.label,
        "hook": hook.bundle_hook or hook.hook.lower(),
        "target": hook.target,
        "script": f"{sandbox.CONTROL}/hooks/{hook.slug}.sh",
        "control": sandbox.CONTROL,
        "out": sandbox.OUT,
        "host_etc": sandbox.HOST_ETC,
        "read_only": lay.read_only,
        "fresh_in_etc": list(sandbox.FRESH_IN_ETC),
        "modes": sandbox.fresh_modes(),
        "identity": {name: [text, mode] for name, (text, mode) in identity.items()},
        "one_uid": mode == "one-uid",
        "user": user,
        "uid": uid,
        "gid": gid,
        "home": home,
        "persist": settings["PERSIST_DIR"],
        "log_dir": settings["LOG_DIR"],
        "modules": [{"name": m.name, "mode": m.mode, "budget": m.budget_seconds} for m in hook.modules],
        "runs": RUNS,
        "hook_limit": limit,
        "background_wait": wait,
        "resource_metadata": resource_metadata(hook),
        "keep": keep,
        "then": [],
    }


def _forward(stream: IO[bytes], tail: collections.deque[str]) -> None:
    """Pass the sandbox's progress lines on to stderr as they come; keep the last few for errors."""
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")[:2000]
        tail.append(line)
        print(line, file=sys.stderr, flush=True)


def _read_result(path: Path) -> dict[str, Any] | None:
    """The engine's result.json (written inside the sandbox: never followed through a link, bounded)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(RESULT_LIMIT + 1)
    if len(data) > RESULT_LIMIT:
        raise RehearsalError(f"the sandbox's result file is larger than {RESULT_LIMIT >> 20} MiB")
    try:
        result = json.loads(data)
    except ValueError as err:
        raise RehearsalError(f"the sandbox's result file is not JSON: {err}") from None
    return result if isinstance(result, dict) else None


def prepare(
    workdir: Path, hook: Hook, spec: dict[str, Any], stubs: list[str], then: list[tuple[str, bytes]] | None = None
) -> tuple[Path, Path]:
    """The control directory (read-only inside: programs, hook, ``--then`` steps, engine, spec) and the
    output one."""
    control, out = workdir / "control", workdir / "out"
    for path in (control / "bin", control / "hooks", control / "then", control / "out", control / "host-etc", out):
        path.mkdir(parents=True)
    (control / "hooks" / f"{hook.slug}.sh").write_bytes(hook.script)
    for index, (user, script) in enumerate(then or [], 1):
        (control / "then" / f"{index}.sh").write_bytes(script)
        spec["then"].append({"user": user, "script": f"{sandbox.CONTROL}/then/{index}.sh"})
    real_timeout = next((f"{d}/timeout" for d in ("/usr/bin", "/bin") if os.access(f"{d}/timeout", os.X_OK)), "")
    files = programs(
        stubs, calls=f"{sandbox.OUT}/calls.log", ctl=f"{sandbox.OUT}/ctl", real_timeout=real_timeout,
        one_uid=spec["one_uid"],
    )  # fmt: skip
    for name, text in files.items():
        (control / "bin" / name).write_text(text)
        (control / "bin" / name).chmod(0o755)
    shutil.copy(ENGINE, control / "engine.py")
    (control / "spec.json").write_text(json.dumps(spec, indent=1))
    for path in [control, *control.rglob("*")]:
        path.chmod(0o755 if path.is_dir() or path.parent.name == "bin" else 0o644)  # read inside
    if os.geteuid() == 0:
        os.chown(out, sandbox.SANDBOX_HOST_ID, sandbox.SANDBOX_HOST_ID)  # the sandbox's root writes here
        if not spec["one_uid"]:
            system_python_owned_by_root(control)
    return control, out


SYSTEM_PYTHON = "/usr/bin/python3"


def system_python_owned_by_root(control: Path) -> None:
    """On an instance the system python is root's; in the sandbox this machine's files belong to no mapped
    user (they show as 'nobody'), so a module that checks its interpreter's owner (idle-autostop) would
    refuse it. A copy owned by the sandbox's root is bound read-only over the interpreter's real path."""
    real = os.path.realpath(SYSTEM_PYTHON)
    if not os.path.isfile(real):
        return
    copy = control / "system-python"
    shutil.copy2(real, copy)
    copy.chmod(0o755)
    os.chown(copy, sandbox.SANDBOX_HOST_ID, sandbox.SANDBOX_HOST_ID)


def run_sandbox(spec: dict[str, Any], lay: sandbox.Layout, control: Path, out: Path) -> dict[str, Any]:
    """Run the engine for one hook in bubblewrap; its results. Always stops the sandbox before returning."""
    command = [sandbox.python_inside(), "-I", f"{sandbox.CONTROL}/engine.py", f"{sandbox.CONTROL}/spec.json"]
    argv = sandbox.bwrap_command(lay, control=control, out=out, command=command, hostname=HOSTNAME)
    if (control / "system-python").is_file():
        at = argv.index(str(control)) - 1  # after the layout's binds: over the read-only /usr/bin
        argv[at:at] = ["--ro-bind", str(control / "system-python"), os.path.realpath(SYSTEM_PYTHON)]
    limit = (RUNS + len(spec["then"])) * (spec["hook_limit"] + spec["background_wait"] + 30) + 60
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL)
    proc = None
    try:
        proc = sandbox.start(argv, one_uid=spec["one_uid"], stderr=subprocess.PIPE)
        assert proc.stderr is not None
        forward = threading.Thread(target=_forward, args=(proc.stderr, tail), daemon=True)
        forward.start()
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            raise RehearsalError(f"{spec['label']}: the rehearsal itself did not finish within {limit}s") from None
        forward.join(timeout=5)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()  # bwrap's --die-with-parent: the whole sandbox dies with it
            proc.wait()
    result = _read_result(out / "result.json")
    if result is None:
        why = " | ".join(line for line in tail if line) or f"exit {proc.returncode if proc else '?'}"
        raise RehearsalError(f"{spec['label']}: the sandbox failed to start: {why}")
    if result.get("error") and not result.get("runs"):
        raise RehearsalError(f"{spec['label']}: could not prepare the sandbox: {result['error']}")
    return result


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted`` (so that every ``finally`` stops and removes what it made)."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signum)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def rehearse(
    hooks: list[Hook],
    *,
    mode: str = "auto",
    stubs: list[str] | None = None,
    keep: Path | None = None,
    limit: int = HOOK_TIMEOUT_SECONDS,
    background_wait: int = DEFAULT_BACKGROUND_WAIT,
    then: list[tuple[str, bytes]] | None = None,
) -> list[dict[str, Any]]:
    """Rehearse each hook in its own fresh sandbox; the report of each. ``then``: steps (user, bash script)
    run in order in the same sandbox after the runs (see ``read_step``)."""
    try:
        sandbox.bwrap()
        sandbox.python_inside()
    except sandbox.SandboxError as err:
        raise RehearsalError(str(err)) from None
    check_programs(hooks)
    chosen = choose_mode(mode)
    if chosen == "one-uid" and any(user != "root" for user, _ in then or []):
        raise RehearsalError("--then notebook-user needs --mode uid-range (a one-uid sandbox has no other users).")
    names = stubs_for(chosen, stubs or [])
    lay = sandbox.layout()
    reports = []
    with stopped_by_signals():
        for hook in hooks:
            workdir = Path(tempfile.mkdtemp(prefix="lcc-rehearse-", dir=sandbox.workdir_parent()))
            workdir.chmod(0o711)  # the sandbox's root reaches control/ and out/ (only)
            try:
                spec = spec_for(hook, lay, mode=chosen, keep=keep is not None, limit=limit, wait=background_wait)
                control, out = prepare(workdir, hook, spec, names, then)
                result = run_sandbox(spec, lay, control, out)
                reports.append(hook_report(hook, result, mode=chosen, stubs=names, limit=limit))
                if keep:
                    kept = keep / hook.slug
                    kept.mkdir(parents=True, exist_ok=True)
                    _keep(out, control, kept)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
    return reports


def _keep(out: Path, control: Path, kept: Path) -> None:
    """Copy the run outputs, calls, results and changed files (never following a link made inside)."""
    for item in out.iterdir():
        if item.is_file() and not item.is_symlink():
            shutil.copyfile(item, kept / item.name, follow_symlinks=False)
    if (out / "changed").is_dir() and not (out / "changed").is_symlink():
        shutil.copytree(out / "changed", kept / "changed", symlinks=True, dirs_exist_ok=True)
    shutil.copytree(control / "hooks", kept / "hooks", dirs_exist_ok=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rehearse",
        description="Run lifecycle hooks of a synthesized app twice in an instance-like root and report "
        "per module: exit status, time against its budget, files changed, and idempotence.",
    )
    p.add_argument("assembly", type=Path, help="cloud assembly directory (cdk.out) or one template file")
    p.add_argument("--stack", help="only this stack (artifact id, display name or stack name)")
    p.add_argument("--config", help="only this lifecycle config (logical ID or literal name)")
    p.add_argument("--hook", help="only this hook: OnStart, OnCreate or a Studio app type (JupyterLab...)")
    p.add_argument(
        "--json", metavar="FILE", help="also write the report as JSON to FILE ('-': stdout, instead of text)"
    )
    p.add_argument(
        "--stub", action="append", default=[], metavar="NAME",
        help=f"replace command NAME by a recording stand-in (repeatable; always: {' '.join(DEFAULT_STUBS)})",
    )  # fmt: skip
    p.add_argument("--keep", type=Path, metavar="DIR", help="keep hook scripts, outputs, calls and changed files here")
    p.add_argument(
        "--mode", choices=MODES, default="auto",
        help="users in the bubblewrap sandbox: uid-range (real distinct users; needs root) or one-uid; "
        "auto (default): uid-range as root",
    )  # fmt: skip
    p.add_argument(
        "--hook-limit", type=int, default=HOOK_TIMEOUT_SECONDS, metavar="SECONDS",
        help=f"time a hook may block (default {HOOK_TIMEOUT_SECONDS}, SageMaker's limit)",
    )  # fmt: skip
    p.add_argument(
        "--background-wait", type=int, default=DEFAULT_BACKGROUND_WAIT, metavar="SECONDS",
        help=f"longest wait for background modules after each run (default {DEFAULT_BACKGROUND_WAIT})",
    )  # fmt: skip
    p.add_argument(
        "--then", nargs=2, action="append", default=[], metavar=("USER", "SCRIPT"),
        help="after the two runs, run `bash SCRIPT` as USER (root or notebook-user) in the same sandbox, "
        "within --hook-limit; its exit status and output are reported, a non-zero exit is a problem "
        "(repeatable, run in order)",
    )  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; bad input is one line and status 2, any other failure one line and status 3
    (the traceback only with ``LCC_DEBUG=1`` in the environment)."""
    try:
        return _run(argv)
    except InputError as err:
        print(f"rehearse: {visible(str(err))}", file=sys.stderr)
        return 2
    except Exception as err:  # any other failure is a bug: one line, a distinct status
        if os.environ.get("LCC_DEBUG") == "1":
            traceback.print_exc()
        print(f"rehearse: internal error: {visible(f'{type(err).__name__}: {err}')}", file=sys.stderr)
        return 3


def _run(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    for name in args.stub:
        if not name or "/" in name or name.startswith("."):
            print(f"rehearse: --stub {name!r}: give a command name, not a path.", file=sys.stderr)
            return 2
    if args.hook_limit < 1 or args.background_wait < 0:
        print("rehearse: --hook-limit must be at least 1 and --background-wait at least 0.", file=sys.stderr)
        return 2
    try:
        then = [read_step(user, Path(script)) for user, script in args.then]
        hooks = find_hooks(args.assembly, stack=args.stack, config=args.config, hook=args.hook)
        reports = rehearse(
            hooks, mode=args.mode, stubs=args.stub, keep=args.keep, limit=args.hook_limit,
            background_wait=args.background_wait, then=then,
        )  # fmt: skip
    except (AssemblyError, RehearsalError) as err:
        print(f"rehearse: {err}", file=sys.stderr)
        return 2
    except Interrupted as err:
        print(f"rehearse: {err}", file=sys.stderr)
        return 128 + err.signum
    ok = all(r["ok"] for r in reports)
    document = {"ok": ok, "hooks": reports}
    text = render_text(reports)
    if args.json == "-":
        print(json.dumps(document, indent=2))
    else:
        print(text, end="")
        if args.json:
            Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    if args.keep:
        (args.keep / "report.txt").write_text(text)
        (args.keep / "report.json").write_text(json.dumps(document, indent=2) + "\n")
    return 0 if ok else 1
