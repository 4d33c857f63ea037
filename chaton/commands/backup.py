"""`chaton backup` and `chaton restore`: back up now, put a structure's instances back."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from chaton.backups import (
    BACKUP_NOW_VAR,
    RESTORE_VAR,
    SERVICES,
    backup_plan,
    check_at,
    restore_plan,
    restore_source,
    server_restore_plan,
)
from chaton.commands.options import add_inventory_argument, add_vault_password_argument
from chaton.commands.output import print_summary
from chaton.deploying import (
    deploy,
    read_rendered,
    run_plan,
)
from chaton.errors import BadInput, ExitCode
from chaton.i18n import _
from chaton.paths import PROJECT_ROOT
from chaton.runner import RunResult

BACKUP_NOW = PROJECT_ROOT / "playbooks" / "backup-now.yml"
RESTORE = PROJECT_ROOT / "playbooks" / "restore.yml"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backup",
        help=_("back up the instances now"),
        description=_(
            "Back up now every instance of every server, or a structure's (its own instances, "
            "and the shared ones that hold its data: its lists' Mailman, the shared Mastodon it "
            "has accounts on), then compare live files with the new archives. The servers back "
            "up every day on their own (roles/backup)."
        ),
    )
    add_inventory_argument(parser)
    parser.add_argument("--structure", metavar="SLUG", help=_("only this structure's data"))
    parser.add_argument("--json", action="store_true", help=_("print the summary as JSON"))
    add_vault_password_argument(parser)
    parser.set_defaults(func=_backup)

    parser = subparsers.add_parser(
        "restore",
        help=_("put a structure's instances back from their backups"),
        description=_(
            "Put a structure's instances (or only those of one service) back from their latest "
            "archive, or the last one at or before --at, on the servers where they are "
            "placed, then deploy the structure again. Without --yes, only say which archive "
            "each instance would come back from. What a restore replaces is kept: the folders "
            "moved aside, the databases dumped first. Other structures' instances are not "
            "touched; the shared ones (a server's Mailman, the shared Mastodon) are not "
            "restored for one structure."
        ),
    )
    add_inventory_argument(parser)
    parser.add_argument("slug", metavar="SLUG", nargs="?", help=_("the structure"))
    parser.add_argument(
        "--server",
        metavar="NAME",
        help=_(
            "instead of a structure, every instance of this server, the shared ones too (a "
            "rebuilt server: deploy it, then restore it)"
        ),
    )
    parser.add_argument(
        "--service",
        choices=sorted(SERVICES),
        help=_("only this service's instance"),
    )
    parser.add_argument(
        "--at", metavar="DATE", help=_("the last archive at or before this day or time")
    )
    parser.add_argument(
        "--from",
        dest="source",
        metavar="SERVER",
        help=_(
            "take the archives from this server's repository (instances moved from it, a "
            "server replaced by one of another name); its passphrase stays in the vault"
        ),
    )
    parser.add_argument(
        "--yes", action="store_true", help=_("restore (without it: only say what would be)")
    )
    parser.add_argument("--json", action="store_true", help=_("print the outcome as JSON"))
    add_vault_password_argument(parser)
    parser.set_defaults(func=_restore)


def _backup(args: argparse.Namespace) -> int:
    collective = read_rendered(args.inventory, args.vault_password_file, require=True)
    if args.structure:
        collective.selection(args.structure)  # refusals
    plan = backup_plan(collective.host_vars, args.structure)
    if not plan:
        raise BadInput(_("nothing to back up: no instance is placed on any server"))
    result = run_plan(
        collective, BACKUP_NOW, BACKUP_NOW_VAR, {s: {"instances": n} for s, n in plan.items()}
    )
    return print_summary(result, as_json=args.json)


def _restore(args: argparse.Namespace) -> int:
    at = check_at(args.at)
    if (args.slug is None) == (args.server is None):
        raise BadInput(_("name a structure (SLUG) or a server (--server NAME), not both"))
    collective = read_rendered(args.inventory, args.vault_password_file, require=True)
    if args.server is not None:
        plan = server_restore_plan(collective.host_vars, args.server, args.service)
    else:
        collective.selection(args.slug)  # unknown or unplaced
        plan = restore_plan(collective.host_vars, args.slug, args.service)
    source = restore_source(args.source)
    with tempfile.TemporaryDirectory(prefix="chaton-restore-") as reports:
        per_server = {
            server: {
                "instances": names,
                "at": at,
                "dry_run": not args.yes,
                "report_dir": reports,
                **({"source": source} if source and server != args.source else {}),
            }
            for server, names in plan.items()
        }
        result = run_plan(collective, RESTORE, RESTORE_VAR, per_server)
        outcomes = [
            json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(Path(reports).glob("*.json"))
        ]
    code = print_outcomes(outcomes, result, dry_run=not args.yes, as_json=args.json)
    if code != 0 or not args.yes:
        return code
    # The restored instances get what the deploy gives them (temporary folders, units).
    print(_("Deploying {what} again after the restore:", what=args.slug or args.server))
    again = deploy(collective, structure=args.slug, limit=args.server)
    return print_summary(again, as_json=args.json)


def print_outcomes(
    outcomes: list[dict[str, Any]], result: RunResult, *, dry_run: bool, as_json: bool
) -> int:
    """What each instance's restore did (or would do); the exit code."""
    ok = result.succeeded and outcomes and all(o.get("rc") == 0 for o in outcomes)
    if as_json:
        print(json.dumps({"dry_run": dry_run, "instances": outcomes}, indent=2))
    for outcome in [] if as_json else outcomes:
        done = outcome.get("result") or {}
        where = f"{outcome['server']} {outcome['instance']}"
        if outcome.get("rc") != 0:
            print(_("{where}: FAILED: {error}", where=where, error=outcome.get("error", "")))
        elif dry_run:
            print(_("{where}: would come back from {archive}", where=where, **done))
        else:
            print(_("{where}: back from {archive}", where=where, archive=done.get("archive")))
            for path, aside in done.get("moved_aside") or []:
                print(_("  what was in {path} is kept in {aside}", path=path, aside=aside))
            print(
                _(
                    "  its databases as they were: {folder}",
                    folder=done.get("databases_dumped_before"),
                )
            )
    if not outcomes and not as_json:
        print_summary(result)
    if dry_run and ok and not as_json:
        print(_("Nothing was changed: run again with --yes to restore."))
    return int(ExitCode.OK if ok else ExitCode.FAILED)
