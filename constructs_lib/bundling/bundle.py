"""The synth-time bundler: many modules in, one lifecycle script (and its manifest) out."""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
from collections.abc import Sequence

from aws_cdk import Fn

from constructs_lib.bundling import deploy_time
from constructs_lib.bundling.archive import (
    BUCKET_PLACEHOLDER,
    KEY_PLACEHOLDER,
    MAX_BUCKET_CHARS,
    MAX_KEY_CHARS,
    MAX_REGION_CHARS,
    REGION_PLACEHOLDER,
    ArchiveLocation,
    Compression,
    Encoding,
    compress,
    escape_binary,
    tar_bytes,
    unpack_command,
    write_archive_command,
)
from constructs_lib.bundling.limits import (
    CONTENT_LIMIT_CHARS,
    HOOK_TIMEOUT_SECONDS,
    KILL_GRACE_SECONDS,
    LOG_CAP_BYTES,
    LOG_DRAIN_SECONDS,
    RESERVED_SECONDS,
    STOP_SECONDS,
    USER_LOG_KEEP_BYTES,
)
from constructs_lib.bundling.manifest import manifest_of
from constructs_lib.bundling.module import Mode, Module, RunAs, Target
from constructs_lib.bundling.profiles import profile_for
from constructs_lib.bundling.runner_text import carried_runner, runner_file, without_comment_lines
from constructs_lib.bundling.split import CARRIED_FILE, SidePart
from constructs_lib.errors import LifecycleConfigError

