"""Plain-text and Markdown renderings of an assembly's hooks and of a comparison report."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from constructs_lib.bundling.reader import visible
from constructs_lib.review.assembly import BLOCKING_LIMIT_SECONDS, NEAR_LIMIT, Assembly
from constructs_lib.review.compare import (
    Fact,
    FileDiff,
    HookChange,
    Measure,
    ModuleChange,
    Report,
    near_limit,
    percent,
    short,
)

SHOWN = "\n\t"
"""The only control characters written as they are; all others (terminal escapes, carriage returns,
bidirectional overrides) from decoded content are shown as escapes."""
WARNING = f"above {NEAR_LIMIT:.0%} of the limit"
KINDS = {"notebook": "notebook instance lifecycle config", "studio": "Studio lifecycle config"}


def table(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """Rows aligned in columns separated by two spaces (no trailing blanks)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def usage_cell(value: int, limit: int, unit: str = "") -> str:
    flag = " !" if near_limit(value, limit) else ""
    return f"{value}{unit}/{limit}{unit} ({percent(value, limit)}){flag}"


# -- list ----------------------------------------------------------------------------------------------


def render_list(assembly: Assembly) -> str:
    """Every hook with its size and budget, and under it every module, as a plain-text table."""
    if not assembly.hooks:
        return f"No lifecycle configs in {len(assembly.stacks)} stack(s).\n"
    header = ("STACK", "LOGICAL ID", "KIND", "HOOK", "NAME", "ENCODED/LIMIT", "BLOCKING/LIMIT")
    config_rows = [header] + [
        (
            hook.stack,
            hook.logical_id,
            hook.kind,
            hook.hook,
            hook.name or "-",
            usage_cell(hook.content_length, hook.limit),
            usage_cell(hook.blocking_seconds, BLOCKING_LIMIT_SECONDS, "s") if hook.bundled else "-",
        )
        for hook in assembly.hooks
    ]
    module_header = ("#", "MODULE", "USER", "MODE", "BUDGET", "BYTES", "SHA256", "SETTINGS", "FILES")
    module_rows = [module_header] + [
        (
            f"{m.index:02d}",
            m.name,
            m.user,
            m.mode,
            f"{m.budget_seconds}s",
            str(len(m.script)),
            short(m.sha256),
            str(len(m.settings)),
            str(len(m.files)),
        )
        for hook in assembly.hooks
        for m in hook.modules
    ]
    configs = table(config_rows)
    modules = table(module_rows, indent="    ")
    lines = [configs[0]]
    position = 1
    for number, hook in enumerate(assembly.hooks, start=1):
        lines += ["", configs[number]] if number > 1 else [configs[number]]
        if hook.bundled:
            lines.append(modules[0])
            lines.extend(modules[position : position + len(hook.modules)])
            position += len(hook.modules)
        else:
            lines.append(f"    (a plain script of {len(hook.script)} bytes, not a bundle)")
    if any(row[5].endswith("!") or row[6].endswith("!") for row in config_rows[1:]):
        lines += ["", f"! more than {NEAR_LIMIT:.0%} of the limit is used."]
    return visible("\n".join(lines) + "\n", keep=SHOWN)


# -- diff: plain text ------------------------------------------------------------------------------------


def measure_text(measure: Measure, markdown: bool = False) -> str:
    arrow = " → " if markdown else " -> "
    unit, limit = measure.unit, measure.limit
    if measure.old is None or measure.new is None:
        value = measure.new if measure.old is None else measure.old
        assert value is not None
        text = f"{value}{unit} of {limit}{unit} ({percent(value, limit)})"
    elif measure.old == measure.new:
        text = f"{measure.new}{unit} of {limit}{unit} ({percent(measure.new, limit)}), unchanged"
    else:
        text = (
            f"{measure.old}{unit}{arrow}{measure.new}{unit} of {limit}{unit} "
            f"({percent(measure.old, limit)}{arrow}{percent(measure.new, limit)})"
        )
    if measure.warning:
        text += f" :warning: {WARNING}" if markdown else f"  WARNING: {WARNING}"
    return f"{measure.subject}: {text}"


