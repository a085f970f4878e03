"""``sagemaker-lifecycle-review``: read the lifecycle scripts inside a synthesized CDK app, and their changes.

    list ASSEMBLY                          every lifecycle config, hook and module, with sizes and budgets
    show ASSEMBLY --config ID --module M   one module's decoded script (or --file, --runner, --script)
    diff BASE HEAD                         what changed, with unified diffs of the decoded scripts

Exit status: 0 no problem (and, for ``diff``, no change or no ``--fail-on-change``); 1 ``diff`` found
changes and ``--fail-on-change`` was given; 2 bad usage or input (a missing assembly, an unreadable
template, a manifest that does not match the content it describes, anything hostile or out of bounds);
3 an internal error (a bug: one line, and the traceback only with ``LCC_DEBUG=1`` in the environment).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from constructs_lib.bundling.reader import InputError, visible
from constructs_lib.review.assembly import Assembly, HookView, ReviewError, load_assembly
from constructs_lib.review.compare import compare
from constructs_lib.review.render import render_list, render_markdown, render_text

EXIT_OK = 0
EXIT_CHANGED = 1
EXIT_ERROR = 2
EXIT_INTERNAL = 3
DEBUG_VARIABLE = "LCC_DEBUG"
PROG = "sagemaker-lifecycle-review"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Review the SageMaker lifecycle scripts of a synthesized CDK app (a cloud assembly such as "
        "cdk.out): the scripts are decoded from each template's base64 Content.",
        epilog="exit status: 0 no problem (diff: no change, or no --fail-on-change); 1 diff found changes and "
        "--fail-on-change was given; 2 usage or input error (missing assembly, unreadable template, manifest that "
        "does not match its Content, hostile or oversized input); 3 internal error (LCC_DEBUG=1 shows the traceback).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="every lifecycle config, hook and module, with sizes and budgets")
    listing.add_argument("assembly", metavar="ASSEMBLY", help="cloud assembly directory (cdk.out) or a template")

    show = commands.add_parser("show", help="print a decoded module script, carried file, runner or hook script")
    show.add_argument("assembly", metavar="ASSEMBLY", help="cloud assembly directory (cdk.out) or a template")
    show.add_argument("--stack", help="stack name, when the config is found in more than one stack")
    show.add_argument("--config", required=True, metavar="LOGICAL_ID_OR_NAME", help="logical ID or literal name")
    show.add_argument("--hook", help="OnStart, OnCreate or the Studio app type; needed if the config has several")
    what = show.add_mutually_exclusive_group(required=True)
    what.add_argument("--module", metavar="NAME", help="print this module's script")
    what.add_argument("--runner", action="store_true", help="print the bundle's runner.sh")
    what.add_argument("--script", action="store_true", help="print the whole hook script as deployed")
    show.add_argument("--file", metavar="RELPATH", help="with --module: print this carried file instead")
    show.add_argument(
        "--raw",
        action="store_true",
        help="write the bytes unchanged even to a terminal (by default control characters are escaped there)",
    )

    diff = commands.add_parser("diff", help="compare the lifecycle configs of two assemblies")
    diff.add_argument("base", metavar="BASE_ASSEMBLY", help="assembly of the base branch")
    diff.add_argument("head", metavar="HEAD_ASSEMBLY", help="assembly of the pull request")
    diff.add_argument("--format", choices=("text", "markdown"), default="text", help="report format (text)")
    diff.add_argument("--output", metavar="FILE", help="write the report to FILE instead of stdout")
    diff.add_argument("--context", type=int, default=3, metavar="N", help="lines of context in diffs (3)")
    diff.add_argument(
        "--fail-on-change", action="store_true", help="exit 1 when any lifecycle config changed (for CI gates)"
    )
    return parser


def _error(message: str) -> None:
    print(f"{PROG}: error: {visible(message)}", file=sys.stderr)


def _report_errors(errors: Sequence[str]) -> int:
    for error in errors:
        _error(error)
    return EXIT_ERROR if errors else EXIT_OK


def _hook_token(text: str) -> str:
    return text.replace("-", "").replace("_", "").lower()


def _select_hook(assembly: Assembly, args: argparse.Namespace) -> HookView:
    hooks = [h for h in assembly.hooks if args.stack is None or h.stack == args.stack]
    matches = [h for h in hooks if args.config in (h.logical_id, h.name)]
    if not matches:
        known = ", ".join(sorted({f"{h.stack}/{h.logical_id}" + (f" ({h.name})" if h.name else "") for h in hooks}))
        where = f" in stack {args.stack}" if args.stack else ""
        raise ReviewError(f"no lifecycle config {args.config!r}{where} in {assembly.path}; known: {known or 'none'}.")
    stacks = sorted({h.stack for h in matches})
    if len(stacks) > 1:
        raise ReviewError(f"config {args.config!r} is in several stacks ({', '.join(stacks)}); give --stack.")
    if args.hook is not None:
        wanted = _hook_token(args.hook)
        manifest_hook = {h.hook: str((h.manifest or {}).get("hook", "")) for h in matches}
        chosen = [h for h in matches if wanted in (_hook_token(h.hook), _hook_token(manifest_hook[h.hook]))]
    else:
        chosen = matches if len(matches) == 1 else []
    if len(chosen) != 1:
        hooks_here = ", ".join(h.hook for h in matches)
        given = f"no hook {args.hook!r}" if args.hook is not None else "several hooks"
        raise ReviewError(f"config {args.config!r} has {given}; give --hook with one of: {hooks_here}.")
    return chosen[0]


def _show(args: argparse.Namespace) -> int:
    assembly = load_assembly(args.assembly)
    hook = _select_hook(assembly, args)
    if args.file is not None and args.module is None:
        raise ReviewError("--file needs --module (the module that carries the file).")
    if args.script:
        data = hook.script
    elif not hook.bundled:
        raise ReviewError(f"{hook.label} is a plain script without modules or runner; use --script.")
    elif args.runner:
        data = hook.runner or b""
    else:
        module = hook.module(args.module)
        if module is None:
            names = ", ".join(m.name for m in hook.modules)
            raise ReviewError(f"{hook.label} has no module {args.module!r}; its modules: {names}.")
        if args.file is None:
            data = module.script
        elif args.file in module.files:
            data = module.files[args.file]
        else:
            carried = ", ".join(sorted(module.files)) or "none"
            raise ReviewError(
                f"module {module.name!r} of {hook.label} carries no file {args.file!r}; it has: {carried}."
            )
    if sys.stdout.isatty() and not args.raw:
        data = visible(data.decode("utf-8", "backslashreplace"), keep="\n\t").encode("utf-8")
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return _report_errors([e for e in assembly.errors if e.startswith(hook.label)])


def _list(args: argparse.Namespace) -> int:
    assembly = load_assembly(args.assembly)
    sys.stdout.write(render_list(assembly))
    return _report_errors(assembly.errors)


def _diff(args: argparse.Namespace) -> int:
    if args.context < 0:
        raise ReviewError(f"--context {args.context} is invalid: give 0 or more lines.")
    base, head = load_assembly(args.base), load_assembly(args.head)
    report = compare(base, head, context=args.context)
    text = render_markdown(report) if args.format == "markdown" else render_text(report)
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            Path(args.output).write_text(text, encoding="utf-8", newline="\n")
        except OSError as err:
            raise ReviewError(f"cannot write the report to {args.output}: {err}") from None
    if report.errors:
        return _report_errors(report.errors)
    return EXIT_CHANGED if report.changes and args.fail_on_change else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    commands = {"list": _list, "show": _show, "diff": _diff}
    try:
        return commands[args.command](args)
    except InputError as err:
        _error(str(err))
        return EXIT_ERROR
    except Exception as err:  # any other failure is a bug: one line, a distinct status
        if os.environ.get(DEBUG_VARIABLE) == "1":
            traceback.print_exc()
        print(f"{PROG}: internal error: {visible(f'{type(err).__name__}: {err}')}", file=sys.stderr)
        return EXIT_INTERNAL
