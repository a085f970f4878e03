"""Module settings holding CDK tokens: filled in by CloudFormation at deploy time, counted at their longest,
shown as references by the manifest and the review tool, refused where they cannot work."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Fn, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from constructs_lib import (
    LifecycleConfigError,
    Module,
    NotebookLifecycleConfig,
    RunAs,
    StudioAppType,
    StudioLifecycleConfig,
)
from constructs_lib.bundling import ArchiveLocation, Encoding, LifecycleBundle, Target, encoded_length
from constructs_lib.bundling.archive import (
    BUCKET_PLACEHOLDER,
    KEY_PLACEHOLDER,
    MAX_BUCKET_CHARS,
    MAX_KEY_CHARS,
    MAX_REGION_CHARS,
    REGION_PLACEHOLDER,
)
from constructs_lib.bundling.deploy_time import TOKEN
from constructs_lib.bundling.inspect import files_of
from tests.conftest import REPO
from tests.support.sandbox import Sandbox

SCRIPT = '#!/bin/bash\nprintf "%s|%s|%s" "$BUCKET" "$PREFIX" "$PLAIN" >"$LCC_ROOT/seen"\n'


def warm(stack: Stack, bucket: s3.Bucket, **extra: Any) -> Module:
    return Module(
        name="warm",
        script=SCRIPT,
        user=RunAs.NOTEBOOK_USER,
        settings={"BUCKET": bucket.bucket_name, "PREFIX": f"s3://{bucket.bucket_name}/team", "PLAIN": "it's"},
        **extra,
    )


def world() -> tuple[Stack, s3.Bucket]:
    stack = Stack(App(), "Data")
    return stack, s3.Bucket(stack, "Bucket")


def test_a_bucket_name_token_synthesizes_into_fn_join_with_the_ref() -> None:
    stack, bucket = world()
    config = NotebookLifecycleConfig(stack, "Lifecycle", on_start=[warm(stack, bucket)])
    template = Template.from_stack(stack).to_json()
    (bucket_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::S3::Bucket"]
    (resource,) = [r for r in template["Resources"].values() if r["Type"].endswith("LifecycleConfig")]
    content = resource["Properties"]["OnStart"][0]["Content"]
    parts = content["Fn::Base64"]["Fn::Join"][1]
    assert parts.count({"Ref": bucket_id}) == 2
    assert "${Token[" not in json.dumps(template)
    # The archive holds the synth-time settings only; the deploy-time ones are outside it.
    bundle = config.on_start_bundle
    assert bundle is not None
    carried = files_of(bundle.script)["modules/01-warm/settings.sh"]
    assert carried == b"export PLAIN='it'\"'\"'s'\n"
    (entry,) = resource["Metadata"]["LifecycleBundle"]["OnStart"]["modules"]
    assert entry["settings"] == {"PLAIN": "it's"}
    assert entry["deployTimeSettings"] == [
        {"name": "BUCKET", "token": True, "maxLength": 63, "reference": "${Data/Bucket.Ref}"},
        {
            "name": "PREFIX",
            "token": True,
            "maxLength": 63 + len("s3:///team"),
            "reference": "s3://${Data/Bucket.Ref}/team",
        },
    ]


def test_the_encoded_length_counts_each_token_at_its_longest() -> None:
    stack, bucket = world()
    bundle = LifecycleBundle(hook="on-start", modules=[warm(stack, bucket)])
    longest_name = "b" * 63
    resolved = TOKEN.sub(longest_name, bundle.script.decode())
    assert bundle.encoded_length == encoded_length(len(resolved.encode()))
    assert bundle.encoded_length > encoded_length(len(bundle.script))
    assert bundle.manifest["encodedLength"] == bundle.encoded_length


@pytest.mark.parametrize(
    "value",
    ["my-team-data.example", 'it\'s "quoted" $(touch pwned) `id` \\ ; *', "LCC_DEPLOY_TIME_ only a prefix"],
)
def test_the_hook_hands_the_deploy_time_value_to_the_module_literally(tmp_path: Path, value: str) -> None:
    _, bucket = world()
    module = Module(
        name="warm",
        script=SCRIPT,
        user=RunAs.NOTEBOOK_USER,
        settings={"BUCKET": Fn.select(0, Fn.split(",", bucket.bucket_name)), "PREFIX": "p", "PLAIN": "it's"},
        setting_max_lengths={"BUCKET": 100},
    )
    bundle = LifecycleBundle(hook="on-start", modules=[module])
    # What CloudFormation would put into the script at deploy time:
    script = TOKEN.sub(lambda _: value, bundle.script.decode()).encode()
    sandbox = Sandbox(tmp_path)
    result = sandbox.run_hook(script)
    assert result.returncode == 0, result.stderr
    assert (sandbox.root / "seen").read_text() == f"{value}|p|it's"
    assert not (sandbox.root / "pwned").exists() and not Path("/pwned").exists()


def test_tokens_where_they_cannot_work_fail_synth_naming_where() -> None:
    _, bucket = world()
    with pytest.raises(LifecycleConfigError, match=r"module 'w': file 'conf/app.ini' holds a CDK token"):
        Module(name="w", script="#!/bin/bash\n", files={"conf/app.ini": f"bucket={bucket.bucket_name}\n"})
    with pytest.raises(LifecycleConfigError, match=r"module 'w': the script holds a CDK token"):
        Module(name="w", script=f"#!/bin/bash\naws s3 sync s3://{bucket.bucket_name}/ .\n")
    with pytest.raises(LifecycleConfigError, match=r"setting BUCKET holds a CDK token whose longest value is unknown"):
        Module(name="w", script="#!/bin/bash\n", settings={"BUCKET": Fn.select(0, Fn.split(",", bucket.bucket_name))})
    with pytest.raises(LifecycleConfigError, match=r"setting NAMES holds a CDK list token"):
        Module(name="w", script="#!/bin/bash\n", settings={"NAMES": f"a,{Fn.split(',', bucket.bucket_name)}"})
    with pytest.raises(LifecycleConfigError, match=r"setting URL holds a CDK token and text with a line break or '@'"):
        Module(name="w", script="#!/bin/bash\n", settings={"URL": f"user@{bucket.bucket_name}"})
    with pytest.raises(
        LifecycleConfigError, match=r"setting_max_lengths names 'PLAIN', which is not a setting holding"
    ):
        Module(name="w", script="#!/bin/bash\n", settings={"PLAIN": "x"}, setting_max_lengths={"PLAIN": 5})
    with pytest.raises(LifecycleConfigError, match=r"setting BUCKET maximum length 4096 is out of range"):
        Module(
            name="w",
            script="#!/bin/bash\n",
            settings={"BUCKET": Fn.select(0, Fn.split(",", bucket.bucket_name))},
            setting_max_lengths={"BUCKET": 4096},
        )


def test_a_token_too_long_at_its_longest_fails_the_size_check() -> None:
    _, bucket = world()
    many = [
        Module(
            name=f"m{i}",
            script="#!/bin/bash\n",
            settings={"V": Fn.select(0, Fn.split(",", bucket.bucket_name))},
            setting_max_lengths={"V": 2048},
        )
        for i in range(7)
    ]
    with pytest.raises(LifecycleConfigError, match=r"above the SageMaker limit of 16384"):
        LifecycleBundle(hook="on-start", modules=many)
    with pytest.raises(LifecycleConfigError, match=r"deploy-time settings need Encoding.BASE64 or AUTO"):
        LifecycleBundle(hook="on-start", modules=many[:1], encoding=Encoding.ESCAPED_BINARY)
    assert LifecycleBundle(hook="on-start", modules=many[:2]).encoded_length < 16384


def test_studio_config_name_follows_the_reference_and_is_stable() -> None:
    def names() -> list[str]:
        stack = Stack(App(), "Studio")
        first, second = s3.Bucket(stack, "First"), s3.Bucket(stack, "Second")
        return [
            StudioLifecycleConfig(
                stack,
                f"Lab{i}",
                app_type=StudioAppType.JUPYTER_LAB,
                modules=[Module(name="w", script=SCRIPT, user=RunAs.NOTEBOOK_USER, settings={"BUCKET": b.bucket_name})],
                name_prefix="lab",
            ).lifecycle_config_name
            for i, b in enumerate((first, second))
        ]

    first, second = names()
    assert re.fullmatch(r"lab-[0-9a-f]{8}", first) and first != second
    assert names() == [first, second]


def test_review_shows_the_reference_and_agrees_with_the_manifest(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path / "cdk.out"))
    stack = Stack(app, "Data")
    bucket = s3.Bucket(stack, "Bucket")
    config = NotebookLifecycleConfig(stack, "Lifecycle", on_start=[warm(stack, bucket)])
    logical_id = stack.get_logical_id(config.lifecycle_config)
    app.synth()

    def review(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "constructs_lib.review", *args]
        return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)

    listing = review("list", str(tmp_path / "cdk.out"))
    assert listing.returncode == 0, listing.stdout + listing.stderr
    shown = review("show", str(tmp_path / "cdk.out"), "--config", logical_id, "--hook", "OnStart", "--script")
    assert shown.returncode == 0, shown.stderr
    assert "# warm BUCKET = ${Data/Bucket.Ref}\n" in shown.stdout
    assert "# warm PREFIX = s3://${Data/Bucket.Ref}/team\n" in shown.stdout
    assert "<deploy-time value>" in shown.stdout


def test_a_module_made_for_studio_gets_its_token_setting_in_studio_too() -> None:
    stack, bucket = world()
    module = Module(name="w", script=SCRIPT, user=RunAs.NOTEBOOK_USER, settings={"BUCKET": bucket.bucket_name})
    bundle = LifecycleBundle(hook="jupyterlab", modules=[module], target=Target.STUDIO)
    assert bundle.has_deploy_time_settings
    assert "Fn::Join" in json.dumps(stack.resolve(bundle.content))


def test_rehearsal_runs_the_module_with_a_placeholder_for_the_reference(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path / "cdk.out"))
    stack = Stack(app, "Data")
    bucket = s3.Bucket(stack, "Bucket")
    echo = Module(
        name="warm",
        script='#!/bin/bash\necho "bucket=[$BUCKET]"\n',
        user=RunAs.NOTEBOOK_USER,
        settings={"BUCKET": bucket.bucket_name},
    )
    NotebookLifecycleConfig(stack, "Lifecycle", on_start=[echo])
    app.synth()
    command = [sys.executable, "-m", "constructs_lib.rehearse", str(tmp_path / "cdk.out"), "--mode", "one-uid"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("bucket=[<deploy-time value>]") == 2


def test_the_deploy_time_block_passes_shellcheck() -> None:
    _, bucket = world()
    bundle = LifecycleBundle(hook="on-start", modules=[warm(Stack(), bucket)])
    script = TOKEN.sub("my-bucket", bundle.script.decode())
    assert "IFS= read -r v <<'LCC_DEPLOY_TIME_" in script
    shellcheck = str(Path(sys.executable).parent / "shellcheck")
    result = subprocess.run([shellcheck, "-s", "bash", "-"], input=script, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def test_an_s3_asset_loader_fills_in_deploy_time_settings_too() -> None:
    stack, bucket = world()
    config = NotebookLifecycleConfig(
        stack, "Lifecycle", on_start=[warm(stack, bucket)], archive_location=ArchiveLocation.S3_ASSET
    )
    bundle = config.on_start_bundle
    assert bundle is not None and bundle.archive_location is ArchiveLocation.S3_ASSET
    template = Template.from_stack(stack).to_json()
    (bucket_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::S3::Bucket"]
    (resource,) = [r for r in template["Resources"].values() if r["Type"].endswith("LifecycleConfig")]
    parts = resource["Properties"]["OnStart"][0]["Content"]["Fn::Base64"]["Fn::Join"][1]
    assert parts.count({"Ref": bucket_id}) == 2
    text = "".join(p for p in parts if isinstance(p, str))
    assert "aws s3 cp" in text and "IFS= read -r v <<'LCC_DEPLOY_TIME_" in text
    longest = (
        TOKEN.sub("b" * 63, bundle.script.decode())
        .replace(BUCKET_PLACEHOLDER, "c" * MAX_BUCKET_CHARS)
        .replace(KEY_PLACEHOLDER, "k" * MAX_KEY_CHARS)
        .replace(REGION_PLACEHOLDER, "r" * MAX_REGION_CHARS)
    )
    assert bundle.encoded_length == encoded_length(len(longest))
