"""``NotebookLifecycleConfig``: an ``AWS::SageMaker::NotebookInstanceLifecycleConfig`` built from modules."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import tempfile
import weakref
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import fields
from enum import Enum
from pathlib import Path

from aws_cdk import Annotations, Duration, Fn, Resource, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from constructs_lib.bundling import ArchiveLocation, Compression, LifecycleBundle, Module, Target, split
from constructs_lib.bundling.archive import BUCKET_PLACEHOLDER, KEY_PLACEHOLDER, REGION_PLACEHOLDER
from constructs_lib.errors import LifecycleConfigError

_CONFIG_NAME = re.compile(r"(?=.{1,63}\Z)[a-zA-Z0-9](-*[a-zA-Z0-9])*")
_HOOKS = (("OnCreate", "on-create"), ("OnStart", "on-start"))
CONTENT_HASH_LENGTH = 10
_BUNDLE_CACHE_SIZE = 64
_bundle_cache: OrderedDict[Hashable, LifecycleBundle] = OrderedDict()


def _value_key(value: object) -> Hashable:
    """A hashable stand-in for a module field's value; a file given by path counts by its content."""
    if isinstance(value, Duration):
        return ("duration", value.to_milliseconds())
    if isinstance(value, Path):
        try:
            return ("path", str(value), hashlib.sha256(value.read_bytes()).hexdigest())
        except OSError:
            return ("path", str(value), None)  # LifecycleBundle reports the unreadable file
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((str(k), _value_key(v)) for k, v in value.items())))
    if isinstance(value, (frozenset, set)):
        return ("set", tuple(sorted(repr(v) for v in value)))
    if isinstance(value, (list, tuple)):
        return ("seq", tuple(_value_key(v) for v in value))
    if isinstance(value, (str, bytes, int, float, bool, Enum)) or value is None:
        return value
    return ("object", id(value))  # anything else: only the very same object is the same (no false sharing)


_keys_by_id: dict[int, tuple[weakref.ref[Module], Hashable]] = {}


def _module_key(module: Module) -> Hashable:
    """Every field of the module (new fields included), so two modules with one key bundle alike.

    Remembered per module object (a ``Duration`` costs a round trip to the jsii kernel): a fleet's
    notebooks share their template's module objects, so each is keyed once.
    """
    known = _keys_by_id.get(id(module))
    if known is not None and known[0]() is module:
        return known[1]
    key = tuple((f.name, _value_key(getattr(module, f.name))) for f in fields(module))
    if len(_keys_by_id) >= 4096:
        _keys_by_id.clear()
    _keys_by_id[id(module)] = (weakref.ref(module), key)
    return key


def bundle_for(
    *,
    hook: str,
    modules: Sequence[Module],
    compression: Compression = Compression.XZ,
    archive_location: ArchiveLocation = ArchiveLocation.INLINE,
    description: str = "",
) -> LifecycleBundle:
    """A notebook ``LifecycleBundle``, memoised by content: identical hooks are bundled once per process.

    Bundling (tar, xz, checking each script with bash) takes about 20-30 ms; a fleet of hundreds of
    notebooks with the same hook pays it once. The cache holds the last 64 distinct bundles.
    """
    key = (hook, tuple(_module_key(m) for m in modules), compression, archive_location, description)
    cached = _bundle_cache.get(key)
    if cached is not None:
        _bundle_cache.move_to_end(key)
        return cached
    bundle = LifecycleBundle(
        hook=hook,
        modules=modules,
        target=Target.NOTEBOOK_INSTANCE,
        compression=compression,
        archive_location=archive_location,
        description=description,
    )
    _bundle_cache[key] = bundle
    if len(_bundle_cache) > _BUNDLE_CACHE_SIZE:
        _bundle_cache.popitem(last=False)
    return bundle