_MODULE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")
_PLACEHOLDER = re.compile(r"@[A-Z][A-Z0-9_]*@")
HOOK_RUNNER_TIMEOUT_SECONDS = HOOK_TIMEOUT_SECONDS - 10
BLOCKING_BUDGET_SECONDS = HOOK_TIMEOUT_SECONDS - RESERVED_SECONDS


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encoded_length(size: int) -> int:
    """The length AWS checks for a script of ``size`` bytes: characters of its base64."""
    return 4 * ((size + 2) // 3)


_SAFE_COMMENT = re.compile(r"[^A-Za-z0-9_./:${}@+=, -]")
DEPLOY_TIME_DELIMITER = "LCC_DEPLOY_TIME_"


def _settings_file(module: Module) -> bytes:
    lines = [f"export {key}={shlex.quote(value)}" for key, value in module.literal_settings.items()]
    return ("\n".join(lines) + "\n").encode("utf-8")


class LifecycleBundle:
    """One hook's modules packed into a single lifecycle script.

    ``script`` is the script, ``content`` its base64 (the CloudFormation ``Content``),
    ``encoded_length`` the length AWS checks and ``manifest`` a readable summary for the
    resource's Metadata. Raises :class:`LifecycleConfigError` for anything that cannot work:
    duplicate names, a module not made for ``target``, budgets that do not fit the hook, or a
    script above ``CONTENT_LIMIT_CHARS`` (listing every module's share).
    """

    def __init__(
        self,
        *,
        hook: str,
        modules: Sequence[Module],
        target: Target = Target.NOTEBOOK_INSTANCE,
        compression: Compression = Compression.XZ,
        encoding: Encoding = Encoding.AUTO,
        archive_location: ArchiveLocation = ArchiveLocation.INLINE,
        description: str = "",
    ) -> None:
        if not hook or not all(c.isalnum() or c == "-" for c in hook):
            raise LifecycleConfigError(f"hook name {hook!r} is invalid: use letters, digits and '-'.")
        if not isinstance(compression, Compression):
            raise LifecycleConfigError(f"compression {compression!r} is invalid: use Compression.XZ or GZIP.")
        if not isinstance(encoding, Encoding):
            raise LifecycleConfigError(f"encoding {encoding!r} is invalid: use Encoding.BASE64 or ESCAPED_BINARY.")
        self.hook = hook
        self.modules = tuple(modules)
        self.target = target
        self.compression = compression
        if not isinstance(archive_location, ArchiveLocation):
            raise LifecycleConfigError(
                f"archive_location {archive_location!r} is invalid: use ArchiveLocation.INLINE, S3_ASSET or AUTO."
            )
        self.requested_archive_location = archive_location
        self.requested_encoding = encoding
        placeholder = _PLACEHOLDER.search(description)
        if placeholder is not None:
            # The description becomes the script's header before the template's @NAME@ placeholders are filled
            # (and a split hook's bucket and key after): one there would be filled too, or break the script.
            raise LifecycleConfigError(
                f"hook {hook!r}: description holds {placeholder.group()!r}, a placeholder of the hook's script "
                "template; write it another way (an '@' alone, as in an e-mail address, is fine)."
            )
        self.description = description
        self.profile = profile_for(target, hook)
        self._check_modules()
        self.has_deploy_time_settings = any(m.deploy_time_settings for m in self.modules)
        if self.has_deploy_time_settings and encoding is Encoding.ESCAPED_BINARY:
            raise LifecycleConfigError(
                f"hook {hook!r}: deploy-time settings need Encoding.BASE64 or AUTO (CloudFormation joins them into "
                "text; an escaped-binary script is not text)."
            )
        self.files = self._files(self.modules)
        self.archive = compress(tar_bytes(self.files), compression)
        self.encoding: Encoding = Encoding.BASE64 if encoding is Encoding.AUTO else encoding
        self.archive_location = ArchiveLocation.INLINE
        self.inline_length: int | None = None
        """Encoded length of the inline script (``None`` when only the loader was built)."""
        if archive_location is not ArchiveLocation.S3_ASSET:
            self.script = self._script(self.archive, self.modules)
            too_long = self._longest(self.script, self.modules) > CONTENT_LIMIT_CHARS
            if encoding is Encoding.AUTO and too_long and not self.has_deploy_time_settings:
                self.encoding = Encoding.ESCAPED_BINARY
                self.script = self._script(self.archive, self.modules)
            self.inline_length = self.encoded_length = self._longest(self.script, self.modules)
        self.side: SidePart | None = None
        """With ``ArchiveLocation.SPLIT``: the carried files kept in S3 and their archive."""
        if (
            archive_location is ArchiveLocation.AUTO
            and self.encoded_length > CONTENT_LIMIT_CHARS
            and self.target is Target.NOTEBOOK_INSTANCE
            and not self.has_deploy_time_settings
        ):
            self._split()
        if archive_location is ArchiveLocation.S3_ASSET or (
            archive_location is ArchiveLocation.AUTO and self.encoded_length > CONTENT_LIMIT_CHARS
        ):
            self.archive_location = ArchiveLocation.S3_ASSET
            self.script = self._loader()
            # The bucket name, key and region are filled in at deploy time: count them at their longest.
            placeholders = len(BUCKET_PLACEHOLDER) + len(KEY_PLACEHOLDER) + len(REGION_PLACEHOLDER)
            longest = len(self.script) - placeholders + MAX_BUCKET_CHARS + MAX_KEY_CHARS + MAX_REGION_CHARS
            self.encoded_length = encoded_length(longest + self._deploy_time_extra(self.modules))
        self.content: str = (
            Fn.base64(self.script.decode("utf-8"))
            if self.has_deploy_time_settings
            else base64.b64encode(self.script).decode("ascii")
        )
        """Base64 of ``script``; for an S3 asset the script still holds the bucket and key placeholders. With
        deploy-time settings, a token: ``Fn::Base64`` of the script, which CloudFormation joins with the values."""
        self.manifest = manifest_of(self)
        if self.encoded_length > CONTENT_LIMIT_CHARS:
            raise LifecycleConfigError(self._too_large_message())

    @property
    def location_note(self) -> str | None:
        """With ``ArchiveLocation.AUTO``: one line saying where the archive went and why (``None`` otherwise)."""
        if self.requested_archive_location is not ArchiveLocation.AUTO:
            return None
        where = f"hook {self.hook!r} (archiveLocation auto)"
        if self.archive_location is ArchiveLocation.INLINE:
            return f"{where}: inline, {self.encoded_length} of {CONTENT_LIMIT_CHARS} characters."
        if self.side is not None:
            files = ", ".join(
                f"{match['name']}/{path.split('/files/', 1)[1]}"
                for path in sorted(self.side.files)
                if (match := CARRIED_FILE.fullmatch(path))
            )
            return (
                f"{where}: {self.inline_length} characters inline, above the limit of {CONTENT_LIMIT_CHARS}; the "
                f"scripts stay inline ({self.encoded_length} characters) and the largest carried files ({files}) "
                f"are a CDK asset in S3, so the instance needs a route to S3 for {', '.join(self.side.modules)}."
            )
        return (
            f"{where}: {self.inline_length} characters inline, above the limit of {CONTENT_LIMIT_CHARS}; the "
            f"archive is a CDK asset in S3 (loader script: {self.encoded_length} characters), so the instance needs "
            "a route to S3."
        )

    # -- checks -------------------------------------------------------------------------------
    def _check_modules(self) -> None:
        where = f"hook {self.hook!r}"
        seen: set[str] = set()
        for module in self.modules:
            if not isinstance(module, Module):
                raise LifecycleConfigError(f"{where}: {module!r} is not a Module.")
            # The name becomes a plan.tsv field and a directory name: it must be exactly one plain word
            # there, or two modules could run under one name (a trailing newline would split the line).
            if not _MODULE_NAME.fullmatch(module.name):
                raise LifecycleConfigError(
                    f"{where}: module name {module.name!r} is invalid: use 1-48 characters of a-z, 0-9 and '-'."
                )
            if module.name in seen:
                raise LifecycleConfigError(
                    f"{where}: module name {module.name!r} is used twice; module names must be unique."
                )
            seen.add(module.name)
            if self.target not in module.targets:
                made_for = ", ".join(sorted(t.value for t in module.targets))
                raise LifecycleConfigError(
                    f"{where}: module {module.name!r} is made for {made_for}, not {self.target.value}; "
                    "use the module written for this target."
                )
            if self.target is Target.STUDIO and module.user is RunAs.ROOT:
                raise LifecycleConfigError(
                    f"{where}: module {module.name!r} runs as root, but Studio runs lifecycle scripts as "
                    "sagemaker-user; use RunAs.NOTEBOOK_USER."
                )
        blocking = [m for m in self.modules if m.mode is Mode.BLOCKING]
        needed = sum(m.budget_seconds + STOP_SECONDS for m in blocking)
        if needed > BLOCKING_BUDGET_SECONDS:
            listing = "; ".join(f"{m.name} {m.budget_seconds}s" for m in blocking)
            raise LifecycleConfigError(
                f"{where}: blocking budgets need {needed}s (each plus {STOP_SECONDS}s to stop it and drain its "
                "output) but a "
                f"hook may block for {BLOCKING_BUDGET_SECONDS}s ({HOOK_TIMEOUT_SECONDS}s limit less "
                f"{RESERVED_SECONDS}s reserved): {listing}. Lower the budgets or make long work Mode.BACKGROUND."
            )

    # -- contents -----------------------------------------------------------------------------
    def _module_dir(self, index: int, module: Module) -> str:
        return f"modules/{index:02d}-{module.name}"

    def _module_files(self, index: int, module: Module) -> dict[str, tuple[bytes, int]]:
        base = self._module_dir(index, module)
        files = {f"{base}/run": (module.packed_script.encode("utf-8"), 0o755)}
        if module.literal_settings:
            files[f"{base}/settings.sh"] = (_settings_file(module), 0o644)
        for rel, data in module.carried_files.items():
            mode = 0o755 if data.startswith(b"#!") else 0o644
            files[f"{base}/files/{rel}"] = (data, mode)
        return files

    def _files(self, modules: Sequence[Module]) -> dict[str, tuple[bytes, int]]:
        profile = self.profile
        env = {
            "NB_USER": profile.user,
            "NB_HOME": profile.home,
            "PERSIST_DIR": profile.persist_dir,
            "LOG_DIR": profile.log_dir,
            "HOOK_BUDGET": str(BLOCKING_BUDGET_SECONDS),
            "KILL_GRACE": str(KILL_GRACE_SECONDS),
            "LOG_CAP": str(LOG_CAP_BYTES),
            "LOG_DRAIN": str(LOG_DRAIN_SECONDS),
            "USER_LOG_KEEP": str(USER_LOG_KEEP_BYTES),
        }
        plan = "".join(
            f"{i:02d}\t{m.name}\t{m.user.value}\t{m.mode.value}\t{m.budget_seconds}\n"
            for i, m in self._numbered(modules)
        )
        files: dict[str, tuple[bytes, int]] = {
            "runner.sh": (carried_runner(runner_file("runner.sh")).encode("utf-8"), 0o755),
            "bundle.env": ("".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items()).encode(), 0o644),
            "plan.tsv": (plan.encode("utf-8"), 0o644),
        }
        for index, module in self._numbered(modules):
            files.update(self._module_files(index, module))
        return files

    @staticmethod
    def _numbered(modules: Sequence[Module]) -> list[tuple[int, Module]]:
        return list(enumerate(modules, start=1))

    def _header(self, modules: Sequence[Module]) -> str:
        # The module list is in the manifest (Metadata) and in plan.tsv: listing it here too would cost the
        # hook's room a second time, uncompressed.
        lines = [
            f"# SageMaker lifecycle hook {self.hook}, built by constructs_lib: change the CDK app, not this file.",
        ]
        lines += [f"# {line}".rstrip() for line in self.description.splitlines()]
        return "\n".join(lines)

    def _script(self, archive: bytes, modules: Sequence[Module], side: SidePart | None = None) -> bytes:
        if self.encoding is Encoding.BASE64:
            payload = base64.b64encode(archive)
        else:
            payload = escape_binary(archive)
        delimiter = "LCC_PAYLOAD"
        while delimiter.encode() in payload.split(b"\n"):
            delimiter += "_"
        extra = {
            "@WRITE_ARCHIVE@": write_archive_command(self.encoding, "$d/a", delimiter),
            "@DELIMITER@": delimiter,
        }
        if side is not None:
            extra["@SIDE@"] = side.block(self.compression)
            extra["@TIMEOUT@"] = f"$(({HOOK_RUNNER_TIMEOUT_SECONDS}-SECONDS))"  # the copy from S3 took some
        filled = self._filled("hook.sh.in", extra, archive, modules)
        head, tail = filled.split(b"@PAYLOAD@")
        return head + payload + tail

    def _split(self) -> None:
        """``ArchiveLocation.SPLIT`` if it fits: the largest carried files moved, one more at a time, into a side
        archive in S3 until the inline rest fits (base64 first, then escaped binary); else nothing changes."""
        carried = sorted(
            (path for path in self.files if CARRIED_FILE.fullmatch(path)),
            key=lambda path: (-len(self.files[path][0]), path),
        )
        encodings = (
            (Encoding.BASE64, Encoding.ESCAPED_BINARY)
            if self.requested_encoding is Encoding.AUTO
            else (self.requested_encoding,)
        )
        for count in range(1, len(carried) + 1):
            moved = set(carried[:count])
            side = SidePart.of({path: self.files[path] for path in moved}, self.compression)
            archive = compress(
                tar_bytes({path: entry for path, entry in self.files.items() if path not in moved}), self.compression
            )
            for encoding in encodings:
                chosen, self.encoding = self.encoding, encoding
                script = self._script(archive, self.modules, side)
                length = encoded_length(len(script) + side.extra_bytes)
                if length <= CONTENT_LIMIT_CHARS:
                    self.archive, self.script, self.side = archive, script, side
                    self.archive_location, self.encoded_length = ArchiveLocation.SPLIT, length
                    return
                self.encoding = chosen

    def _loader(self) -> bytes:
        return self._filled("loader.sh.in", {}, self.archive, self.modules)

    def _filled(self, template_name: str, extra: dict[str, str], archive: bytes, modules: Sequence[Module]) -> bytes:
        """A script template of the runner package, without its own comment lines, with this hook's values."""
        replacements = {
            "@HEADER@": self._header(modules),
            "@HOOK@": self.hook,
            "@BUNDLE_BASE@": self.profile.bundle_base,
            "@SHA256@": _sha256(archive),
            "@DECOMPRESS@": unpack_command(self.compression, "$d/a"),
            "@TIMEOUT@": str(HOOK_RUNNER_TIMEOUT_SECONDS),
            "@DEPLOY_TIME@": self._deploy_time_block(archive, modules),
            **extra,  # last: a value given here (the timeout of a split hook) replaces the one above
        }
        template = without_comment_lines(runner_file(template_name))
        if "@SIDE@" not in extra:
            template = template.replace("@SIDE@\n", "")
        for key, value in replacements.items():
            template = template.replace(key, value)
        return template.encode("utf-8")

    def _deploy_time_block(self, archive: bytes, modules: Sequence[Module]) -> str:
        """After unpacking: each deploy-time setting read from a quoted here-document (one line; the delimiter
        is fixed at synth and no value this library accepts can equal it) and appended to the module's
        ``settings.sh`` quoted by bash's ``printf %q``. Empty without deploy-time settings."""
        delimiter = DEPLOY_TIME_DELIMITER + _sha256(archive)[:16].upper()
        lines = []
        for index, module in self._numbered(modules):
            for key in module.deploy_time_settings:
                value = module.settings[key]
                reference = _SAFE_COMMENT.sub("?", deploy_time.reference_text(value))
                lines += [
                    f"# {module.name} {key} = {reference}",
                    f"IFS= read -r v <<'{delimiter}' || return 1",
                    value,
                    delimiter,
                    f'printf \'export {key}=%q\\n\' "$v" >>"$d/{self._module_dir(index, module)}/settings.sh"'
                    " || return 1",
                ]
        if not lines:
            return ""
        return " || return 1" + "".join(f"\n{line}" for line in lines)

    @staticmethod
    def _deploy_time_extra(modules: Sequence[Module]) -> int:
        """How much longer the script can be once CloudFormation fills in the deploy-time settings."""
        return sum(
            longest - len(module.settings[key])
            for module in modules
            for key, longest in module.deploy_time_settings.items()
        )

    def _longest(self, script: bytes, modules: Sequence[Module]) -> int:
        """Encoded length of ``script`` with every deploy-time value at its longest."""
        return encoded_length(len(script) + self._deploy_time_extra(modules))

    # -- reporting ----------------------------------------------------------------------------
    def _inline_length_of(self, modules: Sequence[Module]) -> int:
        """Encoded length of this hook's inline script holding only ``modules`` (same encoding)."""
        archive = compress(tar_bytes(self._files(modules)), self.compression)
        return self._longest(self._script(archive, modules), modules)

    def module_shares(self) -> list[tuple[str, int, int]]:
        """Per module: (name, bytes as written, leave-one-out share): how many encoded characters shorter the
        inline script is without that module, everything else the same."""
        total = self.inline_length if self.inline_length is not None else self._inline_length_of(self.modules)
        shares = []
        for module in self.modules:
            others = [m for m in self.modules if m is not module]
            written = len(module.script.encode("utf-8")) + sum(len(d) for d in module.carried_files.values())
            shares.append((module.name, written, total - self._inline_length_of(others)))
        return shares

    def _too_large_message(self) -> str:
        total = self.encoded_length
        shares = self.module_shares()
        rows = [f"  {name}: {share} characters ({written} bytes as written)" for name, written, share in shares]
        rest = total - sum(share for _, _, share in shares)
        if self.target is Target.NOTEBOOK_INSTANCE:
            remedies = (
                'Remedies: keep the archive in S3, with archiveLocation "s3-asset" in the notebook\'s configuration '
                '(ArchiveLocation.S3_ASSET), or "auto" to stay inline while it fits and else to keep the scripts '
                "inline and only the largest carried files in S3 (ArchiveLocation.AUTO); the instance then needs a "
                "route to S3 (PrivateNotebookNetwork has one). Or drop or shrink modules. "
                "Move a module to on-create only if what it does outlives a restart: an instance is reset to its "
                "image at every start, and only /home/ec2-user/SageMaker persists."
            )
        else:
            remedies = (
                "Remedies: drop or shrink modules, carry large files elsewhere (a custom image, the home volume), or "
                "split the modules over several lifecycle configs."
            )
        return (
            f"hook {self.hook!r}: the lifecycle script is {total} characters after base64 encoding, "
            f"above the SageMaker limit of {CONTENT_LIMIT_CHARS} (over by {total - CONTENT_LIMIT_CHARS}).\n"
            f"What each module costs (how much shorter the script is without it, {self.compression.value} "
            f"and {self.encoding.value} as now):\n"
            + "\n".join(rows)
            + f"\n  runner, header and what the modules share: {rest} characters\n"
            f"Total: {total} of {CONTENT_LIMIT_CHARS}.\n{remedies}"
        )
