"""``StudioLifecycleConfig``: an ``AWS::SageMaker::StudioLifecycleConfig`` built from modules."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from enum import Enum

from aws_cdk import Annotations, Stack
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from constructs_lib._props import check_type
from constructs_lib.bundling import Compression, Encoding, LifecycleBundle, Module, Target
from constructs_lib.errors import LifecycleConfigError
from constructs_lib.naming import lower_case_name

_PREFIX = re.compile(r"(?=.{1,54}\Z)[a-zA-Z0-9](-*[a-zA-Z0-9])*")
HASH_LENGTH = 8


IDLE_SHUTDOWN_MODULE = "studio-idle-shutdown"
CLASSIC_DEPRECATION_WARNING = "sagemaker-lifecycle:studio-classic-app-type"
CLASSIC_DEPRECATION = (
    "{app} is a Studio Classic app type: Studio Classic takes no new onboarding, and SageMaker has answered new "
    "KernelGateway configs with 'Invalid AppType [KernelGateway]. This AppType has been deprecated.' The config is "
    "still synthesized for existing Classic domains; use JupyterLab or CodeEditor for new ones."
)
JUPYTER_PATHS = {"JupyterServer": "/jupyter/default", "JupyterLab": "/jupyterlab/default"}
"""Where each app's own Jupyter server listens (on http://localhost:8888)."""


def _check_idle_shutdown(app_type: StudioAppType, modules: Sequence[Module]) -> None:
    """The idle-shutdown module watches the app's own Jupyter server: it must be pointed at it."""
    for module in modules:
        if module.name != IDLE_SHUTDOWN_MODULE:
            continue
        path = JUPYTER_PATHS.get(app_type.value)
        if path is None:
            raise LifecycleConfigError(
                f"StudioLifecycleConfig {app_type.value}: the {IDLE_SHUTDOWN_MODULE} module watches the app's own "
                "Jupyter server, which this app type does not have; use it in a JupyterServer or JupyterLab config "
                "(CodeEditor and JupyterLab also have the built-in idle shutdown)."
            )
        url = module.settings.get("JUPYTER_URL", "")
        if not url.rstrip("/").endswith(path):
            raise LifecycleConfigError(
                f"StudioLifecycleConfig {app_type.value}: {IDLE_SHUTDOWN_MODULE} jupyter_url {url!r} is not this "
                f"app's server; give jupyter_url='http://localhost:8888{path}'."
            )


class StudioAppType(Enum):
    """The Studio app a lifecycle config is for."""

    JUPYTER_SERVER = "JupyterServer"
    KERNEL_GATEWAY = "KernelGateway"
    JUPYTER_LAB = "JupyterLab"
    CODE_EDITOR = "CodeEditor"


class StudioLifecycleConfig(Construct):
    """A Studio lifecycle config whose name ends in a hash of its content.

    Every property of ``AWS::SageMaker::StudioLifecycleConfig`` requires replacement, so a changed
    script must get a new name: CloudFormation then creates the new config, repoints the domain
    and user profiles that reference its ARN, and deletes the old one, in one deployment.

    Attributes: ``lifecycle_config`` (L1), ``lifecycle_config_name`` (a plain string, known at
    synth time), ``lifecycle_config_arn``, ``app_type``, ``bundle``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        app_type: StudioAppType,
        modules: Sequence[Module],
        name_prefix: str | None = None,
        compression: Compression = Compression.XZ,
        encoding: Encoding = Encoding.AUTO,
        description: str = "",
    ) -> None:
        super().__init__(scope, id)
        if not isinstance(app_type, StudioAppType):
            raise LifecycleConfigError(
                f"StudioLifecycleConfig app_type {app_type!r} is invalid: use a StudioAppType "
                f"({', '.join(t.name for t in StudioAppType)})."
            )
        check_type("StudioLifecycleConfig", "modules", modules, (list, tuple), "of Module")
        for module in modules:
            check_type("StudioLifecycleConfig", "modules item", module, Module, "such as a catalogue factory's result")
        if not modules:
            raise LifecycleConfigError("StudioLifecycleConfig modules is empty: give at least one Module.")
        check_type("StudioLifecycleConfig", "name_prefix", name_prefix, str, "such as 'team-lab'", optional=True)
        check_type("StudioLifecycleConfig", "compression", compression, Compression, "such as Compression.XZ")
        check_type("StudioLifecycleConfig", "encoding", encoding, Encoding, "such as Encoding.AUTO")
        check_type("StudioLifecycleConfig", "description", description, str)
        if name_prefix is not None and not _PREFIX.fullmatch(name_prefix):
            raise LifecycleConfigError(
                f"StudioLifecycleConfig name_prefix {name_prefix!r} is invalid: use 1-54 letters, digits and '-', "
                "starting and ending with a letter or digit (a '-' and an 8-character content hash follow)."
            )
        self.app_type = app_type
        _check_idle_shutdown(app_type, modules)
        self.bundle = LifecycleBundle(
            hook=app_type.value.lower(),
            modules=modules,
            target=Target.STUDIO,
            compression=compression,
            encoding=encoding,
            description=description,
        )
        prefix = name_prefix or self._default_prefix()
        # With deploy-time settings the content is a token: hash what CloudFormation receives (stable logical IDs),
        # so that a changed reference is a new name too (every property of this resource requires replacement).
        fingerprint = (
            json.dumps(Stack.of(self).resolve(self.bundle.content), sort_keys=True, separators=(",", ":"))
            if self.bundle.has_deploy_time_settings
            else self.bundle.content
        )
        digest = hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()[:HASH_LENGTH]
        self.lifecycle_config_name = f"{prefix}-{digest}"
        self.lifecycle_config = sagemaker.CfnStudioLifecycleConfig(
            self,
            "Resource",
            studio_lifecycle_config_app_type=app_type.value,
            studio_lifecycle_config_content=self.bundle.content,
            studio_lifecycle_config_name=self.lifecycle_config_name,
        )
        self.lifecycle_config.add_metadata("LifecycleBundle", {app_type.value: self.bundle.manifest})
        if app_type in (StudioAppType.JUPYTER_SERVER, StudioAppType.KERNEL_GATEWAY):
            Annotations.of(self).add_warning_v2(
                CLASSIC_DEPRECATION_WARNING, CLASSIC_DEPRECATION.format(app=app_type.value)
            )
        self.lifecycle_config_arn: str = self.lifecycle_config.attr_studio_lifecycle_config_arn

    def arn_in(self, scope: Construct) -> str:
        """The ARN as seen from ``scope``: a reference in the same stack, else built from the name.

        Building it from the name (known at synth time) keeps other stacks free of an export whose
        value changes with every script change, which CloudFormation would refuse to update.
        """
        if Stack.of(scope) is Stack.of(self):
            return self.lifecycle_config_arn
        return Stack.of(scope).format_arn(
            service="sagemaker", resource="studio-lifecycle-config", resource_name=self.lifecycle_config_name
        )

    def _default_prefix(self) -> str:
        return lower_case_name(self, 54)
