"""`chaton onboard`: create a structure's file from flags, asking for what is missing.

The new file is checked together with the whole inventory (the same checks as `chaton validate`)
before anything is written; an existing structure is never overwritten; the file appears
atomically, complete or not at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from chaton.commands.options import add_inventory_argument
from chaton.diagnostics import printable
from chaton.errors import BadInput, ExitCode
from chaton.files import create_new
from chaton.i18n import _
from chaton.loader import InvalidInventory, check_inventory, check_texts, reserved_names
from chaton.validation import COLLECTIVE_FILE, STRUCTURES_DIR
from chaton.yamlsource import FileTooLarge, UnreadableFile, read_regular_file

HEADER = (
    "# A member structure, created by `chaton onboard`.\n"
    "# Every field is explained in docs/schema.md (English) and docs/schema.fr.md (French).\n"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "onboard",
        help=_("create a structure's file"),
        description=_(
            "Create structures/<slug>.yml for a new member structure from the options. When "
            "the terminal is interactive, asks for the required values that are missing; "
            "otherwise refuses (exit code 2) and names the missing options. The whole "
            "inventory, with the new structure, is checked before anything is written; an "
            "existing structure is never overwritten."
        ),
    )
    add_inventory_argument(parser)
    parser.add_argument("--slug", help=_("identifier, also the file's name (e.g. velo-cite)"))
    parser.add_argument("--name", help=_("the structure's name"))
    parser.add_argument("--tier", help=_("one of the collective's pricing tiers"))
    parser.add_argument("--contact-name", help=_("the contact person's name"))
    parser.add_argument("--contact-email", help=_("the contact person's email address"))
    parser.add_argument("--contact-role", help=_("the contact person's role (optional)"))
    parser.add_argument(
        "--domain",
        action="append",
        default=[],
        help=_("a domain of the structure; repeat for several, the first is the main one"),
    )
    parser.add_argument(
        "--status",
        choices=("active", "suspended", "leaving"),
        default="active",
        help=_("the structure's status (default: %(default)s)"),
    )
    parser.add_argument("--placement", metavar="SERVER", help=_("pin its instances on a server"))
    parser.add_argument(
        "--nextcloud-accounts", type=int, metavar="N", help=_("a Nextcloud with N accounts")
    )
    parser.add_argument(
        "--nextcloud-storage-gb", type=int, metavar="N", help=_("the Nextcloud's storage in GB")
    )
    parser.add_argument("--mastodon-accounts", type=int, metavar="N", help=_("N Mastodon accounts"))
    parser.add_argument(
        "--mastodon-dedicated",
        action="store_true",
        help=_("a dedicated Mastodon instance rather than accounts on the shared one"),
    )
    parser.add_argument(
        "--list",
        action="append",
        default=[],
        metavar="NAME:OWNER[,OWNER…]",
        help=_("a mailing list and its owners' emails; repeat for several lists"),
    )
    parser.add_argument(
        "--website",
        metavar="SOURCE",
        help=_(
            "a website: `none` (files uploaded by SFTP) or the https address of a git repository"
        ),
    )
    parser.add_argument("--website-branch", metavar="BRANCH", help=_("the git branch or tag"))
    parser.add_argument(
        "--sftp-key-file",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help=_(
            "a webmaster's SSH public key file (the .pub file ssh-keygen made): the way into the "
            "website's SFTP account; repeat for several"
        ),
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help=_("check and print the file, write nothing"),
    )
    parser.add_argument(
        "--json", action="store_true", help=_("print the result as JSON (for scripts)")
    )
    parser.set_defaults(func=run)


REQUIRED = (
    ("slug", "--slug"),
    ("name", "--name"),
    ("tier", "--tier"),
    ("contact_name", "--contact-name"),
    ("contact_email", "--contact-email"),
)


def _prompts() -> dict[str, str]:
    return {
        "slug": _("Identifier (slug), e.g. velo-cite"),
        "name": _("Name of the structure"),
        "tier": _("Tier"),
        "contact_name": _("Contact's name"),
        "contact_email": _("Contact's email"),
        "domain": _("Main domain, e.g. velo-cite.fr"),
        "nextcloud_accounts": _("Nextcloud accounts"),
        "nextcloud_storage_gb": _("Nextcloud storage in GB"),
    }


def _needs_domain(args: argparse.Namespace) -> bool:
    return bool(
        args.nextcloud_accounts is not None
        or args.nextcloud_storage_gb is not None
        or args.list
        or args.website is not None
        or (args.mastodon_accounts is not None and args.mastodon_dedicated)
    )


def missing_options(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(attribute, option) of every required value that was not given."""
    missing = [(attr, flag) for attr, flag in REQUIRED if not getattr(args, attr)]
    if _needs_domain(args) and not args.domain:
        missing.append(("domain", "--domain"))
    if args.nextcloud_accounts is not None and args.nextcloud_storage_gb is None:
        missing.append(("nextcloud_storage_gb", "--nextcloud-storage-gb"))
    if args.nextcloud_storage_gb is not None and args.nextcloud_accounts is None:
        missing.append(("nextcloud_accounts", "--nextcloud-accounts"))
    return missing


def ask_missing(
    args: argparse.Namespace, tiers: list[str], ask: Callable[[str], str] | None = None
) -> None:
    """Fill the missing values by asking (an empty answer asks again)."""
    ask = ask or input
    prompts = _prompts()
    for attr, _flag in missing_options(args):
        prompt = prompts[attr]
        if attr == "tier" and tiers:
            prompt += f" ({', '.join(tiers)})"
        answer = ""
        while not answer:
            answer = ask(prompt + _(": ")).strip()
        if attr == "domain":
            args.domain = [answer]
        elif attr.startswith("nextcloud_"):
            try:
                setattr(args, attr, int(answer))
            except ValueError:
                raise BadInput(_("{value} is not a whole number", value=repr(answer))) from None
        else:
            setattr(args, attr, answer)


