"""Module entries from configuration: a team's script files and folders, read safely relative to the
configuration's directory, every error naming its key."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from constructs_lib import Mode, RunAs, Target
from stacks.config_values import ConfigError
from stacks.module_config import MAX_SCRIPT_BYTES, parse_modules

SCRIPT = "#!/bin/bash\n# Says hello.\necho hello\n"


def write(path: Path, text: str | bytes, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    path.chmod(mode)
    return path


def parse(entries: list[Any], base: Path, target: Target = Target.NOTEBOOK_INSTANCE) -> Any:
    return parse_modules(entries, "onStart", target, base)


def test_a_script_entry_with_every_key(tmp_path: Path) -> None:
    write(tmp_path / "team/company_ca.sh", SCRIPT)
    write(tmp_path / "team/ca.pem", b"-----BEGIN CERTIFICATE-----\n", 0o644)
    entry = {
        "script": "team/company_ca.sh",
        "name": "company-ca",
        "runAs": "root",
        "mode": "background",
        "budget": "2m",
        "settings": {"PIP_INDEX_URL": "https://pypi.example.com/simple"},
        "files": {"company-ca.pem": "team/ca.pem"},
    }
    (module,) = parse([entry], tmp_path)
    assert (module.name, module.user, module.mode, module.budget_seconds) == (
        "company-ca",
        RunAs.ROOT,
        Mode.BACKGROUND,
        120,
    )
    assert dict(module.settings) == {"PIP_INDEX_URL": "https://pypi.example.com/simple"}
    assert module.carried_files == {"company-ca.pem": b"-----BEGIN CERTIFICATE-----\n"}
    assert module.strip_comments and module.packed_script == "#!/bin/bash\necho hello\n"
    assert module.targets == frozenset({Target.NOTEBOOK_INSTANCE})


def test_strip_comments_false_packs_the_script_as_written(tmp_path: Path) -> None:
    write(tmp_path / "s.sh", SCRIPT)
    (module,) = parse([{"script": "s.sh", "runAs": "notebook-user", "stripComments": False}], tmp_path)
    assert module.packed_script == SCRIPT and module.name == "s"


def test_a_folder_runs_its_executables_in_name_order_with_their_headers(tmp_path: Path) -> None:
    folder = tmp_path / "on-start.d"
    write(folder / "20-pip.sh", "#!/bin/bash\n# lifecycle: runAs=notebook-user budget=10s\necho pip\n")
    write(folder / "10-ca.sh", "#!/bin/bash\n# lifecycle: runAs=root files=ca.pem\n# Trust the CA.\ncat ca\n")
    write(folder / "ca.pem", "PEM\n", 0o644)  # not executable: carried, not run
    write(folder / "README", "notes\n", 0o644)
    write(folder / ".hidden.sh", SCRIPT)
    write(folder / "30-old.sh~", SCRIPT)
    write(folder / "Z_Last.Step.sh", "#!/bin/sh\n# lifecycle: mode=background name=last\nsleep 1\n")
    (folder / "sub.d").mkdir()
    modules = parse([{"scripts": "on-start.d", "runAs": "notebook-user", "settings": {"TEAM": "data"}}], tmp_path)
    assert [(m.name, m.user, m.mode, m.budget_seconds) for m in modules] == [
        ("10-ca", RunAs.ROOT, Mode.BLOCKING, 30),
        ("20-pip", RunAs.NOTEBOOK_USER, Mode.BLOCKING, 10),
        ("last", RunAs.NOTEBOOK_USER, Mode.BACKGROUND, 1800),
    ]
    assert modules[0].carried_files == {"ca.pem": b"PEM\n"}
    assert all(dict(m.settings) == {"TEAM": "data"} for m in modules)


def test_studio_scripts_run_as_the_studio_user(tmp_path: Path) -> None:
    write(tmp_path / "s.sh", SCRIPT)
    (module,) = parse([{"script": "s.sh"}], tmp_path, Target.STUDIO)
    assert module.user is RunAs.NOTEBOOK_USER and module.targets == frozenset({Target.STUDIO})
    with pytest.raises(ConfigError, match=r'onStart\[0\].runAs: "root" is not possible in Studio.*sudo'):
        parse([{"script": "s.sh", "runAs": "root"}], tmp_path, Target.STUDIO)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"script": "s.sh"}, r'onStart\[0\].runAs: required: say who runs the script, "root" or "notebook-user"'),
        ({"script": "s.sh", "runAs": "ec2-user"}, r'onStart\[0\].runAs: "ec2-user" is invalid; use one of "root"'),
        ({"script": "s.sh", "runAs": "root", "mode": "later"}, r'onStart\[0\].mode: "later" is invalid'),
        ({"script": "s.sh", "runAs": "root", "budget": "10m"}, r'onStart\[0\].budget: "10m" is out of range'),
        ({"script": "s.sh", "runAs": "root", "budget": "0s"}, r'onStart\[0\].budget: "0s" is out of range'),
        ({"script": "s.sh", "runAs": "root", "name": "Bad_Name"}, r'onStart\[0\].name: "Bad_Name" is invalid'),
        ({"script": "s.sh", "runAs": "root", "name": "ok\n"}, r'onStart\[0\].name: "ok\\n" is invalid'),
        ({"script": "s.sh", "runAs": "root", "colour": 1}, r"onStart\[0\].colour: unknown key"),
        ({"script": "s.sh", "runAs": "root", "settings": []}, r"onStart\[0\].settings: expected an object"),
        (
            {"script": "s.sh", "runAs": "root", "settings": {"lower": "x"}},
            r"onStart\[0\].settings.lower: the name is invalid: use upper-case letters",
        ),
        (
            {"script": "s.sh", "runAs": "root", "settings": {"PATH": "/x"}},
            r"onStart\[0\].settings.PATH: the name is invalid",
        ),
        ({"script": "s.sh", "runAs": "root", "settings": {"A": 1}}, r"onStart\[0\].settings.A: expected a string"),
        ({"script": "s.sh", "runAs": "root", "stripComments": "no"}, r"onStart\[0\].stripComments: expected true"),
        (
            {"script": "s.sh", "runAs": "root", "files": {"../x": "s.sh"}},
            r'onStart\[0\].files\["../x"\]: the path in the bundle is invalid',
        ),
        ({"script": "s.sh", "runAs": "root", "files": {"x": "../outside"}}, r"onStart\[0\].files.x: .* leaves the"),
        ({"script": "/etc/passwd", "runAs": "root"}, r'onStart\[0\].script: "/etc/passwd" leaves the configuration'),
        ({"script": "../outside/s.sh", "runAs": "root"}, r"onStart\[0\].script: .* leaves the configuration"),
        ({"script": "a/../s.sh", "runAs": "root"}, r"onStart\[0\].script: .* leaves the configuration"),
        ({"script": "missing.sh", "runAs": "root"}, r'onStart\[0\].script: "missing.sh" does not exist'),
        ({"script": "", "runAs": "root"}, r"onStart\[0\].script: give the file's path"),
        ({"script": 3, "runAs": "root"}, r"onStart\[0\].script: give the file's path"),
        ({"script": "s.sh\x00x", "runAs": "root"}, r"onStart\[0\].script: give the file's path"),
        ({"script": "dir", "runAs": "root"}, r'onStart\[0\].script: "dir" is not a regular file'),
        ({"script": "link-out.sh", "runAs": "root"}, r"symbolic link that leads outside"),
        ({"script": "loop.sh", "runAs": "root"}, r"onStart\[0\].script: .* cannot be read"),
        ({"script": "fifo", "runAs": "root"}, r'onStart\[0\].script: "fifo" is not a regular file'),
        ({"script": "big.sh", "runAs": "root"}, rf"'big.sh' is larger than {MAX_SCRIPT_BYTES} bytes"),
        ({"script": "latin1.sh", "runAs": "root"}, r"'latin1.sh' is not UTF-8 text"),
        ({"script": "no-shebang.sh", "runAs": "root"}, r"'no-shebang.sh' has no shebang"),
        ({"script": "two-headers.sh", "runAs": "root"}, r"two '# lifecycle:' header lines"),
        ({"script": "bad-header.sh", "runAs": "root"}, r"header item 'user=root' is invalid"),
        ({"script": "header.sh", "runAs": "notebook-user"}, r'onStart\[0\].runAs: "notebook-user" differs from'),
        ({"scripts": "empty.d"}, r'onStart\[0\].scripts: "empty.d" holds no executable script'),
        ({"scripts": "s.sh"}, r'onStart\[0\].scripts: "s.sh" is not a folder'),
        ({"scripts": "nobody.d"}, r"onStart\[0\].scripts \(nobody.d/run\).runAs: required"),
        ({"scripts": "../outside"}, r"onStart\[0\].scripts: .* leaves the configuration"),
        ({"scripts": "dup.d", "runAs": "root"}, r"onStart\[0\].scripts \(dup.d/b.sh\): module name 'same' is already"),
        ({"modul": "x"}, r'onStart\[0\]: give "module" .* "script" \(a file\) or "scripts" \(a folder of scripts\)'),
    ],
)
def test_bad_entries_name_their_key(entry: dict[str, Any], message: str, tmp_path: Path) -> None:
    base = tmp_path / "config"
    write(base / "s.sh", SCRIPT)
    (base / "dir").mkdir()
    (tmp_path / "outside").mkdir()
    write(tmp_path / "outside/s.sh", SCRIPT)
    (base / "link-out.sh").symlink_to(tmp_path / "outside/s.sh")
    (base / "loop.sh").symlink_to(base / "loop.sh")
    os.mkfifo(base / "fifo")
    write(base / "big.sh", "#!/bin/bash\n" + "#" * MAX_SCRIPT_BYTES)
    write(base / "latin1.sh", "#!/bin/bash\necho caf\xe9\n".encode("latin-1"))
    write(base / "no-shebang.sh", "echo hi\n")
    write(base / "two-headers.sh", "#!/bin/bash\n# lifecycle: runAs=root\n# lifecycle: budget=5s\n")
    write(base / "bad-header.sh", "#!/bin/bash\n# lifecycle: user=root\n")
    write(base / "header.sh", "#!/bin/bash\n# lifecycle: runAs=root\n")
    (base / "empty.d").mkdir()
    write(base / "empty.d/not-executable.sh", SCRIPT, 0o644)
    write(base / "nobody.d/run", SCRIPT)
    write(base / "dup.d/a.sh", "#!/bin/bash\n# lifecycle: name=same\n")
    write(base / "dup.d/b.sh", "#!/bin/bash\n# lifecycle: name=same\n")
    started = time.monotonic()
    with pytest.raises(ConfigError, match=message) as error:
        parse([entry], base)
    assert "\n" not in str(error.value) and time.monotonic() - started < 10


def test_a_symbolic_link_inside_the_directory_is_followed(tmp_path: Path) -> None:
    write(tmp_path / "real/s.sh", SCRIPT)
    (tmp_path / "s.sh").symlink_to(tmp_path / "real/s.sh")
    assert parse([{"script": "s.sh", "runAs": "root"}], tmp_path)[0].name == "s"


def test_a_folder_script_linking_outside_is_skipped_like_a_non_executable(tmp_path: Path) -> None:
    write(tmp_path / "outside.sh", SCRIPT)
    write(tmp_path / "cfg/on-start.d/10-a.sh", SCRIPT)
    (tmp_path / "cfg/on-start.d/20-out.sh").symlink_to(tmp_path / "outside.sh")
    modules = parse([{"scripts": "on-start.d", "runAs": "root"}], tmp_path / "cfg")
    assert [m.name for m in modules] == ["10-a"]


def test_a_catalogue_module_and_a_team_script_may_not_share_a_name(tmp_path: Path) -> None:
    write(tmp_path / "stop-ssm-agent.sh", SCRIPT)
    entries = [{"module": "stop-ssm-agent"}, {"script": "stop-ssm-agent.sh", "runAs": "root"}]
    with pytest.raises(
        ConfigError, match=r"onStart\[1\]: module name 'stop-ssm-agent' is already used by onStart\[0\]"
    ):
        parse(entries, tmp_path)
