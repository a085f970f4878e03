"""Turning the engine's raw results into a report: per run and module what happened, the problems
found (each naming its module), and the readable text form."""

from __future__ import annotations

import re
from typing import Any

from constructs_lib.rehearse.assembly import Hook, PlannedModule

LOG_LINE = re.compile(r"^(\S+) \[([^\]]*)\] \[([^\]]*)\] ?(.*)$")
END_LINE = re.compile(r"^end: (?P<status>.*), exit (?P<exit>\d+), (?P<seconds>[\d.]+)s$")
TIMED_OUT = (124, 137)
TAIL_LINES = 10
TEXT_TAIL_LINES = 4
TEXT_CHANGES = 12
HOOK_SOURCE = "(hook and runner)"
RUN_NAMES = {1: "creation", 2: "start"}

MODE_NOTES = {
    "uid-range": (
        "bubblewrap sandbox: new user, mount, PID, IPC, UTS and network namespaces, this machine's system "
        "directories read-only, fresh /etc /home /root /tmp /run /opt /var/{tmp,log,spool}; capabilities only "
        "over the sandbox's own uids (this machine's unused uids from 0x70000000); real users, chown, crontab; "
        "sudo switches user with setpriv"
    ),
    "one-uid": (
        "bubblewrap sandbox with one uid (run without root): namespaces and read-only system directories as "
        "with root, but no other users: sudo, chown, chgrp and crontab are stand-ins and files belong to root"
    ),
}


def _owner(owners: dict[str, dict[str, str]], kind: str, value: object) -> str:
    return owners.get(kind, {}).get(str(value), str(value))


def describe_change(change: dict[str, Any], owners: dict[str, dict[str, str]]) -> dict[str, Any]:
    """A change as the report shows it: path, change, kind, owner, mode and link target."""
    entry = change.get("after") or change.get("before") or {}
    described: dict[str, Any] = {"path": change["path"], "change": change["change"], "kind": entry.get("kind", "?")}
    if entry and "uid" in entry and entry.get("kind") != "link":
        described["owner"] = f"{_owner(owners, 'users', entry['uid'])}:{_owner(owners, 'groups', entry['gid'])}"
        described["mode"] = f"{entry['mode']:04o}"
    elif entry.get("kind") == "link":
        described["owner"] = f"{_owner(owners, 'users', entry['uid'])}:{_owner(owners, 'groups', entry['gid'])}"
    if entry.get("kind") == "link":
        described["target"] = entry["target"]
    if entry.get("kind") == "file":
        described["size"] = entry.get("size")
    if change.get("diff"):
        described["diff"] = change["diff"]
    if change.get("modules") is not None:
        described["modules"] = change["modules"]
    return described


def _calls(lines: list[str]) -> list[str]:
    """Recorded stand-in calls as shell commands (``user: program args``)."""
    calls = []
    for line in lines:
        user, _, rest = line.partition("\t")
        calls.append(f"{user}: {rest.replace(chr(9), ' ')}")
    return calls


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _log_lines(output: str) -> list[tuple[str, str, str]]:
    """(hook, source, message) of each runner-style line of ``output``."""
    lines = []
    for line in output.splitlines():
        match = LOG_LINE.match(line)
        if match:
            lines.append((match[2], match[3], match[4]))
    return lines


def _scratch(path: str, hook: Hook) -> bool:
    """Whether ``path`` is the runner's own: its buffers, its logs and markers (not a module's doing)."""
    if not hook.bundle_dir:
        return False
    name = hook.bundle_hook
    state = f"{hook.settings['PERSIST_DIR'].rstrip('/')}/.lifecycle"
    directory, _, file = path.rpartition("/")
    if directory in (hook.settings["LOG_DIR"].rstrip("/"), f"{state}/logs"):
        return file == f"{name}.log" or (file.startswith(f"{name}.") and file.endswith(".log"))
    if directory == f"{state}/markers":
        return file.startswith(f"{name}.") and file.endswith(".done")
    return path.startswith(f"{hook.bundle_dir}/work/")


