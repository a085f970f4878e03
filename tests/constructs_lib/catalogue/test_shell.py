"""persisted_bin_on_path and environment_variables: settings, generated file and validation."""

import shlex
from typing import Any

import pytest

from constructs_lib import LifecycleConfigError, RunAs
from constructs_lib.catalogue import environment_variables, persisted_bin_on_path


def test_bin_settings() -> None:
    assert dict(persisted_bin_on_path().settings) == {"BIN_DIR": "bin"}
    assert dict(persisted_bin_on_path(bin_dir="tools/bin").settings) == {"BIN_DIR": "tools/bin"}
    assert persisted_bin_on_path().user is RunAs.ROOT


@pytest.mark.parametrize("value", ["", "/usr/local/bin", "../bin", "bin/..", "b in", "bin:/tmp", "$X", None])
def test_bin_rejects_unsafe_dirs(value: Any) -> None:
    with pytest.raises(LifecycleConfigError, match=r"^persisted_bin_on_path: bin_dir=.* is invalid: give a relative"):
        persisted_bin_on_path(bin_dir=value)


def test_environment_file_is_generated_quoted_and_sorted() -> None:
    module = environment_variables(variables={"ZED": "it's $HOME", "ALPHA": "plain", "_x1": ""})
    text = module.files["environment.sh"].decode()  # type: ignore[union-attr]
    assert text == (
        "# Set by the SageMaker lifecycle configuration (module environment-variables); do not edit.\n"
        "export ALPHA=plain\n"
        f"export ZED={shlex.quote('it' + chr(39) + 's $HOME')}\n"
        "export _x1=''\n"
    )
    assert dict(module.settings) == {"FILE_NAME": "notebook-environment.sh", "VARIABLE_NAMES": "ALPHA ZED _x1"}
    assert module.user is RunAs.ROOT


@pytest.mark.parametrize(
    ("variables", "allowed"),
    [
        ({}, "give at least one variable"),
        ([("A", "b")], "give a mapping"),
        ({"1ABC": "x"}, "letters, digits and '_'"),
        ({"A-B": "x"}, "letters, digits and '_'"),
        ({"A B": "x"}, "letters, digits and '_'"),
        ({"": "x"}, "letters, digits and '_'"),
        ({"A;id": "x"}, "letters, digits and '_'"),
        ({"PATH": "/tmp"}, "PATH changes how shells"),
        ({"HOME": "/tmp"}, "HOME changes how shells"),
        ({"USER": "root"}, "USER changes how shells"),
        ({"LD_PRELOAD": "/tmp/x.so"}, "LD_PRELOAD changes how shells"),
        ({"LD_LIBRARY_PATH": "/tmp"}, "names starting with LD_"),
        ({"BASH_ENV": "/tmp/x"}, "BASH_ENV changes how shells"),
        ({"IFS": ":"}, "IFS changes"),
        ({"A": 1}, "the value of A must be a string"),
        ({"A": "nul\x00"}, "the value of A must be a string without NUL"),
    ],
)
def test_environment_rejects_variables(variables: Any, allowed: str) -> None:
    with pytest.raises(LifecycleConfigError, match=r"^environment_variables: variables=.* is invalid") as error:
        environment_variables(variables=variables)
    assert allowed in str(error.value)


@pytest.mark.parametrize(
    "value", ["env", "env.txt", "../x.sh", "a/b.sh", ".hidden.sh", "a b.sh", "persisted-bin.sh", 3]
)
def test_environment_rejects_file_names(value: Any) -> None:
    with pytest.raises(
        LifecycleConfigError, match=r"^environment_variables: file_name=.* is invalid: .*ending in '\.sh'"
    ):
        environment_variables(variables={"A": "b"}, file_name=value)


@pytest.mark.parametrize("name", ["PYTHONPATH", "PYTHONSTARTUP", "PERL5LIB", "NODE_OPTIONS", "JAVA_TOOL_OPTIONS"])
def test_interpreter_start_up_variables_are_refused(name: str) -> None:
    with pytest.raises(LifecycleConfigError, match=f"variables='{name}' is invalid"):
        environment_variables(variables={name: "/home/ec2-user/SageMaker/lib"})


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("AWS_CONFIG_FILE", "credential_process runs a command"),
        ("AWS_SHARED_CREDENTIALS_FILE", "credential_process"),
        ("GCONV_PATH", "character-conversion modules (shared libraries)"),
        ("OPENSSL_CONF", "engines and providers"),
        ("PYTHONWARNINGS", "import the module named in a warning filter"),
        ("GIT_EXEC_PATH", "sub-commands from that directory"),
        ("GIT_CONFIG_COUNT", "GIT_CONFIG* variables give git configuration"),
        ("LESSOPEN", "input preprocessor"),
        ("PAGER", "names a program"),
        ("EXINIT", "ex/vi commands"),
        ("PS0", "command substitutions included"),
        ("TMPDIR", "symlink attacks"),
        ("GLIBC_TUNABLES", "CVE-2023-4911"),
        ("MALLOC_ARENA_MAX", "MALLOC_* variables"),
    ],
)
def test_variables_that_make_root_load_user_code_are_refused_with_the_reason(name: str, reason: str) -> None:
    with pytest.raises(LifecycleConfigError, match=f"variables='{name}' is invalid") as error:
        environment_variables(variables={name: "/home/ec2-user/SageMaker/x"})
    message = str(error.value)
    assert reason in message and f"list '{name}' in allow_variables" in message and "\n" not in message


def test_a_risky_variable_listed_in_allow_variables_is_exported() -> None:
    module = environment_variables(variables={"PAGER": "less", "TEAM": "x"}, allow_variables=["PAGER"])
    assert b"export PAGER=less\n" in module.carried_files["environment.sh"]
    with pytest.raises(LifecycleConfigError, match="variables='TMPDIR' is invalid"):
        environment_variables(variables={"PAGER": "less", "TMPDIR": "/tmp"}, allow_variables=["PAGER"])


@pytest.mark.parametrize("allow", ["PAGER", ["TEAM"], ["LD_PRELOAD"], [3]])
def test_allow_variables_lists_only_risky_names(allow: Any) -> None:
    with pytest.raises(LifecycleConfigError, match="allow_variables="):
        environment_variables(variables={"TEAM": "x"}, allow_variables=allow)


def test_reserved_names_stay_refused_even_when_allowed() -> None:
    with pytest.raises(LifecycleConfigError, match="allow_variables='LD_PRELOAD'"):
        environment_variables(variables={"LD_PRELOAD": "x"}, allow_variables=["LD_PRELOAD"])


def test_studio_variant_refuses_the_same_names() -> None:
    from constructs_lib.catalogue.studio_home import studio_environment_variables

    with pytest.raises(LifecycleConfigError, match="variables='OPENSSL_CONF' is invalid"):
        studio_environment_variables(variables={"OPENSSL_CONF": "/home/sagemaker-user/o.cnf"})
    assert studio_environment_variables(variables={"OPENSSL_CONF": "/etc/o.cnf"}, allow_variables=["OPENSSL_CONF"])
