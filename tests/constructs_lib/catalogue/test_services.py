"""stop_ssm_agent: settings and validation."""

from typing import Any

import pytest

from constructs_lib import LifecycleConfigError, RunAs
from constructs_lib.catalogue import stop_ssm_agent


def test_settings() -> None:
    assert dict(stop_ssm_agent().settings) == {"UNINSTALL": "0"}
    assert dict(stop_ssm_agent(uninstall=True).settings) == {"UNINSTALL": "1"}
    assert stop_ssm_agent().user is RunAs.ROOT
    assert stop_ssm_agent().name == "stop-ssm-agent"


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_rejects_non_bool(value: Any) -> None:
    with pytest.raises(LifecycleConfigError, match=r"stop_ssm_agent: uninstall=.* is invalid: give True or False"):
        stop_ssm_agent(uninstall=value)
