"""What changed between two assemblies' lifecycle hooks, as a structure both renderers read."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from constructs_lib.review.assembly import BLOCKING_LIMIT_SECONDS, NEAR_LIMIT, Assembly, HookView, ModuleView, sha256

SHORT_SHA = 12


def short(digest: str) -> str:
    return digest[:SHORT_SHA]


def percent(value: int, limit: int) -> str:
    return f"{100 * value / limit:.1f}%" if limit else "-"


def near_limit(value: int, limit: int) -> bool:
    return limit > 0 and value > NEAR_LIMIT * limit


@dataclass(frozen=True)
class Fact:
    """One changed property: ``old`` is None when it was added, ``new`` is None when it was removed."""

    subject: str
    old: str | None
    new: str | None
    code: bool = False
    """Whether the values are literal text (rendered as code in Markdown)."""
    note: str = ""


@dataclass(frozen=True)
class Measure:
    """A size or a time against its limit, before and after."""

    subject: str
    old: int | None
    new: int | None
    limit: int
    unit: str = ""

    @property
    def warning(self) -> bool:
        return self.new is not None and near_limit(self.new, self.limit)


@dataclass(frozen=True)
class FileDiff:
    """A unified diff of one decoded file (a module's script or carried file, the runner, ...)."""

    title: str
    lines: tuple[str, ...]
    added: int
    removed: int


@dataclass
class ModuleChange:
    name: str
    status: str
    """``added``, ``removed``, ``changed`` or ``unchanged``."""
    old: ModuleView | None
    new: ModuleView | None
    facts: list[Fact] = field(default_factory=list)
    diffs: list[FileDiff] = field(default_factory=list)

    @property
    def aspects(self) -> list[str]:
        """What changed, in the order of the facts: ``script``, ``settings``, ``files``, ``user`` ..."""
        names = {"setting": "settings", "file": "files"}
        seen: list[str] = []
        for fact in self.facts:
            aspect = names.get(fact.subject.split()[0], fact.subject)
            if aspect not in seen:
                seen.append(aspect)
        return seen

    @property
    def current(self) -> ModuleView:
        module = self.new or self.old
        assert module is not None
        return module


@dataclass
class HookChange:
    key: tuple[str, str, str]
    status: str
    """``config added``, ``hook added``, ``config removed``, ``hook removed`` or ``changed``."""
    kind: str
    base: HookView | None
    head: HookView | None
    facts: list[Fact] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)
    modules: list[ModuleChange] = field(default_factory=list)
    internals: list[FileDiff] = field(default_factory=list)

    @property
    def label(self) -> str:
        stack, logical_id, hook = self.key
        return f"{stack}/{logical_id} {hook}"


@dataclass
class Report:
    changes: list[HookChange]
    unchanged: int
    errors: list[str]

    @property
    def compared(self) -> int:
        return len(self.changes) + self.unchanged

    def count(self, *statuses: str) -> int:
        return sum(1 for change in self.changes if change.status in statuses)

    def summary(self) -> str:
        return (
            f"{self.compared} lifecycle hook{'s' if self.compared != 1 else ''} compared: "
            f"{self.count('changed')} changed, {self.count('config added', 'hook added')} added, "
            f"{self.count('config removed', 'hook removed')} removed, {self.unchanged} unchanged."
        )


# -- unified diffs -----------------------------------------------------------------------------------


def _text(data: bytes | None) -> str | None:
    """``data`` as text, or None when it is binary."""
    if data is None:
        return ""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _lines(text: str) -> list[str]:
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    else:
        lines[-1] += "\n\\ No newline at end of file"
    return lines


def file_diff(title: str, old: bytes | None, new: bytes | None, path: str, context: int) -> FileDiff | None:
    """The unified diff of ``old`` -> ``new`` (None: the file does not exist on that side), or None if equal."""
    if old == new:
        return None
    from_file = "/dev/null" if old is None else f"a/{path}"
    to_file = "/dev/null" if new is None else f"b/{path}"
    old_text, new_text = _text(old), _text(new)
    if old_text is None or new_text is None:
        sizes = f"{len(old) if old is not None else 0} -> {len(new) if new is not None else 0} bytes"
        line = f"Binary files {from_file} and {to_file} differ ({sizes})"
        return FileDiff(title, (line,), 0, 0)
    lines = tuple(difflib.unified_diff(_lines(old_text), _lines(new_text), from_file, to_file, n=context, lineterm=""))
    body = [line for line in lines[2:] if not line.startswith("@@")]
    added = sum(1 for line in body if line.startswith("+"))
    removed = sum(1 for line in body if line.startswith("-"))
    return FileDiff(title, lines, added, removed)


# -- comparing -----------------------------------------------------------------------------------------


