"""Constructs for SageMaker notebook-instance and Studio lifecycle configurations.

Every public class is importable from here (``from constructs_lib import StudioDomain``). Names are imported
on first use, so that tools which only read synthesized output (the review and rehearsal commands) start
without loading aws-cdk-lib. The package is typed (``py.typed``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from constructs_lib.bundling import ArchiveLocation as ArchiveLocation
    from constructs_lib.bundling import Compression as Compression
    from constructs_lib.bundling import Encoding as Encoding
    from constructs_lib.bundling import LifecycleBundle as LifecycleBundle
    from constructs_lib.bundling import Mode as Mode
    from constructs_lib.bundling import Module as Module
    from constructs_lib.bundling import RunAs as RunAs
    from constructs_lib.bundling import Target as Target
    from constructs_lib.errors import LifecycleConfigError as LifecycleConfigError
    from constructs_lib.idle_backstop import IdleBackstop as IdleBackstop
    from constructs_lib.idle_backstop import WorkingHours as WorkingHours
    from constructs_lib.notebook_instance import CodeRepository as CodeRepository
    from constructs_lib.notebook_instance import ImportedNotebookInstance as ImportedNotebookInstance
    from constructs_lib.notebook_instance import NotebookInstance as NotebookInstance
    from constructs_lib.notebook_lifecycle_config import (
        ImportedNotebookLifecycleConfig as ImportedNotebookLifecycleConfig,
    )
    from constructs_lib.notebook_lifecycle_config import NotebookLifecycleConfig as NotebookLifecycleConfig
    from constructs_lib.private_network import PrivateNotebookNetwork as PrivateNotebookNetwork
    from constructs_lib.studio_domain import AuthMode as AuthMode
    from constructs_lib.studio_domain import ImportedStudioDomain as ImportedStudioDomain
    from constructs_lib.studio_domain import StudioDomain as StudioDomain
    from constructs_lib.studio_domain import StudioDomainBase as StudioDomainBase
    from constructs_lib.studio_domain import StudioUserProfile as StudioUserProfile
    from constructs_lib.studio_image import ImageFileSystem as ImageFileSystem
    from constructs_lib.studio_image import KernelSpec as KernelSpec
    from constructs_lib.studio_image import StudioCustomImage as StudioCustomImage
    from constructs_lib.studio_lifecycle_config import StudioAppType as StudioAppType
    from constructs_lib.studio_lifecycle_config import StudioLifecycleConfig as StudioLifecycleConfig
    from constructs_lib.studio_settings import EfsMount as EfsMount
    from constructs_lib.studio_settings import IdleShutdown as IdleShutdown
    from constructs_lib.studio_settings import PosixUser as PosixUser
    from constructs_lib.studio_settings import SpaceStorage as SpaceStorage
    from constructs_lib.studio_settings import StudioAppSettings as StudioAppSettings
    from constructs_lib.studio_settings import StudioSpaceDefaults as StudioSpaceDefaults
    from constructs_lib.studio_settings import StudioUserSettings as StudioUserSettings
    from constructs_lib.studio_space import SpaceSharing as SpaceSharing
    from constructs_lib.studio_space import StudioSpace as StudioSpace
    from constructs_lib.studio_user_profiles import UserProfileResource as UserProfileResource
    from constructs_lib.team_file_system import TeamFileSystem as TeamFileSystem
    from constructs_lib.team_file_system import TeamFileSystemBase as TeamFileSystemBase

_WHERE = {
    "ArchiveLocation": "constructs_lib.bundling",
    "Compression": "constructs_lib.bundling",
    "Encoding": "constructs_lib.bundling",
    "LifecycleBundle": "constructs_lib.bundling",
    "Mode": "constructs_lib.bundling",
    "Module": "constructs_lib.bundling",
    "RunAs": "constructs_lib.bundling",
    "Target": "constructs_lib.bundling",
    "LifecycleConfigError": "constructs_lib.errors",
    "IdleBackstop": "constructs_lib.idle_backstop",
    "WorkingHours": "constructs_lib.idle_backstop",
    "CodeRepository": "constructs_lib.notebook_instance",
    "NotebookInstance": "constructs_lib.notebook_instance",
    "NotebookLifecycleConfig": "constructs_lib.notebook_lifecycle_config",
    "PrivateNotebookNetwork": "constructs_lib.private_network",
    "AuthMode": "constructs_lib.studio_domain",
    "ImportedStudioDomain": "constructs_lib.studio_domain",
    "StudioDomainBase": "constructs_lib.studio_domain",
    "ImportedNotebookInstance": "constructs_lib.notebook_instance",
    "ImportedNotebookLifecycleConfig": "constructs_lib.notebook_lifecycle_config",
    "StudioDomain": "constructs_lib.studio_domain",
    "StudioUserProfile": "constructs_lib.studio_domain",
    "UserProfileResource": "constructs_lib.studio_user_profiles",
    "ImageFileSystem": "constructs_lib.studio_image",
    "KernelSpec": "constructs_lib.studio_image",
    "StudioCustomImage": "constructs_lib.studio_image",
    "StudioAppType": "constructs_lib.studio_lifecycle_config",
    "StudioLifecycleConfig": "constructs_lib.studio_lifecycle_config",
    "EfsMount": "constructs_lib.studio_settings",
    "IdleShutdown": "constructs_lib.studio_settings",
    "PosixUser": "constructs_lib.studio_settings",
    "SpaceStorage": "constructs_lib.studio_settings",
    "StudioAppSettings": "constructs_lib.studio_settings",
    "StudioSpaceDefaults": "constructs_lib.studio_settings",
    "StudioUserSettings": "constructs_lib.studio_settings",
    "SpaceSharing": "constructs_lib.studio_space",
    "StudioSpace": "constructs_lib.studio_space",
    "TeamFileSystem": "constructs_lib.team_file_system",
    "TeamFileSystemBase": "constructs_lib.team_file_system",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'constructs_lib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
