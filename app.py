#!/usr/bin/env python3
"""The CDK app: read the configuration once, validate it, build the stacks, synthesize.

Configuration comes from the context values ``notebookEnvironment`` and ``studioEnvironment`` (in
cdk.json, or ``-c key='{...}'``), or from a JSON file holding both keys, named by the ``configFile``
context value. A missing key leaves its stacks out.
"""

import json
from pathlib import Path

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.config import CONTEXT_KEY, ConfigError, parse_config
from stacks.notebook_stack import NotebookStack
from stacks.studio_config import STUDIO_CONTEXT_KEY, parse_studio_config
from stacks.studio_stack import add_studio

app = App()


def setting(key: str) -> object:
    """One configuration value, from the configFile if one is named, else from the context."""
    config_file = app.node.try_get_context("configFile")
    if config_file:
        try:
            return json.loads(Path(config_file).read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError, AttributeError) as err:
            raise ConfigError(f"configFile {config_file!r}: {err}") from None
    value = app.node.try_get_context(key)
    return json.loads(value) if isinstance(value, str) else value


notebooks = setting(CONTEXT_KEY)
studio = setting(STUDIO_CONTEXT_KEY)
if notebooks is None and studio is None:
    raise ConfigError(f"no configuration: set the context value {CONTEXT_KEY!r} or {STUDIO_CONTEXT_KEY!r} (cdk.json).")
if notebooks is not None:
    NotebookStack(app, "SageMakerNotebooks", config=parse_config(notebooks), description="SageMaker notebook instances")
if studio is not None:
    add_studio(app, parse_studio_config(studio))
Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
