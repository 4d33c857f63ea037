"""`chaton remove`: export, back up and remove the instances a structure no longer has.

A service taken out of a structure file (or a structure file removed) is, after `chaton render`
and `chaton deploy`, no longer listed: its servers keep its instance, stopped, with its data and
its backups (playbooks/instances.yml). `chaton remove SLUG` finds those instances on the servers
and says what removing them would do; with `--yes` it removes them (playbooks/remove.yml): for
each, a last backup when the server is backed up, an export fetched to the control node and
checked, then its pieces. What is still listed is never removed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from chaton.commands.options import add_inventory_argument, add_vault_password_argument
from chaton.commands.output import print_summary
from chaton.deploying import deploy, read_rendered, run_plan
from chaton.errors import BadInput, ExitCode
from chaton.i18n import _
from chaton.model.types import IDENTIFIER_RE
from chaton.paths import PROJECT_ROOT
from chaton.runner import RunResult

REMOVE = PROJECT_ROOT / "playbooks" / "remove.yml"
REMOVE_VAR = "chaton_remove"
# In the inventory's folder, one folder per structure; never committed (.gitignore).
EXPORTS = "exports"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "remove",
        help=_("export, back up and remove the instances a structure no longer has"),
        description=_(
            "Remove the instances of a structure that its servers still hold but the rendered "
            "configuration no longer lists (a service taken out of its structure file, or the "
            "structure gone, then `chaton render` and `chaton deploy`: they are kept, stopped, "
            "with their data and their backups). Without --yes, only say what would be "
            "removed. With --yes, each instance is backed up one last time (when its server is "
            "backed up), exported (its files and its databases' dumps, in one archive fetched "
            "into <inventory>/exports/SLUG/ and checked), then removed: its account, folders, "
            "database, Redis, PHP-FPM pool, vhost and certificate. What is still listed is "
            "never removed."
        ),
    )
    add_inventory_argument(parser)
    parser.add_argument("slug", metavar="SLUG", help=_("the structure"))
    parser.add_argument(
        "--yes", action="store_true", help=_("remove (without it: only say what would be)")
    )
    parser.add_argument("--json", action="store_true", help=_("print the outcome as JSON"))
    add_vault_password_argument(parser)
    parser.set_defaults(func=_remove)


def export_dir(inventory: Path, slug: str) -> Path:
    """Where the exports of a structure's removed instances are kept."""
    return inventory / EXPORTS / slug


def _remove(args: argparse.Namespace) -> int:
    if IDENTIFIER_RE.fullmatch(args.slug) is None:
        raise BadInput(_("{slug} is not a structure's slug", slug=args.slug))
    collective = read_rendered(args.inventory, args.vault_password_file, require=True)
    servers = sorted(collective.host_vars)
    if not servers:
        raise BadInput(_("no server in the rendered configuration: nothing to look on"))
    exports = export_dir(args.inventory, args.slug).resolve()
    exports.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chaton-remove-") as reports:
        settings = {
            "structure": args.slug,
            "dry_run": not args.yes,
            "report_dir": reports,
            "export_dir": str(exports),
        }
        result = run_plan(collective, REMOVE, REMOVE_VAR, dict.fromkeys(servers, settings))
        outcomes = [
            json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(Path(reports).glob("*.json"))
        ]
    code = print_outcomes(args.slug, outcomes, result, dry_run=not args.yes, as_json=args.json)
    removed = sorted({o["server"] for o in outcomes if o.get("rc") == 0 and not o.get("dry_run")})
    if not removed:
        return code
    # The servers' lists of what they back up, watch and serve, without what was removed.
    print(_("Deploying {what} again after the removal:", what=", ".join(removed)))
    deployed = print_summary(deploy(collective, limit=",".join(removed)), as_json=args.json)
    return max(code, deployed)


def describe(pieces: dict[str, Any]) -> list[str]:
    """The lines that say what an instance is made of (from its record)."""
    item = pieces.get("item") or {}
    lines = []
    if item.get("home"):
        lines.append(_("  its folder {home} and its account {user}", **item))
    named = (
        (_("databases"), [d["name"] for d in pieces.get("databases", [])]),
        ("Redis", pieces.get("redis_instances", [])),
        (_("PHP-FPM pools"), pieces.get("php_fpm_pools", [])),
        (_("vhosts and certificates"), pieces.get("nginx_vhosts", [])),
        (_("units"), pieces.get("units", [])),
    )
    for label, names in named:
        if names:
            lines.append(f"  {label}: {', '.join(names)}")
    return lines


def print_outcomes(
    slug: str, outcomes: list[dict[str, Any]], result: RunResult, *, dry_run: bool, as_json: bool
) -> int:
    """What each instance's removal did (or would do); the exit code."""
    ok = result.succeeded and all(o.get("rc") == 0 for o in outcomes)
    if dry_run:
        ok = ok and all(o.get("removable") for o in outcomes)
    if as_json:
        print(json.dumps({"dry_run": dry_run, "instances": outcomes}, indent=2))
        return int(ExitCode.OK if ok else ExitCode.FAILED)
    if not result.succeeded:
        print_summary(result)
    elif not outcomes:
        print(
            _(
                "Nothing of {slug} to remove: no server holds an instance of it that the "
                "configuration no longer lists. To remove a service, take it out of the "
                "structure's file, run `chaton render` and `chaton deploy`, then `chaton "
                "remove {slug}`.",
                slug=slug,
            )
        )
    for outcome in outcomes:
        where = f"{outcome['server']} {outcome['id']}"
        if outcome.get("rc") != 0:
            print(_("{where}: FAILED: {error}", where=where, error=outcome.get("error", "")))
        elif dry_run and not outcome.get("removable"):
            print(
                _(
                    "{where}: stays kept: removing a {kind} instance is not done yet",
                    where=where,
                    kind=outcome["kind"],
                )
            )
        elif dry_run:
            print(_("{where}: would be removed:", where=where))
            if outcome.get("backed_up"):
                print(_("  first backed up one last time"))
            else:
                print(_("  NOT backed up first: its server has no backup repository"))
            print(_("  exported into {folder}", folder=str(outcome.get("export_dir", ""))))
            for line in describe(outcome.get("pieces") or {}):
                print(line)
        else:
            export = outcome.get("export") or {}
            print(_("{where}: removed", where=where))
            if outcome.get("backed_up"):
                print(_("  backed up one last time (its archives stay in the repository)"))
            print(
                _(
                    "  its export: {file} ({size} bytes, SHA-256 {sha256})",
                    file=export.get("file"),
                    size=export.get("bytes"),
                    sha256=export.get("sha256"),
                )
            )
    if dry_run and ok and outcomes:
        print(_("Nothing was changed: run again with --yes to remove."))
    return int(ExitCode.OK if ok else ExitCode.FAILED)