def _json(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _size(data: bytes) -> str:
    return f"{len(data)} bytes, sha256 {short(sha256(data))}"


def _module_facts(old: ModuleView | None, new: ModuleView | None) -> list[Fact]:
    facts: list[Fact] = []

    def plain(subject: str, before: str | None, after: str | None, *, code: bool = True) -> None:
        if before != after:
            facts.append(Fact(subject, before, after, code=code))

    plain("user", old.user if old else None, new.user if new else None)
    plain("mode", old.mode if old else None, new.mode if new else None)
    plain(
        "budget",
        f"{old.budget_seconds}s" if old else None,
        f"{new.budget_seconds}s" if new else None,
        code=False,
    )
    plain("script", _size(old.script) if old else None, _size(new.script) if new else None, code=False)
    old_settings: Mapping[str, str] = old.settings if old else {}
    new_settings: Mapping[str, str] = new.settings if new else {}
    for key in sorted(set(old_settings) | set(new_settings)):
        before, after = old_settings.get(key), new_settings.get(key)
        plain(
            f"setting {key}",
            None if before is None else _json(before),
            None if after is None else _json(after),
        )
    old_files: Mapping[str, bytes] = old.files if old else {}
    new_files: Mapping[str, bytes] = new.files if new else {}
    for rel in sorted(set(old_files) | set(new_files)):
        before_data, after_data = old_files.get(rel), new_files.get(rel)
        plain(
            f"file {rel}",
            None if before_data is None else _size(before_data),
            None if after_data is None else _size(after_data),
            code=False,
        )
    return facts


def _module_diffs(prefix: str, old: ModuleView | None, new: ModuleView | None, context: int) -> list[FileDiff]:
    name = new.name if new else old.name if old else ""
    old_script, new_script = (old.script if old else None), (new.script if new else None)
    diffs = [file_diff(f"{name}/run", old_script, new_script, f"{prefix}/{name}/run", context)]
    old_files: Mapping[str, bytes] = old.files if old else {}
    new_files: Mapping[str, bytes] = new.files if new else {}
    for rel in sorted(set(old_files) | set(new_files)):
        title = f"{name}/files/{rel}"
        diffs.append(file_diff(title, old_files.get(rel), new_files.get(rel), f"{prefix}/{title}", context))
    return [d for d in diffs if d is not None]


def _order_fact(base: HookView, head: HookView) -> list[Fact]:
    head_names = {m.name for m in head.modules}
    base_names = {m.name for m in base.modules}
    before = [m.name for m in base.modules if m.name in head_names]
    after = [m.name for m in head.modules if m.name in base_names]
    if before == after:
        return []
    return [Fact("modules reordered", ", ".join(before), ", ".join(after), code=True)]


def _measures(base: HookView | None, head: HookView | None) -> list[Measure]:
    limit = head.limit if head else base.limit if base else 0
    measures = [
        Measure("encoded length", base.content_length if base else None, head.content_length if head else None, limit)
    ]
    if (base and base.bundled) or (head and head.bundled):
        measures.append(
            Measure(
                "blocking budget",
                base.blocking_seconds if base else None,
                head.blocking_seconds if head else None,
                BLOCKING_LIMIT_SECONDS,
                "s",
            )
        )
    return measures


def compare_hook(
    key: tuple[str, str, str], base: HookView | None, head: HookView | None, status: str, context: int
) -> HookChange:
    either = head or base
    assert either is not None
    change = HookChange(key=key, status=status, kind=either.kind, base=base, head=head)
    prefix = "/".join(key)
    if base and head and base.name != head.name:
        note = "a new name: CloudFormation replaces the config" if either.kind == "studio" else ""
        change.facts.append(Fact("name", base.name, head.name, code=True, note=note))
    elif not (base and head) and either.name:
        change.facts.append(Fact("name", base.name if base else None, head.name if head else None, code=True))
    for subject in ("compression", "encoding"):
        before = getattr(base, subject) if base and base.bundled else None
        after = getattr(head, subject) if head and head.bundled else None
        if before != after and base and head:
            change.facts.append(Fact(subject, before, after, code=True))
    change.measures = _measures(base, head)
    old_modules = {m.name: m for m in base.modules} if base else {}
    new_modules = {m.name: m for m in head.modules} if head else {}
    added = [m.name for m in head.modules if m.name not in old_modules] if head else []
    removed = [m.name for m in base.modules if m.name not in new_modules] if base else []
    if base and head:
        if added:
            change.facts.append(Fact("modules added", None, ", ".join(added), code=True))
        if removed:
            change.facts.append(Fact("modules removed", ", ".join(removed), None, code=True))
        change.facts.extend(_order_fact(base, head))
    order = [m.name for m in head.modules] if head else []
    order += [m.name for m in base.modules if m.name not in new_modules] if base else []
    for name in order:
        old, new = old_modules.get(name), new_modules.get(name)
        facts = _module_facts(old, new)
        diffs = _module_diffs(prefix, old, new, context)
        module_status = "added" if old is None else "removed" if new is None else "changed" if facts else "unchanged"
        change.modules.append(ModuleChange(name, module_status, old, new, facts, diffs))
    internals: list[tuple[str, str, bytes | None, bytes | None]]
    stub_title = "hook script outside the archive" if base and head and base.bundled and head.bundled else "hook script"
    if base and head:
        internals = [
            ("runner.sh", "runner.sh", base.runner, head.runner),
            ("bundle.env", "bundle.env", base.archive_files.get("bundle.env"), head.archive_files.get("bundle.env")),
            (stub_title, "hook.sh", base.stub, head.stub),
        ]
    else:
        internals = (
            []
            if either.bundled
            else [("hook script", "hook.sh", base.script if base else None, head.script if head else None)]
        )
    for title, path, old_data, new_data in internals:
        diff = file_diff(title, old_data, new_data, f"{prefix}/{path}", context)
        if diff is not None:
            change.internals.append(diff)
    return change


def compare(base: Assembly, head: Assembly, *, context: int = 3) -> Report:
    """Pair the hooks of ``base`` and ``head`` by (stack, logical ID, hook) and describe what changed."""
    old, new = base.by_key(), head.by_key()
    old_configs = {key[:2] for key in old}
    new_configs = {key[:2] for key in new}
    changes: list[HookChange] = []
    unchanged = 0
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before is None:
            status = "hook added" if key[:2] in old_configs else "config added"
        elif after is None:
            status = "hook removed" if key[:2] in new_configs else "config removed"
        elif before.script == after.script and before.name == after.name:
            unchanged += 1
            continue
        else:
            status = "changed"
        changes.append(compare_hook(key, before, after, status, context))
    errors = [f"base: {e}" for e in base.errors] + [f"head: {e}" for e in head.errors]
    return Report(changes=changes, unchanged=unchanged, errors=errors)
