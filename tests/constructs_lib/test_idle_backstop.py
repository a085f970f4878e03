"""IdleBackstop: schedule, exact role policy, environment, asset contents, validation, cdk-nag on a real stack."""

from __future__ import annotations

import importlib
import importlib.util
import json
import py_compile
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack, Validations
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from constructs_lib import IdleBackstop, LifecycleConfigError, NotebookInstance
from constructs_lib.idle_backstop import HANDLER_DIR, WorkingHours
from constructs_lib.private_network import PrivateNotebookNetwork
from constructs_lib.studio_domain import StudioDomain

PSEUDO = ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":"]
HOURS = WorkingHours(time_zone="Europe/Berlin", start="08:00", end="18:00", weekdays=("Fri", "Mon"))


def arn(resource: str) -> dict[str, Any]:
    return {"Fn::Join": ["", [*PSEUDO[:-1], ":" + resource]]}


def domain_arn(kind: str, domain: str) -> dict[str, Any]:
    return {"Fn::Join": ["", [*PSEUDO[:-1], f":{kind}/", {"Fn::GetAtt": [domain, "DomainId"]}, "/*"]]}


def build(stack: Stack, **props: Any) -> tuple[IdleBackstop, NotebookInstance, StudioDomain]:
    network = PrivateNotebookNetwork(stack, "Network")
    notebook = NotebookInstance(stack, "Notebook", name="Team-NB", vpc=network.vpc, vpc_subnets=network.subnets)
    domain = StudioDomain(stack, "Domain", vpc=network.vpc, vpc_subnets=network.subnets)
    defaults: dict[str, Any] = {
        "notebooks": [notebook],
        "studio_domain": domain,
        "max_notebook_running": Duration.hours(12),
        "max_app_age": Duration.hours(8),
        "working_hours": HOURS,
    }
    return IdleBackstop(stack, "Backstop", **(defaults | props)), notebook, domain


def backstop_statements(template: Template) -> list[dict[str, Any]]:
    (policy,) = [
        p for key, p in template.find_resources("AWS::IAM::Policy").items() if key.startswith("BackstopRoleDefault")
    ]
    return policy["Properties"]["PolicyDocument"]["Statement"]  # type: ignore[no-any-return]


def test_role_policy_is_exactly_list_stop_delete_and_logs() -> None:
    stack = Stack(App(), "Test")
    build(stack)
    template = Template.from_stack(stack)
    domain = "Domain66AC69E0"
    statements = backstop_statements(template)
    assert statements[:-1] == [
        {"Action": ["sagemaker:ListNotebookInstances", "sagemaker:ListApps"], "Effect": "Allow", "Resource": "*"},
        {
            "Action": ["sagemaker:ListTags", "sagemaker:StopNotebookInstance"],
            "Effect": "Allow",
            "Resource": [arn("notebook-instance/Team-NB"), arn("notebook-instance/team-nb")],
        },
        {
            "Action": "sagemaker:ListTags",
            "Effect": "Allow",
            "Resource": [domain_arn("space", domain), domain_arn("user-profile", domain)],
        },
        {"Action": "sagemaker:DeleteApp", "Effect": "Allow", "Resource": domain_arn("app", domain)},
    ]
    (log_group,) = [key for key in template.find_resources("AWS::Logs::LogGroup") if key.startswith("Backstop")]
    assert statements[-1] == {
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [log_group, "Arn"]},
    }
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": Match.object_like(
                {"Statement": [Match.object_like({"Principal": {"Service": "lambda.amazonaws.com"}})]}
            ),
            "ManagedPolicyArns": Match.absent(),
            "Description": Match.string_like_regexp("^Idle backstop"),
        },
    )


def test_dry_run_role_cannot_stop_or_delete() -> None:
    stack = Stack(App(), "Test")
    build(stack, dry_run=True)
    statements = backstop_statements(Template.from_stack(stack))
    actions = [a for st in statements for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])]
    assert not [a for a in actions if a in ("sagemaker:StopNotebookInstance", "sagemaker:DeleteApp")], actions
    assert "sagemaker:ListTags" in actions


def test_notebooks_only_grants_nothing_on_studio() -> None:
    stack = Stack(App(), "Test")
    notebook = NotebookInstance(stack, "Notebook", name="nb")
    IdleBackstop(stack, "Backstop", notebooks=[notebook], max_notebook_running=Duration.hours(4))
    statements = backstop_statements(Template.from_stack(stack))
    actions = [a for st in statements for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])]
    assert [a for a in actions if a.startswith("sagemaker:")] == [
        "sagemaker:ListNotebookInstances",
        "sagemaker:ListTags",
        "sagemaker:StopNotebookInstance",
    ]


def test_function_schedule_and_environment() -> None:
    stack = Stack(App(), "Test")
    build(stack, schedule_interval=Duration.minutes(10), max_keep_running=Duration.hours(48))
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Handler": "handler.handler",
            "Timeout": 300,
            "LoggingConfig": {"LogGroup": {"Ref": Match.string_like_regexp("^BackstopLogGroup")}},
            "Environment": {
                "Variables": {
                    "DRY_RUN": "false",
                    "MAX_APP_AGE_MINUTES": "480",
                    "MAX_KEEP_RUNNING_MINUTES": "2880",
                    "MAX_NOTEBOOK_RUNNING_MINUTES": "720",
                    "NOTEBOOK_NAMES": "Team-NB",
                    "STUDIO_DOMAIN_ARN": {"Fn::GetAtt": ["Domain66AC69E0", "DomainArn"]},
                    "WORKING_HOURS": '{"end":"18:00","start":"08:00","timeZone":"Europe/Berlin",'
                    '"weekdays":["Mon","Fri"]}',
                }
            },
        },
    )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(10 minutes)",
            "State": "ENABLED",
            "Targets": [
                {
                    "Arn": {"Fn::GetAtt": [Match.string_like_regexp("^BackstopFunction"), "Arn"]},
                    "Id": "Target0",
                    "RetryPolicy": {"MaximumRetryAttempts": 0},
                }
            ],
        },
    )
    template.has_resource("AWS::Logs::LogGroup", {"Properties": {"RetentionInDays": 90}, "DeletionPolicy": "Retain"})
    template.has_resource_properties(
        "AWS::Lambda::Permission", {"Principal": "events.amazonaws.com", "Action": "lambda:InvokeFunction"}
    )


