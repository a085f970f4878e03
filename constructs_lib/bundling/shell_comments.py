"""Dropping comment-only lines from shell scripts, to make room in the 16384-character limit.

Only whole lines whose first non-blank character is ``#`` go, never the shebang, and never lines
inside a here-document. A multi-line quoted string containing such a line would be changed, so this
is opt-in per module (``Module(strip_comments=True)``); the catalogue's scripts are checked in the
test suite to mean the same to bash before and after (``declare -f`` prints code without comments).
"""

from __future__ import annotations

import re

_HEREDOC = re.compile(r"(?<!<)<<(?!<)(-?)\s*(?:'([^']+)'|\"([^\"]+)\"|\\?([^\s;&|<>()'\"]+))")
_ANY_HEREDOC = re.compile(r"(?<!<)<<(?!<)")


def strip_comment_lines(script: str) -> str:
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
        if line.lstrip().startswith("#"):
            continue
        kept.append(line)
        found = list(_HEREDOC.finditer(line))
        if len(found) != len(_ANY_HEREDOC.findall(line)):
            # A here-document this parser does not understand: keep the rest of the script as it is.
            return "\n".join(kept + lines[number + 1 :])
        pending = [(m.group(1) == "-", m.group(2) or m.group(3) or m.group(4)) for m in found]
        if pending:
            in_heredoc = pending.pop(0)
    return "\n".join(kept)
