"""The bundler: size limit, budgets, manifest, round trip and reproducibility."""

import base64
import hashlib
import io
import random
import tarfile

import pytest
from aws_cdk import Duration

from constructs_lib import Compression, Encoding, LifecycleBundle, LifecycleConfigError, Mode, Module, RunAs, Target
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
    assert modes["modules"] == 0o755


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
    assert "big:" in message and "encoded characters" in message and "runner and header" in message
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
