"""archiveLocation auto, middle way: the scripts inline, the largest carried files in a small S3 asset.

A hook whose scripts fit but whose carried files do not (the auto-stop program is 17 kB) keeps the runner,
the plan and every module's script inline and copies only those files from S3; without S3 only the modules
that need them are skipped. Run for real with bash in the test sandbox, the S3 copy served by a stand-in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment, LegacyStackSynthesizer, Stack
from aws_cdk.assertions import Annotations, Match, Template

from constructs_lib import (
    ArchiveLocation,
    LifecycleBundle,
    LifecycleConfigError,
    Module,
    NotebookInstance,
    NotebookLifecycleConfig,
    RunAs,
    Target,
)
from constructs_lib.bundling.archive import SIDE_BUCKET_PLACEHOLDER, SIDE_KEY_PLACEHOLDER
from constructs_lib.bundling.inspect import files_of, loader_archive, side_archive, unpack
from constructs_lib.bundling.split import bucket_expression, filled
from tests.support.sandbox import Sandbox

SHELLCHECK = str(Path(sys.executable).parent / "shellcheck")
ARN = "arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/split-nb"
BLOB = "modules/02-with-blob/files/blob.txt"


def modules() -> list[Module]:
    """Two small modules around one that carries 20 kB of noise: inline only without that file."""
    rng = random.Random(5)
    noise = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(20_000))
    return [
        Module(name="first", script="#!/bin/bash\necho first ran\n"),
        Module(
            name="with-blob",
            script='#!/bin/bash\necho "blob of $(wc -c <"$MODULE_DIR/files/blob.txt") bytes"\n',
            files={"blob.txt": noise},
        ),
        Module(name="last", script="#!/bin/bash\necho last ran\n"),
    ]


def split_bundle() -> LifecycleBundle:
    return LifecycleBundle(hook="on-start", modules=modules(), archive_location=ArchiveLocation.AUTO)


def test_auto_keeps_the_scripts_inline_and_moves_only_the_large_file() -> None:
    bundle = split_bundle()
    assert bundle.archive_location is ArchiveLocation.SPLIT
    assert bundle.side is not None and list(bundle.side.files) == [BLOB] and bundle.side.modules == ("with-blob",)
    assert bundle.inline_length is not None and bundle.inline_length > 16384
    assert bundle.encoded_length <= 16384
    inline = files_of(bundle.script)
    assert BLOB not in inline and "modules/02-with-blob/run" in inline and "runner.sh" in inline
    assert unpack(bundle.side.archive, bundle.compression) == {BLOB: modules()[1].carried_files["blob.txt"]}
    part = bundle.manifest["s3Part"]
    assert part == {
        "archiveSha256": hashlib.sha256(bundle.side.archive).hexdigest(),
        "archiveBytes": len(bundle.side.archive),
        "files": [BLOB],
        "modules": ["with-blob"],
    }
    assert bundle.manifest["archiveLocation"] == "split" and bundle.manifest["archiveLocationRequested"] == "auto"
    assert side_archive(bundle.script) == (part["archiveSha256"], bundle.compression)
    assert loader_archive(bundle.script) is None, "a split hook is not a loader"


def test_the_encoded_length_counts_the_bucket_and_key_at_their_longest() -> None:
    bundle = split_bundle()
    longest = filled(bundle.script, "b" * 63, "k" * 128)
    assert bundle.encoded_length == 4 * ((len(longest) + 2) // 3)


def test_other_locations_are_unchanged() -> None:
    with pytest.raises(LifecycleConfigError, match="above the SageMaker limit"):
        LifecycleBundle(hook="on-start", modules=modules())
    loader = LifecycleBundle(hook="on-start", modules=modules(), archive_location=ArchiveLocation.S3_ASSET)
    assert loader.side is None and loader_archive(loader.script) is not None
    studio = [
        Module(
            name=m.name, script=m.script, files=m.files, user=RunAs.NOTEBOOK_USER, targets=frozenset({Target.STUDIO})
        )
        for m in modules()
    ]
    whole = LifecycleBundle(
        hook="jupyterlab", modules=studio, target=Target.STUDIO, archive_location=ArchiveLocation.AUTO
    )
    assert whole.archive_location is ArchiveLocation.S3_ASSET and whole.side is None, "notebook hooks only"


def test_scripts_too_large_even_without_their_files_go_to_s3_whole() -> None:
    rng = random.Random(7)
    noise = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(30_000))
    big = [Module(name="big", script=f"#!/bin/bash\n: '{noise}'\n", files={"x.txt": "x"})]
    bundle = LifecycleBundle(hook="on-start", modules=big, archive_location=ArchiveLocation.AUTO)
    assert bundle.archive_location is ArchiveLocation.S3_ASSET and bundle.side is None


def test_bucket_expressions() -> None:
    assert bucket_expression("cdk-hnb659fds-assets-123456789012-eu-west-1") == (
        "cdk-hnb659fds-assets-123456789012-eu-west-1"
    )
    assert bucket_expression({"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}) == (
        "cdk-hnb659fds-assets-${c}-${r}"
    )
    for unusable in (
        {"Ref": "AssetParameters"},
        {"Fn::Sub": "x-${AWS::Region}"},
        {"Fn::Sub": "a$(reboot)-${AWS::AccountId}-${AWS::Region}"},
        'bad"bucket',
        "a" * 64,
        "cdk-hnb659fds-assets-123\n",
    ):
        assert bucket_expression(unusable) is None, unusable
    with pytest.raises(ValueError):
        filled(b"x", "bucket", 'key"; reboot; "')


# -- the hook on a machine ---------------------------------------------------------------------------------


def sandbox_script(bundle: LifecycleBundle) -> bytes:
    return filled(bundle.script, "test-bucket-${c}-${r}", "assets/files.xz")


@pytest.fixture
def split_sandbox(tmp_path: Path) -> tuple[Sandbox, LifecycleBundle, Path]:
    sandbox = Sandbox(tmp_path / "sb")
    (sandbox.root / "opt/ml/metadata/resource-metadata.json").write_text(json.dumps({"ResourceArn": ARN}))
    bundle = split_bundle()
    assert bundle.side is not None
    store = tmp_path / "s3" / "test-bucket-123456789012-eu-west-1" / "assets"
    store.mkdir(parents=True)
    (store / "files.xz").write_bytes(bundle.side.archive)
    sandbox.add_fake(
        "aws",
        f'src="${{@: -2:1}}"; dest="${{@: -1}}"; path="{tmp_path / "s3"}/${{src#s3://}}"\n'
        '[ -f "$path" ] || { echo "fatal error: NoSuchKey" >&2; exit 1; }\ncp "$path" "$dest"',
    )
    return sandbox, bundle, store / "files.xz"


def test_the_hook_copies_checks_and_unpacks_the_s3_part(split_sandbox: tuple[Sandbox, LifecycleBundle, Path]) -> None:
    sandbox, _, _ = split_sandbox
    result = sandbox.run_hook(sandbox_script(split_bundle()))
    assert result.returncode == 0, result.stderr
    for line in ("[first] first ran", "[with-blob] blob of 20000 bytes", "[last] last ran"):
        assert f"[on-start] {line}" in result.stdout, result.stdout
    (call,) = sandbox.calls("aws")
    assert call[1:-1] == [
        "s3", "cp", "--only-show-errors", "--region", "eu-west-1", "--cli-connect-timeout", "5",
        "--cli-read-timeout", "10", "s3://test-bucket-123456789012-eu-west-1/assets/files.xz",
    ]  # fmt: skip


@pytest.mark.parametrize("broken", ["missing", "tampered", "no metadata"])
def test_without_the_s3_part_only_its_modules_are_skipped(
    split_sandbox: tuple[Sandbox, LifecycleBundle, Path], broken: str
) -> None:
    sandbox, bundle, stored = split_sandbox
    if broken == "missing":
        stored.unlink()
    elif broken == "tampered":
        stored.write_bytes(stored.read_bytes()[:-1] + b"x")
    else:
        (sandbox.root / "opt/ml/metadata/resource-metadata.json").write_text("{}")
    result = sandbox.run_hook(sandbox_script(bundle))
    assert result.returncode == 0, result.stderr
    assert "[on-start] [first] first ran" in result.stdout and "[on-start] [last] last ran" in result.stdout
    assert "[with-blob]" not in result.stdout.replace("with-blob skipped", "")
    skipped = [line for line in result.stdout.splitlines() if "[bundle] no S3 part from" in line]
    assert len(skipped) == 1 and skipped[0].endswith(": with-blob skipped"), result.stdout


def test_only_the_module_named_leaves_the_plan_even_when_its_name_is_a_word_of_other_fields(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "sb")
    named = [Module(name="root", script=modules()[1].script, files=modules()[1].files), *modules()[::2]]
    bundle = LifecycleBundle(hook="on-start", modules=named, archive_location=ArchiveLocation.AUTO)
    assert bundle.side is not None and bundle.side.modules == ("root",)
    sandbox.add_fake("aws", "exit 1")  # no route to S3
    result = sandbox.run_hook(sandbox_script(bundle))
    assert result.returncode == 0, result.stderr
    assert "[on-start] [first] first ran" in result.stdout and "[on-start] [last] last ran" in result.stdout
    assert "[root] start" not in result.stdout and ": root skipped" in result.stdout


def test_the_split_hook_passes_bash_n_and_shellcheck(tmp_path: Path) -> None:
    path = tmp_path / "split.sh"
    path.write_bytes(sandbox_script(split_bundle()))
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    lint = subprocess.run([SHELLCHECK, str(path)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


# -- the construct -----------------------------------------------------------------------------------------


def synth(env: Environment | None = None, **stack_props: Any) -> tuple[Stack, NotebookLifecycleConfig]:
    app = App()
    stack = Stack(app, "Split", env=env, **stack_props)
    config = NotebookLifecycleConfig(stack, "Lifecycle", on_start=modules(), archive_location=ArchiveLocation.AUTO)
    NotebookInstance(stack, "Notebook", name="split-nb", lifecycle_config=config)
    return stack, config


def on_start_script(stack: Stack) -> bytes:
    (resource,) = Template.from_stack(stack).find_resources("AWS::SageMaker::NotebookInstanceLifecycleConfig").values()
    content = resource["Properties"]["OnStart"][0]["Content"]
    assert isinstance(content, str), "a split hook has no deploy-time value: its Content is a literal"
    return base64.b64decode(content)


def test_the_construct_fills_in_the_bucket_computed_on_the_instance_and_grants_that_object() -> None:
    stack, config = synth()
    script = on_start_script(stack)
    asset = config.archive_assets["OnStart"]
    assert f'u="s3://cdk-hnb659fds-assets-${{c}}-${{r}}/{asset.s3_object_key}"'.encode() in script
    assert SIDE_BUCKET_PLACEHOLDER.encode() not in script and SIDE_KEY_PLACEHOLDER.encode() not in script
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Action": "s3:GetObject", "Resource": Match.object_like({"Fn::Join": Match.any_value()})}
                        )
                    ]
                )
            }
        },
    )
    statements = [
        s
        for policy in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "s3:GetObject"
    ]
    assert len(statements) == 1 and statements[0]["Resource"]["Fn::Join"][1][-1] == f"/{asset.s3_object_key}"
    Annotations.from_stack(stack).has_info(
        "/Split/Lifecycle",
        Match.string_like_regexp(r"the scripts stay inline .*\(with-blob/blob.txt\) are a CDK asset in S3"),
    )


def test_a_stack_with_an_account_and_region_names_its_bucket_literally() -> None:
    stack, config = synth(Environment(account="123456789012", region="eu-west-1"))
    key = config.archive_assets["OnStart"].s3_object_key
    assert f'u="s3://cdk-hnb659fds-assets-123456789012-eu-west-1/{key}"'.encode() in on_start_script(stack)


def test_a_synthesizer_whose_bucket_only_cloudformation_names_is_told_what_to_use() -> None:
    with pytest.raises(LifecycleConfigError, match=r'names it only at deploy time .* archiveLocation "s3-asset"'):
        synth(synthesizer=LegacyStackSynthesizer())


def test_review_shows_a_change_of_the_s3_part_as_a_file_change_not_a_script_change(tmp_path: Path) -> None:
    from constructs_lib.review.assembly import load_assembly

    def build(out: Path, blob_end: str) -> Path:
        app = App(outdir=str(out))
        parts = modules()
        parts[1] = Module(
            name="with-blob",
            script=parts[1].script,
            files={"blob.txt": parts[1].carried_files["blob.txt"][:-4] + blob_end.encode()},
        )
        NotebookLifecycleConfig(Stack(app, "Split"), "Lifecycle", on_start=parts, archive_location=ArchiveLocation.AUTO)
        app.synth()
        return out

    old, new = (load_assembly(build(tmp_path / name, end)).hooks[0] for name, end in (("a", "aaaa"), ("b", "bbbb")))
    assert old.script != new.script, "the part's checksum and key are in the script"
    assert old.stub == new.stub and b"<S3 part key>" in old.stub and b"<archive sha256>" in old.stub
    blob = "modules/02-with-blob/files/blob.txt"
    assert old.archive_files[blob].endswith(b"aaaa") and new.archive_files[blob].endswith(b"bbbb")


def test_review_does_not_hide_a_command_in_the_s3_part_key(tmp_path: Path) -> None:
    """The key is hidden behind a placeholder in the stub only when it is a plain key: text in ``u="..."`` that
    bash would run (a command substitution) must show in the stub that the diff compares."""
    from constructs_lib.review.assembly import load_assembly

    app = App(outdir=str(tmp_path / "a"))
    NotebookLifecycleConfig(Stack(app, "Split"), "Lifecycle", on_start=modules(), archive_location=ArchiveLocation.AUTO)
    app.synth()
    honest = load_assembly(tmp_path / "a").hooks[0]
    template_path = tmp_path / "a" / "Split.template.json"
    template = json.loads(template_path.read_text())
    (resource,) = [r for r in template["Resources"].values() if r["Type"].endswith("LifecycleConfig")]
    script = base64.b64decode(resource["Properties"]["OnStart"][0]["Content"])
    key = next(line for line in script.split(b"\n") if line.startswith(b'u="s3://')).split(b"/", 3)[3][:-1]
    hostile = script.replace(key, b"$(id >/tmp/pwned)" + key, 1)
    resource["Properties"]["OnStart"][0]["Content"] = base64.b64encode(hostile).decode()
    template_path.write_text(json.dumps(template))
    tampered = load_assembly(tmp_path / "a").hooks[0]
    assert b"$(id >/tmp/pwned)" in tampered.stub, "the diff of hook.sh would not show the injected command"
    assert honest.stub != tampered.stub


@pytest.mark.parametrize("placeholder", ["@SIDE_KEY@", "@SIDE@", "@PAYLOAD@", "@BUCKET@"])
def test_a_description_holding_a_template_placeholder_is_refused(placeholder: str) -> None:
    """The description is the script's header: a placeholder there would be filled as well (a second S3 copy
    block before the hook's variables are set, a key counted short of its real length) or break the script."""
    with pytest.raises(LifecycleConfigError, match=f"description holds '{placeholder}', a placeholder"):
        LifecycleBundle(
            hook="on-start", modules=modules(), archive_location=ArchiveLocation.AUTO, description=f"team {placeholder}"
        )
    ok = LifecycleBundle(
        hook="on-start", modules=modules(), archive_location=ArchiveLocation.AUTO, description="owner: a@example.com"
    )
    assert b"# owner: a@example.com" in ok.script
