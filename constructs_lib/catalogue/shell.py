"""Login-shell environment of the notebook user: PATH and environment variables via /etc/profile.d."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from aws_cdk import Duration

from constructs_lib.bundling import Module, RunAs
from constructs_lib.catalogue._common import NOTEBOOK_ONLY, fail, relative_dir, script
from constructs_lib.catalogue.environment_files import (
    SYSTEMD_REJECTED,
    jupyter_server_dropin,
    systemd_environment_file,
)

PERSISTED_BIN_PROFILE = "persisted-bin.sh"
"""The /etc/profile.d file written by ``persisted_bin_on_path``."""

_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PROFILE_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.sh$")

RESERVED_VARIABLES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "PWD",
        "OLDPWD",
        "IFS",
        "ENV",
        "BASH_ENV",
        "CDPATH",
        "GLOBIGNORE",
        "SHELLOPTS",
        "BASHOPTS",
        "PROMPT_COMMAND",
        "PS1",
        "PS2",
        "PS4",
        "UID",
        "EUID",
        "PPID",
        "HOSTNAME",
        # Interpreter start-up hooks: /etc/profile.d also serves root's login shells, so a value pointing
        # into the user's volume would make root load code the notebook user can write.
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "PYTHONHOME",
        "PYTHONUSERBASE",
        "PERL5LIB",
        "PERLLIB",
        "PERL5OPT",
        "RUBYLIB",
        "RUBYOPT",
        "NODE_OPTIONS",
        "NODE_PATH",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
    }
)
"""Names that change how shells find programs or behave; set with their own modules or not at all."""
RESERVED_PREFIXES = ("LD_", "BASH_FUNC_")
"""Dynamic-loader variables (LD_PRELOAD, LD_LIBRARY_PATH, ...) and exported bash functions."""


def persisted_bin_on_path(*, bin_dir: str = "bin") -> Module:
    """Append ``$PERSIST_DIR/<bin_dir>`` to the notebook user's PATH in login shells, through
    ``/etc/profile.d/persisted-bin.sh`` (mode 644; it leaves root's PATH alone, since root must never
    run programs the user can write). The directory is created by the notebook user.

    Runs as root (it writes to /etc/profile.d).
    """
    directory = relative_dir("persisted_bin_on_path", "bin_dir", bin_dir)
    return Module(
        name="persisted-bin-on-path",
        script=script("persisted_bin_on_path.sh"),
        strip_comments=True,
        user=RunAs.ROOT,
        budget=Duration.seconds(10),
        settings={"BIN_DIR": directory},
        targets=NOTEBOOK_ONLY,
        description=f"persisted {directory} on the notebook user's PATH (/etc/profile.d/{PERSISTED_BIN_PROFILE})",
    )


def profile_script(variables: Mapping[str, str]) -> str:
    """The profile.d file: one ``export NAME=<shell-quoted value>`` line per variable, sorted by name."""
    lines = ["# Set by the SageMaker lifecycle configuration (module environment-variables); do not edit."]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in sorted(variables.items())]
    return "\n".join(lines) + "\n"


def check_variables(factory: str, variables: object) -> None:
    """Names safe to export and string values without NUL (shared with the Studio variant)."""
    if not isinstance(variables, Mapping):
        raise fail(factory, "variables", variables, "give a mapping of variable names to string values.")
    if not variables:
        raise fail(factory, "variables", variables, "give at least one variable.")
    for name, value in variables.items():
        if not isinstance(name, str) or not _VARIABLE_NAME.fullmatch(name):
            raise fail(
                factory,
                "variables",
                name,
                "variable names are letters, digits and '_', not starting with a digit.",
            )
        if name in RESERVED_VARIABLES or name.startswith(RESERVED_PREFIXES):
            raise fail(
                factory,
                "variables",
                name,
                f"{name} changes how shells or the dynamic loader work and may not be set here (reserved: "
                f"{', '.join(sorted(RESERVED_VARIABLES))} and names starting with {' or '.join(RESERVED_PREFIXES)}); "
                "use persisted_bin_on_path for PATH.",
            )
        if not isinstance(value, str) or "\x00" in value:
            raise fail(
                factory, "variables", {name: value}, f"the value of {name} must be a string without NUL characters."
            )


def environment_variables(*, variables: Mapping[str, str], file_name: str = "notebook-environment.sh") -> Module:
    """Export ``variables`` to login shells, the Jupyter server and so its kernels and terminals.

    Login shells: ``/etc/profile.d/<file_name>`` (mode 644). The Jupyter server (``jupyter-server.service``):
    a systemd drop-in with ``EnvironmentFile=-/etc/sagemaker-lifecycle/jupyter-server.env`` (both mode 644),
    then ``systemctl daemon-reload`` and ``systemctl --no-block try-restart`` when they changed, so that
    kernels started afterwards inherit the values. Without systemd or the unit, or when systemctl fails,
    the module logs it and still succeeds (login shells get the values either way).

    The files are generated here (values quoted by ``shlex.quote``, and for systemd in the dialect of
    ``environment_files``) and carried in the bundle, so quotes, ``$``, backticks and newlines arrive
    literally and nothing in a value is ever executed. Values holding control characters other than
    tab and newline are rejected: systemd would drop them. Runs as root (it writes to /etc).
    """
    factory = "environment_variables"
    check_variables(factory, variables)
    for name, value in variables.items():
        if SYSTEMD_REJECTED.search(value):
            raise fail(
                factory,
                "variables",
                {name: value},
                f"the value of {name} holds a control character other than tab and newline, which systemd's "
                "EnvironmentFile= drops: the Jupyter server would not get it.",
            )
    if not isinstance(file_name, str) or not _PROFILE_FILE.fullmatch(file_name) or file_name == PERSISTED_BIN_PROFILE:
        raise fail(
            factory,
            "file_name",
            file_name,
            "give a file name of letters, digits, '.', '_' and '-' ending in '.sh' (profile.d only reads *.sh), "
            f"other than {PERSISTED_BIN_PROFILE!r}.",
        )
    names = sorted(variables)
    return Module(
        name="environment-variables",
        script=script("environment_variables.sh"),
        strip_comments=True,
        user=RunAs.ROOT,
        budget=Duration.seconds(40),  # three systemctl calls of at most 10 s each
        settings={"FILE_NAME": file_name, "VARIABLE_NAMES": " ".join(names)},
        files={
            "environment.sh": profile_script(variables),
            "jupyter-server.env": systemd_environment_file(variables),
            "jupyter-server.conf": jupyter_server_dropin(),
        },
        targets=NOTEBOOK_ONLY,
        description=f"/etc/profile.d/{file_name} and the Jupyter server's environment: {', '.join(names)}",
    )
