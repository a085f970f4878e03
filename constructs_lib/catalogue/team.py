"""A team's own script as a module, packed without its comment lines when bash reads both the same.

The comment check asks bash itself: the script becomes the body of a function and ``declare -f`` prints
that function's code, which has no comments. Nothing of the script runs: bash starts restricted (no
output redirection, no ``PATH`` change, no ``exec``), with an empty environment and ``PATH``, in an empty
directory, under a ``DEBUG`` trap (inherited by subshells) that exits before any command other than the final
``declare -f`` and ``declare -F``. A script that closes the function early leaves the sentinel command that ends
the function at the top level (the trap stops bash there) or opens another function to take the closing brace
(``declare -F`` shows it): either way it is refused, not run, and packed as written.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from aws_cdk import Duration

from constructs_lib.bundling import Mode, Module, RunAs, Target
from constructs_lib.bundling.module import FileSource
from constructs_lib.bundling.shell_comments import strip_comment_lines

SHELL_SHEBANGS = ("#!/bin/bash", "#!/usr/bin/bash", "#!/usr/bin/env bash", "#!/bin/sh", "#!/usr/bin/sh")
CHECK_TIMEOUT_SECONDS = 10


def is_shell_script(script: str) -> bool:
    """A bash or sh script, by its shebang (options after the interpreter allowed)."""
    first = script.split("\n", 1)[0].rstrip()
    return any(first == s or first.startswith(s + " ") for s in SHELL_SHEBANGS)


def _as_bash_prints_it(script: str, workdir: Path, function: str) -> str | None:
    bash = shutil.which("bash")
    if bash is None:
        return None
    wrapper = workdir / "wrapper.sh"
    sentinel = f":{function}_end"
    wrapper.write_text(
        "set -T\n"
        f'trap \'[[ $BASH_COMMAND == "declare -f {function}" || $BASH_COMMAND == "declare -F" ]] || exit 97\' DEBUG\n'
        f"{function}() {{\n{script}\n{sentinel}\n}}\n"
        f"declare -f {function}\n"
        "declare -F\n",
        encoding="utf-8",
    )
    try:
        result = subprocess.run(
            [bash, "--noprofile", "--norc", "-r", str(wrapper)],
            cwd=workdir,
            env={"PATH": str(workdir / "no-programs"), "LC_ALL": "C"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=CHECK_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0 or result.stderr:
        return None
    printed = result.stdout.decode("utf-8", "replace")
    # The function list (declare -F) must hold this function only: a script that closed it early and opened
    # another to take the closing brace is refused (its top-level commands did not run: see the trap).
    if [line for line in printed.split("\n") if line.startswith("declare -f")] != [f"declare -f {function}"]:
        return None
    return printed


def comments_strip_cleanly(script: str) -> bool:
    """Whether packing ``script`` without its comment-only lines keeps what bash runs: a shell script with
    such lines, whose ``declare -f`` print is the same with and without them. ``False`` when bash is
    missing, cannot parse the script, or would have to run any of it."""
    if not is_shell_script(script):
        return False
    stripped = strip_comment_lines(script)
    if stripped == script:
        return False
    with tempfile.TemporaryDirectory(prefix="lcc-comments-") as tmp:
        function = f"__lcc_body_{secrets.token_hex(8)}"  # unguessable: the script cannot call the check's command
        before = _as_bash_prints_it(script, Path(tmp), function)
        after = _as_bash_prints_it(stripped, Path(tmp), function)
    return before is not None and before == after


def script_module(
    *,
    name: str,
    script: str | bytes,
    user: RunAs,
    mode: Mode = Mode.BLOCKING,
    budget: Duration | None = None,
    settings: Mapping[str, str] | None = None,
    files: Mapping[str, FileSource] | None = None,
    targets: Iterable[Target] = (Target.NOTEBOOK_INSTANCE,),
    strip_comments: bool | None = None,
    description: str = "",
) -> Module:
    """A module from a team's own script. ``strip_comments=None`` packs it without comment lines when
    ``comments_strip_cleanly`` says bash reads it the same, else as written (the manifest's
    ``commentsStripped`` tells which). ``budget`` defaults to 30 seconds, 30 minutes in the background."""
    text = script.decode("utf-8") if isinstance(script, bytes) else script
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if budget is None:
        budget = Duration.minutes(30) if mode is Mode.BACKGROUND else Duration.seconds(30)
    strip = comments_strip_cleanly(text) if strip_comments is None else strip_comments
    return Module(
        name=name,
        script=text,
        user=user,
        mode=mode,
        budget=budget,
        settings=dict(settings or {}),
        files=dict(files or {}),
        targets=frozenset(targets),
        strip_comments=strip,
        description=description,
    )
