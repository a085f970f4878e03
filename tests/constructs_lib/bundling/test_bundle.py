"""The bundler: size limit, budgets, manifest, round trip and reproducibility."""

import base64
import hashlib
import io
import random
import re
import tarfile

import pytest
from aws_cdk import Duration

import constructs_lib.bundling.bundle as bundle_module
from constructs_lib import (
    ArchiveLocation,
    Compression,
    Encoding,
    LifecycleBundle,
    LifecycleConfigError,
    Mode,
    Module,
    RunAs,
    Target,
)
from constructs_lib.bundling.archive import FIXED_MTIME, decompress
from constructs_lib.bundling.inspect import archive_of, files_of


def mods() -> list[Module]:
    return [
        Module(name="first", script="#!/bin/bash\necho first\n", user=RunAs.NOTEBOOK_USER),
        Module(
            name="second",
            script="#!/usr/bin/env python3\nprint('second')\r\n",
            settings={"GREETING": "it's $HOME"},
            files={"lib/tool.py": "print(1)\n", "data.bin": bytes(range(256))},
        ),
        Module(name="later", script="#!/bin/bash\nsleep 1\n", mode=Mode.BACKGROUND, budget=Duration.minutes(30)),
    ]


@pytest.mark.parametrize("encoding", list(Encoding))
@pytest.mark.parametrize("compression", list(Compression))
def test_round_trip_gives_back_every_source_byte_for_byte(encoding: Encoding, compression: Compression) -> None:
    modules = mods()
    bundle = LifecycleBundle(hook="on-start", modules=modules, compression=compression, encoding=encoding)
    script = base64.b64decode(bundle.content)
    assert script == bundle.script
    files = files_of(script)
    for index, module in enumerate(modules, start=1):
        base = f"modules/{index:02d}-{module.name}"
        assert files[f"{base}/run"] == module.script.encode()
        for rel, data in module.files.items():
            assert files[f"{base}/files/{rel}"] == data
    assert files["modules/02-second/run"] == b"#!/usr/bin/env python3\nprint('second')\n"
    assert files["plan.tsv"].decode().splitlines() == [
        "01\tfirst\tnotebook-user\tblocking\t30",
        "02\tsecond\troot\tblocking\t30",
        "03\tlater\troot\tbackground\t1800",
    ]
    assert b"export GREETING='it'\"'\"'s $HOME'" in files["modules/02-second/settings.sh"]


def test_archive_is_reproducible_tar_with_root_owner_fixed_mtime_and_sorted_entries() -> None:
    bundle = LifecycleBundle(hook="on-start", modules=mods(), compression=Compression.GZIP)
    archive, _, compression = archive_of(bundle.script)
    assert archive[4:8] == b"\x00\x00\x00\x00", "gzip header must carry no time"
    assert archive[3] & 0x08 == 0, "gzip header must carry no file name"
    with tarfile.open(fileobj=io.BytesIO(decompress(archive, compression))) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "root", "root", FIXED_MTIME)}
    modes = {m.name: m.mode for m in members}
    assert modes["modules/01-first/run"] == 0o755
    assert modes["modules/02-second/settings.sh"] == 0o644
    assert "modules/01-first/settings.sh" not in modes, "no settings, no file"
    assert all(m.isfile() for m in members), "no directory entries: tar -x makes the parents under the hook's umask"


def test_same_inputs_give_identical_bytes() -> None:
    first = LifecycleBundle(hook="on-start", modules=mods())
    second = LifecycleBundle(hook="on-start", modules=mods())
    assert first.content == second.content
    assert first.manifest == second.manifest


def test_manifest_lists_each_module_for_reviewers() -> None:
    bundle = LifecycleBundle(hook="on-start", modules=mods())
    manifest = bundle.manifest
    assert manifest["encodedLength"] == len(bundle.content)
    assert manifest["limit"] == 16384
    assert manifest["blockingBudgetSeconds"] == 60
    assert manifest["archiveSha256"] == hashlib.sha256(archive_of(bundle.script)[0]).hexdigest()
    first, second, later = manifest["modules"]
    assert first == {
        "name": "first",
        "user": "notebook-user",
        "mode": "blocking",
        "budgetSeconds": 30,
        "scriptBytes": 23,
        "sha256": hashlib.sha256(b"#!/bin/bash\necho first\n").hexdigest(),
    }
    assert second["files"][0] == {
        "path": "data.bin",
        "bytes": 256,
        "sha256": hashlib.sha256(bytes(range(256))).hexdigest(),
    }
    assert later["mode"] == "background"