def fact_text(fact: Fact, markdown: bool = False) -> str:
    def value(text: str | None) -> str:
        text = "" if text is None else text
        return code(text) if markdown and fact.code else text

    arrow = " → " if markdown else " -> "
    if fact.old is None:
        text = f"{fact.subject}: {value(fact.new)}" + ("" if fact.subject.startswith("modules") else " (added)")
    elif fact.new is None:
        text = f"{fact.subject}: {value(fact.old)}" + ("" if fact.subject.startswith("modules") else " (removed)")
    else:
        text = f"{fact.subject}: {value(fact.old)}{arrow}{value(fact.new)}"
    return text + (f" ({fact.note})" if fact.note else "")


def shown_facts(module: ModuleChange) -> list[Fact]:
    """The facts worth a line: all of a changed module's, the settings and files of an added one.

    (An added module's user, mode, budget and size are in its heading or table row already; a removed
    module is shown by its diff to /dev/null.)
    """
    if module.status == "changed":
        return module.facts
    if module.status == "added":
        return [f for f in module.facts if f.subject.startswith(("setting ", "file "))]
    return []


def _module_line(module: ModuleChange) -> str:
    m = module.current
    return f"module {m.name} ({module.status}): {m.user}, {m.mode}, {m.budget_seconds}s, {len(m.script)} bytes"


def render_text(report: Report) -> str:
    lines = [f"error: {visible(error)}" for error in report.errors]
    if not report.changes:
        lines.append(f"No lifecycle configuration changes. {report.summary()}")
        return "\n".join(lines) + "\n"
    lines.append(f"Lifecycle configuration changes. {report.summary()}")
    for change in report.changes:
        lines += ["", f"=== {change.label} ({change.kind}): {change.status} ==="]
        lines += [fact_text(f) for f in change.facts if f.subject == "name"]
        lines += [measure_text(m) for m in change.measures]
        lines += [fact_text(f) for f in change.facts if f.subject != "name"]
        for module in change.modules:
            if module.status == "unchanged":
                continue
            lines += ["", _module_line(module)]
            lines += [f"  {fact_text(f)}" for f in shown_facts(module)]
            for diff in module.diffs:
                lines += diff.lines
        for diff in change.internals:
            lines += ["", f"{diff.title} changed"]
            lines += diff.lines
    return visible("\n".join(lines) + "\n", keep=SHOWN)


# -- diff: Markdown ------------------------------------------------------------------------------------


