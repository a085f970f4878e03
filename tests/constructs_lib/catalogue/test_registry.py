"""catalogue.register: the public way to make a factory usable from configuration files."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration

from constructs_lib import LifecycleConfigError, Module, RunAs, Target, catalogue
from constructs_lib.catalogue import register, registered

TWENTY_SECONDS = Duration.seconds(20)


def company_ca(*, ca_name: str, budget: Duration = TWENTY_SECONDS, strict: bool = True) -> Module:
    return Module(name="company-ca", script="#!/bin/bash\ntrue\n", user=RunAs.ROOT, settings={"CA": ca_name})


def test_the_catalogue_is_registered_under_its_configuration_names() -> None:
    assert registered(Target.NOTEBOOK_INSTANCE)["idle-autostop"] is catalogue.idle_autostop
    assert registered(Target.STUDIO)["studio-idle-shutdown"] is catalogue.studio_idle_shutdown
    assert "idle-autostop" not in registered(Target.STUDIO)


def test_a_registered_factory_is_seen_through_the_live_view() -> None:
    view = registered(Target.NOTEBOOK_INSTANCE)
    register("test-company-ca", company_ca)
    assert view["test-company-ca"] is company_ca
    with pytest.raises(TypeError):
        view["x"] = company_ca  # type: ignore[index]


def test_a_factory_for_both_targets() -> None:
    register("test-both", company_ca, targets=(Target.NOTEBOOK_INSTANCE, Target.STUDIO))
    assert registered(Target.STUDIO)["test-both"] is registered(Target.NOTEBOOK_INSTANCE)["test-both"]


def _positional(name: str) -> Module:
    raise AssertionError


def _module_option(*, module: str) -> Module:
    raise AssertionError


@pytest.mark.parametrize(
    ("name", "factory", "kwargs", "message"),
    [
        ("idle-autostop", company_ca, {}, "'idle-autostop': the name is already taken"),
        ("studio-idle-shutdown", company_ca, {}, "already taken \\(for studio\\)"),
        ("Company_CA", company_ca, {}, "name 'Company_CA' is invalid"),
        ("x" * 49, company_ca, {}, "is invalid"),
        ("test-not-callable", "nope", {}, "is not callable"),
        ("test-positional", _positional, {}, "parameter 'name' is not keyword-only"),
        ("test-module-option", _module_option, {}, "parameter 'module' is reserved"),
        ("test-no-target", company_ca, {"targets": ()}, "give targets"),
        ("test-bad-target", company_ca, {"targets": ("studio",)}, "give targets"),
    ],
)
def test_bad_registrations_are_refused(name: str, factory: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(LifecycleConfigError, match=message):
        register(name, factory, **kwargs)