def _module_report(
    hook: Hook,
    module: PlannedModule,
    run: dict[str, Any],
    lines: list[tuple[str, str, str]],
    owners: dict[str, dict[str, str]],
) -> dict[str, Any]:
    own = [message for _, source, message in lines if source == module.name]
    report: dict[str, Any] = {
        "name": module.name,
        "user": module.user,
        "mode": module.mode,
        "budgetSeconds": module.budget_seconds,
    }
    events = [e for e in run["modules"] if e["module"] == module.name]
    end = next((END_LINE.match(m) for m in own if END_LINE.match(m)), None)
    skipped = next((m for m in own if m.startswith("skipped:")), None)
    if module.mode == "background":
        log = run["background_logs"].get(module.name, "")
        own += [message for _, source, message in _log_lines(log) if source == module.name]
        marker = run["markers"].get(module.name)
        report["marker"] = marker
        fields = dict(part.split("=", 1) for part in (marker or "").split() if "=" in part)
        if "exit" in fields:
            report["exit"] = int(fields["exit"])
        if "seconds" in fields:
            report["seconds"] = float(fields["seconds"])
    if events:
        report["exit"] = events[-1]["exit"]
        report["seconds"] = events[-1]["seconds"]
    elif end is not None:
        report["exit"] = int(end["exit"])
        report["seconds"] = float(end["seconds"])
    if skipped:
        report["status"] = "skipped"
    elif "exit" not in report and module.name in run.get("started", []) and run["timed_out"]:
        report["status"] = "killed"
    elif "exit" not in report:
        report["status"] = "still running" if module.mode == "background" else "did not run"
    elif report["exit"] in TIMED_OUT:
        report["status"] = "over budget"
    elif report["exit"] != 0:
        report["status"] = "failed"
    else:
        report["status"] = "ok"
    changes: list[dict[str, Any]] = []
    calls: list[str] = []
    for interval in run["intervals"]:
        if module.name in interval["modules"]:
            shared = [m for m in interval["modules"] if m != module.name]
            for change in interval["changes"]:
                if _scratch(change["path"], hook):
                    continue
                described = describe_change(change, owners)
                if shared:
                    described["alsoRunning"] = shared
                changes.append(described)
            calls += _calls(interval["calls"])
    report["changes"] = changes
    report["calls"] = calls
    report["logTail"] = [m for m in own if not m.startswith(("start: user", "background start:"))][-TAIL_LINES:]
    return report


