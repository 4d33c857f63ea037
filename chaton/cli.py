"""The `chaton` command line: thin commands that parse, call one function and print."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from chaton import __version__
from chaton.errors import ChatonError, ExitCode
from chaton.i18n import _

# Each module in chaton.commands exposes `register(subparsers)`, which adds its sub-command
# and sets `func` (a callable taking the parsed namespace, returning an exit code).
COMMAND_MODULES = (
    "validate",
    "deploy",
    "verify",
    "backup",
    "remove",
    "dns",
    "artifacts",
    "demo",
    "container",
    "plan",
    "render",
    "onboard",
    "costs",
    "catalog",
)

Handler = Callable[[argparse.Namespace], int]


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chaton",
        description=_(
            "The toolbox of a CHATONS hosting association: describe the collective and its "
            "structures, deploy their services, verify them and publish what they cost."
        ),
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"chaton {__version__}")
    subparsers = parser.add_subparsers(title=_("commands"), metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = import_module(f"chaton.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Handler | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return int(ExitCode.BAD_INPUT)
    try:
        return func(args)
    except ChatonError as error:
        print(_("error: {message}", message=error.message), file=sys.stderr)
        return int(error.code)
    except KeyboardInterrupt:
        print(_("interrupted"), file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
