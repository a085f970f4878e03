"""``NotebookLifecycleConfig``: an ``AWS::SageMaker::NotebookInstanceLifecycleConfig`` built from modules."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from constructs_lib.bundling import Compression, LifecycleBundle, Module, Target
from constructs_lib.errors import LifecycleConfigError

_CONFIG_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class NotebookLifecycleConfig(Construct):
    """The on-create and on-start hooks of notebook instances, each bundled from ``Module`` s.

    Attributes: ``lifecycle_config`` (the L1 resource), ``lifecycle_config_name``,
    ``lifecycle_config_arn``, and ``on_start_bundle`` / ``on_create_bundle`` (``None`` when the
    hook is empty; an empty hook is left out of the template).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        on_start: Sequence[Module] = (),
        on_create: Sequence[Module] = (),
        name: str | None = None,
        compression: Compression = Compression.XZ,
        description: str = "",
    ) -> None:
        super().__init__(scope, id)
        if name is not None and not _CONFIG_NAME.match(name):
            raise LifecycleConfigError(
                f"NotebookLifecycleConfig name {name!r} is invalid: use 1-63 letters, digits and '-', "
                "starting and ending with a letter or digit."
            )
        self.on_start_bundle = self._bundle("on-start", on_start, compression, description)
        self.on_create_bundle = self._bundle("on-create", on_create, compression, description)

        def hook(
            bundle: LifecycleBundle | None,
        ) -> list[sagemaker.CfnNotebookInstanceLifecycleConfig.NotebookInstanceLifecycleHookProperty] | None:
            if bundle is None:
                return None
            return [
                sagemaker.CfnNotebookInstanceLifecycleConfig.NotebookInstanceLifecycleHookProperty(
                    content=bundle.content
                )
            ]

        self.lifecycle_config = sagemaker.CfnNotebookInstanceLifecycleConfig(
            self,
            "Resource",
            notebook_instance_lifecycle_config_name=name,
            on_start=hook(self.on_start_bundle),
            on_create=hook(self.on_create_bundle),
        )
        manifest = {
            key: bundle.manifest
            for key, bundle in (("OnCreate", self.on_create_bundle), ("OnStart", self.on_start_bundle))
            if bundle is not None
        }
        self.lifecycle_config.add_metadata("LifecycleBundle", manifest)
        self.lifecycle_config_name: str = self.lifecycle_config.attr_notebook_instance_lifecycle_config_name
        self.lifecycle_config_arn: str = self.lifecycle_config.ref

    @property
    def module_names(self) -> frozenset[str]:
        """Names of the modules in either hook."""
        bundles = [b for b in (self.on_start_bundle, self.on_create_bundle) if b is not None]
        return frozenset(m.name for b in bundles for m in b.modules)

    @staticmethod
    def _bundle(
        hook: str, modules: Sequence[Module], compression: Compression, description: str
    ) -> LifecycleBundle | None:
        if not modules:
            return None
        return LifecycleBundle(
            hook=hook,
            modules=modules,
            target=Target.NOTEBOOK_INSTANCE,
            compression=compression,
            description=description,
        )
