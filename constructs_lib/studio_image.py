"""``StudioCustomImage``: an existing ECR image offered to Studio apps (``Image``, ``ImageVersion``,
``AppImageConfig``), attached through ``StudioAppSettings.custom_images``. No Docker build at synth."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Annotations, ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from constructs_lib._props import check_type
from constructs_lib.errors import LifecycleConfigError
from constructs_lib.nag import acknowledge_wildcard
from constructs_lib.studio_lifecycle_config import CLASSIC_DEPRECATION, CLASSIC_DEPRECATION_WARNING, StudioAppType

# ResourceSpec.SageMakerImageArn accepts only image/[a-z0-9]([-.]?[a-z0-9])*: lower case keeps the ARN valid.
_IMAGE_NAME = re.compile(r"[a-z0-9]([-.]?[a-z0-9]){0,62}")
_CONFIG_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_ECR_URI = re.compile(
    r"(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(-[a-z]+)+-[0-9])\.amazonaws\.com(\.cn)?"
    r"/(?P<repository>[a-z0-9]+([._/-][a-z0-9]+)*)(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})"
)
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,255}")
_KERNEL_NAME = re.compile(r"[A-Za-z0-9._-]{1,1024}")
_CONTAINER_APPS = (StudioAppType.JUPYTER_LAB, StudioAppType.CODE_EDITOR)


@dataclass(frozen=True, kw_only=True)
class KernelSpec:
    """A Jupyter kernel inside a KernelGateway image."""

    name: str
    display_name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _KERNEL_NAME.fullmatch(self.name):
            raise LifecycleConfigError(f"KernelSpec name {self.name!r} is invalid: use letters, digits, '.', '_', '-'.")
        if self.display_name is not None and not (isinstance(self.display_name, str) and self.display_name):
            raise LifecycleConfigError(f"KernelSpec display_name {self.display_name!r} is invalid: give 1+ characters.")


@dataclass(frozen=True, kw_only=True)
class ImageFileSystem:
    """Where a KernelGateway image mounts the user's home, and as whom (SageMaker accepts uid 0/1000, gid 0/100)."""

    mount_path: str = "/home/sagemaker-user"
    uid: int = 1000
    gid: int = 100

    def __post_init__(self) -> None:
        if not isinstance(self.mount_path, str) or not re.fullmatch(r"/[A-Za-z0-9._/-]{0,1023}", self.mount_path):
            raise LifecycleConfigError(f"ImageFileSystem mount_path {self.mount_path!r} is invalid: an absolute path.")
        if self.uid not in (0, 1000) or self.gid not in (0, 100):
            raise LifecycleConfigError(
                f"ImageFileSystem uid {self.uid!r} / gid {self.gid!r} is invalid: uid 0 or 1000, gid 0 or 100."
            )


