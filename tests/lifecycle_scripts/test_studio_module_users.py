"""Every Studio module offered by configuration is written for Studio's user: it runs as sagemaker-user (the
runner's notebook user), targets Studio only, never names ec2-user, and reaches root only through sudo."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from constructs_lib import Module, RunAs, Target
from constructs_lib.catalogue import registered

STUDIO_MODULES = dict(registered(Target.STUDIO))

ARGUMENTS: dict[str, dict[str, object]] = {
    "studio-environment-variables": {"variables": {"A": "b"}},
    "studio-team-conda-builder": {"environments": [{"name": "analytics"}], "manager_space": "team-lab"},
}
# A command that needs root, at the start of a line or after a pipe/&&/;, not preceded by sudo.
ROOT_ONLY = re.compile(
    r"(^|[|;&]\s*)(?!sudo\b)(systemctl|chown|useradd|dnf|yum|apt-get|tee /etc|install .* /etc)\b", re.M
)


@pytest.mark.parametrize("name", sorted(STUDIO_MODULES))
def test_studio_module_runs_as_the_studio_user_and_needs_no_unsudoed_root(name: str) -> None:
    factory: Callable[..., Module] = STUDIO_MODULES[name]
    module = factory(**ARGUMENTS.get(name, {}))
    assert module.user is RunAs.NOTEBOOK_USER, "Studio runs JupyterLab and Code Editor scripts as sagemaker-user"
    assert module.targets == frozenset({Target.STUDIO})
    assert "ec2-user" not in module.script and "/home/ec2-user" not in module.script
    assert ROOT_ONLY.search(module.packed_script) is None, ROOT_ONLY.search(module.packed_script)
    assert not re.search(r">\s*/etc/", module.packed_script), "writes under /etc need sudo"


def test_the_check_would_catch_a_root_only_command() -> None:
    assert ROOT_ONLY.search("mkdir -p x\nsystemctl restart jupyter-server\n")
    assert ROOT_ONLY.search("sudo systemctl restart x\n") is None
