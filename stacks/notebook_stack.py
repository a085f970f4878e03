"""The notebook stack: a private network, and per configured notebook its lifecycle config and instance."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Validations
from constructs import Construct

from constructs_lib import NotebookInstance, NotebookLifecycleConfig
from constructs_lib.notebook_lifecycle_config import hooks_content_hash
from constructs_lib.private_network import PrivateNotebookNetwork
from stacks.base import LookupFreeStack
from stacks.config import NotebookEnvironmentConfig, NotebookSpec, check_stack_resources


class NotebookStack(LookupFreeStack):
    """Notebook instances with their lifecycle configs, in a private network unless told otherwise.

    ``self.network`` (or ``None``), ``self.lifecycle_configs`` and ``self.notebooks`` (by notebook id; notebooks
    with identical hooks share one lifecycle config).
    """

    def __init__(self, scope: Construct, id: str, *, config: NotebookEnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.network = PrivateNotebookNetwork(self, "Network") if config.private_network else None
        self.lifecycle_configs: dict[str, NotebookLifecycleConfig] = {}
        self.notebooks: dict[str, NotebookInstance] = {}
        shared: dict[str, NotebookLifecycleConfig] = {}
        for spec in config.notebooks:
            lifecycle = self._shared_lifecycle_config(spec, shared)
            notebook = NotebookInstance(
                self,
                spec.id,
                name=spec.name,
                instance_type=spec.instance_type,
                platform_identifier=spec.platform_identifier,
                volume_size_gib=spec.volume_size_gib,
                root_access=spec.root_access,
                lifecycle_config=lifecycle,
                vpc=self.network.vpc if self.network else None,
                vpc_subnets=self.network.subnets if self.network else None,
            )
            self.lifecycle_configs[spec.id] = lifecycle
            self.notebooks[spec.id] = notebook
            CfnOutput(self, f"{spec.id}Name", value=notebook.notebook_instance_name)
            if self.network is None:
                for rule in ("AwsSolutions-SM1", "AwsSolutions-SM3"):
                    Validations.of(notebook.notebook_instance).acknowledge(
                        Acknowledgment(
                            id=f"AwsSolutions::{rule}",
                            reason="The configuration sets privateNetwork to false: this notebook deliberately has "
                            "no VPC and direct internet access.",
                        )
                    )

        check_stack_resources(
            self,
            "move notebooks that share a template into a fleet (notebookEnvironment.fleets, sharded over stacks), "
            "or split the notebooks over several configFiles.",
        )

    def _shared_lifecycle_config(
        self, spec: NotebookSpec, shared: dict[str, NotebookLifecycleConfig]
    ) -> NotebookLifecycleConfig:
        """One lifecycle config per distinct pair of hooks, named after the first notebook that uses it.

        Notebooks with identical hooks share it (bundled once). Its logical ID
        (``<first notebook id>LifecycleConfig``) is the one a lone notebook always had, so the default
        configuration keeps its resources; a notebook whose hooks change while others keep theirs gets
        a config of its own, and the others' stays as it was.
        """
        digest = hooks_content_hash(
            on_start=spec.on_start, on_create=spec.on_create, archive_location=spec.archive_location
        )
        if digest not in shared:
            shared[digest] = NotebookLifecycleConfig(
                self,
                f"{spec.id}LifecycleConfig",
                on_start=spec.on_start,
                on_create=spec.on_create,
                archive_location=spec.archive_location,
            )
        return shared[digest]
