"""StudioLifecycleConfig: content-hashed names, app types, Studio-only modules."""

import base64

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from constructs_lib import LifecycleConfigError, Module, RunAs, Target
from constructs_lib.bundling.inspect import files_of
from constructs_lib.studio_lifecycle_config import StudioAppType, StudioLifecycleConfig

TYPE = "AWS::SageMaker::StudioLifecycleConfig"


def module(text: str = "echo hi") -> Module:
    return Module(name="hello", script=f"#!/bin/bash\n{text}\n", user=RunAs.NOTEBOOK_USER)


def synth(text: str, app_type: StudioAppType = StudioAppType.JUPYTER_LAB) -> tuple[StudioLifecycleConfig, dict]:
    stack = Stack(App(), "Studio")
    config = StudioLifecycleConfig(stack, "Lab", app_type=app_type, modules=[module(text)], name_prefix="lab")
    return config, Template.from_stack(stack).to_json()


@pytest.mark.parametrize("app_type", list(StudioAppType))
def test_every_app_type_synthesizes_with_its_bundle(app_type: StudioAppType) -> None:
    config, template = synth("echo hi", app_type)
    (resource,) = template["Resources"].values()
    props = resource["Properties"]
    assert props["StudioLifecycleConfigAppType"] == app_type.value
    assert props["StudioLifecycleConfigName"] == config.lifecycle_config_name
    assert config.lifecycle_config_name.startswith("lab-") and len(config.lifecycle_config_name) == 12
    script = base64.b64decode(props["StudioLifecycleConfigContent"])
    assert files_of(script)["modules/01-hello/run"] == b"#!/bin/bash\necho hi\n"
    assert b"/tmp/sagemaker-lifecycle" in script
    assert resource["Metadata"]["LifecycleBundle"][app_type.value]["target"] == "studio"


def test_changing_a_script_changes_the_name_and_content_and_nothing_else() -> None:
    _, before = synth("echo one")
    _, after = synth("echo two")
    assert before["Resources"].keys() == after["Resources"].keys(), "logical IDs stay"
    (old,) = before["Resources"].values()
    (new,) = after["Resources"].values()
    changed = {k for k in old["Properties"] if old["Properties"][k] != new["Properties"][k]}
    assert changed == {"StudioLifecycleConfigName", "StudioLifecycleConfigContent"}


def test_same_script_gives_the_same_name() -> None:
    assert synth("echo same")[0].lifecycle_config_name == synth("echo same")[0].lifecycle_config_name


def test_bundle_uses_sagemaker_user_and_its_home() -> None:
    config, _ = synth("echo hi")
    env = files_of(config.bundle.script)["bundle.env"].decode()
    assert "NB_USER=sagemaker-user" in env and "NB_HOME=/home/sagemaker-user" in env
    assert "ec2-user" not in config.bundle.script.decode("utf-8", "replace")


def test_notebook_instance_module_is_rejected() -> None:
    notebook_only = Module(
        name="nb", script="#!/bin/sh\n", user=RunAs.NOTEBOOK_USER, targets=frozenset({Target.NOTEBOOK_INSTANCE})
    )
    with pytest.raises(LifecycleConfigError, match="made for notebook-instance, not studio"):
        StudioLifecycleConfig(Stack(), "Lab", app_type=StudioAppType.JUPYTER_LAB, modules=[notebook_only])


def test_root_module_is_rejected_in_studio() -> None:
    with pytest.raises(LifecycleConfigError, match="runs as root, but Studio runs lifecycle scripts as sagemaker-user"):
        StudioLifecycleConfig(
            Stack(), "Lab", app_type=StudioAppType.CODE_EDITOR, modules=[Module(name="r", script="#!/bin/sh\n")]
        )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"app_type": "JupyterLab"}, "app_type 'JupyterLab' is invalid"),
        ({"modules": []}, "modules is empty"),
        ({"name_prefix": "bad_prefix"}, "name_prefix 'bad_prefix' is invalid"),
        ({"name_prefix": "x" * 55}, "is invalid"),
    ],
)
def test_bad_props_are_rejected(props: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"app_type": StudioAppType.JUPYTER_LAB, "modules": [module()], **props}
    with pytest.raises(LifecycleConfigError, match=message):
        StudioLifecycleConfig(Stack(), "Lab", **arguments)  # type: ignore[arg-type]


def test_arn_from_another_stack_is_built_from_the_name_not_exported() -> None:
    app = App()
    config = StudioLifecycleConfig(
        Stack(app, "One"), "Lab", app_type=StudioAppType.JUPYTER_LAB, modules=[module()], name_prefix="lab"
    )
    other = Stack(app, "Two")
    assert other.resolve(config.arn_in(other)) == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":sagemaker:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":studio-lifecycle-config/{config.lifecycle_config_name}",
            ],
        ]
    }


def test_idle_shutdown_must_watch_the_apps_own_jupyter_server() -> None:
    from constructs_lib.catalogue import studio_idle_shutdown

    lab = studio_idle_shutdown()
    StudioLifecycleConfig(Stack(), "Lab", app_type=StudioAppType.JUPYTER_LAB, modules=[lab])
    with pytest.raises(LifecycleConfigError, match=r"jupyter_url='http://localhost:8888/jupyter/default'"):
        StudioLifecycleConfig(Stack(), "Server", app_type=StudioAppType.JUPYTER_SERVER, modules=[lab])
    server = studio_idle_shutdown(jupyter_url="http://localhost:8888/jupyter/default")
    StudioLifecycleConfig(Stack(), "Server", app_type=StudioAppType.JUPYTER_SERVER, modules=[server])
    with pytest.raises(LifecycleConfigError, match="does not have; use it in a JupyterServer or JupyterLab config"):
        StudioLifecycleConfig(Stack(), "Gateway", app_type=StudioAppType.KERNEL_GATEWAY, modules=[server])


def test_kernel_gateway_bundles_run_as_root_with_home_at_root() -> None:
    config, _ = synth("echo hi", StudioAppType.KERNEL_GATEWAY)
    env = files_of(config.bundle.script)["bundle.env"].decode()
    assert "NB_USER=root" in env and "NB_HOME=/root" in env and "PERSIST_DIR=/root" in env
    assert "sagemaker-user" not in env
