"""The review tool on two real cloud assemblies: a base and a head version of a small configuration.

Base and head hold a notebook lifecycle config (on-start with three modules, on-create with one) in a
top-level stack and a Studio JupyterLab config in a stack inside a stage (a nested assembly). The head
changes one module's script (greet), one module's setting (configure), adds a module (extra, with a
carried file), removes one (cleanup) and changes the Studio module (so the Studio config's name changes).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack, Stage
from aws_cdk import aws_sagemaker as sagemaker

from constructs_lib import Encoding, Mode, Module, NotebookLifecycleConfig, RunAs
from constructs_lib.bundling.inspect import archive_of, files_of
from constructs_lib.review import load_assembly
from constructs_lib.review.cli import main
from constructs_lib.studio_lifecycle_config import StudioAppType, StudioLifecycleConfig

REPO = Path(__file__).resolve().parents[3]
NOTEBOOK = "Notebook985EE735"
NOTEBOOK_NAME = "team-notebook"

GREET_BASE = "#!/bin/bash\n# Greets whoever starts the instance.\nset -eu\necho hello\necho done\n"
GREET_HEAD = (
    "#!/bin/bash\n# Greets whoever starts the instance.\n# ```fenced``` in a comment\n"
    "set -eu\necho 'hello, world'\necho done\n"
)
CONFIGURE = '#!/bin/bash\necho "greeting is $GREETING"\n'
CLEANUP = "#!/bin/bash\nrm -rf /tmp/scratch\n"
SETUP = "#!/bin/bash\nmkdir -p /home/ec2-user/SageMaker/work\n"
EXTRA = '#!/bin/bash\ncat "$MODULE_DIR/files/motd.txt"\n'
MOTD = "Welcome to the team notebook.\n"
LAB_BASE = "#!/bin/bash\necho lab ready\n"
SAME = "3 lifecycle hooks compared: 0 changed, 0 added, 0 removed, 3 unchanged.\n"
LAB_HEAD = "#!/bin/bash\necho lab ready\necho kernels registered\n"


def modules(head: bool) -> tuple[list[Module], list[Module], list[Module]]:
    greet = Module(
        name="greet", script=GREET_HEAD if head else GREET_BASE, budget=Duration.seconds(20), strip_comments=False
    )
    configure = Module(
        name="configure",
        script=CONFIGURE,
        user=RunAs.NOTEBOOK_USER,
        budget=Duration.seconds(10),
        settings={"GREETING": "hi there" if head else "hello", "LEVEL": "2"},
    )
    cleanup = Module(name="cleanup", script=CLEANUP, budget=Duration.seconds(30))
    extra = Module(
        name="extra",
        script=EXTRA,
        user=RunAs.NOTEBOOK_USER,
        mode=Mode.BACKGROUND,
        budget=Duration.seconds(600),
        files={"motd.txt": MOTD},
    )
    on_start = [greet, configure, extra] if head else [greet, configure, cleanup]
    on_create = [Module(name="setup", script=SETUP)]
    lab = [Module(name="lab-env", script=LAB_HEAD if head else LAB_BASE, user=RunAs.NOTEBOOK_USER)]
    return on_start, on_create, lab


def synthesize(outdir: Path, *, head: bool) -> Path:
    on_start, on_create, lab = modules(head)
    app = App(outdir=str(outdir))
    stack = Stack(app, "Notebooks")
    NotebookLifecycleConfig(stack, "Notebook", on_start=on_start, on_create=on_create, name=NOTEBOOK_NAME)
    studio = Stack(Stage(app, "Prod"), "Studio")
    StudioLifecycleConfig(studio, "Lab", app_type=StudioAppType.JUPYTER_LAB, modules=lab, name_prefix="lab")
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("review")
    return synthesize(root / "base", head=False), synthesize(root / "head", head=True)


@pytest.fixture(scope="module")
def base(assemblies: tuple[Path, Path]) -> Path:
    return assemblies[0]


@pytest.fixture(scope="module")
def head(assemblies: tuple[Path, Path]) -> Path:
    return assemblies[1]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def template_path(assembly: Path, stack: str) -> Path:
    if stack == "Studio":
        (path,) = (assembly / "assembly-Prod").glob("ProdStudio*.template.json")
        return path
    return assembly / f"{stack}.template.json"


def resource(assembly: Path, stack: str, type_name: str) -> tuple[str, dict[str, Any]]:
    resources = json.loads(template_path(assembly, stack).read_text())["Resources"]
    (found,) = [(k, v) for k, v in resources.items() if v["Type"] == type_name]
    return found


def notebook_content(assembly: Path, hook: str) -> str:
    _, config = resource(assembly, "Notebooks", "AWS::SageMaker::NotebookInstanceLifecycleConfig")
    content: str = config["Properties"][hook][0]["Content"]
    return content


def studio(assembly: Path) -> tuple[str, dict[str, Any]]:
    return resource(assembly, "Studio", "AWS::SageMaker::StudioLifecycleConfig")


def short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def usage(length: int) -> str:
    return f"{length}/16384 ({100 * length / 16384:.1f}%)"


def test_logical_ids_are_what_the_tests_pin(base: Path) -> None:
    assert resource(base, "Notebooks", "AWS::SageMaker::NotebookInstanceLifecycleConfig")[0] == NOTEBOOK
    assert studio(base)[0].startswith("Lab")


# -- list ----------------------------------------------------------------------------------------------


def test_list_rows(base: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "list", str(base))
    assert (code, err) == (0, "")
    lab_id, lab = studio(base)
    lab_name = lab["Properties"]["StudioLifecycleConfigName"]
    lab_length = len(lab["Properties"]["StudioLifecycleConfigContent"])
    rows = [line.split() for line in out.splitlines()]
    module_header = ["#", "MODULE", "USER", "MODE", "BUDGET", "BYTES", "SHA256", "SETTINGS", "FILES"]
    on_create, on_start = len(notebook_content(base, "OnCreate")), len(notebook_content(base, "OnStart"))
    assert rows == [
        ["STACK", "LOGICAL", "ID", "KIND", "HOOK", "NAME", "ENCODED/LIMIT", "BLOCKING/LIMIT"],
        [
            "Notebooks",
            NOTEBOOK,
            "notebook",
            "OnCreate",
            NOTEBOOK_NAME,
            *usage(on_create).split(),
            "30s/270s",
            "(11.1%)",
        ],
        module_header,
        ["01", "setup", "root", "blocking", "30s", str(len(SETUP)), short(SETUP), "0", "0"],
        [],
        ["Notebooks", NOTEBOOK, "notebook", "OnStart", NOTEBOOK_NAME, *usage(on_start).split(), "60s/270s", "(22.2%)"],
        module_header,
        ["01", "greet", "root", "blocking", "20s", str(len(GREET_BASE)), short(GREET_BASE), "0", "0"],
        ["02", "configure", "notebook-user", "blocking", "10s", str(len(CONFIGURE)), short(CONFIGURE), "2", "0"],
        ["03", "cleanup", "root", "blocking", "30s", str(len(CLEANUP)), short(CLEANUP), "0", "0"],
        [],
        ["Prod/Studio", lab_id, "studio", "JupyterLab", lab_name, *usage(lab_length).split(), "30s/270s", "(11.1%)"],
        module_header,
        ["01", "lab-env", "notebook-user", "blocking", "30s", str(len(LAB_BASE)), short(LAB_BASE), "0", "0"],
    ]
    assert out.splitlines()[1].startswith("Notebooks    "), "columns are aligned"


def test_hooks_near_a_limit_are_flagged(base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = App(outdir=str(tmp_path))
    slow = [Module(name=f"m{i}", script="#!/bin/sh\nsleep 1\n", budget=Duration.seconds(50)) for i in range(5)]
    NotebookLifecycleConfig(Stack(app, "Busy"), "Notebook", on_start=slow)
    app.synth()
    code, out, _ = run(capsys, "list", str(tmp_path))
    assert code == 0
    assert out.splitlines()[1].endswith("250s/270s (92.6%) !")
    assert out.splitlines()[-1] == "! more than 90% of the limit is used."
    _, text, _ = run(capsys, "diff", str(base), str(tmp_path))
    assert "blocking budget: 250s of 270s (92.6%)  WARNING: above 90% of the limit" in text.splitlines()
    _, markdown, _ = run(capsys, "diff", str(base), str(tmp_path), "--format", "markdown")
    assert "- blocking budget: 250s of 270s (92.6%) :warning: above 90% of the limit" in markdown.splitlines()
    assert "| 250s of 270s (92.6%) :warning: |" in markdown


# -- show ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--config", NOTEBOOK, "--hook", "OnStart", "--module", "greet"], GREET_BASE),
        (["--config", NOTEBOOK_NAME, "--hook", "on-start", "--module", "configure"], CONFIGURE),
        (["--config", NOTEBOOK, "--hook", "OnCreate", "--module", "setup"], SETUP),
        (["--stack", "Prod/Studio", "--config", "Lab", "--module", "lab-env"], LAB_BASE),
    ],
)
def test_show_prints_the_module_source_byte_for_byte(
    base: Path, argv: list[str], expected: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    if argv[argv.index("--config") + 1] == "Lab":
        argv = [*argv[:3], studio(base)[0], *argv[4:]]
    assert main(["show", str(base), *argv]) == 0
    out, err = capsysbinary.readouterr()
    assert (out, err) == (expected.encode(), b"")


def test_show_by_studio_name_prints_files_runner_and_script(
    head: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    name = studio(head)[1]["Properties"]["StudioLifecycleConfigName"]
    assert main(["show", str(head), "--config", name, "--module", "lab-env"]) == 0
    assert capsysbinary.readouterr().out == LAB_HEAD.encode()
    assert (
        main(["show", str(head), "--config", NOTEBOOK, "--hook", "OnStart", "--module", "extra", "--file", "motd.txt"])
        == 0
    )
    assert capsysbinary.readouterr().out == MOTD.encode()
    script = base64.b64decode(notebook_content(head, "OnStart"))
    assert main(["show", str(head), "--config", NOTEBOOK, "--hook", "OnStart", "--runner"]) == 0
    assert capsysbinary.readouterr().out == files_of(script)["runner.sh"]
    assert main(["show", str(head), "--config", NOTEBOOK, "--hook", "OnStart", "--script"]) == 0
    assert capsysbinary.readouterr().out == script


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--config", "Nope", "--module", "greet"], "no lifecycle config 'Nope'"),
        (["--config", NOTEBOOK, "--module", "greet"], "has several hooks; give --hook with one of: OnCreate, OnStart"),
        (["--config", NOTEBOOK, "--hook", "OnStop", "--module", "greet"], "has no hook 'OnStop'"),
        (["--config", NOTEBOOK, "--hook", "OnStart", "--module", "nope"], "its modules: greet, configure, cleanup"),
        (["--config", NOTEBOOK, "--hook", "OnStart", "--module", "greet", "--file", "x"], "carries no file 'x'"),
        (["--config", NOTEBOOK, "--hook", "OnStart", "--file", "x", "--runner"], "--file needs --module"),
    ],
)
def test_show_errors_name_what_exists(
    base: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "show", str(base), *argv)
    assert (code, out) == (2, "")
    assert message in err


# -- diff: text ----------------------------------------------------------------------------------------


def test_diff_text_reports_every_change(base: Path, head: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "diff", str(base), str(head))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert (
        lines[0]
        == "Lifecycle configuration changes. 3 lifecycle hooks compared: 2 changed, 0 added, 0 removed, 1 unchanged."
    )
    old_len, new_len = len(notebook_content(base, "OnStart")), len(notebook_content(head, "OnStart"))
    prefix = f"Notebooks/{NOTEBOOK}/OnStart"
    for expected in [
        f"=== Notebooks/{NOTEBOOK} OnStart (notebook): changed ===",
        f"encoded length: {old_len} -> {new_len} of 16384 "
        f"({100 * old_len / 16384:.1f}% -> {100 * new_len / 16384:.1f}%)",
        "blocking budget: 60s -> 30s of 270s (22.2% -> 11.1%)",
        "modules added: extra",
        "modules removed: cleanup",
        "module greet (changed): root, blocking, 20s, " + f"{len(GREET_HEAD)} bytes",
        f"  script: {len(GREET_BASE)} bytes, sha256 {short(GREET_BASE)} -> "
        f"{len(GREET_HEAD)} bytes, sha256 {short(GREET_HEAD)}",
        f"--- a/{prefix}/greet/run",
        f"+++ b/{prefix}/greet/run",
        "-echo hello",
        "+echo 'hello, world'",
        "+# ```fenced``` in a comment",
        " echo done",
        f"module configure (changed): notebook-user, blocking, 10s, {len(CONFIGURE)} bytes",
        '  setting GREETING: "hello" -> "hi there"',
        f"module extra (added): notebook-user, background, 600s, {len(EXTRA)} bytes",
        "  file motd.txt: " + f"{len(MOTD)} bytes, sha256 {short(MOTD)} (added)",
        "--- /dev/null",
        f"+++ b/{prefix}/extra/files/motd.txt",
        "+Welcome to the team notebook.",
        f"module cleanup (removed): root, blocking, 30s, {len(CLEANUP)} bytes",
        f"--- a/{prefix}/cleanup/run",
        "-rm -rf /tmp/scratch",
    ]:
        assert expected in lines, expected
    # The hook script's header no longer lists the modules (the manifest does), so only the archive changed.
    assert "hook script outside the archive changed" not in lines
    assert "setting LEVEL" not in out, "unchanged settings are not reported"
    assert "runner.sh changed" not in out and "bundle.env changed" not in out
    assert f"Notebooks/{NOTEBOOK} OnCreate" not in out, "the unchanged on-create hook is not reported"


def test_diff_pairs_the_studio_config_by_logical_id_while_its_name_changes(
    base: Path, head: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab_id, old = studio(base)
    head_id, new = studio(head)
    old_name, new_name = old["Properties"]["StudioLifecycleConfigName"], new["Properties"]["StudioLifecycleConfigName"]
    assert lab_id == head_id and old_name != new_name
    _, out, _ = run(capsys, "diff", str(base), str(head))
    lines = out.splitlines()
    assert f"=== Prod/Studio/{lab_id} JupyterLab (studio): changed ===" in lines
    assert f"name: {old_name} -> {new_name} (a new name: CloudFormation replaces the config)" in lines
    assert "+echo kernels registered" in lines
    assert "added, " in lines[0] and "config added" not in out and "config removed" not in out


def test_diff_of_an_assembly_with_itself_is_empty(base: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "diff", str(base), str(base), "--fail-on-change")
    assert (code, err) == (0, "")
    assert out == "No lifecycle configuration changes. " + SAME


def test_fail_on_change_exits_1(base: Path, head: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "diff", str(base), str(head), "--fail-on-change")[0] == 1
    assert run(capsys, "diff", str(base), str(head))[0] == 0


def test_added_and_removed_configs_and_hooks(base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = App(outdir=str(tmp_path))
    on_start, _, _ = modules(head=False)
    NotebookLifecycleConfig(Stack(app, "Notebooks"), "Notebook", on_start=on_start, name=NOTEBOOK_NAME)
    NotebookLifecycleConfig(
        Stack(app, "Other"), "Fresh", on_start=[Module(name="solo", script="#!/bin/sh\necho solo\n")]
    )
    app.synth()
    code, out, _ = run(capsys, "diff", str(base), str(tmp_path), "--fail-on-change")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].endswith("4 lifecycle hooks compared: 0 changed, 1 added, 2 removed, 1 unchanged.")
    assert f"=== Notebooks/{NOTEBOOK} OnCreate (notebook): hook removed ===" in lines
    assert any(
        line.startswith("=== Other/Fresh") and line.endswith(" OnStart (notebook): config added ===") for line in lines
    )
    assert any(line.startswith("=== Prod/Studio/Lab") and line.endswith(": config removed ===") for line in lines)
    assert "+echo solo" in lines and "-mkdir -p /home/ec2-user/SageMaker/work" in lines


# -- diff: markdown ------------------------------------------------------------------------------------


def test_diff_markdown_is_ready_for_a_pull_request_comment(
    base: Path, head: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "review.md"
    code, out, err = run(capsys, "diff", str(base), str(head), "--format", "markdown", "--output", str(report))
    assert (code, out, err) == (0, "", "")
    text = report.read_text()
    lines = text.splitlines()
    assert lines[:3] == ["## Lifecycle configuration changes", "", lines[2]]
    assert "| Stack | Config | Hook | Change | Encoded length | Blocking budget |" in lines
    assert f"| Notebooks | `{NOTEBOOK}` (notebook) | OnStart | changed |" in text
    assert "| 60s → 30s of 270s (11.1%) |" in text
    assert f"### Notebooks / `{NOTEBOOK}` / OnStart: changed" in lines
    assert "- modules added: `extra`" in lines and "- modules removed: `cleanup`" in lines
    assert "- blocking budget: 60s → 30s of 270s (22.2% → 11.1%)" in lines
    assert f"| 1 | `greet` | changed: script | root | blocking | 20s | {len(GREET_BASE)} → {len(GREET_HEAD)} |" in text
    assert f"| 2 | `configure` | changed: settings | notebook-user | blocking | 10s | {len(CONFIGURE)} |" in text
    assert f"| 3 | `extra` | added | notebook-user | background | 600s | {len(EXTRA)} | {short(EXTRA)} |" in lines
    assert f"| - | `cleanup` | removed | root | blocking | 30s | {len(CLEANUP)} | {short(CLEANUP)} |" in lines
    assert "<summary><code>greet</code>: changed (+2 -1)</summary>" in lines
    assert '- setting GREETING: `"hello"` → `"hi there"`' in lines
    # greet, configure, extra, cleanup and the lab hook's module; the hook scripts' own lines did not change
    # (their header no longer lists the modules).
    assert text.count("<details>") == text.count("</details>") == 5
    # The greet diff holds ``` so its fence is longer; every other diff uses ```diff.
    greet = lines.index("<summary><code>greet</code>: changed (+2 -1)</summary>")
    assert lines[greet + 4] == "````diff" and "+# ```fenced``` in a comment" in lines
    assert lines.count("````") == 1 and lines.count("```diff") == lines.count("```") == 4


def test_diff_output_is_deterministic(base: Path, head: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = run(capsys, "diff", str(base), str(head), "--format", "markdown")[1]
    copy = base.parent / "base-copy"
    shutil.copytree(base, copy, dirs_exist_ok=True)
    assert run(capsys, "diff", str(copy), str(head), "--format", "markdown")[1] == first


# -- errors --------------------------------------------------------------------------------------------


def test_missing_assembly_exits_2_naming_the_path(
    head: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-cdk.out"
    code, out, err = run(capsys, "diff", str(missing), str(head))
    assert (code, out) == (2, "")
    assert err == f"sagemaker-lifecycle-review: error: assembly {missing}: no such file or directory.\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "list", str(empty))
    assert code == 2 and f"assembly {empty}: no manifest.json there" in err


def test_unreadable_template_exits_2_naming_the_file(
    head: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(head, broken)
    template = template_path(broken, "Notebooks")
    template.write_text("{ not json")
    code, out, err = run(capsys, "diff", str(head), str(broken))
    assert (code, out) == (2, "")
    assert f"stack Notebooks: template {template}: not valid JSON" in err


def test_tampered_manifest_sha_is_an_error(head: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tampered = tmp_path / "tampered"
    shutil.copytree(head, tampered)
    template = template_path(tampered, "Notebooks")
    data = json.loads(template.read_text())
    manifest = data["Resources"][NOTEBOOK]["Metadata"]["LifecycleBundle"]["OnStart"]
    real = hashlib.sha256(archive_of(base64.b64decode(notebook_content(head, "OnStart")))[0]).hexdigest()
    assert manifest["archiveSha256"] == real
    manifest["archiveSha256"] = "0" * 64
    template.write_text(json.dumps(data))
    expected = (
        f"sagemaker-lifecycle-review: error: head: Notebooks/{NOTEBOOK} OnStart: manifest archiveSha256 {'0' * 64} "
        f"does not match the archive decoded from Content ({real}); the Metadata does not describe what would be "
        "deployed.\n"
    )
    code, out, err = run(capsys, "diff", str(head), str(tampered), "--fail-on-change")
    assert (code, err) == (2, expected)
    assert out.startswith("error: head: Notebooks/") and "No lifecycle configuration changes." in out
    code, _, err = run(capsys, "list", str(tampered))
    assert code == 2 and "manifest archiveSha256" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "diff", "only-one")[0] == 2
    assert run(capsys, "frobnicate")[0] == 2
    code, _, err = run(capsys, "diff", "a", "b", "--format", "html")
    assert code == 2 and "invalid choice: 'html'" in err


def test_manifest_that_disagrees_with_a_module_is_an_error(
    head: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tampered = tmp_path / "tampered"
    shutil.copytree(head, tampered)
    template = template_path(tampered, "Notebooks")
    data = json.loads(template.read_text())
    configure = data["Resources"][NOTEBOOK]["Metadata"]["LifecycleBundle"]["OnStart"]["modules"][1]
    configure["settings"]["GREETING"] = "hello"
    template.write_text(json.dumps(data))
    code, _, err = run(capsys, "list", str(tampered))
    assert code == 2
    assert err == (
        f"sagemaker-lifecycle-review: error: Notebooks/{NOTEBOOK} OnStart: manifest module 'configure' settings is "
        "{'GREETING': 'hello', 'LEVEL': '2'} but the decoded Content gives {'GREETING': 'hi there', 'LEVEL': '2'}.\n"
    )


def test_content_that_is_not_a_literal_is_an_error(
    head: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = tmp_path / "tokens"
    shutil.copytree(head, tokens)
    template = template_path(tokens, "Notebooks")
    data = json.loads(template.read_text())
    data["Resources"][NOTEBOOK]["Properties"]["OnCreate"][0]["Content"] = {"Fn::Join": ["", ["a", "b"]]}
    template.write_text(json.dumps(data))
    code, out, err = run(capsys, "list", str(tokens))
    assert code == 2 and "\tOnCreate" not in out
    assert f"Notebooks/{NOTEBOOK} OnCreate ({template}): Content is not a literal string" in err


def test_plain_scripts_and_escaped_binary_bundles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def build(outdir: Path, text: str) -> Path:
        app = App(outdir=str(outdir))
        stack = Stack(app, "Mixed")
        script = f"#!/bin/bash\necho {text}\n"
        sagemaker.CfnNotebookInstanceLifecycleConfig(
            stack,
            "Plain",
            on_start=[{"content": base64.b64encode(script.encode()).decode()}],
        )
        StudioLifecycleConfig(
            stack,
            "Editor",
            app_type=StudioAppType.CODE_EDITOR,
            modules=[Module(name="tool", script=script, user=RunAs.NOTEBOOK_USER)],
            encoding=Encoding.ESCAPED_BINARY,
            name_prefix="editor",
        )
        app.synth()
        return outdir

    old, new = build(tmp_path / "old", "one"), build(tmp_path / "new", "two")
    code, out, _ = run(capsys, "list", str(old))
    assert code == 0 and "    (a plain script of 21 bytes, not a bundle)" in out.splitlines()
    assert main(["show", str(old), "--config", "Plain", "--script"]) == 0
    assert capsys.readouterr().out == "#!/bin/bash\necho one\n"
    editor = next(h for h in load_assembly(new).hooks if h.hook == "CodeEditor")
    assert editor.encoding == "escaped-binary" and editor.module("tool") is not None
    assert b"<archive: see the modules and runner.sh>" in editor.stub and b"<archive sha256>" in editor.stub
    code, out, _ = run(capsys, "diff", str(old), str(new))
    lines = out.splitlines()
    assert code == 0 and lines[0].endswith("2 lifecycle hooks compared: 2 changed, 0 added, 0 removed, 0 unchanged.")
    editor_id = editor.logical_id
    before = next(h for h in load_assembly(old).hooks if h.hook == "CodeEditor")
    one, two = short("#!/bin/bash\necho one\n"), short("#!/bin/bash\necho two\n")
    lengths = f"{before.content_length} -> {editor.content_length} of 16384"
    shares = f"{100 * before.content_length / 16384:.1f}% -> {100 * editor.content_length / 16384:.1f}%"
    assert lines[2:16] == [
        f"=== Mixed/{editor_id} CodeEditor (studio): changed ===",
        f"name: {before.name} -> {editor.name} (a new name: CloudFormation replaces the config)",
        f"encoded length: {lengths} ({shares})",
        "blocking budget: 30s of 270s (11.1%), unchanged",
        "",
        "module tool (changed): notebook-user, blocking, 30s, 21 bytes",
        f"  script: 21 bytes, sha256 {one} -> 21 bytes, sha256 {two}",
        f"--- a/Mixed/{editor_id}/CodeEditor/tool/run",
        f"+++ b/Mixed/{editor_id}/CodeEditor/tool/run",
        "@@ -1,2 +1,2 @@",
        " #!/bin/bash",
        "-echo one",
        "+echo two",
        "",
    ]
    assert lines[16:] == [
        "=== Mixed/Plain OnStart (notebook): changed ===",
        "encoded length: 28 of 16384 (0.2%), unchanged",
        "",
        "hook script changed",
        "--- a/Mixed/Plain/OnStart/hook.sh",
        "+++ b/Mixed/Plain/OnStart/hook.sh",
        "@@ -1,2 +1,2 @@",
        " #!/bin/bash",
        "-echo one",
        "+echo two",
    ]


def test_context_lines_and_missing_final_newline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def build(outdir: Path, last: str) -> Path:
        app = App(outdir=str(outdir))
        script = f"#!/bin/bash\necho 1\necho 2\n{last}"
        NotebookLifecycleConfig(Stack(app, "S"), "Nb", on_start=[Module(name="m", script=script)])
        app.synth()
        return outdir

    old, new = build(tmp_path / "old", "echo 3\n"), build(tmp_path / "new", "echo 3")
    _, out, _ = run(capsys, "diff", str(old), str(new), "--context", "0")
    lines = out.splitlines()
    at = lines.index("-echo 3")
    assert lines[at - 1 :] == ["@@ -4 +4 @@", "-echo 3", "+echo 3", "\\ No newline at end of file"]
    assert run(capsys, "diff", str(old), str(new), "--context", "-1")[0] == 2


# -- as a program --------------------------------------------------------------------------------------


def test_runs_as_a_module_in_a_subprocess(base: Path, head: Path) -> None:
    env = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
    result = subprocess.run(
        [sys.executable, "-m", "constructs_lib.review", "diff", str(base), str(head), "--fail-on-change"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "+echo 'hello, world'" in result.stdout.splitlines()
    assert result.stdout.startswith("Lifecycle configuration changes. 3 lifecycle hooks compared: 2 changed")