def _parse_list(text: str) -> dict[str, Any]:
    name, colon, owners = text.partition(":")
    emails = [owner.strip() for owner in owners.split(",") if owner.strip()]
    if not colon or not name.strip() or not emails:
        raise BadInput(
            _(
                "--list {value}: expected NAME:OWNER[,OWNER…], e.g. adherents:camille@velo-cite.fr",
                value=repr(text),
            )
        )
    return {"name": name.strip(), "owners": emails}


# A public key file is a line or a few; anything bigger is not one.
KEY_FILE_LIMIT = 64 * 1024


def _read_keys(path: Path) -> list[str]:
    """The keys of a public key file: its lines that are neither empty nor comments. Checked
    by the model afterwards (chaton validate's checks)."""
    shown = printable(str(path))
    try:
        data = read_regular_file(path, KEY_FILE_LIMIT)
    except FileTooLarge:
        raise BadInput(
            _("--sftp-key-file {path}: too big for a public key file", path=shown)
        ) from None
    except UnreadableFile as error:
        raise BadInput(
            _("--sftp-key-file {path}: {reason}", path=shown, reason=str(error))
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(_("--sftp-key-file {path}: not a text file", path=shown)) from None
    keys = [line.strip() for line in text.splitlines()]
    keys = [key for key in keys if key and not key.startswith("#")]
    if not keys:
        raise BadInput(_("--sftp-key-file {path}: no key in it", path=shown))
    return keys


def structure_document(args: argparse.Namespace) -> dict[str, Any]:
    """The structure's fields, in the order a person reads them."""
    contact: dict[str, Any] = {"name": args.contact_name, "email": args.contact_email}
    if args.contact_role:
        contact["role"] = args.contact_role
    document: dict[str, Any] = {
        "name": args.name,
        "slug": args.slug,
        "contacts": [contact],
        "tier": args.tier,
        "status": args.status,
    }
    if args.domain:
        document["domains"] = list(args.domain)
    if args.placement:
        document["placement"] = args.placement
    services: dict[str, Any] = {}
    if args.nextcloud_accounts is not None or args.nextcloud_storage_gb is not None:
        services["nextcloud"] = {
            "accounts": args.nextcloud_accounts,
            "storage_gb": args.nextcloud_storage_gb,
        }
    if args.mastodon_accounts is not None:
        services["mastodon"] = {
            "mode": "dedicated" if args.mastodon_dedicated else "shared",
            "accounts": args.mastodon_accounts,
        }
    if args.list:
        services["lists"] = [_parse_list(text) for text in args.list]
    if args.website is not None:
        website: dict[str, Any] = {"source": args.website}
        if args.website_branch:
            website["branch"] = args.website_branch
        keys = [key for path in args.sftp_key_file for key in _read_keys(path)]
        if keys:
            website["sftp_keys"] = keys
        services["website"] = website
    if services:
        document["services"] = services
    return document


def structure_text(document: dict[str, Any]) -> str:
    """The file's text: a header, then the fields, written by PyYAML's safe dumper (it quotes
    whatever YAML would otherwise read as something else than text)."""
    body = yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000
    )
    return HEADER + body


def _texts(root: Path) -> tuple[str, dict[str, str]]:
    collective = (root / COLLECTIVE_FILE).read_text(encoding="utf-8-sig")
    structures = {
        file.stem: file.read_text(encoding="utf-8-sig")
        for file in sorted((root / STRUCTURES_DIR).glob("*.yml"))
        if not file.name.startswith(".")
    }
    return collective, structures


def run(args: argparse.Namespace) -> int:
    root: Path = args.inventory
    current = check_inventory(root)
    if not current.valid:
        print(_("the inventory has errors already: fix them first"), file=sys.stderr)
        raise InvalidInventory(current.errors)
    tiers = sorted(current.collective.tiers) if current.collective is not None else []
    if missing_options(args):
        if sys.stdin.isatty():
            ask_missing(args, tiers)
        else:
            raise BadInput(
                _(
                    "missing: {options} (no terminal to ask them on)",
                    options=", ".join(flag for _attr, flag in missing_options(args)),
                )
            )
    if args.sftp_key_file and args.website is None:
        raise BadInput(_("--sftp-key-file needs --website: the keys open the website's account"))
    if (args.slug and "/" in args.slug) or args.slug in (".", ".."):
        raise BadInput(_("{value} is not a valid slug", value=repr(args.slug)))
    target = root / STRUCTURES_DIR / f"{args.slug}.yml"
    if target.exists():
        raise BadInput(
            _("{path} already exists: a structure is never overwritten", path=str(target))
        )
    text = structure_text(structure_document(args))
    collective_text, structure_texts = _texts(root)
    structure_texts[args.slug] = text
    result = check_texts(root, collective_text, structure_texts, reserved_names(root))
    if not result.valid:
        raise InvalidInventory(result.errors)
    if args.dry_run:
        if args.json:
            print(
                json.dumps(
                    {"path": str(target), "text": text, "written": False},
                    ensure_ascii=False,
                    indent=2,
                )
            )
        else:
            print(text, end="")
        return int(ExitCode.OK)
    target.parent.mkdir(parents=True, exist_ok=True)
    create_new(target, text.encode("utf-8"))
    if args.json:
        print(
            json.dumps(
                {"path": str(target), "text": text, "written": True}, ensure_ascii=False, indent=2
            )
        )
    else:
        print(_("created {path}: run `chaton plan`, then `chaton render`", path=str(target)))
    return int(ExitCode.OK)
