"""Notebooks with identical hooks share one lifecycle config, bundled once; a change gives one its own config."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from constructs_lib import notebook_lifecycle_config
from stacks.config import ConfigError, parse_config
from stacks.notebook_stack import NotebookStack
from tests.conftest import REPO

DEFAULT = json.loads((REPO / "cdk.json").read_text())["context"]["notebookEnvironment"]
LC = "AWS::SageMaker::NotebookInstanceLifecycleConfig"
NB = "AWS::SageMaker::NotebookInstance"


def notebooks(*ids: str) -> dict[str, Any]:
    raw = copy.deepcopy(DEFAULT)
    raw["notebooks"] = [{**copy.deepcopy(DEFAULT["notebooks"][0]), "id": i} for i in ids]
    return raw


def template(raw: dict[str, Any]) -> dict[str, Any]:
    stack = NotebookStack(App(), "SageMakerNotebooks", config=parse_config(raw))
    resources: dict[str, Any] = Template.from_stack(stack).to_json()["Resources"]
    return resources


def config_of(resources: dict[str, Any]) -> dict[str, str]:
    """Notebook logical ID -> the logical ID of the lifecycle config it names."""
    return {
        logical_id: r["Properties"]["LifecycleConfigName"]["Fn::GetAtt"][0]
        for logical_id, r in resources.items()
        if r["Type"] == NB
    }


def test_two_identical_notebooks_share_one_config_and_a_change_gives_one_its_own() -> None:
    same = template(notebooks("Alpha", "Beta"))
    (shared,) = [k for k, v in same.items() if v["Type"] == LC]
    assert shared.startswith("AlphaLifecycleConfig"), "one config for both, named after the first notebook"
    assert sorted(config_of(same).values()) == [shared, shared]

    changed_raw = notebooks("Alpha", "Beta")
    changed_raw["notebooks"][1]["onStart"] = changed_raw["notebooks"][1]["onStart"][:-1]
    changed = template(changed_raw)
    configs = sorted(k for k, v in changed.items() if v["Type"] == LC)
    assert len(configs) == 2 and configs[0] == shared and configs[1].startswith("BetaLifecycleConfig")
    assert sorted(config_of(changed).values()) == configs
    alpha = [k for k, v in same.items() if v["Type"] == NB and k.startswith("Alpha")]
    for logical_id in (shared, *alpha):
        assert changed[logical_id] == same[logical_id], f"{logical_id} must stay exactly as it was"


def test_the_default_configuration_keeps_its_lifecycle_config_logical_id() -> None:
    resources = template(copy.deepcopy(DEFAULT))
    assert [k for k, v in resources.items() if v["Type"] == LC] == ["DataScienceLifecycleConfigBB64B8F8"]


def test_identical_hooks_are_bundled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real = notebook_lifecycle_config.LifecycleBundle

    def counting(**kwargs: Any) -> Any:
        built.append(kwargs["hook"])
        return real(**kwargs)

    monkeypatch.setattr(notebook_lifecycle_config, "LifecycleBundle", counting)
    monkeypatch.setattr(notebook_lifecycle_config, "_bundle_cache", type(notebook_lifecycle_config._bundle_cache)())
    template(notebooks("Alpha", "Beta", "Gamma"))
    assert built == ["on-start"], "three notebooks with one identical on-start hook: one bundle"


def test_a_changed_script_file_is_bundled_again(tmp_path: Any) -> None:
    script = tmp_path / "hello.sh"
    script.write_text("#!/bin/bash\necho one\n")
    raw = {
        "privateNetwork": False,
        "notebooks": [{"id": "Alpha", "onStart": [{"script": "hello.sh", "name": "hi", "runAs": "root"}]}],
    }
    first = template_with_base(raw, tmp_path)
    script.write_text("#!/bin/bash\necho two\n")
    second = template_with_base(raw, tmp_path)
    assert first != second, "the memo keys a module by its script text, not by its name or path"


def template_with_base(raw: dict[str, Any], base: Any) -> str:
    stack = NotebookStack(App(), "SageMakerNotebooks", config=parse_config(raw, base_dir=base))
    (resource,) = Template.from_stack(stack).find_resources(LC).values()
    return str(resource["Properties"]["OnStart"][0]["Content"])


def test_more_notebooks_than_a_stack_holds_fail_with_the_fix() -> None:
    raw = notebooks(*(f"Notebook{i}" for i in range(125)))
    raw["privateNetwork"] = False
    with pytest.raises(
        ConfigError, match=r"SageMakerNotebooks would hold 501 resources; CloudFormation allows 500 .*fleet"
    ):
        template(raw)


def test_the_bundle_memo_tells_modules_apart_by_every_field() -> None:
    from aws_cdk import Duration

    from constructs_lib import Module
    from constructs_lib.notebook_lifecycle_config import bundle_for

    def module(**changes: Any) -> Module:
        return Module(**{"name": "greet", "script": "#!/bin/bash\necho hi\n", "settings": {"WHO": "a"}, **changes})

    first = bundle_for(hook="on-start", modules=[module()])
    assert bundle_for(hook="on-start", modules=[module()]) is first, "equal modules (other objects): one bundle"
    for changes in ({"settings": {"WHO": "b"}}, {"budget": Duration.seconds(31)}):
        other = bundle_for(hook="on-start", modules=[module(**changes)])
        assert other is not first and other.content != first.content, changes
    described = bundle_for(hook="on-start", modules=[module(description="x")])
    assert described is not first, "every field is in the key, even one that does not change the output"
    assert bundle_for(hook="on-create", modules=[module()]) is not first
