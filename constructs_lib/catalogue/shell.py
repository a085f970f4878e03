"""Login-shell environment of the notebook user: PATH and environment variables via /etc/profile.d."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from types import MappingProxyType

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

_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROFILE_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.sh")

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

_RUNS_A_PROGRAM = "names a program that other programs (git, systemctl, man, sudo...) run"
_LOADS_CONFIG = "configuration there can run commands"
RISKY_VARIABLES: Mapping[str, str] = MappingProxyType(
    {
        # glibc's own list of variables it drops for setuid programs (UNSECURE_ENVVARS), minus LD_*:
        "GCONV_PATH": "makes glibc load character-conversion modules (shared libraries) from that directory",
        "GETCONF_DIR": "makes getconf run programs from that directory",
        "GLIBC_TUNABLES": "changes glibc's memory allocator and loader at start-up (CVE-2023-4911)",
        "HOSTALIASES": "makes glibc read host aliases from that file",
        "LOCALDOMAIN": "changes how glibc resolves names",
        "LOCPATH": "makes glibc load locale data from that directory",
        "MALLOC_TRACE": "makes glibc write a trace to that file",
        "NIS_PATH": "changes how glibc looks up NIS+ tables",
        "NLSPATH": "makes programs load message catalogues from that path",
        "RESOLV_HOST_CONF": "makes glibc read resolver configuration from that file",
        "RES_OPTIONS": "changes how glibc resolves names",
        "TMPDIR": "moves root's temporary files into that directory (a notebook user's directory allows symlink "
        "attacks on files root writes)",
        "TZDIR": "makes glibc load time-zone files from that directory",
        # Configuration files that can run commands:
        "AWS_CONFIG_FILE": "points the AWS CLI and SDKs at a config file, whose credential_process runs a command",
        "AWS_SHARED_CREDENTIALS_FILE": "points the AWS CLI and SDKs at a credentials file, whose credential_process "
        "runs a command",
        "OPENSSL_CONF": "points OpenSSL at a configuration file, which can load engines and providers (shared "
        "libraries)",
        "OPENSSL_ENGINES": "makes OpenSSL load engines (shared libraries) from that directory",
        "OPENSSL_MODULES": "makes OpenSSL load providers (shared libraries) from that directory",
        "CURL_HOME": "makes curl read a .curlrc from that directory, which can write files anywhere",
        "WGETRC": "makes wget read that file, which can write files anywhere",
        "PIP_CONFIG_FILE": "makes pip read that file, which chooses the index that root's pip installs from",
        "CONDARC": "makes conda read that file, which chooses the channels that root's conda installs from",
        "XDG_CONFIG_HOME": "moves the configuration of git and many other tools into that directory ("
        + _LOADS_CONFIG
        + ")",
        "XDG_CONFIG_DIRS": "adds directories of configuration for git and many other tools (" + _LOADS_CONFIG + ")",
        "EXINIT": "holds ex/vi commands run when vi starts, and they can run shell commands",
        "VIMINIT": "holds vim commands run when vim starts, and they can run shell commands",
        "PYTHONWARNINGS": "makes Python import the module named in a warning filter at start-up (with BROWSER, a "
        "known way to run a command)",
        "PYTHONBREAKPOINT": "makes Python import and call the named function on breakpoint()",
        "PERL5DB": "holds Perl code run by the debugger",
        "R_PROFILE": "holds R code run when R starts",
        "R_PROFILE_USER": "holds R code run when R starts",
        "GIT_EXEC_PATH": "makes git run its sub-commands from that directory",
        "GIT_TEMPLATE_DIR": "makes git copy hooks (programs) from that directory into new repositories",
        "GIT_SSH": _RUNS_A_PROGRAM,
        "GIT_SSH_COMMAND": _RUNS_A_PROGRAM,
        "GIT_ASKPASS": _RUNS_A_PROGRAM,
        "GIT_EDITOR": _RUNS_A_PROGRAM,
        "GIT_PAGER": _RUNS_A_PROGRAM,
        "GIT_PROXY_COMMAND": _RUNS_A_PROGRAM,
        "GIT_EXTERNAL_DIFF": _RUNS_A_PROGRAM,
        "SSH_ASKPASS": _RUNS_A_PROGRAM,
        "BROWSER": _RUNS_A_PROGRAM,
        "EDITOR": _RUNS_A_PROGRAM,
        "VISUAL": _RUNS_A_PROGRAM,
        "SUDO_EDITOR": _RUNS_A_PROGRAM,
        "PAGER": _RUNS_A_PROGRAM,
        "MANPAGER": _RUNS_A_PROGRAM,
        "SYSTEMD_PAGER": _RUNS_A_PROGRAM,
        "SYSTEMD_EDITOR": _RUNS_A_PROGRAM,
        "LESSOPEN": "names an input preprocessor that less runs on every file it shows",
        "LESSCLOSE": "names a post-processor that less runs on every file it shows",
        # Prompts: expanded with command substitution by root's interactive shells.
        "PS0": "is expanded, command substitutions included, before every command of an interactive bash",
        "PS3": "is expanded, command substitutions included, by select in bash",
        "HISTFILE": "makes root's interactive shells write their history to that file",
    }
)
"""Variables refused unless named in ``allow_variables``: each makes programs that root runs load code or
configuration from the value (a file or directory that the notebook user may be able to write). The reason
is part of the error."""
RISKY_PREFIXES: Mapping[str, str] = MappingProxyType(
    {
        "GIT_CONFIG": "GIT_CONFIG* variables give git configuration (core.pager, core.fsmonitor, credential "
        "helpers run commands)",
        "MALLOC_": "MALLOC_* variables change glibc's allocator in every program",
    }
)


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


def risk_of(name: str) -> str | None:
    """Why setting ``name`` is risky (``RISKY_VARIABLES``, ``RISKY_PREFIXES``), or ``None``."""
    if name in RISKY_VARIABLES:
        return f"{name} {RISKY_VARIABLES[name]}"
    for prefix, reason in RISKY_PREFIXES.items():
        if name.startswith(prefix):
            return reason
    return None


def check_variables(factory: str, variables: object, allow_variables: object = ()) -> None:
    """Names safe to export and string values without NUL (shared with the Studio variant).

    A name of ``RISKY_VARIABLES`` (or starting with one of ``RISKY_PREFIXES``) is refused, with the
    reason, unless it is listed in ``allow_variables``.
    """
    if isinstance(allow_variables, str) or not isinstance(allow_variables, Sequence):
        raise fail(factory, "allow_variables", allow_variables, "give a list of variable names, such as ['PAGER'].")
    for name in allow_variables:
        if not isinstance(name, str) or risk_of(name) is None:
            raise fail(
                factory,
                "allow_variables",
                name,
                "list only names that are refused without it (see RISKY_VARIABLES in constructs_lib.catalogue.shell).",
            )
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
        risk = risk_of(name)
        if risk is not None and name not in allow_variables:
            raise fail(
                factory,
                "variables",
                name,
                f"{risk}; the file is read by every login shell, root's included, so a value pointing where the "
                f"notebook user can write would let them run code as root. If the value is safe (root-owned) and "
                f"your team needs it, list {name!r} in allow_variables.",
            )
        if not isinstance(value, str) or "\x00" in value:
            raise fail(
                factory, "variables", {name: value}, f"the value of {name} must be a string without NUL characters."
            )


def environment_variables(
    *, variables: Mapping[str, str], file_name: str = "notebook-environment.sh", allow_variables: Sequence[str] = ()
) -> Module:
    """Export ``variables`` to login shells, the Jupyter server and so its kernels and terminals.

    Login shells: ``/etc/profile.d/<file_name>`` (mode 644). The Jupyter server (``jupyter-server.service``):
    a systemd drop-in with ``EnvironmentFile=-/etc/sagemaker-lifecycle/jupyter-server.env`` (both mode 644),
    then ``systemctl daemon-reload`` and ``systemctl --no-block try-restart`` when they changed, so that
    kernels started afterwards inherit the values. Without systemd or the unit, or when systemctl fails,
    the module logs it and still succeeds (login shells get the values either way).

    The files are generated here (values quoted by ``shlex.quote``, and for systemd in the dialect of
    ``environment_files``) and carried in the bundle, so quotes, ``$``, backticks and newlines arrive
    literally and nothing in a value is ever executed. Values holding control characters other than
    tab and newline are rejected: systemd would drop them. Names that make root's programs load code or
    configuration (``RISKY_VARIABLES``) need to be listed in ``allow_variables`` as well. Runs as root (it
    writes to /etc).
    """
    factory = "environment_variables"
    check_variables(factory, variables, allow_variables)
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
        budget=Duration.seconds(30),  # three systemctl calls of at most 8 s each
        settings={"FILE_NAME": file_name, "VARIABLE_NAMES": " ".join(names)},
        files={
            "environment.sh": profile_script(variables),
            "jupyter-server.env": systemd_environment_file(variables),
            "jupyter-server.conf": jupyter_server_dropin(),
        },
        targets=NOTEBOOK_ONLY,
        description=f"/etc/profile.d/{file_name} and the Jupyter server's environment: {', '.join(names)}",
    )
