"""The command-line options several commands share (`--inventory`, `--vault-password-file`,
the run options of the commands that run playbooks). Commands import this module, never each
other; `chaton.cli` only assembles the commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from chaton.i18n import _


def add_inventory_argument(parser: argparse.ArgumentParser) -> None:
    """The `--inventory` option every command that reads a collective shares."""
    parser.add_argument(
        "-i",
        "--inventory",
        type=Path,
        default=Path("inventories/example"),
        help=_("the collective's inventory folder (default: %(default)s)"),
    )


def add_vault_password_argument(parser: argparse.ArgumentParser) -> None:
    """The `--vault-password-file` option of the commands that read or write the secrets."""
    from chaton.vault import PASSWORD_ENV  # the vault module needs Ansible: load it late

    parser.add_argument(
        "--vault-password-file",
        type=Path,
        metavar="PATH",
        help=_(
            "the file holding the vault password (default: ${env}, else "
            "<inventory>/generated/.vault-password)",
            env=PASSWORD_ENV,
        ),
    )


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check", action="store_true", help=_("show what would change, change nothing")
    )
    parser.add_argument("--limit", metavar="HOSTS", help=_("only these servers (Ansible pattern)"))
    parser.add_argument(
        "--no-accelerator",
        dest="accelerator",
        action="store_false",
        help=_("run Ansible's standard strategy instead of the Mitogen accelerator"),
    )
    parser.add_argument("--json", action="store_true", help=_("print the summary as JSON"))
    add_vault_password_argument(parser)
