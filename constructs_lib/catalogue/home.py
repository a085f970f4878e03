"""The notebook user's home directory: dot-folders kept on the persisted volume, git settings."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from aws_cdk import Duration

from constructs_lib.bundling import Module, RunAs
from constructs_lib.catalogue._common import NOTEBOOK_ONLY, check_type, dot_name, fail, relative_dir, script

_EMAIL = re.compile(r"[^@\s<>\"',;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
# section.key or section.subsection.key (git's own rules, without quotes or whitespace in the subsection)
_GIT_KEY = re.compile(r"[A-Za-z][A-Za-z0-9-]*(\.[A-Za-z0-9_./:@+-]+)?\.[A-Za-z][A-Za-z0-9-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NO_EXTRA: Mapping[str, str] = MappingProxyType({})


def persist_dotfolders(
    *, folders: Sequence[str] = (".config", ".ssh"), persisted_dir: str = ".persisted-home"
) -> Module:
    """Keep home dot-folders on the persisted volume under ``<persisted_dir>``, with a symlink in the home.

    The first time, an existing home folder is moved there; afterwards the home entry is a relative
    link (``SageMaker/<persisted_dir>/<folder>``). ``.ssh`` is kept private (700/600, public keys 644).
    Runs as the notebook user.
    """
    factory = "persist_dotfolders"
    if isinstance(folders, str) or not isinstance(folders, Sequence):
        raise fail(factory, "folders", folders, "give a list of hidden folder names such as ['.ssh', '.config'].")
    if not folders:
        raise fail(factory, "folders", folders, "give at least one folder.")
    names = [dot_name(factory, "folders", folder) for folder in folders]
    if len(set(names)) != len(names):
        raise fail(factory, "folders", folders, "give each folder once.")
    store = relative_dir(factory, "persisted_dir", persisted_dir)
    return Module(
        name="persist-dotfolders",
        script=script("persist_dotfolders.sh"),
        strip_comments=True,
        user=RunAs.NOTEBOOK_USER,
        budget=Duration.seconds(45),
        settings={"FOLDERS": " ".join(names), "PERSISTED_DIR": store},
        targets=NOTEBOOK_ONLY,
        description=f"{', '.join(names)} kept on the persisted volume in {store}",
    )


def git_config(*, user_name: str, user_email: str, extra: Mapping[str, str] = _NO_EXTRA) -> Module:
    """Set git's ``user.name``, ``user.email`` and the ``extra`` options (``{"core.editor": "vim"}``)
    with ``git config --global``. Runs as the notebook user, at every start (``~/.gitconfig`` is on the
    root volume).
    """
    factory = "git_config"
    check_type(factory, "user_name", user_name, str, "a string")
    if not user_name.strip() or len(user_name) > 200 or _CONTROL.search(user_name) or re.search(r"[<>]", user_name):
        raise fail(factory, "user_name", user_name, "give 1 to 200 characters on one line, without '<' or '>'.")
    check_type(factory, "user_email", user_email, str, "a string")
    if len(user_email) > 254 or not _EMAIL.fullmatch(user_email):
        raise fail(factory, "user_email", user_email, "give an e-mail address such as 'jane@example.com'.")
    if not isinstance(extra, Mapping):
        raise fail(
            factory, "extra", extra, "give a mapping of git option names to values, e.g. {'core.editor': 'vim'}."
        )
    settings = {"CFG_USER_NAME": user_name, "CFG_USER_EMAIL": user_email, "CFG_COUNT": str(len(extra))}
    for index, (key, value) in enumerate(sorted(extra.items()), start=1):
        if not isinstance(key, str) or not _GIT_KEY.fullmatch(key):
            raise fail(
                factory,
                "extra",
                key,
                "option names are 'section.name' or 'section.subsection.name' (for example 'core.editor' or "
                "'credential.https://git.example.com.helper'), without spaces or quotes.",
            )
        if key.lower() in {"user.name", "user.email"}:
            raise fail(factory, "extra", key, "set user.name and user.email with user_name and user_email.")
        if not isinstance(value, str) or _CONTROL.search(value.replace("\t", "")):
            raise fail(factory, "extra", {key: value}, f"the value of {key} must be a string on one line.")
        settings[f"CFG_KEY_{index}"] = key
        settings[f"CFG_VALUE_{index}"] = value
    return Module(
        name="git-config",
        script=script("git_config.sh"),
        strip_comments=True,
        user=RunAs.NOTEBOOK_USER,
        budget=Duration.seconds(15),
        settings=settings,
        targets=NOTEBOOK_ONLY,
        description="git config --global: user.name, user.email" + "".join(f", {k}" for k in sorted(extra)),
    )