class StudioCustomImage(Construct):
    """A custom Studio image from an ECR image URI: ``AWS::SageMaker::Image`` (with a role that may pull only
    from that repository), an ``ImageVersion`` whose ``BaseImage`` is the URI, and an ``AppImageConfig`` for
    ``app_type``: container arguments, entrypoint and environment for JupyterLab and CodeEditor; kernel specs and
    file system for KernelGateway (Studio Classic, synthesized with a deprecation warning).

    Attributes: ``image``, ``image_version``, ``app_image_config`` (L1), ``role``, ``image_name``,
    ``app_image_config_name``, ``app_type``, ``base_image``, ``repository_arn``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        image_name: str,
        base_image: str,
        app_type: StudioAppType,
        app_image_config_name: str | None = None,
        display_name: str | None = None,
        container_arguments: Sequence[str] = (),
        container_entrypoint: Sequence[str] = (),
        environment: Mapping[str, str] | None = None,
        kernel_specs: Sequence[KernelSpec] = (),
        file_system: ImageFileSystem | None = None,
        role: iam.IRole | None = None,
    ) -> None:
        super().__init__(scope, id)
        check_type("StudioCustomImage", "image_name", image_name, str, "such as 'team-lab'")
        check_type("StudioCustomImage", "base_image", base_image, str, "(an ECR image URI with a tag or digest)")
        check_type("StudioCustomImage", "app_image_config_name", app_image_config_name, str, optional=True)
        check_type("StudioCustomImage", "display_name", display_name, str, optional=True)
        check_type("StudioCustomImage", "kernel_specs", kernel_specs, (list, tuple), "of KernelSpec")
        for spec in kernel_specs:
            check_type("StudioCustomImage", "kernel_specs item", spec, KernelSpec)
        check_type("StudioCustomImage", "file_system", file_system, ImageFileSystem, optional=True)
        if not isinstance(app_type, StudioAppType) or app_type is StudioAppType.JUPYTER_SERVER:
            raise LifecycleConfigError(
                f"StudioCustomImage app_type {app_type!r} is invalid: use JUPYTER_LAB, CODE_EDITOR or KERNEL_GATEWAY."
            )
        if not isinstance(image_name, str) or not _IMAGE_NAME.fullmatch(image_name):
            raise LifecycleConfigError(
                f"StudioCustomImage image_name {image_name!r} is invalid: use 1-63 lower-case letters, digits, "
                "single '-' or '.' between them (the image ARN allows no upper case)."
            )
        config_name = app_image_config_name or image_name.replace(".", "-")
        if not _CONFIG_NAME.fullmatch(config_name):
            raise LifecycleConfigError(
                f"StudioCustomImage app_image_config_name {config_name!r} is invalid: use 1-63 letters, digits and '-'."
            )
        match = _ECR_URI.fullmatch(base_image) if isinstance(base_image, str) else None
        if match is None:
            raise LifecycleConfigError(
                f"StudioCustomImage base_image {base_image!r} is invalid: give an ECR image URI with a tag or digest, "
                "such as '123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/lab:1.0'."
            )
        self._check_app_config(app_type, container_arguments, container_entrypoint, environment or {}, kernel_specs)
        self.app_type = app_type
        self.image_name = image_name
        self.app_image_config_name = config_name
        self.base_image = base_image
        stack = Stack.of(self)
        self.repository_arn = (
            f"arn:{stack.partition}:ecr:{match['region']}:{match['account']}:repository/{match['repository']}"
        )
        self.role: iam.IRole = role or iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Pulls the Studio image {image_name} from its ECR repository",
        )
        if role is None:
            self.grant_pull(self.role)
        self.image = sagemaker.CfnImage(
            self,
            "Image",
            image_name=image_name,
            image_role_arn=self.role.role_arn,
            image_display_name=display_name,
        )
        self.image_version = sagemaker.CfnImageVersion(self, "Version", image_name=image_name, base_image=base_image)
        self.image_version.node.add_dependency(self.image)
        if isinstance(self.role, iam.Role):
            self.image_version.node.add_dependency(self.role)
        self.app_image_config = sagemaker.CfnAppImageConfig(
            self,
            "AppImageConfig",
            app_image_config_name=config_name,
            **self._app_config(
                app_type, container_arguments, container_entrypoint, environment or {}, kernel_specs, file_system
            ),
        )
        if app_type is StudioAppType.KERNEL_GATEWAY:
            Annotations.of(self).add_warning_v2(
                CLASSIC_DEPRECATION_WARNING, CLASSIC_DEPRECATION.format(app=app_type.value)
            )

    def grant_pull(self, grantee: iam.IGrantable) -> iam.Grant:
        """Pulling this image: layer and manifest reads on its repository only, plus the account-wide token."""
        iam.Grant.add_to_principal(grantee=grantee, actions=["ecr:GetAuthorizationToken"], resource_arns=["*"])
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            resource_arns=[self.repository_arn],
        )
        policy = self.role.node.try_find_child("DefaultPolicy") if grantee is self.role else None
        if policy is not None:
            acknowledge_wildcard(
                policy,
                "Resource::*",
                "ecr:GetAuthorizationToken has no resource-level permissions; reads are limited to the image's "
                "repository.",
            )
        return grant

    def custom_image(self, ns: Any) -> Any:
        """``CustomImageProperty`` of ``ns`` (``CfnDomain``, ``CfnUserProfile``): always the latest version."""
        return ns.CustomImageProperty(app_image_config_name=self.app_image_config_name, image_name=self.image_name)

    def image_arn_in(self, scope: Construct) -> str:
        """The image ARN, built from the name (known at synth time) so that other stacks import nothing."""
        return Stack.of(scope).format_arn(
            service="sagemaker",
            resource="image",
            resource_name=self.image_name,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    @staticmethod
    def _check_app_config(
        app_type: StudioAppType,
        arguments: Sequence[str],
        entrypoint: Sequence[str],
        environment: Mapping[str, str],
        kernel_specs: Sequence[KernelSpec],
    ) -> None:
        where = f"StudioCustomImage ({app_type.value})"
        if app_type in _CONTAINER_APPS:
            if kernel_specs:
                raise LifecycleConfigError(f"{where}: kernel_specs are for KernelGateway images only.")
            for what, items, limit in (("container_arguments", arguments, 50), ("container_entrypoint", entrypoint, 1)):
                if isinstance(items, str) or len(items) > limit or not all(isinstance(i, str) and i for i in items):
                    raise LifecycleConfigError(f"{where}: {what} takes at most {limit} non-empty strings.")
            if len(environment) > 25:
                raise LifecycleConfigError(f"{where}: environment takes at most 25 variables.")
            for key, value in environment.items():
                if not isinstance(key, str) or not _ENV_KEY.fullmatch(key):
                    raise LifecycleConfigError(f"{where}: environment name {key!r} is invalid: letters, digits, '_'.")
                if not isinstance(value, str) or not value.strip() or len(value) > 256:
                    raise LifecycleConfigError(f"{where}: environment {key} must be 1-256 characters, not blank.")
        else:
            if arguments or entrypoint or environment:
                raise LifecycleConfigError(f"{where}: container settings are for JupyterLab and CodeEditor images.")
            if len(kernel_specs) != 1 or not isinstance(kernel_specs[0], KernelSpec):
                raise LifecycleConfigError(f"{where}: give exactly one KernelSpec (CloudFormation takes one).")

    @staticmethod
    def _app_config(
        app_type: StudioAppType,
        arguments: Sequence[str],
        entrypoint: Sequence[str],
        environment: Mapping[str, str],
        kernel_specs: Sequence[KernelSpec],
        file_system: ImageFileSystem | None,
    ) -> dict[str, Any]:
        ns = sagemaker.CfnAppImageConfig
        if app_type is StudioAppType.KERNEL_GATEWAY:
            fs = file_system or ImageFileSystem()
            return {
                "kernel_gateway_image_config": ns.KernelGatewayImageConfigProperty(
                    kernel_specs=[
                        ns.KernelSpecProperty(name=k.name, display_name=k.display_name) for k in kernel_specs
                    ],
                    file_system_config=ns.FileSystemConfigProperty(
                        mount_path=fs.mount_path, default_uid=fs.uid, default_gid=fs.gid
                    ),
                )
            }
        container = ns.ContainerConfigProperty(
            container_arguments=list(arguments) or None,
            container_entrypoint=list(entrypoint) or None,
            container_environment_variables=[
                ns.CustomImageContainerEnvironmentVariableProperty(key=k, value=v)
                for k, v in sorted(environment.items())
            ]
            or None,
        )
        if app_type is StudioAppType.JUPYTER_LAB:
            return {"jupyter_lab_app_image_config": ns.JupyterLabAppImageConfigProperty(container_config=container)}
        return {"code_editor_app_image_config": ns.CodeEditorAppImageConfigProperty(container_config=container)}
