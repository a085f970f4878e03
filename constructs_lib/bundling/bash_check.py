"""What bash makes of a shell script, and what shfmt makes of it: the checks behind comment stripping and
minification.

A script is read by bash only wrapped as a function body and only after shfmt parsed it as one complete program,
so that a hostile script cannot close the wrapper early and run code at synth time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sysconfig
import tempfile
from pathlib import Path

SHFMT_SECONDS = 10
MAX_SCRIPT_BYTES = 1 << 20
"""Larger scripts are carried as written (they could never fit a hook anyway)."""


def shfmt_binary() -> str | None:
    """The ``shfmt`` of this Python environment (installed by ``shfmt-py``), else one on ``PATH``."""
    scripts = sysconfig.get_path("scripts")
    for candidate in (Path(scripts) / "shfmt" if scripts else None, shutil.which("shfmt")):
        if candidate is not None and Path(candidate).is_file():
            return str(candidate)
    return None


def shfmt_minified(script: str) -> str | None:
    """``shfmt -mn`` of ``script``, or ``None`` when shfmt is missing, fails, times out or cannot parse it."""
    shfmt = shfmt_binary()
    data = script.encode("utf-8")
    if shfmt is None or len(data) > MAX_SCRIPT_BYTES:
        return None
    with tempfile.TemporaryDirectory(prefix="lcc-shfmt-") as tmp:
        try:
            result = subprocess.run(
                [shfmt, "-mn"],
                input=data,
                capture_output=True,
                cwd=tmp,
                env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
                timeout=SHFMT_SECONDS,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
    if result.returncode != 0 or result.stderr or len(result.stdout) > len(data) + 64:
        return None
    try:
        return result.stdout.decode("utf-8")
    except UnicodeDecodeError:
        return None


def parses_as_a_whole(script: str) -> bool:
    """Whether shfmt parses ``script`` as one complete program (the condition for letting bash read it wrapped)."""
    return shfmt_minified(script) is not None


SHELL_SHEBANG = re.compile(r"#!\s*(?:/usr)?/bin/(?:env\s+)?(?:bash|sh)(?:\s.*)?")
BASH_CHECK_SECONDS = 10


def is_shell_script(script: str) -> bool:
    """A script that bash or sh runs, by its shebang."""
    return SHELL_SHEBANG.fullmatch(script.split("\n", 1)[0].rstrip()) is not None


def printed_by_bash(bash: str, script: str, directory: Path) -> str | None:
    """``declare -f`` of a function whose body is ``script`` (the code without comments); ``None`` when bash
    does not take it as a function body (a syntax error, an option the body needs first...), or shfmt does not
    parse it as one complete program (which bash would then never read)."""
    if shfmt_minified(script) is None:
        return None
    wrapper = directory / "wrapper.sh"
    wrapper.write_text("__lcc_body() {\n" + script + "\n}\ndeclare -f __lcc_body\n", encoding="utf-8")
    try:
        result = subprocess.run(
            [bash, "--norc", "--noprofile", str(wrapper)],
            capture_output=True,
            cwd=directory,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
            timeout=BASH_CHECK_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0 or result.stderr:
        return None
    return result.stdout.decode("utf-8", "replace")
