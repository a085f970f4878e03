"""How many raw bytes of real scripts fit in one lifecycle config, per packing; and how long the default hook blocks.

Usage: .venv/bin/python bench/capacity/run.py [--out bench/capacity/RESULTS.md]

Corpus: first the project's own catalogue scripts (lifecycle_scripts/**), then distinct real shell
scripts of this machine (/usr/bin, /usr/sbin, sorted by name), each one module. Modules are added
in that order until the bundle no longer fits 16384 encoded characters.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from aws_cdk import Duration  # noqa: E402

from constructs_lib import Compression, Encoding, LifecycleBundle, LifecycleConfigError, Module  # noqa: E402
from constructs_lib.bundling.limits import CONTENT_LIMIT_CHARS  # noqa: E402

PLAIN_LIMIT_BYTES = CONTENT_LIMIT_CHARS * 3 // 4


def corpus() -> list[tuple[str, str]]:
    scripts: list[tuple[str, str]] = []
    seen: set[str] = set()
    root = Path(str(resources.files("lifecycle_scripts")))
    own = sorted(root.rglob("*.sh")) + sorted(root.rglob("*.py"))
    system = sorted(p for d in ("/usr/bin", "/usr/sbin") for p in Path(d).iterdir() if p.is_file())
    for path in own + system:
        try:
            text = path.read_bytes().decode("utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if path.suffix != ".py" and not text.startswith(
            ("#!/bin/sh", "#!/bin/bash", "#! /bin/sh", "#!/usr/bin/env bash")
        ):
            continue
        if not text.startswith("#!"):
            text = "#!/usr/bin/env python3\n" + text
        if text in seen or len(text) > 20000 or path.name == "__init__.py":
            continue
        seen.add(text)
        scripts.append((str(path), text))
    return scripts


def capacity(
    scripts: list[tuple[str, str]], compression: Compression, encoding: Encoding, strip: bool = False
) -> tuple[int, int, int]:
    """(modules, raw source bytes, encoded length) of the largest prefix of the corpus that fits, the last
    module cut to as many whole lines as still fit."""

    def module(index: int, text: str) -> Module:
        return Module(name=f"m{index:03d}", script=text, budget=Duration.seconds(1), strip_comments=strip)

    def bundle(modules: list[Module]) -> LifecycleBundle | None:
        try:
            return LifecycleBundle(hook="on-start", modules=modules, compression=compression, encoding=encoding)
        except LifecycleConfigError as err:
            if "blocking budgets" in str(err):
                raise
            return None

    modules: list[Module] = []
    for index, (_, text) in enumerate(scripts):
        if bundle([*modules, module(index, text)]) is None:
            lines = text.split("\n")
            low, high = 1, len(lines)  # whole lines of the next script that still fit
            while low < high:
                middle = (low + high + 1) // 2
                if bundle([*modules, module(index, "\n".join(lines[:middle]))]) is not None:
                    low = middle
                else:
                    high = middle - 1
            partial = "\n".join(lines[:low])
            if bundle([*modules, module(index, partial)]) is not None:
                modules.append(module(index, partial))
            break
        modules.append(module(index, text))
    final = bundle(modules)
    assert final is not None
    return len(modules), sum(len(m.script.encode()) for m in modules), final.encoded_length


def default_hook_blocking_seconds() -> float:
    """Run the default app's on-start hook in the test sandbox and time it."""
    sys.path.insert(0, str(REPO))
    from tests.support.sandbox import Sandbox

    context = json.loads((REPO / "cdk.json").read_text())["context"]["notebookEnvironment"]
    from stacks.config import parse_config

    config = parse_config(context)
    bundle = LifecycleBundle(hook="on-start", modules=config.notebooks[0].on_start)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "capacity" / "RESULTS.md")
    args = parser.parse_args()
    scripts = corpus()
    rows = []
    for compression in Compression:
        for encoding in (Encoding.BASE64, Encoding.ESCAPED_BINARY):
            for strip in (False, True):
                count, raw, encoded = capacity(scripts, compression, encoding, strip)
                rows.append(
                    (
                        compression.value,
                        encoding.value,
                        "yes" if strip else "no",
                        count,
                        raw,
                        encoded,
                        raw / PLAIN_LIMIT_BYTES,
                    )
                )
    blocking = default_hook_blocking_seconds()
    lines = [
        "# Capacity of one lifecycle config",
        "",
        f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} on {platform.machine()}, "
        f"Python {platform.python_version()}, "
        f"`{Path(__file__).relative_to(REPO)}`.",
        "",
        f"A plain script holds at most {PLAIN_LIMIT_BYTES} raw bytes ({CONTENT_LIMIT_CHARS} characters of base64).",
        f"Corpus: {len(scripts)} distinct real scripts (the catalogue first, then this machine's shell scripts), "
        "added one module each until the bundle no longer fits; the last one cut to the whole lines that fit. "
        "Raw bytes count the scripts as written (before any comment stripping).",
        "",
        "| compression | inline encoding | comments stripped | modules | raw bytes that fit | encoded length "
        "| x plain |",
        "|---|---|---|---:|---:|---:|---:|",
        f"| none (plain script) | - | no | 1 | {PLAIN_LIMIT_BYTES} | {CONTENT_LIMIT_CHARS} | 1.00 |",
    ]
    lines += [f"| {c} | {e} | {st} | {n} | {r} | {enc} | {x:.2f} |" for c, e, st, n, r, enc, x in rows]
    lines += [
        "",
        f"Blocking time of the default app's on-start hook in the sandbox (recording stand-ins for conda, "
        f"systemctl, crontab, sudo): {blocking:.2f} s of the 300 s limit.",
    ]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
