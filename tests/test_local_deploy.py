"""A real deploy, locally: the pinned CDK CLI bootstraps, deploys and destroys the notebook stack against
moto's server on 127.0.0.1, and our auto-stop program then stops the deployed notebook instance.

What this proves: the synthesized template is accepted by a CloudFormation implementation end to end
(create, outputs, delete), the lifecycle config that lands in "SageMaker" carries exactly the synthesized
Content, the instance exists with the role the stack made, and the auto-stop program stops that very
instance through the SageMaker API. What it cannot prove: moto does not run lifecycle scripts, check IAM
policies (unless told to), attach the lifecycle config to the instance, or delete a VPC that has endpoints
and flow logs (so this deploy uses ``privateNetwork: false``), and it skips Studio resources.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import REPO, cdk_env
from tests.support.servers import AUTOSTOP, JupyterServer, MotoServer, aws_env

ACCOUNT = "123456789012"
REGION = "eu-west-1"


def cdk(args: list[str], env: dict[str, str], out: Path) -> subprocess.CompletedProcess[str]:
    command = ["npx", "--no-install", "cdk", *args, "--no-notices", "-o", str(out)]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_bootstrap_deploy_check_autostop_and_destroy_against_moto(
    moto_server: MotoServer, jupyter_server: JupyterServer, tmp_path: Path
) -> None:
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    notebooks = json.loads(json.dumps(context["notebookEnvironment"]))
    notebooks["privateNetwork"] = False
    for notebook in notebooks["notebooks"]:
        # The legacy synthesizer has no asset bucket against moto, so the hook must be inline; the default
        # on-start is over the inline limit (archiveLocation auto), so the deployed hook leaves the
        # auto-stop module out, and the program is run directly against the deployed instance below.
        notebook["archiveLocation"] = "inline"
        notebook["onStart"] = [m for m in notebook["onStart"] if m.get("module") != "idle-autostop"]
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"notebookEnvironment": notebooks}))
    env = cdk_env(aws_env(moto_server.url, AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION))
    out = tmp_path / "cdk.out"
    options = ["-c", f"configFile={config}", "-c", "synthesizer=legacy"]

    bootstrap = cdk(["bootstrap", f"aws://{ACCOUNT}/{REGION}", *options], env, out)
    assert bootstrap.returncode == 0, bootstrap.stderr[-3000:]
    deploy = cdk(["deploy", "SageMakerNotebooks", "--require-approval", "never", "--method=direct", *options], env, out)
    assert deploy.returncode == 0, deploy.stderr[-3000:]

    cloudformation = moto_server.client("cloudformation")
    sagemaker = moto_server.client("sagemaker")
    resources = {
        r["ResourceType"]: r["PhysicalResourceId"]
        for r in cloudformation.describe_stack_resources(StackName="SageMakerNotebooks")["StackResources"]
    }
    template: dict[str, Any] = json.loads((out / "SageMakerNotebooks.template.json").read_text())
    (synthesized,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::NotebookInstanceLifecycleConfig"
    ]
    config_name = resources["AWS::SageMaker::NotebookInstanceLifecycleConfig"].rsplit("/", 1)[1]
    deployed = sagemaker.describe_notebook_instance_lifecycle_config(NotebookInstanceLifecycleConfigName=config_name)
    assert deployed["OnStart"][0]["Content"] == synthesized["Properties"]["OnStart"][0]["Content"]

    instance_arn = resources["AWS::SageMaker::NotebookInstance"]
    instance_name = instance_arn.rsplit("/", 1)[1]
    instance = sagemaker.describe_notebook_instance(NotebookInstanceName=instance_name)
    assert instance["NotebookInstanceStatus"] == "InService"
    assert instance["RoleArn"].endswith("/" + resources["AWS::IAM::Role"])

    metadata = tmp_path / "resource-metadata.json"
    metadata.write_text(json.dumps({"ResourceName": instance_name, "ResourceArn": instance_arn}))
    later = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    autostop = subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "python"),
            str(AUTOSTOP),
            "--jupyter-url",
            jupyter_server.url,
            "--token",
            jupyter_server.token,
            "--idle-minutes",
            "60",
            "--metadata-file",
            str(metadata),
            "--now",
            later,
            # This machine has no ec2-user, GPU or terminals to warn: only the Jupyter and API parts run here.
            "--cpu-percent",
            "0",
            "--gpu-percent",
            "0",
            "--warn-minutes",
            "0",
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env=aws_env(moto_server.url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert autostop.returncode == 0, autostop.stdout + autostop.stderr
    requested = f"autostop: stop requested for notebook instance {instance_name}"
    assert any(line.endswith(requested) for line in autostop.stdout.splitlines()), autostop.stdout
    assert sagemaker.describe_notebook_instance(NotebookInstanceName=instance_name)["NotebookInstanceStatus"] in (
        "Stopping",
        "Stopped",
    )

    destroy = cdk(["destroy", "SageMakerNotebooks", "--force", *options], env, out)
    assert destroy.returncode == 0, destroy.stderr[-3000:]
    names = [n["NotebookInstanceName"] for n in sagemaker.list_notebook_instances()["NotebookInstances"]]
    assert instance_name not in names
