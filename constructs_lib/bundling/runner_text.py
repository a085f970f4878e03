"""The runner package's scripts as a bundle carries them: minified, templates without their comment lines."""

from __future__ import annotations

import re
from importlib import resources

from constructs_lib.bundling.shell_minify import SHFMT, minified_if_same_to_bash

RUNNER_PACKAGE = "lifecycle_scripts.runner"


def runner_file(name: str) -> str:
    """The text of a file of the runner package (found inside the installed package, never via the cwd)."""
    return resources.files(RUNNER_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def carried_runner(text: str) -> str:
    """The runner as the archive carries it: minified by shfmt when bash prints the same code, else by
    ``minify_shell``. shfmt drops the runner's shellcheck directives with the other comments: the minified form
    gets them back as one file-wide directive after the shebang, so that it still passes shellcheck."""
    carried = minified_if_same_to_bash(text)
    if carried is None or carried[1] != SHFMT:
        return minify_shell(text)
    minified = carried[0]
    directives = [line.strip() for line in text.splitlines() if line.strip().startswith("# shellcheck ")]
    codes = set(re.findall(r"SC\d{4}", " ".join(d.split("  #")[0] for d in directives if "disable=" in d)))
    if any("source=" in d for d in directives):
        codes.add("SC1091")  # "not following" a sourced file, which is what source=/dev/null asked for
    if not codes:
        return minified
    shebang, rest = minified.split("\n", 1)
    return f"{shebang}\n# shellcheck disable={','.join(sorted(codes))}\n{rest}"


def minify_shell(text: str) -> str:
    """Drop comment lines (but shellcheck directives) and indentation of a script without here-documents."""
    lines = [line.strip() for line in text.splitlines()]
    kept = lines[:1] + [
        line for line in lines[1:] if line and (not line.startswith("#") or line.startswith("# shellcheck"))
    ]
    return "\n".join(kept) + "\n"


def without_comment_lines(template: str) -> str:
    """A script template without its own comment lines (the shebang stays; ``@HEADER@`` brings the header)."""
    lines = template.splitlines()
    return "\n".join(lines[:1] + [line for line in lines[1:] if not line.lstrip().startswith("#")]) + "\n"
