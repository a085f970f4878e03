"""``rehearse``: run the lifecycle hooks of a synthesized app for real, twice, in an instance-like root,
and report what each module did, how long it took, what it changed, and whether a second run
changes anything again.

    rehearse ASSEMBLY [--stack S] [--config LOGICAL_ID] [--hook OnStart|OnCreate|<StudioAppType>]
             [--json FILE|-] [--stub NAME ...] [--keep DIR] [--mode auto|namespace|directory]

Exit status: 0 when every rehearsed hook passed, 1 when a problem was found (a module failed or
ran over its budget, the hook passed SageMaker's 5-minute limit, or the second run changed the
state), 2 when the rehearsal could not be done (bad assembly or selection, missing programs), 3 on an
internal error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from constructs_lib.bundling.limits import HOOK_TIMEOUT_SECONDS
from constructs_lib.bundling.reader import InputError, visible
from constructs_lib.rehearse.assembly import STUDIO_TARGET, AssemblyError, Hook, find_hooks
from constructs_lib.rehearse.engine import DEFAULT_STUBS, SYSTEM_PATH
from constructs_lib.rehearse.report import hook_report, render_text

ENGINE = Path(__file__).with_name("engine.py")
MODES = ("auto", "namespace", "directory")
REQUIRED = ("bash", "tar", "base64", "sha256sum", "timeout", "setsid", "awk", "mkfifo", "env")
NAMESPACE_FLAGS = ("--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--net", "--uts", "--ipc")
RUNS = 2
DEFAULT_BACKGROUND_WAIT = 600
ACCOUNT = "111122223333"
REGION = "us-east-1"


class RehearsalError(Exception):
    """The rehearsal cannot be done here; the message says what is missing."""


def namespace_support() -> tuple[bool, bool, str]:
    """(usable, needs a user namespace, why not) for the namespace mode on this machine."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False, False, "unshare not found (install util-linux)"
    userns = os.geteuid() != 0
    probe = [unshare, *NAMESPACE_FLAGS, *(("--user", "--map-root-user") if userns else ()), "true"]
    try:
        result = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, userns, str(err)
    if result.returncode != 0:
        return False, userns, result.stderr.strip() or f"unshare exited {result.returncode}"
    return True, userns, ""


def choose_mode(requested: str) -> tuple[str, bool, str]:
    """(mode, user namespace, note) for ``--mode``; raises when namespace mode is asked for but impossible."""
    if requested == "directory":
        return "directory", False, "directory mode was asked for"
    usable, userns, why = namespace_support()
    if usable:
        return "namespace", userns, ""
    if requested == "namespace":
        raise RehearsalError(f"namespace mode is not available here: {why}")
    return "directory", False, f"namespaces are not available ({why}); fell back to the weaker directory mode"


def stubs_for(mode: str, userns: bool, extra: list[str]) -> list[str]:
    stubs = list(DEFAULT_STUBS)
    if mode == "directory" or userns:
        stubs += ["sudo", "chown", "chgrp", "crontab"]
    else:
        stubs += [name for name in ("crontab", "sudo") if shutil.which(name, path=SYSTEM_PATH) is None]
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
            "apt-get install xz-utils sudo cron util-linux)."
        )


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


def spec_for(
    hook: Hook, workdir: Path, *, mode: str, userns: bool, stubs: list[str], keep: Path | None, limit: int, wait: int
) -> dict[str, Any]:
    settings = hook.settings
    return {
        "mode": mode,
        "userns": userns,
        "workdir": str(workdir),
        "label": hook.label,
        "hook": hook.bundle_hook or hook.hook.lower(),
        "target": hook.target,
        "script": f"{hook.slug}.sh",
        "user": settings["NB_USER"],
        "home": settings["NB_HOME"],
        "persist": settings["PERSIST_DIR"],
        "log_dir": settings["LOG_DIR"],
        "background": [{"name": m.name, "budget": m.budget_seconds} for m in hook.modules if m.mode == "background"],
        "stubs": stubs,
        "runs": RUNS,
        "hook_limit": limit,
        "background_wait": wait,
        "resource_metadata": resource_metadata(hook),
        "hostname": "sagemaker-rehearsal",
        "keep": str(keep) if keep else None,
    }


