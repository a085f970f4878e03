"""A lifecycle module: one script plus the typed settings the bundler needs to run it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import cast

from aws_cdk import Duration

from constructs_lib.bundling import deploy_time
from constructs_lib.bundling.limits import (
    MAX_BACKGROUND_BUDGET_SECONDS,
    MAX_BLOCKING_BUDGET_SECONDS,
    RESERVED_SETTING_NAMES,
)
from constructs_lib.bundling.shell_comments import strip_comment_lines, stripped_if_same_to_bash
from constructs_lib.bundling.shell_minify import minified_if_same_to_bash
from constructs_lib.errors import LifecycleConfigError


class RunAs(Enum):
    """The user a module runs as."""

    ROOT = "root"
    NOTEBOOK_USER = "notebook-user"
    """``ec2-user`` on notebook instances, ``sagemaker-user`` in Studio."""


class Mode(Enum):
    """Whether the hook waits for a module."""

    BLOCKING = "blocking"
    BACKGROUND = "background"
    """Detached: survives the hook's exit, has its own log and a completion marker."""


class Target(Enum):
    """Where a module can run."""

    NOTEBOOK_INSTANCE = "notebook-instance"
    STUDIO = "studio"


_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")
_SETTING = re.compile(r"[A-Z_][A-Z0-9_]*")
_FILE_PART = re.compile(r"[A-Za-z0-9._-]+")

FileSource = str | bytes | Path


def _text(value: str | bytes, what: str) -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as err:
            raise LifecycleConfigError(f"{what} is not UTF-8 text ({err}); save it as UTF-8.") from None
    return value.replace("\r\n", "\n").replace("\r", "\n")


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise LifecycleConfigError(f"{what}: file {str(path)!r} does not exist; check the path.") from None
    except OSError as err:
        raise LifecycleConfigError(f"{what}: cannot read {str(path)!r}: {err}") from None


