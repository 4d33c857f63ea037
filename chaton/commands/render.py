"""`chaton render`: write the generated host_vars and secrets of an inventory."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chaton.commands.options import add_inventory_argument, add_vault_password_argument
from chaton.errors import ExitCode
from chaton.generated import GENERATED, RenderReport, render_inventory
from chaton.i18n import _, n_
from chaton.vault import init_password_file, password_file


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "render",
        help=_("write the generated host_vars and secrets"),
        description=_(
            "Validate the inventory, place its instances (as `chaton plan` does) and write "
            "generated/host_vars/<server>.yml (what each role deploys on each server), "
            "generated/inventory.yml and generated/secrets.vault.yml (the secrets, generated "
            "once, ansible-vault encrypted). Same input, same bytes. Every file is prepared "
            "before any is replaced: a failure leaves them all as they were. Exit code 0 when "
            "done, 1 when something does not fit (or, with --check, when the files are stale), "
            "2 when the input is not valid."
        ),
    )
    add_inventory_argument(parser)
    add_vault_password_argument(parser)
    parser.add_argument(
        "--init-vault",
        action="store_true",
        help=_(
            "first create the vault password file with a random password (mode 0600) if there "
            "is none"
        ),
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help=_("write nothing; exit with 1 and list the stale files if a render would change any"),
    )
    parser.add_argument(
        "--local-suffix",
        metavar="LABEL",
        help=_(
            "every vhost also answers its names followed by .LABEL (`chaton demo` uses "
            "localhost: velo-cite.fr.localhost)"
        ),
    )
    parser.add_argument(
        "--json", action="store_true", help=_("print the result as JSON (for scripts)")
    )
    parser.set_defaults(func=run)


def _as_dict(report: RenderReport, check: bool) -> dict[str, object]:
    result: dict[str, object] = {
        "written": [] if check else list(report.written),
        "unchanged": list(report.unchanged),
        "removed": [] if check else list(report.removed),
        "secrets_created": 0 if check else report.secrets_created,
        "secrets_unused": list(report.secrets_unused),
    }
    if check:
        result["stale"] = list(report.stale)
        result["up_to_date"] = not report.stale
    return result


def run(args: argparse.Namespace) -> int:
    root: Path = args.inventory
    if args.init_vault:
        vault_file = password_file(root, args.vault_password_file)
        if vault_file.exists():
            print(_("{path} exists: it is kept", path=str(vault_file)), file=sys.stderr)
        else:
            init_password_file(vault_file)
            print(
                _(
                    "created {path} with a random vault password (readable by you only): keep "
                    "a copy somewhere safe, the secrets cannot be decrypted without it",
                    path=str(vault_file),
                ),
                file=sys.stderr,
            )
    report = render_inventory(
        root, args.vault_password_file, check=args.check, local_suffix=args.local_suffix
    )
    out = root / GENERATED
    if args.json:
        print(json.dumps(_as_dict(report, args.check), ensure_ascii=False, indent=2))
    elif args.check:
        for stale in report.stale:
            print(_("stale: {path}", path=str(out / stale)))
        if report.stale:
            print(_("the generated files are stale: run `chaton render`"), file=sys.stderr)
        else:
            print(_("{path}: up to date", path=str(out)))
    else:
        for written in report.written:
            print(_("wrote {path}", path=str(out / written)))
        for gone in report.removed:
            print(_("removed {path} (no such server any more)", path=str(out / gone)))
        if report.secrets_created:
            print(
                n_(
                    "{count} new secret generated",
                    "{count} new secrets generated",
                    report.secrets_created,
                )
            )
        if not report.written and not report.removed:
            print(_("{path}: up to date", path=str(out)))
    if report.secrets_unused and not args.json:
        print(
            n_(
                "{count} secret no instance uses any more is kept in the vault: {references}",
                "{count} secrets no instance uses any more are kept in the vault: {references}",
                len(report.secrets_unused),
                references=", ".join(report.secrets_unused),
            ),
            file=sys.stderr,
        )
    if args.check and report.stale:
        return int(ExitCode.FAILED)
    return int(ExitCode.OK)
