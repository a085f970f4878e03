"""Minifying shell scripts with shfmt (``shfmt -mn``, a real shell parser), to make room in the 16384-character limit.

shfmt comes from the PyPI package ``shfmt-py``, a pinned dependency of this library (a wheel carrying the binary),
so the same version minifies on every machine and synth output stays the same. A minified script is carried only
when bash agrees that it is the same program: ``declare -f`` prints the code of a function whose body is the script
(without comments, in bash's own layout) and must print the same for both texts. Failing that, the script without
comment lines, blank lines and indentation is tried under the same check; otherwise it is carried as it was (the
manifest's ``minified`` says "shfmt", "trimmed" or nothing).

The text a team writes is outside input: shfmt must parse it as a whole before bash ever reads it (so that it cannot
close the wrapper function early and run code at synth time), both tools run with a timeout, without a shell rc
file and in a temporary directory, and any failure refuses minification rather than failing synth.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

from constructs_lib.bundling.bash_check import is_shell_script, printed_by_bash, shfmt_minified
from constructs_lib.bundling.shell_comments import strip_comment_lines

SHFMT = "shfmt"
TRIMMED = "trimmed"


@functools.lru_cache(maxsize=512)
def minified_if_same_to_bash(script: str) -> tuple[str, str] | None:
    """``(text, how)``: ``script`` minified by ``shfmt -mn`` (``how`` "shfmt") when bash prints the same code for
    both, else without comment lines, blank lines and indentation (``how`` "trimmed") when bash agrees to that;
    ``None`` when neither is shorter and agreed (also when it is no shell script, or bash is missing).

    shfmt also simplifies (``${X}`` to ``$X``, no quotes on the left of ``[[ ==``, arithmetic without spaces): bash
    prints those differently, so a script written that way is refused by the check and usually trimmed instead."""
    bash = shutil.which("bash")
    if bash is None or not is_shell_script(script):
        return None
    candidates = [(shfmt_minified(script), SHFMT), (strip_comment_lines(script, trim=True), TRIMMED)]
    shebang = script.split("\n", 1)[0]
    with tempfile.TemporaryDirectory(prefix="lcc-minify-") as tmp:
        before: str | None = None
        for text, how in candidates:
            # the same interpreter line, and shorter
            if text is None or text.split("\n", 1)[0] != shebang or len(text) >= len(script):
                continue
            before = before if before is not None else printed_by_bash(bash, script, Path(tmp))
            if before is None:
                return None
            if printed_by_bash(bash, text, Path(tmp)) == before:
                return text, how
    return None
