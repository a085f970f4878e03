"""Minification by shfmt keeps what bash runs, is refused when bash disagrees, and survives hostile scripts."""

import subprocess
import time
from importlib import resources
from pathlib import Path

import pytest

from constructs_lib import LifecycleBundle, LifecycleConfigError, Module
from constructs_lib.bundling import bash_check
from constructs_lib.bundling.bash_check import shfmt_binary
from constructs_lib.bundling.inspect import files_of
from constructs_lib.bundling.runner_text import carried_runner, minify_shell
from constructs_lib.bundling.shell_comments import strip_comment_lines
from constructs_lib.bundling.shell_minify import minified_if_same_to_bash

ROOT = Path(str(resources.files("lifecycle_scripts")))
SCRIPTS = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.sh"))
# Written in the form shfmt -mn prints (arithmetic without spaces, no quotes on the left of [[ ]], $X for ${X}),
# so that bash's printer agrees and they are carried minified.
MINIFIED = sorted(s for s in SCRIPTS if s.startswith(("notebook/", "runner/")))
PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"
REQUIREMENTS = Path(__file__).resolve().parents[3] / "requirements.txt"


def as_bash_sees_it(script: str, tmp_path: Path) -> str:
    wrapper = tmp_path / "wrapper.sh"
    wrapper.write_text("__lcc_body() {\n" + script + "\n}\ndeclare -f __lcc_body\n")
    result = subprocess.run(["bash", str(wrapper)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr, result.stderr
    return result.stdout


def test_shfmt_is_the_pinned_dependency_of_the_library() -> None:
    shfmt = shfmt_binary()
    assert shfmt is not None
    version = subprocess.run([shfmt, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    assert version == "v3.14.1"
    assert '"shfmt-py==4.2.0"' in PYPROJECT.read_text()
    assert "shfmt-py==4.2.0" in REQUIREMENTS.read_text().split()


@pytest.mark.parametrize("script", MINIFIED)
def test_every_notebook_script_and_the_runner_minify_to_what_bash_runs(script: str, tmp_path: Path) -> None:
    text = (ROOT / script).read_text()
    carried = minified_if_same_to_bash(text)
    assert carried is not None and carried[1] == "shfmt" and len(carried[0]) < len(text)
    assert as_bash_sees_it(carried[0], tmp_path) == as_bash_sees_it(text, tmp_path)


def test_the_runner_is_carried_as_shfmt_prints_it_and_smaller_than_before() -> None:
    text = (ROOT / "runner" / "runner.sh").read_text()
    shfmt = subprocess.run([str(shfmt_binary()), "-mn"], input=text, capture_output=True, text=True, check=True)
    shebang, rest = shfmt.stdout.split("\n", 1)
    carried = f"{shebang}\n# shellcheck disable=SC1091,SC2016\n{rest}"
    assert carried_runner(text) == carried
    assert len(carried) < len(minify_shell(text))
    bundle = LifecycleBundle(hook="on-start", modules=[Module(name="one", script="#!/bin/bash\necho 1\n")])
    assert files_of(bundle.script)["runner.sh"] == carried.encode()


@pytest.mark.parametrize("script", sorted(set(SCRIPTS) - set(MINIFIED)))
def test_other_shipped_scripts_are_carried_minified_only_where_bash_agrees(script: str, tmp_path: Path) -> None:
    text = (ROOT / script).read_text()
    module = Module(name="shipped", script=text, strip_comments=True)
    reference = strip_comment_lines(text)
    assert as_bash_sees_it(module.packed_script, tmp_path) == as_bash_sees_it(reference, tmp_path)
    assert (module.minified is not None) == (module.packed_script != reference)


TEAM = """#!/bin/bash
# Install the CA.
set -euo pipefail

if [ -f /etc/pki/ca.pem ]; then
    echo   "found"     # trailing note
fi
"""


def test_a_team_script_is_carried_minified_and_the_manifest_says_so() -> None:
    module = Module(name="team", script=TEAM)
    assert module.minified == "shfmt" and module.comments_stripped
    assert module.packed_script == '#!/bin/bash\nset -euo pipefail\nif [ -f /etc/pki/ca.pem ];then\necho "found"\nfi\n'
    bundle = LifecycleBundle(hook="on-start", modules=[module])
    assert files_of(bundle.script)["modules/01-team/run"] == module.packed_script.encode()
    entry = bundle.manifest["modules"][0]
    assert entry["minified"] == "shfmt" and entry["scriptBytes"] == len(module.packed_script)


def test_minify_false_and_strip_comments_false_carry_no_minified_form() -> None:
    assert not Module(name="t", script=TEAM, minify=False).minified
    plain = Module(name="t", script=TEAM, strip_comments=False)
    assert plain.packed_script == TEAM
    assert "minified" not in LifecycleBundle(hook="on-start", modules=[plain]).manifest["modules"][0]
    with pytest.raises(LifecycleConfigError, match=r"module 't': minify must be True or False, got 'yes'"):
        Module(name="t", script=TEAM, minify="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "script",
    [
        # bash reads the body only with extglob on: declare -f fails, so no minified form is trusted
        "#!/bin/bash\nshopt -s extglob\n# comment\nls   !(x)\n",
        # shfmt cannot parse it
        "#!/bin/bash\n# c\nif true; then\n",
        "#!/bin/bash\necho 'unterminated\n",
        # not shell
        "#!/usr/bin/env python3\n# a comment\nprint(1)\n",
    ],
)
def test_a_script_minification_cannot_vouch_for_is_packed_as_written(script: str) -> None:
    module = Module(name="team", script=script, minify=True, strip_comments=None)
    assert minified_if_same_to_bash(script) is None
    assert module.packed_script == script and not module.minified


def test_a_minified_form_bash_prints_differently_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # A minifier that changes the code (a stand-in for a shfmt bug): bash's printer tells, and the script is
    # carried trimmed instead.
    real = bash_check.shfmt_minified
    script = "#!/bin/bash\n# c\necho   one\n"

    def wrong(text: str) -> str | None:
        out = real(text)
        return out.replace("one", "two") if out is not None else out

    monkeypatch.setattr("constructs_lib.bundling.shell_minify.shfmt_minified", wrong)
    minified_if_same_to_bash.cache_clear()
    try:
        assert minified_if_same_to_bash(script) == ("#!/bin/bash\necho   one\n", "trimmed")
        module = Module(name="bug", script=script)  # comment line stripped; shfmt's form refused; nothing to trim
        assert module.minified is None and module.packed_script == "#!/bin/bash\necho   one\n"
    finally:
        minified_if_same_to_bash.cache_clear()


def test_a_script_that_closes_the_check_wrapper_runs_nothing_at_synth(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = f"#!/bin/bash\n# c\necho a\n}}\ntouch {marker}\n__x() {{\necho b\n"
    module = Module(name="hostile", script=hostile)
    assert module.packed_script == hostile and not module.minified and not module.comments_stripped
    assert not marker.exists()


def test_a_huge_or_deeply_nested_script_is_refused_in_bounded_time() -> None:
    huge = "#!/bin/bash\n" + "echo x   # c\n" * 90_000
    nested = "#!/bin/bash\n" + "$(" * 5000 + "echo" + ")" * 5000 + "\n"
    binary = "#!/bin/bash\necho \udcff\x00\n"
    for script in (huge, nested, binary):
        started = time.monotonic()
        module = Module(name="big", script=script.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
        assert module.packed_script
        assert time.monotonic() - started < 25
    assert not Module(name="big", script=huge).minified


def test_without_shfmt_scripts_are_carried_unminified(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bash_check, "shfmt_binary", lambda: None)
    minified_if_same_to_bash.cache_clear()
    try:
        assert minified_if_same_to_bash(TEAM) is None
    finally:
        minified_if_same_to_bash.cache_clear()


SIMPLIFIED_BY_SHFMT = '#!/bin/bash\n# c\nif true; then\n    echo "${HOME}"\n\n    cat <<EOF\n  kept indented\nEOF\nfi\n'


def test_a_script_shfmt_would_simplify_is_carried_trimmed_where_bash_agrees(tmp_path: Path) -> None:
    # shfmt -mn writes "$HOME" for "${HOME}": bash prints that differently, so the check refuses shfmt's form and
    # takes the script without comment lines, blank lines and indentation (a here-document's body is kept).
    module = Module(name="team", script=SIMPLIFIED_BY_SHFMT)
    assert module.minified == "trimmed"
    assert module.packed_script == '#!/bin/bash\nif true; then\necho "${HOME}"\ncat <<EOF\n  kept indented\nEOF\nfi\n'
    assert as_bash_sees_it(module.packed_script, tmp_path) == as_bash_sees_it(SIMPLIFIED_BY_SHFMT, tmp_path)
    entry = LifecycleBundle(hook="on-start", modules=[module]).manifest["modules"][0]
    assert entry["minified"] == "trimmed"


def test_trimming_that_would_change_a_multi_line_string_is_refused() -> None:
    script = '#!/bin/bash\necho "a\n   b ${HOME}"\n  echo "${HOME}"\n'
    module = Module(name="team", script=script)
    assert module.minified is None and module.packed_script == script
