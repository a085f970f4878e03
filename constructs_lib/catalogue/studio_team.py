"""Team conda environments on a shared Studio file system (``TeamFileSystem``), built once for everyone.

Studio shares only each user's home; every user would build the same environments again. With the team
file system mounted into every space, ``studio_team_conda_builder`` builds the environments there, in one
designated manager space, in the background, and makes them read-only; ``studio_team_conda_envs`` (every
space) lists the team envs dir in ``~/.condarc`` and registers a Jupyter kernel per ready environment.
Both run as ``sagemaker-user`` and need no root (every space reaches the file system as the domain's
``CustomPosixUserConfig`` identity, so "read-only" is the files' mode: users share one POSIX identity).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

from aws_cdk import Duration

from constructs_lib.bundling import Mode, Module, RunAs, Target
from constructs_lib.catalogue._common import check_type, fail, relative_dir, script
from constructs_lib.catalogue.conda import _CHANNEL, _ENV_NAME, _PACKAGE_SPEC, _PYTHON_VERSION, MAX_BACKGROUND_MINUTES

STUDIO_SCRIPTS_PACKAGE = "lifecycle_scripts.studio"
STUDIO_ONLY = frozenset({Target.STUDIO})
DEFAULT_MOUNT_PARENT = "/mnt/custom-file-systems/efs"
_MOUNT_DIR = re.compile(r"/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")
_SPACE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_DISPLAY = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._()-]{0,39}")
_SIXTY_MINUTES = Duration.minutes(60)
# Both modules find the team file system the same way: one sourced function, carried by each.
_TEAM_MOUNT_FILE = {"team_mount.sh": script("team_mount.sh", package=STUDIO_SCRIPTS_PACKAGE)}


def _mount_dir(factory: str, mount_dir: str | None) -> str:
    if mount_dir is None:
        return ""
    if not isinstance(mount_dir, str) or not _MOUNT_DIR.fullmatch(mount_dir) or "/../" in f"{mount_dir}/":
        raise fail(
            factory,
            "mount_dir",
            mount_dir,
            "give None (find the mounted EFS) or an absolute path such as "
            f"'{DEFAULT_MOUNT_PARENT}/fs-0123abcd', of letters, digits, '.', '_', '-' and '/'.",
        )
    return mount_dir


def studio_team_conda_envs(
    *, team_dir: str = "team-conda", mount_dir: str | None = None, display_prefix: str = "team"
) -> Module:
    """List the team envs dir in ``~/.condarc`` and register a kernel ``"<display_prefix> (<env>)"`` for every
    ready environment in ``<mount>/<team_dir>/envs`` (removing kernels of environments no longer ready).

    ``mount_dir`` None finds the file system under ``/mnt/custom-file-systems/efs`` (the one holding
    ``team_dir``, or the only one). Without a mounted file system the module logs so and succeeds.
    """
    factory = "studio_team_conda_envs"
    team = relative_dir(factory, "team_dir", team_dir)
    mount = _mount_dir(factory, mount_dir)
    if not isinstance(display_prefix, str) or not _DISPLAY.fullmatch(display_prefix):
        raise fail(factory, "display_prefix", display_prefix, "give 1-40 letters, digits, spaces and '._()-'.")
    return Module(
        name="studio-team-conda-envs",
        script=script("team_conda_envs.sh", package=STUDIO_SCRIPTS_PACKAGE),
        strip_comments=True,
        user=RunAs.NOTEBOOK_USER,
        budget=Duration.seconds(30),
        settings={"TEAM_DIR": team, "MOUNT_DIR": mount, "DISPLAY_PREFIX": display_prefix},
        files=_TEAM_MOUNT_FILE,
        targets=STUDIO_ONLY,
        description=f"team conda environments of {team} on the shared file system: envs_dirs and kernels",
    )


def studio_team_conda_builder(
    *,
    environments: Sequence[Mapping[str, object]],
    manager_space: str,
    team_dir: str = "team-conda",
    mount_dir: str | None = None,
    channel: str | None = None,
    budget: Duration = _SIXTY_MINUTES,
) -> Module:
    """Build ``environments`` (``{"name": ..., "python": "3.11", "packages": [...]}``) on the team file system,
    in the background, in the space named ``manager_space`` only; other spaces skip at once.

    Each environment gets python, ipykernel and its packages, is made read-only and marked ready with a
    hash of its spec; a changed spec rebuilds it, a removed one is deleted. One build at a time (flock).
    """
    factory = "studio_team_conda_builder"
    if isinstance(environments, (str, Mapping)) or not isinstance(environments, Sequence) or not environments:
        raise fail(factory, "environments", environments, "give a non-empty list of {name, python, packages}.")
    rows: list[str] = []
    names: set[str] = set()
    for env in environments:
        if not isinstance(env, Mapping) or set(env) - {"name", "python", "packages"} or "name" not in env:
            raise fail(factory, "environments", env, "each item is {name, python (optional), packages}.")
        name, python, packages = env["name"], env.get("python", "3.11"), env.get("packages", [])
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name) or name in {"base", "root"}:
            raise fail(factory, "name", name, "give 1-64 letters, digits, '.', '_' and '-' (not 'base' or 'root').")
        if name in names:
            raise fail(factory, "name", name, "give each environment once.")
        names.add(name)
        if not isinstance(python, str) or not _PYTHON_VERSION.fullmatch(python):
            raise fail(factory, "python", python, "give a Python 3 version such as '3.11'.")
        if isinstance(packages, str) or not isinstance(packages, Sequence):
            raise fail(factory, "packages", packages, "give a list of conda match specs.")
        for spec in packages:
            if not isinstance(spec, str) or not _PACKAGE_SPEC.fullmatch(spec):
                raise fail(factory, "packages", spec, "each spec is a conda match spec such as 'pandas>=2'.")
        joined = " ".join(packages)
        digest = hashlib.sha256(f"{python}\n{joined}\n{channel or ''}".encode()).hexdigest()[:16]
        rows.append(f"{name}|{python}|{joined}|{digest}\n")
    check_type(factory, "manager_space", manager_space, str, "a space name")
    if not _SPACE.fullmatch(manager_space):
        raise fail(factory, "manager_space", manager_space, "give a space name: 1-63 letters, digits and '-'.")
    if channel is not None and (not isinstance(channel, str) or not _CHANNEL.fullmatch(channel)):
        raise fail(factory, "channel", channel, "give None, a channel name or an http(s) URL.")
    if not isinstance(budget, Duration) or not 60 <= budget.to_seconds() <= MAX_BACKGROUND_MINUTES * 60:
        raise fail(factory, "budget", budget, f"give an aws_cdk.Duration from 1 to {MAX_BACKGROUND_MINUTES} minutes.")
    return Module(
        name="studio-team-conda-builder",
        script=script("team_conda_builder.sh", package=STUDIO_SCRIPTS_PACKAGE),
        strip_comments=True,
        user=RunAs.NOTEBOOK_USER,
        mode=Mode.BACKGROUND,
        budget=budget,
        settings={
            "MANAGER_SPACE": manager_space,
            "TEAM_DIR": relative_dir(factory, "team_dir", team_dir),
            "MOUNT_DIR": _mount_dir(factory, mount_dir),
            "CHANNEL": channel or "",
        },
        files={"environments.tsv": "".join(sorted(rows)), **_TEAM_MOUNT_FILE},
        targets=STUDIO_ONLY,
        description=f"build team conda environments {', '.join(sorted(names))} in space {manager_space} (background)",
    )
