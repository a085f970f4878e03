"""The notebook stack: a private network, and per configured notebook its lifecycle config and instance."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Validations
from constructs import Construct

from constructs_lib import NotebookInstance, NotebookLifecycleConfig
from constructs_lib.idle_backstop import IdleBackstop
from constructs_lib.private_network import PrivateNotebookNetwork
from stacks.backstop_config import backstop_kwargs
from stacks.base import LookupFreeStack
from stacks.config import NotebookEnvironmentConfig


class NotebookStack(LookupFreeStack):
    """Notebook instances with their lifecycle configs, in a private network unless told otherwise.

    ``self.network`` (or ``None``), ``self.lifecycle_configs`` and ``self.notebooks`` (by id).
    """

    def __init__(self, scope: Construct, id: str, *, config: NotebookEnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.network = PrivateNotebookNetwork(self, "Network") if config.private_network else None
        self.lifecycle_configs: dict[str, NotebookLifecycleConfig] = {}
        self.notebooks: dict[str, NotebookInstance] = {}
        for spec in config.notebooks:
            lifecycle = NotebookLifecycleConfig(
                self,
                f"{spec.id}LifecycleConfig",
                on_start=spec.on_start,
                on_create=spec.on_create,
                archive_location=spec.archive_location,
            )
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
        self.backstop: IdleBackstop | None = None
        if config.idle_backstop is not None and self.notebooks:
            self.backstop = IdleBackstop(
                self,
                "IdleBackstop",
                notebooks=list(self.notebooks.values()),
                max_notebook_running=config.idle_backstop.max_running,
                **backstop_kwargs(config.idle_backstop),  # type: ignore[arg-type]
            )