def hook_report(hook: Hook, result: dict[str, Any], *, mode: str, stubs: list[str], limit: int) -> dict[str, Any]:
    """The report of one rehearsed hook, with its problems and verdict."""
    owners = result.get("owners") or {}
    problems: list[str] = []
    runs = []
    for run in result.get("runs", []):
        number = run["run"]
        lines = _log_lines(run["output"])
        modules = [_module_report(hook, m, run, lines, owners) for m in hook.modules]
        hook_changes = [
            describe_change(change, owners)
            for interval in run["intervals"]
            for change in interval["changes"]
            if not interval["modules"] or _scratch(change["path"], hook)
        ]
        hook_calls = [c for interval in run["intervals"] if not interval["modules"] for c in _calls(interval["calls"])]
        where = f"run {number} ({RUN_NAMES.get(number, 'start')})"
        for module in modules:
            name, status = module["name"], module["status"]
            if status == "over budget":
                problems.append(
                    f"{name}: exceeded its budget of {module['budgetSeconds']}s and was killed "
                    f"(exit {module['exit']}, {module.get('seconds', 0):.1f}s) in {where}"
                )
            elif status == "failed":
                problems.append(f"{name}: failed with exit status {module['exit']} in {where}")
            elif status == "skipped":
                problems.append(f"{name}: skipped by the runner (its budget would pass the hook's deadline) in {where}")
            elif status == "killed":
                problems.append(
                    f"{name}: was running when the hook reached the {limit}s limit and was killed in {where}"
                )
            elif status == "did not run":
                problems.append(f"{name}: did not run in {where}")
            elif status == "still running":
                problems.append(
                    f"{name}: background module without a completion marker after {run['background_wait_seconds']}s "
                    f"in {where}"
                )
        for _, source, message in lines:
            if source == "bundle":
                problems.append(f"hook: {message} in {where}")
        if run["exit"] != 0 and not run["timed_out"]:
            problems.append(f"hook: exited with status {run['exit']} in {where} (SageMaker marks the instance Failed)")
        if run["timed_out"] or run["blocking_seconds"] > limit:
            problems.append(
                f"hook: blocked for {run['blocking_seconds']:.1f}s, over the {limit}s limit of SageMaker in {where}"
                + (" (killed)" if run["timed_out"] else "")
            )
        runs.append(
            {
                "run": number,
                "name": RUN_NAMES.get(number, "start"),
                "hookExit": run["exit"],
                "blockingSeconds": run["blocking_seconds"],
                "limitSeconds": limit,
                "timedOut": run["timed_out"],
                "modules": modules,
                "hookChanges": hook_changes,
                "hookCalls": hook_calls,
                "leftRunning": run["left_running"],
                "output": run["output"].splitlines(),
            }
        )
    idempotence = [describe_change(c, owners) for c in result.get("idempotence", [])]
    for change in idempotence:
        by = ", ".join(change.get("modules") or []) or HOOK_SOURCE
        problems.append(f"{by}: not idempotent: run 2 {change['change']} {change['path']}")
    then = [
        {
            "step": step["step"],
            "user": step["user"],
            "exit": step["exit"],
            "seconds": step["seconds"],
            "timedOut": step["timed_out"],
            "output": step["output"].splitlines(),
        }
        for step in result.get("then", [])
    ]
    for step in then:
        if step["timedOut"]:
            problems.append(f"then {step['step']} ({step['user']}): killed at the {limit}s limit")
        elif step["exit"] != 0:
            problems.append(f"then {step['step']} ({step['user']}): exited with status {step['exit']}")
    if result.get("error"):
        problems.append(f"rehearsal: {result['error']}")
    return {
        "stack": hook.stack,
        "config": hook.config,
        "hook": hook.hook,
        "label": hook.label,
        "target": hook.target,
        "bundleHook": hook.bundle_hook,
        "mode": mode,
        "modeNote": MODE_NOTES[mode],
        "notes": result.get("notes", []),
        "user": result.get("user"),
        "stubs": stubs,
        "runs": runs,
        "idempotent": not idempotence and len(runs) > 1,
        "idempotenceChanges": idempotence,
        "then": then,
        "killedAtEnd": result.get("killed_at_end", []),
        "problems": problems,
        "ok": not problems,
    }


# -- text ---------------------------------------------------------------------------------------------
_SIGNS = {"created": "+", "modified": "~", "deleted": "-"}


def _change_line(change: dict[str, Any]) -> str:
    sign = _SIGNS.get(change["change"], "?")
    if change["change"] == "deleted":
        return f"{sign} {change['path']}"
    details = [change["kind"]]
    if "owner" in change:
        details.append(f"{change['owner']} {change['mode']}" if "mode" in change else change["owner"])
    if "target" in change:
        details.append(f"-> {change['target']}")
    also = f"  (while {', '.join(change['alsoRunning'])} ran too)" if change.get("alsoRunning") else ""
    return f"{sign} {change['path']}  {' '.join(details)}{also}"


def _changes_block(changes: list[dict[str, Any]], indent: str) -> list[str]:
    lines = [indent + _change_line(c) for c in changes[:TEXT_CHANGES]]
    if len(changes) > TEXT_CHANGES:
        lines.append(f"{indent}... and {len(changes) - TEXT_CHANGES} more (see --json)")
    return lines