def test_the_environment_is_what_the_handler_accepts() -> None:
    handler = importlib.import_module("lifecycle_scripts.backstop.handler")
    stack = Stack(App(), "Test")
    notebook = NotebookInstance(stack, "Notebook", name="nb")
    IdleBackstop(stack, "Backstop", notebooks=[notebook], max_notebook_running=Duration.hours(4), working_hours=HOURS)
    (function,) = Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()
    settings = handler.Settings.from_environment(function["Properties"]["Environment"]["Variables"])
    assert settings.notebook_names == ("nb",)
    assert str(settings.working_hours) == "Mon,Fri 08:00-18:00 Europe/Berlin"
    assert settings.max_notebook_running.total_seconds() == 4 * 3600


def test_asset_holds_only_the_handler_and_ignores_bytecode(tmp_path: Path) -> None:
    # What importing the handler writes next to it unless PYTHONDONTWRITEBYTECODE is set (git ignores it).
    py_compile.compile(
        str(HANDLER_DIR / "handler.py"), cfile=importlib.util.cache_from_source(str(HANDLER_DIR / "handler.py"))
    )
    assert (HANDLER_DIR / "__pycache__").is_dir()
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Test")
    notebook = NotebookInstance(stack, "Notebook", name="nb")
    IdleBackstop(stack, "Backstop", notebooks=[notebook], max_notebook_running=Duration.hours(4))
    assembly = app.synth()
    (asset_dir,) = [p for p in tmp_path.iterdir() if p.name.startswith("asset.")]
    assert sorted(p.name for p in asset_dir.iterdir()) == ["handler.py"]
    template = json.loads(Path(assembly.stacks[0].template_full_path).read_text())
    (function,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert function["Properties"]["Code"]["S3Key"] == asset_dir.name.removeprefix("asset.") + ".zip"


def test_passes_cdk_nag_and_cfn_lint_with_only_its_narrow_acknowledgments(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    build(Stack(app, "Test"))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises on any unacknowledged finding
    (report,) = json.loads((tmp_path / "validation-report.json").read_text())["pluginReports"]
    assert report["conclusion"] == "success"
    ours = sorted(
        v["ruleName"]
        for v in report["suppressedViolations"]
        if any(c["constructPath"].startswith("Test/Backstop/") for c in v["violatingConstructs"])
    )
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", str(tmp_path / "Test.template.json")],
        capture_output=True,
        text=True,
    )
    assert lint.returncode in (0, 4, 8, 12) and ":E" not in lint.stdout, lint.stdout + lint.stderr  # 4: warnings
    base = "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
    assert ours == [
        "AwsSolutions-IAM5[Resource::*]",
        base + "app/<Domain66AC69E0.DomainId>/*]",
        base + "space/<Domain66AC69E0.DomainId>/*]",
        base + "user-profile/<Domain66AC69E0.DomainId>/*]",
    ]


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"notebooks": [], "studio_domain": None}, "has nothing to watch"),
        ({"max_notebook_running": None, "max_app_age": None, "working_hours": None}, "has no rule"),
        ({"notebooks": [], "max_app_age": None, "working_hours": None}, "max_notebook_running is given but notebooks"),
        ({"max_notebook_running": Duration.minutes(59)}, "max_notebook_running 59 minutes is invalid"),
        ({"max_app_age": Duration.seconds(3601)}, "max_app_age 1 hour 1 second is invalid"),
        ({"max_app_age": Duration.days(367)}, "max_app_age 367 days is invalid"),
        ({"schedule_interval": Duration.hours(2)}, "schedule_interval 2 hours is invalid"),
        ({"max_keep_running": Duration.days(32)}, "max_keep_running 32 days is invalid"),
        ({"max_keep_running": 7}, "max_keep_running 7 is invalid"),
        ({"dry_run": "yes"}, "dry_run 'yes' is invalid"),
        ({"log_retention": logs.RetentionDays.INFINITE}, "log_retention"),
        ({"notebooks": ["nb"]}, "notebooks must be NotebookInstance constructs"),
    ],
)
def test_bad_props_fail_naming_the_prop(props: dict[str, Any], message: str) -> None:
    with pytest.raises(LifecycleConfigError, match=message):
        build(Stack(App(), "Test"), **props)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone 'Mars/Olympus' is unknown"),
        ({"time_zone": "../etc/passwd"}, "time_zone '../etc/passwd' is invalid"),
        ({"time_zone": "UTC", "start": "7:00"}, "start '7:00' is invalid"),
        ({"time_zone": "UTC", "end": "24:00"}, "end '24:00' is invalid"),
        ({"time_zone": "UTC", "start": "20:00", "end": "07:00"}, "must be before end"),
        ({"time_zone": "UTC", "weekdays": ("Mon", "Mon")}, "weekdays"),
        ({"time_zone": "UTC", "weekdays": ["Mon"]}, "weekdays"),
        ({"time_zone": "UTC", "weekdays": ()}, "weekdays"),
    ],
)
def test_bad_working_hours_fail_naming_the_field(props: dict[str, Any], message: str) -> None:
    with pytest.raises(LifecycleConfigError, match=message):
        WorkingHours(**props)
