"""Comment stripping keeps what bash runs: checked with bash's own printer on every shipped script."""

import subprocess
from importlib import resources
from pathlib import Path

import pytest

from constructs_lib import LifecycleBundle, LifecycleConfigError, Module
from constructs_lib.bundling.inspect import files_of
from constructs_lib.bundling.shell_comments import strip_comment_lines

ROOT = Path(str(resources.files("lifecycle_scripts")))
SCRIPTS = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.sh"))


def as_bash_sees_it(script: str, tmp_path: Path) -> str:
    """``declare -f`` of a function whose body is the script: the code, without any comment."""
    wrapper = tmp_path / "wrapper.sh"
    wrapper.write_text("__lcc_body() {\n" + script + "\n}\ndeclare -f __lcc_body\n")
    result = subprocess.run(["bash", str(wrapper)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr, result.stderr
    return result.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_stripping_a_shipped_script_changes_nothing_bash_runs(script: str, tmp_path: Path) -> None:
    text = (ROOT / script).read_text()
    stripped = strip_comment_lines(text)
    assert as_bash_sees_it(stripped, tmp_path) == as_bash_sees_it(text, tmp_path)
    assert stripped.startswith("#!") and stripped.splitlines()[0] == text.splitlines()[0]


def test_here_documents_and_here_strings_are_kept_verbatim() -> None:
    script = (
        "#!/bin/bash\n"
        "# a comment\n"
        "cat <<'EOF' >out.yaml\n"
        "# kept: inside a here-document\n"
        "  indented: yes\n"
        "EOF\n"
        "\t# indented comment goes\n"
        "cat <<-END\n"
        "\t# kept too\n"
        "\tEND\n"
        "grep x <<<'# not a here-document'\n"
        "# gone\n"
        "echo '#' # trailing comments stay\n"
    )
    assert strip_comment_lines(script) == (
        "#!/bin/bash\n"
        "cat <<'EOF' >out.yaml\n"
        "# kept: inside a here-document\n"
        "  indented: yes\n"
        "EOF\n"
        "cat <<-END\n"
        "\t# kept too\n"
        "\tEND\n"
        "grep x <<<'# not a here-document'\n"
        "echo '#' # trailing comments stay\n"
    )


def test_two_here_documents_on_one_line() -> None:
    script = "#!/bin/bash\ncat <<A /dev/fd/3 3<<B\n# a\nA\n# b\nB\n# gone\n"
    assert strip_comment_lines(script) == "#!/bin/bash\ncat <<A /dev/fd/3 3<<B\n# a\nA\n# b\nB\n"


def test_bundle_carries_the_stripped_script_and_says_so() -> None:
    module = Module(name="tidy", script="#!/bin/bash\n# explain\necho hi\n", strip_comments=True)
    bundle = LifecycleBundle(hook="on-start", modules=[module])
    assert files_of(bundle.script)["modules/01-tidy/run"] == b"#!/bin/bash\necho hi\n"
    assert bundle.manifest["modules"][0]["commentsStripped"] is True
    plain = LifecycleBundle(hook="on-start", modules=[Module(name="tidy", script=module.script, strip_comments=False)])
    assert files_of(plain.script)["modules/01-tidy/run"] == module.script.encode()
    assert "commentsStripped" not in plain.manifest["modules"][0]


@pytest.mark.parametrize("opener", ["<<\\EOF", "<<'END-X'", '<< "END X"', "<<-'EOF'"])
def test_every_quoting_of_a_here_document_word_is_understood(opener: str) -> None:
    word = opener.split("<<", 1)[1].lstrip("-").strip().strip("'\"").lstrip("\\")
    script = f"#!/bin/bash\n# gone\ncat >/tmp/x {opener}\n#!/bin/bash\n# kept\n{word}\n# gone too\n"
    assert strip_comment_lines(script) == f"#!/bin/bash\ncat >/tmp/x {opener}\n#!/bin/bash\n# kept\n{word}\n"


def test_an_unparsed_here_document_stops_stripping() -> None:
    script = "#!/bin/bash\n# gone\ncat <<$(echo EOF)\n# kept\nEOF\n# kept as well\n"
    assert strip_comment_lines(script) == "#!/bin/bash\ncat <<$(echo EOF)\n# kept\nEOF\n# kept as well\n"


TEAM_SCRIPT = """#!/bin/bash
# Install the company CA certificate for pip and conda.
set -euo pipefail

# where the bundle goes
cert=/etc/pki/ca-trust/source/anchors/company.pem
  # indented comment
echo "installing $cert"
"""


def test_a_shell_script_is_stripped_by_default_when_bash_prints_the_same() -> None:
    module = Module(name="team", script=TEAM_SCRIPT, minify=False)
    assert module.packed_script == strip_comment_lines(TEAM_SCRIPT) != TEAM_SCRIPT
    assert module.comments_stripped
    bundle = LifecycleBundle(hook="on-start", modules=[module])
    assert files_of(bundle.script)["modules/01-team/run"] == module.packed_script.encode()
    assert bundle.manifest["modules"][0]["commentsStripped"] is True


@pytest.mark.parametrize(
    "script",
    [
        # a line of a multi-line string that looks like a comment
        "#!/bin/bash\necho 'first\n# not a comment: part of the string\nlast'\n",
        '#!/bin/sh\nmsg="a\n  # kept in the string\nb"\nprintf %s "$msg"\n',
        # a comment-looking line continuing a command
        "#!/bin/bash\necho one \\\n# two\necho three\n",
        # bash cannot read the body as a function (extglob off while parsing): kept as written
        "#!/bin/bash\nshopt -s extglob\n# comment\nls !(x)\n",
    ],
)
def test_a_script_whose_code_stripping_would_change_is_kept_as_written(script: str, tmp_path: Path) -> None:
    module = Module(name="team", script=script, minify=False)
    assert strip_comment_lines(script) != script, "stripping would change these"
    assert module.packed_script == script and not module.comments_stripped


@pytest.mark.parametrize(
    "script", ["#!/usr/bin/env python3\n# a comment\nprint(1)\n", "#!/usr/bin/perl\n# c\nprint 1;\n"]
)
def test_other_languages_are_kept_as_written(script: str) -> None:
    assert Module(name="py", script=script).packed_script == script


def test_stripping_can_be_turned_off_or_forced() -> None:
    assert Module(name="t", script=TEAM_SCRIPT, strip_comments=False).packed_script == TEAM_SCRIPT
    odd = "#!/bin/bash\necho 'a\n# b'\n"
    assert Module(name="t", script=odd, strip_comments=True).packed_script == "#!/bin/bash\necho 'a\n"


def test_strip_comments_must_be_none_or_a_bool() -> None:
    with pytest.raises(LifecycleConfigError, match=r"strip_comments must be None"):
        Module(name="t", script=TEAM_SCRIPT, strip_comments="yes")  # type: ignore[arg-type]