def render_text(reports: list[dict[str, Any]]) -> str:
    out: list[str] = []
    for report in reports:
        user = report.get("user") or {}
        count = len(report["runs"][0]["modules"]) if report["runs"] else 0
        out.append(f"== {report['label']}  ({report['target']}, {count} modules)")
        out.append(f"mode: {report['modeNote']}")
        if user and report["mode"] == "uid-range":
            out.append(f"user: {user.get('name')} (uid {user.get('uid')}, gid {user.get('gid')}, the sandbox's own)")
        elif user:
            out.append(
                f"user: {user.get('name')} does not exist: its modules run as the rehearsal's user (sudo stand-in)"
            )
        out.append(f"stand-ins (recording programs first on PATH): {' '.join(report['stubs'])}")
        out += [f"note: {note}" for note in report["notes"]]
        for run in report["runs"]:
            out.append("")
            out.append(
                f"run {run['run']} ({run['name']}): hook exit {run['hookExit']}, blocked {run['blockingSeconds']:.1f}s "
                f"of the {run['limitSeconds']}s limit" + (" -- KILLED at the limit" if run["timedOut"] else "")
            )
            for module in run["modules"]:
                seconds = f"{module['seconds']:.2f}s" if "seconds" in module else "-"
                out.append(
                    f"  {module['status'].upper():<13} {module['name']:<30} {module['user']:<14} {module['mode']:<10} "
                    f"exit {module.get('exit', '-')!s:<4} {seconds} of {module['budgetSeconds']}s"
                )
                if module.get("marker"):
                    out.append(f"        marker: {module['marker']}")
                out += _changes_block(module["changes"], "        ")
                out += [f"        call  {_short(call)}" for call in module["calls"][:TEXT_CHANGES]]
                tail = [line for line in module["logTail"] if not line.startswith(("end: ", "background end: "))]
                out += [f"        log | {line}" for line in tail[-TEXT_TAIL_LINES:]]
            if run["hookChanges"]:
                paths = sorted({c["path"].rsplit("/", 1)[0] for c in run["hookChanges"]})
                shown = ", ".join(paths[:4]) + (" ..." if len(paths) > 4 else "")
                out.append(f"  {HOOK_SOURCE}: {len(run['hookChanges'])} changes in {shown}")
            out += [f"  {HOOK_SOURCE} call  {_short(call)}" for call in run["hookCalls"][:TEXT_CHANGES]]
            for proc in run["leftRunning"]:
                by = f" (started during {', '.join(proc['modules'])})" if proc.get("modules") else ""
                out.append(
                    f"  still running after the hook{by}: pid {proc['pid']} uid {proc['uid']}: {proc['command']}"
                )
        out.append("")
        if len(report["runs"]) > 1:
            if report["idempotent"]:
                out.append("idempotence: run 2 left the same state as run 1 (logs and marker times aside)")
            else:
                out.append("idempotence: run 2 changed the state that run 1 left:")
                for change in report["idempotenceChanges"]:
                    by = ", ".join(change.get("modules") or []) or HOOK_SOURCE
                    out.append(f"  {_change_line(change)}  [{by}]")
                    out += [f"      {line}" for line in change.get("diff", [])]
        for step in report.get("then", []):
            out.append(f"then {step['step']} ({step['user']}): exit {step['exit']} after {step['seconds']:.2f}s")
            out += [f"  out | {_short(line)}" for line in step["output"][-TEXT_TAIL_LINES:]]
        if report["killedAtEnd"]:
            out.append(f"stopped at the end: {len(report['killedAtEnd'])} leftover processes")
        if report["ok"]:
            out.append("result: PASS")
        else:
            out.append(f"result: FAIL ({len(report['problems'])} problems)")
            out += [f"  - {problem}" for problem in report["problems"]]
        out.append("")
    passed = sum(1 for r in reports if r["ok"])
    out.append(f"{len(reports)} hooks rehearsed: {passed} passed, {len(reports) - passed} failed")
    return "\n".join(out) + "\n"
