#!/usr/bin/env python3
"""The CDK app: read the configuration once, validate it, build the stacks, synthesize.

Configuration comes from the ``notebookEnvironment`` context value (cdk.json, or
``-c notebookEnvironment='{...}'``), or from a JSON file named by the ``configFile`` context value.
"""

import json
from pathlib import Path

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.config import CONTEXT_KEY, ConfigError, parse_config
from stacks.notebook_stack import NotebookStack

app = App()
config_file = app.node.try_get_context("configFile")
if config_file:
    try:
        raw = json.loads(Path(config_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(f"configFile {config_file!r}: {err}") from None
else:
    raw = app.node.try_get_context(CONTEXT_KEY)
    if isinstance(raw, str):  # given on the command line with -c
        raw = json.loads(raw)
config = parse_config(raw)

NotebookStack(
    app, "SageMakerNotebooks", config=config, description="SageMaker notebook instances and lifecycle configs"
)
Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
