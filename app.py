#!/usr/bin/env python3
"""The CDK app: read the configuration once, validate it, build the stacks, synthesize.

Configuration comes from the context values ``notebookEnvironment``, ``studioEnvironment``,
``stages`` and ``pipeline`` (in cdk.json, or ``-c key='{...}'``), or from a JSON file holding those keys, named by the
``configFile`` context value. A missing environment key leaves its stacks out; without ``stages`` the
stacks are synthesized once, environment-agnostic. Script paths in module entries are relative to the
configFile's directory, else to cdk.json's (the directory the CDK CLI starts the app in).

A configuration error prints one line, ``error: <key path>: <what is wrong and what to give>``, on
stderr and exits with status 1 (no Python traceback).
"""

import json
import stat
import sys
from pathlib import Path

from aws_cdk import App, DefaultStackSynthesizer, Environment, LegacyStackSynthesizer, StackSynthesizer, Validations
from cdk_nag import AwsSolutionsChecks

from constructs_lib import LifecycleConfigError
from stacks.config import CONTEXT_KEY, ConfigError, parse_config
from stacks.nag_report import NagFindings, raise_on_findings
from stacks.pipeline_config import PIPELINE_CONTEXT_KEY, parse_pipeline
from stacks.pipeline_stack import PipelineStack
from stacks.stages import STAGES_CONTEXT_KEY, DeploymentStage, add_stacks, parse_stages
from stacks.studio_config import STUDIO_CONTEXT_KEY, parse_studio_config

MAX_CONFIG_BYTES = 4 * 1024 * 1024
EXIT_CONFIG_ERROR = 1


def read_config_file(name: object) -> tuple[dict[str, object], Path]:
    """The configFile's object and its directory."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"configFile: give the path of a JSON file, got {name!r}.")
    path = Path(name)
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ConfigError(f"configFile {name!r}: not a regular file.")
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"configFile {name!r}: cannot read it: {err.strerror}.") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"configFile {name!r}: larger than {MAX_CONFIG_BYTES} bytes.")
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, RecursionError, ValueError) as err:
        raise ConfigError(f"configFile {name!r}: not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"configFile {name!r}: expected a JSON object at the top, got {type(value).__name__}.")
    return value, path.resolve().parent


def main(app: App) -> None:
    config_file = app.node.try_get_context("configFile")
    if config_file:
        file_values, base_dir = read_config_file(config_file)
    else:
        file_values, base_dir = {}, Path.cwd()

    def setting(key: str) -> object:
        """One configuration value, from the configFile if one is named, else from the context."""
        if config_file:
            return file_values.get(key)
        value = app.node.try_get_context(key)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except (RecursionError, ValueError) as err:
            raise ConfigError(f"{key}: the context value is not valid JSON: {err}") from None

    raw_notebooks = setting(CONTEXT_KEY)
    raw_studio = setting(STUDIO_CONTEXT_KEY)
    if raw_notebooks is None and raw_studio is None:
        raise ConfigError(
            f"no configuration: set the context value {CONTEXT_KEY!r} or {STUDIO_CONTEXT_KEY!r} (cdk.json)."
        )
    notebooks = parse_config(raw_notebooks, base_dir=base_dir) if raw_notebooks is not None else None
    studio = parse_studio_config(raw_studio, base_dir=base_dir) if raw_studio is not None else None
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


if __name__ == "__main__":
    cdk_app = App()
    try:
        main(cdk_app)
        raise_on_findings(Path(cdk_app.synth().directory))
    except (ConfigError, LifecycleConfigError, NagFindings) as error:
        # The message names the key (or the finding) and the fix; a traceback would only bury it.
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_CONFIG_ERROR)
