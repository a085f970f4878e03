#!/usr/bin/env python3
"""The CDK app: read the configuration once, validate it, build the stacks, synthesize.

Configuration comes from the context values ``notebookEnvironment``, ``studioEnvironment`` and
``stages`` and ``pipeline`` (in cdk.json, or ``-c key='{...}'``), or from a JSON file holding those keys, named by the
``configFile`` context value. A missing environment key leaves its stacks out; without ``stages`` the
stacks are synthesized once, environment-agnostic.
"""

import json
from pathlib import Path

from aws_cdk import App, DefaultStackSynthesizer, Environment, LegacyStackSynthesizer, StackSynthesizer, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.config import CONTEXT_KEY, ConfigError, parse_config
from stacks.nag_report import raise_on_findings
from stacks.pipeline_config import PIPELINE_CONTEXT_KEY, parse_pipeline
from stacks.pipeline_stack import PipelineStack
from stacks.stages import STAGES_CONTEXT_KEY, DeploymentStage, add_stacks, parse_stages
from stacks.studio_config import STUDIO_CONTEXT_KEY, parse_studio_config

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


raw_notebooks = setting(CONTEXT_KEY)
raw_studio = setting(STUDIO_CONTEXT_KEY)
if raw_notebooks is None and raw_studio is None:
    raise ConfigError(f"no configuration: set the context value {CONTEXT_KEY!r} or {STUDIO_CONTEXT_KEY!r} (cdk.json).")
notebooks = parse_config(raw_notebooks) if raw_notebooks is not None else None
studio = parse_studio_config(raw_studio) if raw_studio is not None else None
stages = parse_stages(setting(STAGES_CONTEXT_KEY))
pipeline = parse_pipeline(setting(PIPELINE_CONTEXT_KEY), stages)
synthesizers: dict[str, type[StackSynthesizer]] = {
    "default": DefaultStackSynthesizer,
    # Templates inline, no bootstrap bucket or roles: what a local deploy against moto needs.
    "legacy": LegacyStackSynthesizer,
}
synthesizer_name = app.node.try_get_context("synthesizer") or "default"
if synthesizer_name not in synthesizers:
    raise ConfigError(f"synthesizer {synthesizer_name!r} is unknown: use one of {', '.join(synthesizers)}.")
if pipeline:
    PipelineStack(
        app,
        "SageMakerPipeline",
        spec=pipeline,
        notebooks=notebooks,
        studio=studio,
        env=Environment(account=pipeline.account, region=pipeline.region),
    )
elif stages:
    for stage in stages:
        DeploymentStage(app, stage, notebooks=notebooks, studio=studio)
else:
    add_stacks(app, notebooks, studio, synthesizer=synthesizers[synthesizer_name]())
Validations.of(app).add_plugins(AwsSolutionsChecks(app))
assembly = app.synth()
raise_on_findings(Path(assembly.directory))
