"""Room for a team's scripts: how many bytes of team shell script (as written) fit inline beside the default
on-start modules, with each packing lever on and off; how a chatty module costs; how long the default hook blocks.

Usage: .venv/bin/python bench/capacity/run.py [--out bench/capacity/RESULTS.md]

Corpus: bench/capacity/corpus/*.sh, realistic team lifecycle scripts written for this benchmark (the project does
not ship them), with comments and blank lines as people write them. They are added one module each, in name
order, beside the default app's on-start modules (cdk.json) until the hook no longer fits 16384 characters; the
last one is cut to the whole lines that still fit. Bytes count the scripts as written.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import lzma
import platform
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import python_minifier  # noqa: E402
from aws_cdk import Duration  # noqa: E402

import constructs_lib.bundling.bundle as bundle_module  # noqa: E402
from constructs_lib import LifecycleBundle, LifecycleConfigError, Mode, Module  # noqa: E402
from constructs_lib.bundling.archive import FIXED_MTIME, ArchiveLocation, Compression, compress  # noqa: E402
from constructs_lib.bundling.limits import CONTENT_LIMIT_CHARS, LOG_CAP_BYTES  # noqa: E402
from constructs_lib.bundling.runner_text import minify_shell  # noqa: E402
from stacks.config import parse_config  # noqa: E402

CORPUS = Path(__file__).parent / "corpus"
LEVERS = (
    "team comments stripped",
    "team scripts shfmt-minified",
    "catalogue and runner shfmt-minified",
    "hook comments dropped",
    "no module list in the header",
    "no tar directory entries",
    "auto-stop minified",
)
HEADER_WITH_MODULE_LIST = (
    "# SageMaker lifecycle hook {hook}, built by constructs_lib: change the CDK app, not this file.\n"
    "# Modules: {names} (manifest in the Metadata)"
)


def default_on_start() -> tuple[Module, ...]:
    context = json.loads((REPO / "cdk.json").read_text())["context"]["notebookEnvironment"]
    return parse_config(context).notebooks[0].on_start


def corpus() -> list[tuple[str, str]]:
    return [(p.stem, p.read_text(encoding="utf-8")) for p in sorted(CORPUS.glob("*.sh"))]


def tar_with_directories(files: Mapping[str, tuple[bytes, int]]) -> bytes:
    """The archive as it was before: every parent directory with its own entry."""
    directories = {"/".join(p.split("/")[:d]) for p in files for d in range(1, p.count("/") + 1)}
    entries = sorted([(d, None, 0o755) for d in directories] + [(p, d, m) for p, (d, m) in files.items()])
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for path, data, mode in entries:
            info = tarfile.TarInfo(path)
            info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = FIXED_MTIME, 0, 0, "root", "root", mode
            if data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def minified_autostop(module: Module) -> Module:
    """The auto-stop module carrying its program minified with python-minifier (the auto-stop owner's lever)."""
    files = {
        name: python_minifier.minify(data.decode("utf-8")).encode("utf-8") if name.endswith(".py") else data
        for name, data in module.carried_files.items()
    }
    return dataclasses.replace(module, files=files)


def defaults_of(on: frozenset[str]) -> list[Module]:
    """The default on-start modules as the given levers carry them."""
    defaults = [
        minified_autostop(m) if m.name == "idle-autostop" and "auto-stop minified" in on else m
        for m in default_on_start()
    ]
    if "catalogue and runner shfmt-minified" not in on:
        defaults = [dataclasses.replace(m, minify=False) for m in defaults]
    return defaults


@contextmanager
def levers(
    on: frozenset[str], location: ArchiveLocation = ArchiveLocation.INLINE
) -> Iterator[Callable[[list[Module]], LifecycleBundle | None]]:
    """A bundler of the default modules plus team modules, with the given levers on: ``None`` when the scripts do
    not fit inline (with ``ArchiveLocation.AUTO``: when not even a split hook keeps them inline)."""
    saved = (
        bundle_module.without_comment_lines,
        bundle_module.tar_bytes,
        bundle_module.carried_runner,
        LifecycleBundle._header,
    )
    if "hook comments dropped" not in on:
        bundle_module.without_comment_lines = lambda template: template  # type: ignore[assignment]
    if "no tar directory entries" not in on:
        bundle_module.tar_bytes = tar_with_directories
    if "catalogue and runner shfmt-minified" not in on:
        bundle_module.carried_runner = minify_shell
    if "no module list in the header" not in on:

        def header(self: LifecycleBundle, modules: Sequence[Module]) -> str:
            names = " ".join(m.name for m in modules) or "(none)"
            lines = [HEADER_WITH_MODULE_LIST.format(hook=self.hook, names=names)]
            return "\n".join(lines + [f"# {line}".rstrip() for line in self.description.splitlines()])

        LifecycleBundle._header = header  # type: ignore[method-assign]
    defaults = defaults_of(on)

    def bundle(team: list[Module]) -> LifecycleBundle | None:
        try:
            made = LifecycleBundle(hook="on-start", modules=[*defaults, *team], archive_location=location)
        except LifecycleConfigError as err:
            if "above the SageMaker limit" not in str(err):
                raise
            return None
        return None if made.archive_location is ArchiveLocation.S3_ASSET else made

    try:
        yield bundle
    finally:
        (
            bundle_module.without_comment_lines,
            bundle_module.tar_bytes,
            bundle_module.carried_runner,
            LifecycleBundle._header,
        ) = saved


def team_module(name: str, text: str, strip: bool, minify: bool) -> Module:
    """A team script as a module. Background mode: the default modules' blocking budgets leave 14 s of the hook's
    270 s, and the question here is room in bytes (a background module costs the same bytes bar one plan word)."""
    module_name = "team-" + name.split("_", 1)[1].replace("_", "-")[:40]
    return Module(
        name=module_name,
        script=text,
        mode=Mode.BACKGROUND,
        budget=Duration.minutes(5),
        # shfmt drops comments itself: "team comments stripped" off with minification on keeps comment lines out of
        # the stripping step only (strip_comments=None is the default; False would turn minification off too).
        strip_comments=None if strip or minify else False,
        minify=minify,
    )


def capacity(
    on: frozenset[str], scripts: list[tuple[str, str]], location: ArchiveLocation = ArchiveLocation.INLINE
) -> dict[str, object]:
    """Team bytes (as written) that fit beside the default modules, with these levers."""
    strip = "team comments stripped" in on
    minify = "team scripts shfmt-minified" in on
    with levers(on, location) as bundle:
        alone = bundle([])
        if alone is None:
            over = LifecycleBundle(hook="on-start", modules=defaults_of(on), archive_location=ArchiveLocation.AUTO)
            encoding = "escaped-binary (does not fit)"  # auto tried base64, then escaped binary, then split
            return {
                "default_alone": over.inline_length,
                "default_encoding": encoding,
                "scripts": 0,
                "team_bytes": 0,
                "encoded": "-",
                "in_s3": "-",
            }
        team: list[Module] = []
        for name, text in scripts:
            if bundle([*team, team_module(name, text, strip, minify)]) is None:
                lines = text.split("\n")
                low, high = 1, len(lines)
                while low < high:
                    middle = (low + high + 1) // 2
                    if bundle([*team, team_module(name, "\n".join(lines[:middle]), strip, minify)]) is not None:
                        low = middle
                    else:
                        high = middle - 1
                if low > 1:
                    team.append(team_module(name, "\n".join(lines[:low]), strip, minify))
                break
            team.append(team_module(name, text, strip, minify))
        final = bundle(team)
        assert final is not None
    return {
        "default_alone": alone.encoded_length,
        "default_encoding": alone.encoding.value,
        "scripts": len(team),
        "team_bytes": sum(len(m.script.encode()) for m in team),
        "encoded": f"{final.encoded_length} {final.encoding.value}",
        "in_s3": ", ".join(f"`{path}`" for path in sorted(final.side.files)) if final.side else "nothing",
    }


def _tar(files: Mapping[str, tuple[bytes, int]], fmt: int = tarfile.GNU_FORMAT, owner: str = "root") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for path, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = FIXED_MTIME, 0, 0, owner, owner, mode
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _xz(data: bytes, **options: int) -> int:
    lzma_filter = {"id": lzma.FILTER_LZMA1, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": 1 << 20, "pb": 0}
    return len(lzma.compress(data, format=lzma.FORMAT_ALONE, filters=[{**lzma_filter, **options}]))


def other_levers(scripts: list[tuple[str, str]]) -> list[tuple[str, int]]:
    """Archive bytes saved (negative: added) by levers measured and not kept, on the default modules with every
    kept lever plus the first four corpus scripts (a full hook). One archive byte is one script byte, 4/3 of a
    character of Content."""
    with levers(frozenset(LEVERS)) as bundle:
        team = [team_module(name, text, True, True) for name, text in scripts[:4]]
        full = bundle(team) or LifecycleBundle(
            hook="on-start", modules=[*default_on_start(), *team], archive_location=ArchiveLocation.S3_ASSET
        )
    files = dict(full.files)
    base = _xz(_tar(files))
    merged = {path: entry for path, entry in files.items() if not path.endswith("/settings.sh")}
    merged["settings.sh"] = (
        b"".join(
            f"[{path.split('/')[1]}]\n".encode() + data
            for path, (data, _) in sorted(files.items())
            if "settings" in path
        ),
        0o644,
    )
    archive = compress(_tar(files), Compression.XZ)
    counts = [archive.count(bytes([value])) for value in range(256)]
    rows = [(f"xz {name}", base - _xz(_tar(files), **options)) for name, options in XZ_VARIANTS]
    rows += [
        ("tar ustar instead of GNU headers", base - _xz(_tar(files, tarfile.USTAR_FORMAT))),
        ("tar pax headers", base - _xz(_tar(files, tarfile.PAX_FORMAT))),
        ("tar without owner names (uname/gname empty)", base - _xz(_tar(files, owner=""))),
        ("one settings file per hook instead of one per module", base - _xz(_tar(merged))),
        ("escaped binary with the archive's rarest byte as escape (now 0x01)", counts[1] - min(counts[2:])),
    ]
    return rows


XZ_VARIANTS: list[tuple[str, dict[str, int]]] = [
    ("lc=0", {"lc": 0}),
    ("lc=1", {"lc": 1}),
    ("lc=2", {"lc": 2}),
    ("lc=4", {"lc": 4}),
    ("lp=1", {"lp": 1}),
    ("pb=2 (xz's default)", {"pb": 2}),
    ("nice_len=273", {"nice_len": 273}),
    ("match finder bt2", {"mf": lzma.MF_BT2}),
    ("dictionary 64 KiB", {"dict_size": 1 << 16}),
]


def chatty_module(lines: int, budget: int) -> tuple[float, str, int]:
    """Run a hook whose first module prints ``lines`` lines (budget ``budget`` s), then one more module."""
    from tests.support.sandbox import Sandbox

    chatty = Module(
        name="chatty",
        script=f"#!/bin/bash\nseq {lines} | sed 's/^/line /'\n",
        budget=Duration.seconds(budget),
    )
    later = Module(name="later", script="#!/bin/bash\necho later ran\n")
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = Sandbox(Path(tmp))
        started = time.monotonic()
        result = sandbox.run_hook(LifecycleBundle(hook="on-start", modules=[chatty, later]).script)
        elapsed = time.monotonic() - started
        cut = next(line for line in result.stdout.splitlines() if "[chatty] [log cut:" in line)
        logs = sandbox.root / "var" / "log" / "sagemaker-lifecycle"
        size = sum(p.stat().st_size for p in logs.iterdir())
        assert "[later] later ran" in result.stdout
    return elapsed, cut.split("[chatty] ", 1)[1], size


def default_hook_blocking_seconds() -> float:
    """Run the default app's on-start hook in the test sandbox and time it (inline, the size limit lifted: the
    default hook is over it since the trusted auto-stop, and an S3 loader cannot run in the sandbox)."""
    import constructs_lib.bundling.bundle as bundle_module
    from tests.support.sandbox import Sandbox

    limit = bundle_module.CONTENT_LIMIT_CHARS
    bundle_module.CONTENT_LIMIT_CHARS = 10**6
    try:
        bundle = LifecycleBundle(hook="on-start", modules=default_on_start())
    finally:
        bundle_module.CONTENT_LIMIT_CHARS = limit
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = Sandbox(Path(tmp))
        for fake in ("conda", "git", "python3"):
            sandbox.add_fake(fake)
        started = time.monotonic()
        result = sandbox.run_hook(bundle.script)
        elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return elapsed


def room_of(row: Mapping[str, object]) -> int:
    """Script bytes left beside the default modules alone (negative: over the limit)."""
    return (CONTENT_LIMIT_CHARS - int(str(row["default_alone"]).split()[0])) * 3 // 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "capacity" / "RESULTS.md")
    args = parser.parse_args()
    scripts = corpus()
    everything = frozenset(LEVERS)
    configurations = [("none", frozenset[str]())]
    configurations += [(f"only: {lever}", frozenset({lever})) for lever in LEVERS]
    configurations += [(f"all but: {lever}", everything - {lever}) for lever in LEVERS]
    configurations += [("all seven", everything)]
    rows = [(label, capacity(on, scripts)) for label, on in configurations]
    split = capacity(everything, scripts, ArchiveLocation.AUTO)
    split_best = int(str(split["team_bytes"]))
    best = int(str(rows[-1][1]["team_bytes"]))
    room = room_of(rows[-1][1])
    others = other_levers(scripts)
    corpus_bytes = sum(len(text.encode()) for _, text in scripts)
    chatty = [(n, 10, *chatty_module(n, 10)) for n in (1_000_000, 9_000_000)]
    blocking = default_hook_blocking_seconds()
    lines = [
        "# Room for a team's scripts beside the default on-start modules",
        "",
        f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} on {platform.machine()}, "
        f"Python {platform.python_version()}, shfmt v3.14.1 (PyPI shfmt-py 4.2.0), "
        f"`{Path(__file__).relative_to(REPO)}` (xz, encoding auto).",
        "",
        f"Corpus: `bench/capacity/corpus/`, {len(scripts)} team lifecycle scripts ({corpus_bytes} bytes as written) "
        "written for this benchmark in the way teams write them (CA certificate installer, pip/conda mirror, proxy, "
        "git credential helper, package install with retries, JupyterLab extension toggles, CloudWatch agent, motd, "
        "datasets profile, checkpoint clean-up), with their comments and blank lines. The project does not ship "
        "them, and they are not scripts collected from real teams. They are added in name order, as background "
        "modules (the default modules' blocking budgets leave 14 s of the hook's 270 s), beside the default app's "
        "on-start modules (`cdk.json`: 7 modules) until the hook no longer fits 16384 characters; the last one is "
        "cut to the whole lines that fit (a cut script rarely parses, so it is carried as written).",
        "",
        "Levers: (1) team shell scripts comment-stripped when bash's `declare -f` prints the same code; (2) team "
        "shell scripts minified by `shfmt -mn` under the same check (shfmt drops comments itself, so (1) adds "
        "nothing once (2) is on); (3) the catalogue's shell modules and the runner minified the same way; (4) the "
        "hook template's own comment lines dropped; (5) no `# Modules:` list in the hook's header (the manifest "
        "and plan.tsv hold it); (6) no directory entries in the tar; (7) the auto-stop program carried minified by "
        "python-minifier (that lever belongs to the auto-stop module's owner; here it is simulated by minifying "
        "the carried `autostop.py` with python-minifier's defaults, the other six are bundling code).",
        "",
        "| levers on | default hook alone (chars, encoding) | room beside it (script bytes) | team scripts that fit "
        "| team bytes as written | hook (chars, encoding) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, r in rows:
        lines.append(
            f"| {label} | {r['default_alone']} {r['default_encoding']} | {room_of(r)} | {r['scripts']} "
            f"| **{r['team_bytes']}** "
            f"| {r['encoded']} |"
        )
    lines += [
        "",
        f"With all seven levers the default hook leaves {room} bytes of script (of 12288) for team modules.",
        "",
        "Levers measured and not kept (archive bytes saved on the default modules plus the first four corpus "
        "scripts, all kept levers on; one archive byte is 4/3 of a character of Content):",
        "",
        "| lever | archive bytes saved |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {saved} |" for name, saved in others]
    lines += [
        "",
        f"Limit: {CONTENT_LIMIT_CHARS} characters of base64. Encoding auto switches from base64 to escaped binary "
        "when base64 no longer fits (about a third more room), which is why a fuller hook holds more than the "
        "default one's base64 length suggests.",
        "",
        "## With `archiveLocation: auto` (a split hook)",
        "",
        "All seven levers on, and `archiveLocation: auto`: the hook's scripts (runner, plan, every module's script "
        "and settings) stay inline and the largest carried files go to a small S3 asset, largest first, until the "
        "rest fits (`ArchiveLocation.SPLIT`). For the default modules that is the auto-stop program alone "
        "(`modules/07-idle-autostop/files/autostop.py`); the hook copies it from the bootstrap bucket of the "
        "instance's own account and region and checks its sha256. Team scripts then fit as follows:",
        "",
        "| location | team scripts that fit | team bytes as written | hook (chars, encoding) | in S3 |",
        "|---|---:|---:|---:|---|",
        f"| inline | {rows[-1][1]['scripts']} | **{best}** | {rows[-1][1]['encoded']} | nothing |",
        f"| auto, split | {split['scripts']} | **{split_best}** | {split['encoded']} | {split['in_s3']} |",
        "",
        f"Goal: at least 7000 bytes of team script as written beside the default on-start modules. Fully inline "
        f"(the auto-stop program too): {best} bytes, "
        f"{'reached' if best >= 7000 else 'not reached'}. With `archiveLocation: auto` (scripts inline, the "
        f"auto-stop program in S3): {split_best} bytes, {'reached' if split_best >= 7000 else 'not reached'}. "
        + (
            f"That is the whole corpus, with {CONTENT_LIMIT_CHARS - int(str(split['encoded']).split()[0])} "
            "characters of the hook still free. "
            if split["scripts"] == len(scripts)
            else ""
        )
        + "What the default hook's archive spends (leave-one-out): the trusted auto-stop program (root cron, CPU "
        "and GPU signals, warnings, fail-closed checks; about 7 kB of xz) is over half of it, so fully inline "
        "nothing is left for teams. A split hook leaves them room at the price of a route to S3 for that one "
        "module: without it only idle-autostop is skipped, and the hook says so; every other module runs.",
        "",
        "## A chatty module",
        "",
        f"A module printing N lines (`seq N | sed`) with a 10 s budget, then one more module, run by the real "
        f"runner in the test sandbox. Its output is logged as it comes through a FIFO into a capped writer "
        f"(`fold -b -w 4096 | awk`), {LOG_CAP_BYTES} bytes per log, then counted.",
        "",
        "| lines | budget | hook time | log cut line | root log dir bytes |",
        "|---:|---:|---:|---|---:|",
    ]
    lines += [f"| {n:,} | {b} s | {t:.1f} s | `{cut}` | {size:,} |" for n, b, t, cut, size in chatty]
    lines += [
        "",
        "Before this change (issue figures): 1,000,000 lines blocked the hook 38 s (copied line by line after "
        "the module, outside its budget); 9,000,000 lines had the hook guard kill the runner at 290 s, later "
        "modules never ran and `/var/log/sagemaker-lifecycle` grew to 350 MB.",
        "",
        f"Blocking time of the default app's on-start hook in the sandbox (recording stand-ins for conda, "
        f"systemctl, crontab, sudo): {blocking:.2f} s of the 300 s limit.",
    ]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
