"""persist_dotfolders and git_config: settings and validation."""

from typing import Any

import pytest

from constructs_lib import LifecycleConfigError, RunAs
from constructs_lib.catalogue import git_config, persist_dotfolders


def test_dotfolders_settings() -> None:
    module = persist_dotfolders()
    assert module.user is RunAs.NOTEBOOK_USER
    assert dict(module.settings) == {"FOLDERS": ".config .ssh", "PERSISTED_DIR": ".persisted-home"}
    custom = persist_dotfolders(folders=[".aws", ".local_x", ".vim.d"], persisted_dir="state/home")
    assert dict(custom.settings) == {"FOLDERS": ".aws .local_x .vim.d", "PERSISTED_DIR": "state/home"}


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        (".ssh", "give a list of hidden folder names"),
        ([], "give at least one folder"),
        ([".ssh", ".ssh"], "give each folder once"),
        (["ssh"], "starting with '.'"),
        (["."], "starting with '.'"),
        ([".."], "starting with '.'"),
        (["..."], "starting with '.'"),
        ([".ssh/keys"], "without '/' or '..'"),
        ([".a b"], "starting with '.'"),
        ([".x;id"], "starting with '.'"),
        ([5], "starting with '.'"),
    ],
)
def test_dotfolders_rejects_folders(value: Any, allowed: str) -> None:
    with pytest.raises(LifecycleConfigError, match=r"^persist_dotfolders: folders=.* is invalid") as error:
        persist_dotfolders(folders=value)
    assert allowed in str(error.value)


@pytest.mark.parametrize("value", ["", "/abs", "../x", "a/../b", "a b"])
def test_dotfolders_rejects_persisted_dir(value: str) -> None:
    with pytest.raises(
        LifecycleConfigError, match=r"^persist_dotfolders: persisted_dir=.* is invalid: give a relative"
    ):
        persist_dotfolders(persisted_dir=value)


def test_git_settings() -> None:
    module = git_config(
        user_name="Jane O'Doe",
        user_email="jane.o-doe+ds@example.co.uk",
        extra={"pull.rebase": "true", "core.editor": "vim -u NONE", "alias.lg": "log --graph --format='%h %s'"},
    )
    assert module.user is RunAs.NOTEBOOK_USER
    assert dict(module.settings) == {
        "CFG_USER_NAME": "Jane O'Doe",
        "CFG_USER_EMAIL": "jane.o-doe+ds@example.co.uk",
        "CFG_COUNT": "3",
        "CFG_KEY_1": "alias.lg",
        "CFG_VALUE_1": "log --graph --format='%h %s'",
        "CFG_KEY_2": "core.editor",
        "CFG_VALUE_2": "vim -u NONE",
        "CFG_KEY_3": "pull.rebase",
        "CFG_VALUE_3": "true",
    }
    # none of the settings is one of git's own configuration variables
    assert not any(name.startswith("GIT_") for name in module.settings)


@pytest.mark.parametrize(
    ("argument", "value", "allowed"),
    [
        ("user_name", "", "give 1 to 200 characters"),
        ("user_name", "two\nlines", "give 1 to 200 characters"),
        ("user_name", "Jane <jane@x.com>", "without '<' or '>'"),
        ("user_name", None, "give a string"),
        ("user_email", "jane", "give an e-mail address"),
        ("user_email", "jane@", "give an e-mail address"),
        ("user_email", "jane@example", "give an e-mail address"),
        ("user_email", "ja ne@example.com", "give an e-mail address"),
        ("user_email", "jane@example.com\n", "give an e-mail address"),
        ("user_email", 5, "give a string"),
        ("extra", [("core.editor", "vim")], "give a mapping"),
        ("extra", {"editor": "vim"}, "'section.name'"),
        ("extra", {"core editor": "vim"}, "'section.name'"),
        ("extra", {"core.editor\n": "vim"}, "'section.name'"),
        ("extra", {"user.email": "x@y.z"}, "set user.name and user.email with user_name and user_email"),
        ("extra", {"core.editor": "vim\nrm"}, "must be a string on one line"),
        ("extra", {"core.editor": 1}, "must be a string on one line"),
    ],
)
def test_git_rejects(argument: str, value: Any, allowed: str) -> None:
    arguments: dict[str, Any] = {"user_name": "Jane", "user_email": "jane@example.com", argument: value}
    with pytest.raises(LifecycleConfigError, match=rf"^git_config: {argument}=.* is invalid") as error:
        git_config(**arguments)
    assert allowed in str(error.value)