@dataclass(frozen=True, kw_only=True)
class Module:
    """One step of a lifecycle hook.

    ``script`` is the program text (shell or any interpreter named by its shebang); line endings
    are normalised to LF. ``settings`` become environment variables of the script (shell-quoted,
    so any value arrives literally); a value holding CDK tokens (``bucket.bucket_name``) is filled in at
    deploy time (see ``bundling.deploy_time``), counted at its longest: known for common references, else
    given in ``setting_max_lengths``. ``files`` are carried in the bundle and found by the script
    under ``$MODULE_DIR/files``. ``budget`` is the time the module may take before it is killed.
    """

    name: str
    script: str
    user: RunAs = RunAs.ROOT
    mode: Mode = Mode.BLOCKING
    budget: Duration = field(default_factory=lambda: Duration.seconds(30))
    settings: Mapping[str, str] = field(default_factory=dict)
    setting_max_lengths: Mapping[str, int] = field(default_factory=dict)
    """The longest value of a deploy-time setting whose tokens this library cannot bound (by setting name)."""
    files: Mapping[str, FileSource] = field(default_factory=dict)
    targets: frozenset[Target] = frozenset({Target.NOTEBOOK_INSTANCE, Target.STUDIO})
    description: str = ""
    _deploy_time: Mapping[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    strip_comments: bool | None = None
    """Pack the script without its comment-only lines: ``None`` (the default) when it is a shell script and
    bash prints the same code for it either way (checked at synth with ``declare -f``); ``True`` always
    (scripts checked in the test suite, as the catalogue's); ``False`` never."""
    minify: bool = True
    """Carry a shell script minified by ``shfmt -mn`` when bash's ``declare -f`` prints the same code for the
    minified and the comment-handled text, else trimmed of blank lines and indentation when bash agrees to that
    (checked at synth; else the comment-handled text is carried). Never applied with ``strip_comments=False``,
    which carries the script as written."""

    def __post_init__(self) -> None:
        where = f"module {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise LifecycleConfigError(
                f"module name {self.name!r} is invalid: use 1-48 characters of a-z, 0-9 and '-', "
                "starting with a letter or digit."
            )
        if not isinstance(self.user, RunAs):
            raise LifecycleConfigError(f"{where}: unknown user {self.user!r}; use RunAs.ROOT or RunAs.NOTEBOOK_USER.")
        if not isinstance(self.mode, Mode):
            raise LifecycleConfigError(f"{where}: unknown mode {self.mode!r}; use Mode.BLOCKING or Mode.BACKGROUND.")
        script = _text(self.script, f"{where}: script")
        if not script.startswith("#!"):
            raise LifecycleConfigError(
                f"{where}: the script has no shebang; start it with a line such as '#!/bin/bash'."
            )
        object.__setattr__(self, "script", script)
        if deploy_time.has_token(script):
            raise LifecycleConfigError(
                f"{where}: the script holds a CDK token (a deploy-time value baked in as "
                "text); pass deploy-time values as settings and read them from the environment."
            )
        self._check_budget(where)
        self._check_settings(where)
        object.__setattr__(self, "settings", dict(sorted(self.settings.items())))
        object.__setattr__(self, "files", self._load_files(where))
        if not (self.strip_comments is None or isinstance(self.strip_comments, bool)):
            raise LifecycleConfigError(
                f"{where}: strip_comments must be None (when bash agrees), True or False, got {self.strip_comments!r}."
            )
        if not isinstance(self.minify, bool):
            raise LifecycleConfigError(f"{where}: minify must be True or False, got {self.minify!r}.")
        if not self.targets:
            raise LifecycleConfigError(f"{where}: targets is empty; name at least one Target.")

    @classmethod
    def from_file(cls, path: str | Path, **props: object) -> Module:
        """A module whose script is read from ``path`` (name defaults to the file's stem)."""
        path = Path(path)
        data = _read(path, f"module script for {props.get('name', path.stem)!r}")
        props.setdefault("name", path.stem.replace("_", "-"))
        return cls(script=_text(data, f"module script {str(path)!r}"), **props)  # type: ignore[arg-type]

    @property
    def _comment_handled(self) -> str:
        if self.strip_comments is None:
            return stripped_if_same_to_bash(self.script) or self.script
        return strip_comment_lines(self.script) if self.strip_comments else self.script

    @property
    def packed_script(self) -> str:
        """The script as the bundle carries it."""
        text = self._comment_handled
        minified = self._minified(text)
        return text if minified is None else minified[0]

    def _minified(self, text: str) -> tuple[str, str] | None:
        if not self.minify or self.strip_comments is False:
            return None
        return minified_if_same_to_bash(text)

    @property
    def comments_stripped(self) -> bool:
        """Whether comment lines were dropped before any minification."""
        return self._comment_handled != self.script

    @property
    def minified(self) -> str | None:
        """How the bundle's copy was minified: "shfmt" (``shfmt -mn``), "trimmed" (blank lines and indentation
        dropped as well as comments), or ``None`` (carried as the comment handling left it)."""
        minified = self._minified(self._comment_handled)
        return None if minified is None else minified[1]

    @property
    def budget_seconds(self) -> int:
        return int(self.budget.to_milliseconds() // 1000)

    @property
    def carried_files(self) -> Mapping[str, bytes]:
        """The carried files as bytes (read at construction), by relative path."""
        return cast(Mapping[str, bytes], self.files)

    def _check_budget(self, where: str) -> None:
        if not isinstance(self.budget, Duration):
            raise LifecycleConfigError(f"{where}: budget must be an aws_cdk.Duration, got {self.budget!r}.")
        seconds = self.budget.to_milliseconds() / 1000
        limit = MAX_BLOCKING_BUDGET_SECONDS if self.mode is Mode.BLOCKING else MAX_BACKGROUND_BUDGET_SECONDS
        if seconds != int(seconds) or not 1 <= seconds <= limit:
            raise LifecycleConfigError(
                f"{where}: budget {seconds:g}s is out of range for a {self.mode.value} module: "
                f"give whole seconds from 1 to {limit}"
                + (" (long work belongs in a Mode.BACKGROUND module)." if self.mode is Mode.BLOCKING else ".")
            )

    def _check_settings(self, where: str) -> None:
        for key, value in self.settings.items():
            if not isinstance(key, str) or not _SETTING.fullmatch(key):
                raise LifecycleConfigError(
                    f"{where}: setting name {key!r} is invalid: use upper-case letters, digits and '_', "
                    "not starting with a digit."
                )
            if key in RESERVED_SETTING_NAMES or key.startswith("LCC_"):
                raise LifecycleConfigError(
                    f"{where}: setting name {key!r} is reserved by the runner; choose another name."
                )
            if not isinstance(value, str) or "\x00" in value:
                raise LifecycleConfigError(
                    f"{where}: setting {key} must be a string without NUL characters, got {value!r}."
                )
        self._check_deploy_time(where)

    def _check_deploy_time(self, where: str) -> None:
        """Check the settings holding CDK tokens and keep the longest value of each (``deploy_time_settings``)."""
        found: dict[str, int] = {}
        given = self.setting_max_lengths
        if not isinstance(given, Mapping):
            raise LifecycleConfigError(f"{where}: setting_max_lengths must map setting names to lengths.")
        for key, length in given.items():
            value = self.settings.get(key)
            if value is None or not deploy_time.has_token(value):
                raise LifecycleConfigError(
                    f"{where}: setting_max_lengths names {key!r}, which is not a setting holding a CDK token."
                )
            if not isinstance(length, int) or isinstance(length, bool):
                raise LifecycleConfigError(f"{where}: setting_max_lengths[{key!r}] must be an int, got {length!r}.")
        for key, value in self.settings.items():
            if not deploy_time.has_token(value):
                continue
            if deploy_time.LIST_TOKEN.search(value):
                raise LifecycleConfigError(
                    f"{where}: setting {key} holds a CDK list token; give a string (for example Fn.join)."
                )
            if "\n" in value or "@" in deploy_time.TOKEN.sub("", value):
                raise LifecycleConfigError(
                    f"{where}: setting {key} holds a CDK token and text with a line break or '@'; give one line "
                    "without '@' around the token."
                )
            longest = given.get(key, deploy_time.max_length(value))
            if longest is None:
                raise LifecycleConfigError(
                    f"{where}: setting {key} holds a CDK token whose longest value is unknown "
                    f"({deploy_time.reference_text(value)}); give Module(setting_max_lengths={{{key!r}: n}})."
                )
            if not max(1, len(deploy_time.TOKEN.sub("", value))) <= longest <= deploy_time.MAX_SETTING_LENGTH:
                raise LifecycleConfigError(
                    f"{where}: setting {key} maximum length {longest} is out of range: give at most "
                    f"{deploy_time.MAX_SETTING_LENGTH} (and not less than its literal text)."
                )
            found[key] = longest
        object.__setattr__(self, "_deploy_time", dict(sorted(found.items())))

    @property
    def literal_settings(self) -> dict[str, str]:
        """The settings known at synth time (carried in the archive's ``settings.sh``)."""
        return {k: v for k, v in self.settings.items() if not deploy_time.has_token(v)}

    @property
    def deploy_time_settings(self) -> dict[str, int]:
        """The settings filled in at deploy time, with the longest value each can take."""
        return dict(self._deploy_time)

    def _load_files(self, where: str) -> dict[str, bytes]:
        loaded: dict[str, bytes] = {}
        for rel, source in sorted(self.files.items()):
            parts = PurePosixPath(rel).parts
            safe = all(_FILE_PART.fullmatch(p) and p not in {".", ".."} for p in parts)
            if not rel or rel.startswith("/") or not safe:
                raise LifecycleConfigError(
                    f"{where}: file path {rel!r} is invalid: give a relative path of letters, digits, "
                    "'.', '_' and '-' without '..'."
                )
            if isinstance(source, Path):
                data = _read(source, f"{where}: file {rel!r}")
            elif isinstance(source, str):
                data = source.encode("utf-8")
            else:
                data = bytes(source)
            if deploy_time.has_token(data.decode("latin-1")):
                raise LifecycleConfigError(
                    f"{where}: file {rel!r} holds a CDK token, which would be carried as the literal text "
                    "'${Token[...]}'; pass deploy-time values as settings and write the file from the script."
                )
            loaded["/".join(parts)] = data
        return loaded
