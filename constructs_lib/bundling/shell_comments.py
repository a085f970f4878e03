"""Dropping comment-only lines from shell scripts, to make room in the 16384-character limit.

Only whole lines whose first non-blank character is ``#`` go, never the shebang, and never lines
inside a here-document. A multi-line quoted string containing such a line would be changed, so a
module's script is stripped only when bash agrees: ``same_to_bash`` compares what ``declare -f``
prints (the code, without comments) for both texts. The catalogue's scripts are stripped always
(``Module(strip_comments=True)``) and checked that way in the test suite; other shell scripts are
checked at synth (``strip_comments=None``, the default).
"""

from __future__ import annotations

import functools
import re
import shutil
import tempfile
from pathlib import Path

from constructs_lib.bundling.bash_check import is_shell_script, printed_by_bash

_HEREDOC = re.compile(r"(?<!<)<<(?!<)(-?)\s*(?:'([^']+)'|\"([^\"]+)\"|\\?([^\s;&|<>()'\"]+))")
_ANY_HEREDOC = re.compile(r"(?<!<)<<(?!<)")


def strip_comment_lines(script: str, *, trim: bool = False) -> str:
    """``script`` without comment-only lines outside here-documents; with ``trim`` also without blank lines and
    indentation there (only as a candidate for bash's check: a multi-line string would change)."""
    lines = script.split("\n")
    kept = lines[:1]
    pending: list[tuple[bool, str]] = []  # here-documents opened on the current line: (dash, word)
    in_heredoc: tuple[bool, str] | None = None
    for number, line in enumerate(lines[1:], start=1):
        if in_heredoc is not None:
            kept.append(line)
            dash, word = in_heredoc
            if (line.lstrip("\t") if dash else line) == word:
                in_heredoc = pending.pop(0) if pending else None
            continue
        if line.lstrip().startswith("#") or (trim and not line.strip() and number < len(lines) - 1):
            continue
        kept.append(line.lstrip() if trim else line)
        found = list(_HEREDOC.finditer(line))
        if len(found) != len(_ANY_HEREDOC.findall(line)):
            # A here-document this parser does not understand: keep the rest of the script as it is.
            return "\n".join(kept + lines[number + 1 :])
        pending = [(m.group(1) == "-", m.group(2) or m.group(3) or m.group(4)) for m in found]
        if pending:
            in_heredoc = pending.pop(0)
    return "\n".join(kept)


@functools.lru_cache(maxsize=512)
def stripped_if_same_to_bash(script: str) -> str | None:
    """``script`` without its comment lines, when bash prints the same code for both; else ``None`` (also
    when nothing would change, or no bash is found on this machine)."""
    stripped = strip_comment_lines(script)
    bash = shutil.which("bash")
    if stripped == script or bash is None or not is_shell_script(script):
        return None
    with tempfile.TemporaryDirectory(prefix="lcc-strip-") as tmp:
        before = printed_by_bash(bash, script, Path(tmp))
        after = printed_by_bash(bash, stripped, Path(tmp))
    return stripped if before is not None and before == after else None
