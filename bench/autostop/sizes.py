"""Sizes of the carried auto-stop program and of the notebook hooks that carry it (run: python -m bench.autostop.sizes).

Prints the source, carried (minified) and xz sizes of ``autostop.py`` for each target, the encoded length of an
on-start hook holding only ``idle-autostop`` and of the default notebook's on-start hook (7 modules, as cdk.json)."""

from __future__ import annotations

import lzma
from importlib import resources

from aws_cdk import Duration

from constructs_lib.bundling import ArchiveLocation, LifecycleBundle
from constructs_lib.catalogue import (
    conda_env_kernels,
    conda_persistent_envs,
    environment_variables,
    idle_autostop,
    persist_dotfolders,
    persisted_bin_on_path,
    stop_ssm_agent,
    studio_idle_shutdown,
)
from constructs_lib.catalogue.autostop import AUTOSTOP_PACKAGE, AUTOSTOP_PROGRAM


def _xz(data: bytes) -> int:
    return len(lzma.compress(data, format=lzma.FORMAT_ALONE, preset=9 | lzma.PRESET_EXTREME))


def main() -> None:
    source = resources.files(AUTOSTOP_PACKAGE).joinpath(AUTOSTOP_PROGRAM).read_bytes()
    print(f"source: {len(source)} bytes")
    for name, module in (("notebook", idle_autostop()), ("studio", studio_idle_shutdown())):
        carried = module.carried_files[AUTOSTOP_PROGRAM]
        print(f"carried ({name}): {len(carried)} bytes, xz {_xz(carried)} bytes")
    alone = LifecycleBundle(hook="on-start", modules=[idle_autostop()], archive_location=ArchiveLocation.AUTO)
    print(f"idle-autostop alone, on-start hook: {alone.inline_length} characters")
    default = [
        stop_ssm_agent(),
        conda_persistent_envs(),
        conda_env_kernels(),
        persist_dotfolders(folders=[".config", ".ssh"]),
        persisted_bin_on_path(),
        environment_variables(variables={"PIP_DISABLE_PIP_VERSION_CHECK": "1", "MPLBACKEND": "Agg"}),
        idle_autostop(idle=Duration.minutes(60), schedule="*/5 * * * *"),
    ]
    bundle = LifecycleBundle(hook="on-start", modules=default, archive_location=ArchiveLocation.AUTO)
    print(f"default notebook, on-start hook: {bundle.inline_length} characters")


if __name__ == "__main__":
    main()
