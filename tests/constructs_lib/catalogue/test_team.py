"""A team's own script as a module, and the bash check that decides whether its comments may go.

The check must never run any part of the script: hostile scripts that try to escape the function body
are refused (kept as written) with nothing executed, in bounded time.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from aws_cdk import Duration

from constructs_lib import LifecycleBundle, Mode, RunAs, Target
from constructs_lib.bundling.inspect import files_of
from constructs_lib.catalogue import script_module
from constructs_lib.catalogue.team import comments_strip_cleanly

COMMENTED = "#!/bin/bash\n# Install the CA.\nset -eu\n  # indented note\necho ok  # trailing stays\n"


def test_a_commented_shell_script_is_packed_without_its_comment_lines() -> None:
    module = script_module(name="team", script=COMMENTED, user=RunAs.ROOT)
    # comment lines stripped, then minified by shfmt (which drops the trailing comment too)
    assert module.strip_comments and module.packed_script == "#!/bin/bash\nset -eu\necho ok\n"
    bundle = LifecycleBundle(hook="on-start", modules=[module])
    assert files_of(bundle.script)["modules/01-team/run"] == module.packed_script.encode()
    assert bundle.manifest["modules"][0]["commentsStripped"] is True
    assert bundle.manifest["modules"][0]["minified"] == "shfmt"


@pytest.mark.parametrize(
    "script",
    [
        # a comment-looking line inside a multi-line string is data: bash prints it, so it must stay
        '#!/bin/bash\n# c\necho "\n# kept: part of the string\n"\n',
        "#!/usr/bin/env python3\n# a Python comment\nprint('hi')\n",  # not a shell script
        "#!/bin/bash\n# c\nif true; then\n",  # bash cannot parse it
        "#!/bin/bash\necho no comments at all\n",
    ],
)
def test_scripts_that_cannot_be_stripped_safely_are_packed_as_written(script: str) -> None:
    assert not comments_strip_cleanly(script)
    module = script_module(name="team", script=script, user=RunAs.NOTEBOOK_USER)
    assert module.packed_script == script
    assert "commentsStripped" not in LifecycleBundle(hook="on-start", modules=[module]).manifest["modules"][0]


def test_strip_comments_can_be_forced_off() -> None:
    assert script_module(name="t", script=COMMENTED, user=RunAs.ROOT, strip_comments=False).packed_script == COMMENTED


@pytest.mark.parametrize(
    "escape",
    [
        "touch {p}",
        "/usr/bin/touch {p}",
        "{{ :; }} > {p}",
        "{{ :; }} < <(/usr/bin/touch {p})",
        "x=$(/usr/bin/touch {p})",
        "[[ $(/usr/bin/touch {p}) ]]",
        "( /usr/bin/touch {p} )",
        "/usr/bin/touch {p} &",
        "for x in $(/usr/bin/touch {p}); do :; done",
        "case $(/usr/bin/touch {p}) in *) ;; esac",
        "trap - DEBUG; /usr/bin/touch {p}",
        "enable -n trap; /usr/bin/touch {p}",
        "while :; do :; done",
        "{{ ( /usr/bin/touch {p} )",  # a group to take the closing brace, only a subshell in it
    ],
)
def test_a_script_that_closes_the_function_early_runs_nothing(escape: str, tmp_path: Path) -> None:
    witness = tmp_path / "ran"
    tail = "" if escape.startswith("{{") else "\n__again() {\n:\n"
    script = "#!/bin/bash\n# comment\n:\n}\n" + escape.format(p=witness) + tail
    started = time.monotonic()
    decision = comments_strip_cleanly(script)
    assert time.monotonic() - started < 15
    time.sleep(0.2)  # a background job would have had time to run
    assert not witness.exists()
    assert not decision


def test_defaults_and_targets() -> None:
    module = script_module(name="t", script=COMMENTED, user=RunAs.NOTEBOOK_USER, targets=(Target.STUDIO,))
    assert module.budget_seconds == 30 and module.targets == frozenset({Target.STUDIO})
    background = script_module(name="b", script=COMMENTED, user=RunAs.ROOT, mode=Mode.BACKGROUND)
    assert background.budget_seconds == 1800
    assert script_module(
        name="c", script=b"#!/bin/sh\r\ntrue\r\n", user=RunAs.ROOT, budget=Duration.seconds(5)
    ).script == ("#!/bin/sh\ntrue\n")