def hooks_content_hash(
    *,
    on_start: Sequence[Module] = (),
    on_create: Sequence[Module] = (),
    compression: Compression = Compression.XZ,
    archive_location: ArchiveLocation = ArchiveLocation.INLINE,
    description: str = "",
) -> str:
    """A short hash of what a ``NotebookLifecycleConfig`` with these hooks deploys (scripts and archives).

    Notebooks whose hooks give the same hash can share one lifecycle config; the hash names it.
    """
    digest = hashlib.sha256()
    for (_, hook), modules in zip(_HOOKS, (on_create, on_start), strict=True):
        digest.update(f"{hook}\0".encode())
        if modules:
            bundle = bundle_for(
                hook=hook,
                modules=modules,
                compression=compression,
                archive_location=archive_location,
                description=description,
            )
            digest.update(bundle.content.encode("ascii") + b"\0" + hashlib.sha256(bundle.archive).digest())
    return digest.hexdigest()[:CONTENT_HASH_LENGTH]


class NotebookLifecycleConfig(Construct):
    """The on-create and on-start hooks of notebook instances, each bundled from ``Module`` s.

    With ``archive_location=ArchiveLocation.S3_ASSET`` the modules' archive is published as a CDK asset
    (to the bootstrap bucket) and each hook is a small loader that copies it with the instance's role and
    checks its sha256 before running it: for modules that do not fit 16384 characters even compressed.
    ``ArchiveLocation.AUTO`` keeps each hook inline while it fits and makes it an S3 asset otherwise; synth
    says which in an info annotation (``cdk synth`` prints it).
    The instance then needs a route to S3 (``PrivateNotebookNetwork`` has a gateway endpoint), and
    ``NotebookInstance`` grants its role ``s3:GetObject`` on exactly those objects.

    Attributes: ``lifecycle_config`` (the L1 resource), ``lifecycle_config_name``,
    ``lifecycle_config_arn``, ``on_start_bundle`` / ``on_create_bundle`` (``None`` when the hook is
    empty; an empty hook is left out of the template), ``archive_assets`` (by hook, S3 mode only),
    ``module_names``.
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
        archive_location: ArchiveLocation = ArchiveLocation.INLINE,
        description: str = "",
    ) -> None:
        super().__init__(scope, id)
        if name is not None and not _CONFIG_NAME.fullmatch(name):
            raise LifecycleConfigError(
                f"NotebookLifecycleConfig name {name!r} is invalid: use 1-63 letters, digits and '-', "
                "starting and ending with a letter or digit."
            )
        bundles = {
            key: bundle_for(
                hook=hook,
                modules=modules,
                compression=compression,
                archive_location=archive_location,
                description=description,
            )
            for (key, hook), modules in zip(_HOOKS, (on_create, on_start), strict=True)
            if modules
        }
        for bundle in bundles.values():
            if bundle.location_note is not None:
                Annotations.of(self).add_info(bundle.location_note)
        self.on_create_bundle = bundles.get("OnCreate")
        self.on_start_bundle = bundles.get("OnStart")
        self.archive_assets: dict[str, s3_assets.Asset] = {}
        hooks = {key: self._hook(key, bundle) for key, bundle in bundles.items()}
        self.lifecycle_config = sagemaker.CfnNotebookInstanceLifecycleConfig(
            self,
            "Resource",
            notebook_instance_lifecycle_config_name=name,
            on_start=hooks.get("OnStart"),
            on_create=hooks.get("OnCreate"),
        )
        self.lifecycle_config.add_metadata("LifecycleBundle", {key: b.manifest for key, b in bundles.items()})
        self.lifecycle_config_name: str = self.lifecycle_config.attr_notebook_instance_lifecycle_config_name
        self.lifecycle_config_arn: str = self.lifecycle_config.ref

    @classmethod
    def from_lifecycle_config_name(cls, scope: Construct, id: str, name: str) -> ImportedNotebookLifecycleConfig:
        """An existing lifecycle config of this stack's account and region, for ``NotebookInstance``.

        Its modules are unknown here: no grants follow from them (give the role what its scripts need).
        """
        if not isinstance(name, str) or not (Token.is_unresolved(name) or _CONFIG_NAME.fullmatch(name)):
            raise LifecycleConfigError(
                f"NotebookLifecycleConfig.from_lifecycle_config_name name {name!r} is invalid: use 1-63 letters, "
                "digits and '-', starting and ending with a letter or digit."
            )
        return ImportedNotebookLifecycleConfig(scope, id, name=name)

    @property
    def module_names(self) -> frozenset[str]:
        """Names of the modules in either hook."""
        bundles = [b for b in (self.on_start_bundle, self.on_create_bundle) if b is not None]
        return frozenset(m.name for b in bundles for m in b.modules)

    def grant_read_archives(self, grantee: iam.IGrantable) -> iam.Grant | None:
        """``s3:GetObject`` on this config's archive objects only (S3 mode; ``None`` when inline)."""
        if not self.archive_assets:
            return None
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject"],
            resource_arns=[a.bucket.arn_for_objects(a.s3_object_key) for a in self.archive_assets.values()],
        )

    def _hook(
        self, key: str, bundle: LifecycleBundle
    ) -> list[sagemaker.CfnNotebookInstanceLifecycleConfig.NotebookInstanceLifecycleHookProperty]:
        content = bundle.content
        if bundle.side is not None:
            asset = self._asset(
                f"{key}FilesArchive", f"{bundle.hook}-files.{bundle.compression.value}", bundle.side.archive
            )
            bucket = split.bucket_expression(Stack.of(self).resolve(asset.s3_bucket_name))
            if bucket is not None:
                self.archive_assets[key] = asset
                filled = split.filled(bundle.script, bucket, asset.s3_object_key)
                return [
                    sagemaker.CfnNotebookInstanceLifecycleConfig.NotebookInstanceLifecycleHookProperty(
                        content=base64.b64encode(filled).decode("ascii")
                    )
                ]
            raise LifecycleConfigError(
                f"hook {bundle.hook!r} (archiveLocation auto): its largest carried files go to S3, and the hook "
                "computes the asset bucket's name on the instance; this stack's synthesizer names it only at deploy "
                f'time ({Stack.of(self).resolve(asset.s3_bucket_name)}). Use archiveLocation "s3-asset" '
                "(ArchiveLocation.S3_ASSET: the whole archive in S3), or the DefaultStackSynthesizer."
            )
        if bundle.archive_location is ArchiveLocation.S3_ASSET:
            asset = self._asset(f"{key}Archive", f"{bundle.hook}.{bundle.compression.value}", bundle.archive)
            self.archive_assets[key] = asset
            script = bundle.script.decode("utf-8")
            script = (
                script.replace(BUCKET_PLACEHOLDER, asset.s3_bucket_name)
                .replace(KEY_PLACEHOLDER, asset.s3_object_key)
                .replace(REGION_PLACEHOLDER, Stack.of(self).region)
            )
            content = Fn.base64(script)
        return [sagemaker.CfnNotebookInstanceLifecycleConfig.NotebookInstanceLifecycleHookProperty(content=content)]

    def _asset(self, id: str, file_name: str, data: bytes) -> s3_assets.Asset:
        """``data`` as a CDK asset (an archive), written first into a private directory of its own.

        ``mkdtemp`` gives a directory no other local user can predict or enter, and the file is created
        there with ``O_EXCL | O_NOFOLLOW``: synth never writes through a link someone planted. CDK copies
        the file into the cloud assembly at once (its hash depends on the content only), and the private
        directory is then removed; with asset staging disabled, the asset is read from it and it stays.
        """
        directory = Path(tempfile.mkdtemp(prefix="sagemaker-lifecycle-"))
        path = directory / file_name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "wb") as archive:
            archive.write(data)
        asset = s3_assets.Asset(self, id, path=str(path))
        if Path(asset.asset_path) != path:
            shutil.rmtree(directory)
        return asset


class ImportedNotebookLifecycleConfig(Resource):
    """An existing notebook lifecycle config (``NotebookLifecycleConfig.from_lifecycle_config_name``).

    Attributes: ``lifecycle_config_name``, ``lifecycle_config_arn``, ``module_names`` (empty: unknown).
    """

    module_names: frozenset[str] = frozenset()

    def __init__(self, scope: Construct, id: str, *, name: str) -> None:
        super().__init__(scope, id)
        self.lifecycle_config_name = name
        self.lifecycle_config_arn = Stack.of(self).format_arn(
            service="sagemaker", resource="notebook-instance-lifecycle-config", resource_name=name
        )

    def grant_read_archives(self, grantee: iam.IGrantable) -> iam.Grant | None:
        """Nothing: an imported config's archives are not known here."""
        return None
