"""idle_autostop: settings, the carried program and validation."""

import ast
import io
import tokenize
from importlib import resources
from typing import Any

import pytest
from aws_cdk import Duration

from constructs_lib import LifecycleConfigError, RunAs
from constructs_lib.catalogue import idle_autostop
from constructs_lib.catalogue.autostop import without_comments


def test_defaults() -> None:
    module = idle_autostop()
    assert module.user is RunAs.ROOT
    assert module.name == "idle-autostop"
    assert dict(module.settings) == {
        "DRY_RUN": "0",
        "GRACE_MINUTES": "15",
        "IDLE_MINUTES": "60",
        "IGNORE_CONNECTIONS": "0",
        "JUPYTER_URL": "https://localhost:8443",
        "SCHEDULE": "*/5 * * * *",
    }


def test_carries_the_program_from_the_package_without_its_comments() -> None:
    source = resources.files("lifecycle_scripts.autostop").joinpath("autostop.py").read_text()
    carried = idle_autostop().files["autostop.py"]
    assert isinstance(carried, bytes) and list(idle_autostop().files) == ["autostop.py"]
    program = carried.decode()
    assert ast.dump(ast.parse(program)) == ast.dump(ast.parse(source))  # the same code
    assert program.splitlines()[0] == source.splitlines()[0] == "#!/usr/bin/env python3"
    comments = [t for t in tokenize.generate_tokens(io.StringIO(program).readline) if t.type == tokenize.COMMENT]
    assert [t.start[0] for t in comments] == [1]  # only the shebang
    assert len(program) < len(source) - 500


def test_without_comments_keeps_strings_and_code() -> None:
    source = (
        "#!/usr/bin/env python3\n"
        "# header\n"
        "x = '# not a comment'  # trailing\n"
        "    # indented comment line\n"
        'y = """\n'
        "# kept: inside a string\n"
        "\n"
        '"""\n'
        "z = [  # opening\n"
        "    1,  # one\n"
        "]\n"
    )
    assert without_comments(source) == (
        '#!/usr/bin/env python3\nx = \'# not a comment\'\ny = """\n# kept: inside a string\n\n"""\nz = [\n    1,\n]\n'
    )


def test_options() -> None:
    module = idle_autostop(
        idle=Duration.hours(2),
        schedule="0,30  8-18 * * 1-5",
        grace=Duration.minutes(0),
        ignore_connections=True,
        dry_run=True,
        jupyter_url="http://127.0.0.1:8888/jupyter",
    )
    assert dict(module.settings) == {
        "DRY_RUN": "1",
        "GRACE_MINUTES": "0",
        "IDLE_MINUTES": "120",
        "IGNORE_CONNECTIONS": "1",
        "JUPYTER_URL": "http://127.0.0.1:8888/jupyter",
        "SCHEDULE": "0,30 8-18 * * 1-5",
    }


@pytest.mark.parametrize(
    ("argument", "value", "allowed"),
    [
        ("idle", Duration.minutes(4), "whole minutes from 5 to 1440"),
        ("idle", Duration.minutes(1441), "whole minutes from 5 to 1440"),
        ("idle", Duration.seconds(390), "whole minutes from 5 to 1440"),
        ("idle", 60, "whole minutes from 5 to 1440"),
        ("grace", Duration.seconds(30), "whole minutes from 0 to 1440"),
        ("grace", "15m", "whole minutes from 0 to 1440"),
        ("schedule", "*/5 * * *", "give 5 cron fields"),
        ("schedule", "*/5 * * * * *", "give 5 cron fields"),
        ("schedule", "@hourly", "give 5 cron fields"),
        ("schedule", "*/5 * * * MON", "give 5 cron fields"),
        ("schedule", "*/5 * * * *; rm -rf /", "give 5 cron fields"),
        ("schedule", "*/5 * * * * \n* * * * * id", "give 5 cron fields"),
        ("schedule", "60 * * * *", "the minute field '60'"),
        ("schedule", "*/0 * * * *", "the minute field '*/0'"),
        ("schedule", "* 24 * * *", "the hour field '24'"),
        ("schedule", "* * 0 * *", "the day of month field '0'"),
        ("schedule", "* * * 13 *", "the month field '13'"),
        ("schedule", "* * * * 8", "the day of week field '8'"),
        ("schedule", "* 9-5 * * *", "the hour field '9-5'"),
        ("schedule", "*/5,, * * * *", "the minute field"),
        ("schedule", "-5 * * * *", "the minute field"),
        ("schedule", None, "give 5 cron fields"),
        ("ignore_connections", "yes", "give True or False"),
        ("dry_run", 1, "give True or False"),
        ("jupyter_url", "localhost:8443", "give an http:// or https:// URL"),
        ("jupyter_url", "ftp://localhost", "give an http:// or https:// URL"),
        ("jupyter_url", "https://localhost:8443/%2F", "give an http:// or https:// URL"),
        ("jupyter_url", "https://localhost/$(id)", "give an http:// or https:// URL"),
        ("jupyter_url", "https://local host", "give an http:// or https:// URL"),
        ("jupyter_url", "https://localhost/?a=b&c", "give an http:// or https:// URL"),
    ],
)
def test_rejects(argument: str, value: Any, allowed: str) -> None:
    with pytest.raises(LifecycleConfigError, match=rf"^idle_autostop: {argument}=.* is invalid") as error:
        idle_autostop(**{argument: value})
    assert allowed in str(error.value)
