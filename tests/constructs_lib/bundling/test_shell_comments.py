"""Comment stripping keeps what bash runs: checked with bash's own printer on every shipped script."""

import subprocess
from importlib import resources
from pathlib import Path

import pytest

from constructs_lib import LifecycleBundle, Module
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
    plain = LifecycleBundle(hook="on-start", modules=[Module(name="tidy", script=module.script)])
    assert files_of(plain.script)["modules/01-tidy/run"] == module.script.encode()


@pytest.mark.parametrize("opener", ["<<\\EOF", "<<'END-X'", '<< "END X"', "<<-'EOF'"])
def test_every_quoting_of_a_here_document_word_is_understood(opener: str) -> None:
    word = opener.split("<<", 1)[1].lstrip("-").strip().strip("'\"").lstrip("\\")
    script = f"#!/bin/bash\n# gone\ncat >/tmp/x {opener}\n#!/bin/bash\n# kept\n{word}\n# gone too\n"
    assert strip_comment_lines(script) == f"#!/bin/bash\ncat >/tmp/x {opener}\n#!/bin/bash\n# kept\n{word}\n"


def test_an_unparsed_here_document_stops_stripping() -> None:
    script = "#!/bin/bash\n# gone\ncat <<$(echo EOF)\n# kept\nEOF\n# kept as well\n"
    assert strip_comment_lines(script) == "#!/bin/bash\ncat <<$(echo EOF)\n# kept\nEOF\n# kept as well\n"