def test_escaped_binary_carries_more_than_base64() -> None:
    base = LifecycleBundle(hook="on-start", modules=mods(), encoding=Encoding.BASE64)
    dense = LifecycleBundle(hook="on-start", modules=mods(), encoding=Encoding.ESCAPED_BINARY)
    assert dense.encoded_length < base.encoded_length


def test_duplicate_module_names_are_rejected() -> None:
    module = Module(name="twice", script="#!/bin/sh\n")
    with pytest.raises(LifecycleConfigError, match="'twice' is used twice"):
        LifecycleBundle(hook="on-start", modules=[module, module])


def test_blocking_budgets_that_cannot_fit_the_hook_fail_with_a_listing() -> None:
    modules = [Module(name=f"m{i}", script="#!/bin/sh\n", budget=Duration.seconds(100)) for i in range(3)]
    with pytest.raises(
        LifecycleConfigError,
        match=r"need 309s \(each plus 3s to stop it and drain its output\) .* may block for 270s .*m0 100s; m1 100s",
    ):
        LifecycleBundle(hook="on-start", modules=modules)


def test_background_budgets_do_not_count_against_the_hook() -> None:
    modules = [
        Module(name=f"m{i}", script="#!/bin/sh\n", mode=Mode.BACKGROUND, budget=Duration.hours(2)) for i in range(3)
    ]
    assert LifecycleBundle(hook="on-start", modules=modules).manifest["blockingBudgetSeconds"] == 0


def test_module_for_notebook_instances_is_rejected_in_studio() -> None:
    module = Module(
        name="nb", script="#!/bin/sh\n", user=RunAs.NOTEBOOK_USER, targets=frozenset({Target.NOTEBOOK_INSTANCE})
    )
    with pytest.raises(LifecycleConfigError, match="made for notebook-instance, not studio"):
        LifecycleBundle(hook="jupyterlab", modules=[module], target=Target.STUDIO)


def noise(size: int, seed: int = 7) -> str:
    """Text that does not compress: random letters."""
    rng = random.Random(seed)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(size))


def padded(size: int, description: str, encoding: Encoding = Encoding.AUTO) -> LifecycleBundle:
    module = Module(name="big", script=f"#!/bin/bash\n: '{noise(size)}'\n")
    return LifecycleBundle(hook="on-start", modules=[module], description=description, encoding=encoding)


def fit_exactly(encoding: Encoding) -> tuple[int, str]:
    """A module size and a description that make the script exactly 12288 bytes (16384 encoded)."""
    low, high = 1000, 20000
    while low < high:  # the largest module that still leaves room for a description
        mid = (low + high + 1) // 2
        try:
            padded(mid, "", encoding)
            low = mid
        except LifecycleConfigError:
            high = mid - 1
    # The description adds "# <text>\n": 3 bytes of framing plus its text; leave room for it.
    # (Compressed size is not monotonic in the input, so walk down until a size fits with room.)
    while True:
        try:
            room = 12288 - len(padded(low, "", encoding).script)
        except LifecycleConfigError:
            room = -1
        if room >= 4:
            break
        low -= 1
    return low, "d" * (room - 3)


@pytest.mark.parametrize("encoding", [Encoding.BASE64, Encoding.ESCAPED_BINARY, Encoding.AUTO])
def test_bundle_of_exactly_the_limit_synthesizes_and_one_more_character_fails(encoding: Encoding) -> None:
    size, description = fit_exactly(encoding)
    bundle = padded(size, description, encoding)
    assert len(bundle.script) == 12288
    assert bundle.encoded_length == 16384
    with pytest.raises(LifecycleConfigError) as failure:
        padded(size, description + "d", encoding)
    message = str(failure.value)
    assert "16388 characters after base64 encoding, above the SageMaker limit of 16384" in message
    assert "\n  big: " in message and "runner, header and what the modules share" in message
    assert "Total: 16388 of 16384" in message


def test_auto_encoding_uses_base64_while_it_fits_and_escaped_binary_beyond() -> None:
    small = padded(1000, "")
    assert small.encoding is Encoding.BASE64 and small.manifest["encoding"] == "base64"
    size, _ = fit_exactly(Encoding.BASE64)
    assert padded(size, "").encoding is Encoding.BASE64
    beyond = padded(size + 500, "")
    assert beyond.encoding is Encoding.ESCAPED_BINARY and beyond.encoded_length <= 16384
    with pytest.raises(LifecycleConfigError):
        padded(size + 500, "", Encoding.BASE64)