def run_engine(spec: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Run the engine for one hook (inside fresh namespaces, or as a subreaper) and read its results."""
    spec_path = workdir / "spec.json"
    spec_path.write_text(json.dumps(spec, indent=1))
    command = [sys.executable, "-I", str(ENGINE), str(spec_path)]
    if spec["mode"] == "namespace":
        extra = ("--user", "--map-root-user") if spec["userns"] else ()
        command = [shutil.which("unshare") or "unshare", *NAMESPACE_FLAGS, *extra, *command]
    limit = RUNS * (spec["hook_limit"] + spec["background_wait"] + 30) + 60
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise RehearsalError(f"{spec['label']}: the rehearsal itself did not finish within {limit}s") from None
    result_path = workdir / "control" / "result.json"
    if not result_path.exists():
        raise RehearsalError(f"{spec['label']}: the rehearsal failed to start (exit {proc.returncode}): {err or out}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    if result.get("error") and not result.get("runs"):
        raise RehearsalError(f"{spec['label']}: could not build the instance-like root: {result['error']}")
    return result


def rehearse(
    hooks: list[Hook],
    *,
    mode: str = "auto",
    stubs: list[str] | None = None,
    keep: Path | None = None,
    limit: int = HOOK_TIMEOUT_SECONDS,
    background_wait: int = DEFAULT_BACKGROUND_WAIT,
) -> list[dict[str, Any]]:
    """Rehearse each hook in its own fresh root; the report of each."""
    check_programs(hooks)
    chosen, userns, why = choose_mode(mode)
    names = stubs_for(chosen, userns, stubs or [])
    label = "namespace-user" if chosen == "namespace" and userns else chosen
    reports = []
    for hook in hooks:
        workdir = Path(tempfile.mkdtemp(prefix="lcc-rehearse-"))
        try:
            control = workdir / "control"
            (control / "hooks").mkdir(parents=True)
            (control / "hooks" / f"{hook.slug}.sh").write_bytes(hook.script)
            os.chmod(control / "hooks", 0o755)  # noqa: S103  # read by the hook as the Studio user
            kept = keep / hook.slug if keep else None
            if kept:
                kept.mkdir(parents=True, exist_ok=True)
            spec = spec_for(
                hook, workdir, mode=chosen, userns=userns, stubs=names, keep=kept, limit=limit, wait=background_wait
            )
            result = run_engine(spec, workdir)
            if why:
                result.setdefault("notes", []).insert(0, why)
            reports.append(hook_report(hook, result, mode=label, stubs=names, limit=limit))
            if kept:
                for item in control.iterdir():
                    if item.is_file() and not item.is_fifo():
                        shutil.copy2(item, kept / item.name)
                shutil.copytree(control / "hooks", kept / "hooks", dirs_exist_ok=True)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return reports


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
    p.add_argument("--mode", choices=MODES, default="auto", help="auto (default): namespace when possible")
    p.add_argument(
        "--hook-limit", type=int, default=HOOK_TIMEOUT_SECONDS, metavar="SECONDS",
        help=f"time a hook may block (default {HOOK_TIMEOUT_SECONDS}, SageMaker's limit)",
    )  # fmt: skip
    p.add_argument(
        "--background-wait", type=int, default=DEFAULT_BACKGROUND_WAIT, metavar="SECONDS",
        help=f"longest wait for background modules after each run (default {DEFAULT_BACKGROUND_WAIT})",
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
        hooks = find_hooks(args.assembly, stack=args.stack, config=args.config, hook=args.hook)
        reports = rehearse(
            hooks, mode=args.mode, stubs=args.stub, keep=args.keep, limit=args.hook_limit,
            background_wait=args.background_wait,
        )  # fmt: skip
    except (AssemblyError, RehearsalError) as err:
        print(f"rehearse: {err}", file=sys.stderr)
        return 2
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
