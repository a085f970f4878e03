"""Minifying shell scripts with shfmt (``shfmt -mn``, a real shell parser), to make room in the 16384-character limit.

shfmt comes from the PyPI package ``shfmt-py``, a pinned dependency of this library (a wheel carrying the binary),
so the same version minifies on every machine and synth output stays the same. A minified script is carried only
when bash agrees that it is the same program: ``declare -f`` prints the code of a function whose body is the script
(without comments, in bash's own layout) and must print the same for both texts. Otherwise the script is carried as
it was (the manifest's ``minified`` says which).

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


@functools.lru_cache(maxsize=512)
def minified_if_same_to_bash(script: str) -> str | None:
    """``script`` minified by ``shfmt -mn`` when bash prints the same code for both; else ``None`` (also when
    nothing would change, it is no shell script, or shfmt or bash is missing on this machine)."""
    bash = shutil.which("bash")
    if bash is None or not is_shell_script(script):
        return None
    minified = shfmt_minified(script)
    if minified is None or minified == script or len(minified) >= len(script):
        return None
    # shfmt -mn keeps the shebang line; refuse anything that would not start the same interpreter.
    if minified.split("\n", 1)[0] != script.split("\n", 1)[0]:
        return None
    with tempfile.TemporaryDirectory(prefix="lcc-minify-") as tmp:
        before = printed_by_bash(bash, script, Path(tmp))
        after = printed_by_bash(bash, minified, Path(tmp))
    return minified if before is not None and before == after else None
