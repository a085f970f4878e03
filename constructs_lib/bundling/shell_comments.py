"""Dropping comment-only lines from shell scripts, to make room in the 16384-character limit.

Only whole lines whose first non-blank character is ``#`` go, never the shebang, and never lines
inside a here-document. A multi-line quoted string containing such a line would be changed, so this
is opt-in per module (``Module(strip_comments=True)``); the catalogue's scripts are checked in the
test suite to mean the same to bash before and after (``declare -f`` prints code without comments).
"""

from __future__ import annotations

import re

_HEREDOC = re.compile(r"(?<!<)<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


def strip_comment_lines(script: str) -> str:
    lines = script.split("\n")
    kept = lines[:1]
    pending: list[tuple[bool, str]] = []  # here-documents opened on the current line: (dash, word)
    in_heredoc: tuple[bool, str] | None = None
    for line in lines[1:]:
        if in_heredoc is not None:
            kept.append(line)
            dash, word = in_heredoc
            if (line.lstrip("\t") if dash else line) == word:
                in_heredoc = pending.pop(0) if pending else None
            continue
        if line.lstrip().startswith("#"):
            continue
        kept.append(line)
        pending = [(m.group(1) == "-", m.group(3)) for m in _HEREDOC.finditer(line)]
        if pending:
            in_heredoc = pending.pop(0)
    return "\n".join(kept)