def test_a_name_that_differs_only_by_a_line_break_is_a_synth_error() -> None:
    """'greet' and 'greet\\n' would both be 'greet' to the runner reading plan.tsv line by line."""
    with pytest.raises(LifecycleConfigError, match=r"module name 'greet\\n' is invalid"):
        Module(name="greet\n", script="#!/bin/sh\nid\n")


def over_limit_modules() -> list[Module]:
    return [Module(name=f"part-{i}", script=f"#!/bin/bash\n: '{noise(4000, seed=i)}'\necho {i}\n") for i in range(4)]


def test_over_limit_error_lists_leave_one_out_shares_that_add_up_and_names_both_remedies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    modules = over_limit_modules()
    with pytest.raises(LifecycleConfigError) as failure:
        LifecycleBundle(hook="on-start", modules=modules, encoding=Encoding.BASE64)
    message = str(failure.value)
    total = int(re.search(r"the lifecycle script is (\d+) characters", message)[1])  # type: ignore[index]
    shares = {
        name: int(n) for name, n in re.findall(r"\n  (part-\d): (\d+) characters \(\d+ bytes as written\)", message)
    }
    rest = int(re.search(r"runner, header and what the modules share: (-?\d+) characters", message)[1])  # type: ignore[index]
    assert sum(shares.values()) + rest == total, "the rows add up to the total"
    assert f"Total: {total} of 16384." in message
    monkeypatch.setattr(bundle_module, "CONTENT_LIMIT_CHARS", 10**6)
    for module in modules:
        without = LifecycleBundle(
            hook="on-start", modules=[m for m in modules if m is not module], encoding=Encoding.BASE64
        )
        assert shares[module.name] == total - without.encoded_length, "a share is what leaving it out saves"
    assert 'archiveLocation "s3-asset"' in message and '"auto"' in message and "ArchiveLocation.AUTO" in message
    assert "on-create only if what it does outlives a restart" in message
    assert "(on-create)" not in message, "on-create is not offered as the remedy for work every start needs"


def test_studio_over_limit_error_offers_what_studio_can_do() -> None:
    modules = [
        Module(name=m.name, script=m.script, user=RunAs.NOTEBOOK_USER, targets=frozenset({Target.STUDIO}))
        for m in over_limit_modules()
    ]
    with pytest.raises(LifecycleConfigError) as failure:
        LifecycleBundle(hook="jupyterlab", modules=modules, target=Target.STUDIO, encoding=Encoding.BASE64)
    assert "archiveLocation" not in str(failure.value) and "several lifecycle configs" in str(failure.value)


def test_auto_location_is_inline_while_it_fits_and_an_s3_asset_beyond() -> None:
    small = LifecycleBundle(hook="on-start", modules=mods(), archive_location=ArchiveLocation.AUTO)
    assert small.archive_location is ArchiveLocation.INLINE and b"LCC_PAYLOAD" in small.script
    assert small.manifest["archiveLocation"] == "inline" and small.manifest["archiveLocationRequested"] == "auto"
    assert (
        small.location_note
        == f"hook 'on-start' (archiveLocation auto): inline, {small.encoded_length} of 16384 characters."
    )
    big = LifecycleBundle(hook="on-start", modules=over_limit_modules(), archive_location=ArchiveLocation.AUTO)
    assert big.archive_location is ArchiveLocation.S3_ASSET and b"aws s3 cp" in big.script
    assert big.manifest["archiveLocation"] == "s3-asset" and big.manifest["archiveLocationRequested"] == "auto"
    assert big.inline_length is not None and big.inline_length > 16384 >= big.encoded_length
    assert big.location_note is not None and f"{big.inline_length} characters inline" in big.location_note
    assert "route to S3" in big.location_note
    inline = LifecycleBundle(hook="on-start", modules=mods())
    assert inline.location_note is None and "archiveLocationRequested" not in inline.manifest


def test_auto_location_gives_the_same_inline_script_as_inline() -> None:
    auto = LifecycleBundle(hook="on-start", modules=mods(), archive_location=ArchiveLocation.AUTO)
    assert auto.content == LifecycleBundle(hook="on-start", modules=mods()).content


def test_the_hook_carries_none_of_its_templates_comment_lines() -> None:
    bundle = LifecycleBundle(hook="on-start", modules=mods(), description="team notes")
    comments = [line for line in bundle.script.split(b"\n") if line.startswith(b"#")]
    assert comments == [
        b"#!/bin/bash",
        b"# SageMaker lifecycle hook on-start, built by constructs_lib: change the CDK app, not this file.",
        b"# team notes",
    ]