def code(text: str) -> str:
    """``text`` as an inline code span, whatever backticks it holds."""
    run = max((len(r) for r in re.findall(r"`+", text)), default=0)
    fence = "`" * (run + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def cell(text: str) -> str:
    """``text`` as plain Markdown text in a table cell or heading: no HTML, links, emphasis or cell breaks."""
    text = html.escape(visible(text), quote=False)
    return re.sub(r"([\\`*_\[\]|!#~])", r"\\\1", text)


def fenced(lines: Sequence[str], language: str = "diff") -> list[str]:
    body = "\n".join(lines)
    run = max((len(r) for r in re.findall(r"`{3,}", body)), default=0)
    fence = "`" * max(3, run + 1)
    return [f"{fence}{language}", body, fence]


def _change_cell(measure: Measure) -> str:
    """``old → new of limit (new %)`` for the summary table (one value when it did not change)."""
    unit = measure.unit
    new = measure.new if measure.new is not None else measure.old
    assert new is not None
    moved = measure.old is not None and measure.new is not None and measure.old != measure.new
    text = f"{measure.old}{unit} → {new}{unit}" if moved else f"{new}{unit}"
    text += f" of {measure.limit}{unit} ({percent(new, measure.limit)})"
    return text + (" :warning:" if measure.warning else "")


def _summary_table(report: Report) -> list[str]:
    rows = [
        "| Stack | Config | Hook | Change | Encoded length | Blocking budget |",
        "|---|---|---|---|---|---|",
    ]
    for change in report.changes:
        stack, logical_id, hook = change.key
        cells = [_change_cell(m) for m in change.measures] + ["-"]
        rows.append(
            f"| {cell(stack)} | {code(logical_id)} ({change.kind}) | {cell(hook)} | {change.status} | "
            f"{cells[0]} | {cells[1]} |"
        )
    return rows


def _arrow(old: str | None, new: str | None) -> str:
    if old is None or new is None or old == new:
        return cell(new if new is not None else old or "")
    return cell(f"{old} → {new}")


def _module_table(change: HookChange) -> list[str]:
    rows = [
        "| # | Module | Change | User | Mode | Budget | Script bytes | sha256 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for module in change.modules:
        old, new = module.old, module.new
        index = str(new.index) if new else "-"
        rows.append(
            "| "
            + " | ".join(
                [
                    index,
                    code(module.name),
                    f"changed: {', '.join(module.aspects)}" if module.status == "changed" else module.status,
                    _arrow(old.user if old else None, new.user if new else None),
                    _arrow(old.mode if old else None, new.mode if new else None),
                    _arrow(f"{old.budget_seconds}s" if old else None, f"{new.budget_seconds}s" if new else None),
                    _arrow(str(len(old.script)) if old else None, str(len(new.script)) if new else None),
                    _arrow(short(old.sha256) if old else None, short(new.sha256) if new else None),
                ]
            )
            + " |"
        )
    return rows


def _details(summary: str, facts: Sequence[str], diffs: Sequence[FileDiff]) -> list[str]:
    lines = ["<details>", f"<summary>{summary}</summary>", ""]
    if facts:
        lines += [f"- {fact}" for fact in facts] + [""]
    for diff in diffs:
        lines += [*fenced(diff.lines), ""]
    return [*lines, "</details>", ""]


def _stats(diffs: Sequence[FileDiff]) -> str:
    added = sum(d.added for d in diffs)
    removed = sum(d.removed for d in diffs)
    return f" (+{added} -{removed})" if diffs else ""


def render_markdown(report: Report) -> str:
    lines = ["## Lifecycle configuration changes", ""]
    lines += [f"> **Error:** {code(visible(error))}" for error in report.errors]
    if report.errors:
        lines.append("")
    if not report.changes:
        return "\n".join([*lines, f"No lifecycle configuration changes. {report.summary()}", ""])
    lines += [report.summary(), "", *_summary_table(report), ""]
    for change in report.changes:
        stack, logical_id, hook = change.key
        lines += [f"### {cell(stack)} / {code(logical_id)} / {hook}: {change.status}", ""]
        lines.append(f"A {KINDS.get(change.kind, change.kind)}.")
        lines.append("")
        lines += [f"- {fact_text(f, markdown=True)}" for f in change.facts if f.subject == "name"]
        lines += [f"- {measure_text(m, markdown=True)}" for m in change.measures]
        lines += [f"- {fact_text(f, markdown=True)}" for f in change.facts if f.subject != "name"]
        lines.append("")
        if change.modules:
            lines += [*_module_table(change), ""]
        for module in change.modules:
            if module.status == "unchanged":
                continue
            facts = [fact_text(f, markdown=True) for f in shown_facts(module)]
            summary = f"<code>{html.escape(module.name)}</code>: {module.status}{_stats(module.diffs)}"
            lines += _details(summary, facts, module.diffs)
        for diff in change.internals:
            lines += _details(f"{html.escape(diff.title)} changed{_stats([diff])}", [], [diff])
    return visible("\n".join(lines).rstrip("\n") + "\n", keep=SHOWN)
