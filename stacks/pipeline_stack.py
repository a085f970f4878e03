"""The optional delivery pipeline: one configuration rolled out to many accounts with CDK Pipelines.

The pipeline runs in a tooling account, builds the app from the repository (synth is offline: no
credentials, no lookups), deploys the configured stages in the configured order, and before each
stage named in ``reviewBefore`` prints the decoded lifecycle scripts that stage is about to get and
waits for a person's approval. Target accounts trust the tooling account through
``cdk bootstrap --trust`` (README).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from constructs import Construct

from constructs_lib.nag import acknowledge_wildcard
from stacks.config import NotebookEnvironmentConfig
from stacks.pipeline_config import PipelineSpec
from stacks.stages import DeploymentStage
from stacks.studio_config import StudioEnvironmentConfig

INSTALL = (
    "python3 -m venv .venv",
    ".venv/bin/python -m pip install --quiet -r requirements.txt",
    "npm ci --no-audit --no-fund",
)
SYNTH = ('export PATH="$PWD/node_modules/.bin:$PWD/.venv/bin:$PATH"', "npx cdk synth --quiet")
SYNTH_OUTPUT = "cdk.out"


class PipelineStack(Stack):
    """CodePipeline (V2) with a synth step, one deployment wave per configured stage, and a lifecycle review
    with a manual approval before the stages that ask for it.

    ``self.pipeline`` (the ``pipelines.CodePipeline``), ``self.stages`` (by name).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: PipelineSpec,
        notebooks: NotebookEnvironmentConfig | None,
        studio: StudioEnvironmentConfig | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        source = pipelines.CodePipelineSource.connection(
            spec.repository, spec.branch, connection_arn=spec.connection_arn
        )
        synth = pipelines.ShellStep(
            "Synth",
            input=source,
            install_commands=list(INSTALL),
            commands=list(SYNTH),
            primary_output_directory=SYNTH_OUTPUT,
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            synth=synth,
            pipeline_type=codepipeline.PipelineType.V2,
            cross_account_keys=True,
            enable_key_rotation=True,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=codebuild.LinuxBuildImage.STANDARD_7_0)
            ),
        )
        self.stages: dict[str, DeploymentStage] = {}
        for stage_spec in spec.stages:
            stage = DeploymentStage(self, stage_spec, notebooks=notebooks, studio=studio)
            pre: list[pipelines.Step] = []
            if stage_spec.name in spec.review_before:
                review = pipelines.ShellStep(
                    f"ReviewLifecycle{stage_spec.name}",
                    input=source,
                    additional_inputs={SYNTH_OUTPUT: synth},
                    commands=[review_command()],
                )
                approve = pipelines.ManualApprovalStep(
                    f"Approve{stage_spec.name}",
                    comment=f"Read the decoded lifecycle scripts in ReviewLifecycle{stage_spec.name}, then approve.",
                )
                approve.add_step_dependency(review)
                pre = [review, approve]
            self.pipeline.add_stage(stage, pre=pre)
            self.stages[stage_spec.name] = stage
        self.pipeline.build_pipeline()
        self._acknowledge_pipeline_grants()

    def _acknowledge_pipeline_grants(self) -> None:
        """cdk-nag findings that CDK Pipelines' own grants cause, each acknowledged by its exact ID on the
        pipeline with the reason it is needed."""
        stack = Stack.of(self)
        pipeline = self.pipeline.pipeline
        bucket = stack.resolve(stack.get_logical_id(pipeline.artifact_bucket.node.default_child))  # type: ignore[arg-type]
        for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
            acknowledge_wildcard(
                self.pipeline,
                f"Action::{action}",
                "CDK Pipelines' grant on its own artifact key: the pipeline, source, build and deploy roles encrypt "
                "and decrypt the artifacts; the resource is that one key.",
            )
        for action in ("s3:Abort*", "s3:DeleteObject*", "s3:GetBucket*", "s3:GetObject*", "s3:List*"):
            acknowledge_wildcard(
                self.pipeline,
                f"Action::{action}",
                "CDK Pipelines' read/write grant on its own artifact bucket and its objects only.",
            )
        acknowledge_wildcard(
            self.pipeline,
            f"Resource::<{bucket}.Arn>/*",
            "The pipeline's roles read and write artifacts under the pipeline's own artifact bucket.",
        )
        for project in self.pipeline.node.find_all():
            if not isinstance(project, codebuild.CfnProject):
                continue
            logical_id = stack.resolve(stack.get_logical_id(project))
            acknowledge_wildcard(
                self.pipeline,
                f"Resource::arn:<AWS::Partition>:codebuild:<AWS::Region>:<AWS::AccountId>:report-group/<{logical_id}>-*",
                "CodeBuild names the report groups of this project at run time; the grant covers only this project's.",
            )
            acknowledge_wildcard(
                self.pipeline,
                f"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/codebuild/<{logical_id}>:*",
                "CodeBuild writes log streams named at run time; the grant covers only this project's log group.",
            )
        # The asset-publishing role (file assets: the lifecycle archives in S3-asset mode, Lambda code) serves
        # CodeBuild projects that CDK Pipelines creates per asset and names at run time.
        acknowledge_wildcard(
            self.pipeline,
            "Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/codebuild/*",
            "CDK Pipelines' asset-publishing projects are created per asset; their log groups are named at run time.",
        )
        acknowledge_wildcard(
            self.pipeline,
            "Resource::arn:<AWS::Partition>:codebuild:<AWS::Region>:<AWS::AccountId>:report-group/*",
            "CDK Pipelines' asset-publishing projects are created per asset; their report groups are named at run "
            "time.",
        )
        acknowledge_wildcard(
            self.pipeline,
            "Resource::*",
            "Self-mutation reads the stacks' CloudFormation state and the cloud assembly of any target account; "
            "CDK Pipelines scopes what it may change through the assumed cdk bootstrap roles.",
        )
        acknowledge_wildcard(
            self.pipeline,
            "Resource::arn:*:iam::<AWS::AccountId>:role/*",
            "Self-mutation assumes the cdk bootstrap roles (cdk-hnb659fds-*) whose names CDK Pipelines tags; "
            "the trust is given by 'cdk bootstrap --trust' in each target account.",
        )
        for support in pipeline.cross_region_support.values():
            # A stage in another region than the pipeline gets a replication bucket in a support stack.
            replication = support.replication_bucket
            Validations.of(replication).acknowledge(
                Acknowledgment(
                    id="AwsSolutions::AwsSolutions-S1",
                    reason="CodePipeline's replication bucket for a stage in another region holds build artifacts "
                    "only, KMS-encrypted, reached only by the pipeline's roles.",
                )
            )
            name = stack.resolve(replication.bucket_name)
            if isinstance(name, str):
                acknowledge_wildcard(
                    self.pipeline,
                    f"Resource::arn:<AWS::Partition>:s3:::{name}/*",
                    "The pipeline's role reads and writes artifacts under its own replication bucket only.",
                )
        Validations.of(pipeline.artifact_bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-S1",
                reason="The pipeline's artifact bucket holds build artifacts only, is KMS-encrypted, denies non-TLS "
                "access and is reached only by the pipeline's roles; CloudTrail records its use.",
            )
        )


def review_command() -> str:
    """The review tool (standard library only) listing every decoded module of the synthesized assembly, the
    stage about to be deployed among them (its assets are staged at the top of the assembly); a malformed
    assembly exits 2 and stops the pipeline before the stage."""
    return f"python3 -m constructs_lib.review list {SYNTH_OUTPUT}"
