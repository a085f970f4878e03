"""NotebookLifecycleConfig: the L1 resource, its hooks, manifest metadata and exposed attributes."""

import base64

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Match, Template

from constructs_lib import LifecycleConfigError, Module, NotebookLifecycleConfig
from constructs_lib.bundling.inspect import files_of

TYPE = "AWS::SageMaker::NotebookInstanceLifecycleConfig"
HELLO = Module(name="hello", script="#!/bin/bash\necho hello\n")


def test_on_start_only_leaves_on_create_out_of_the_template() -> None:
    stack = Stack()
    config = NotebookLifecycleConfig(stack, "Config", on_start=[HELLO], name="team-config")
    template = Template.from_stack(stack)
    template.resource_count_is(TYPE, 1)
    template.has_resource_properties(
        TYPE,
        {
            "NotebookInstanceLifecycleConfigName": "team-config",
            "OnStart": [{"Content": config.on_start_bundle.content if config.on_start_bundle else None}],
            "OnCreate": Match.absent(),
        },
    )
    assert config.on_create_bundle is None


def test_content_decodes_to_the_bundle_with_the_module() -> None:
    stack = Stack()
    NotebookLifecycleConfig(stack, "Config", on_create=[HELLO])
    props = Template.from_stack(stack).find_resources(TYPE)
    (resource,) = props.values()
    script = base64.b64decode(resource["Properties"]["OnCreate"][0]["Content"])
    assert files_of(script)["modules/01-hello/run"] == b"#!/bin/bash\necho hello\n"
    assert "OnStart" not in resource["Properties"]


def test_manifest_is_in_the_resource_metadata() -> None:
    stack = Stack()
    NotebookLifecycleConfig(stack, "Config", on_start=[HELLO], on_create=[HELLO])
    Template.from_stack(stack).has_resource(
        TYPE,
        {
            "Metadata": {
                "LifecycleBundle": {
                    "OnStart": Match.object_like(
                        {"hook": "on-start", "limit": 16384, "modules": [Match.object_like({"name": "hello"})]}
                    ),
                    "OnCreate": Match.object_like({"hook": "on-create"}),
                }
            }
        },
    )


def test_empty_config_is_allowed() -> None:
    stack = Stack()
    NotebookLifecycleConfig(stack, "Config")
    Template.from_stack(stack).has_resource_properties(TYPE, {"OnStart": Match.absent(), "OnCreate": Match.absent()})


def test_exposes_name_and_arn_tokens() -> None:
    stack = Stack()
    config = NotebookLifecycleConfig(stack, "Config", on_start=[HELLO])
    assert stack.resolve(config.lifecycle_config_arn) == {"Ref": "Config57D1D894"}
    assert stack.resolve(config.lifecycle_config_name) == {
        "Fn::GetAtt": ["Config57D1D894", "NotebookInstanceLifecycleConfigName"]
    }


@pytest.mark.parametrize("name", ["-bad", "bad-", "under_score", "x" * 64, "sp ace"])
def test_invalid_name_is_rejected(name: str) -> None:
    with pytest.raises(LifecycleConfigError, match="NotebookLifecycleConfig name"):
        NotebookLifecycleConfig(Stack(), "Config", name=name)
