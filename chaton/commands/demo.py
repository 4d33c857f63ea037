"""`chaton demo`: the example collective deployed into local containers."""

from __future__ import annotations

import argparse
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from chaton import containers
from chaton.commands.costs import print_written
from chaton.commands.deploy import add_run_options, deploy, inventory_file, print_summary
from chaton.costs.model import Period
from chaton.costs.sheets import report_for_inventory, write_sheets
from chaton.errors import BadInput
from chaton.generated import generated_dir, render_inventory
from chaton.i18n import _, current_language
from chaton.paths import PROJECT_ROOT
from chaton.runner import FACT_CACHE
from chaton.secrets import init_password_file, password_file

EXAMPLE = PROJECT_ROOT / "inventories" / "example"
# What the demo writes besides the generated inventory (git-ignored).
DEMO_DIR = PROJECT_ROOT / ".demo"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help=_("deploy the example collective into local containers"),
        description=_(
            "Start a local Debian 12 container for each server of the example collective that "
            "is reached through podman, deploy the site into it and summarise. "
            "--clean removes those containers."
        ),
    )
    parser.add_argument("--clean", action="store_true", help=_("remove the demo containers"))
    add_run_options(parser)
    parser.set_defaults(func=_demo, inventory=EXAMPLE)


def container_hosts(hosts_file: Path) -> dict[str, str]:
    """{inventory name: container name} for the hosts reached through podman."""
    data = yaml.safe_load(hosts_file.read_text(encoding="utf-8")) or {}
    found: dict[str, str] = {}

    def walk(group: dict[str, Any]) -> None:
        for name, hostvars in (group.get("hosts") or {}).items():
            hostvars = hostvars or {}
            if str(hostvars.get("ansible_connection", "")).endswith("podman"):
                found[name] = str(hostvars.get("ansible_host", name))
        for child in (group.get("children") or {}).values():
            walk(child or {})

    for group in data.values():
        walk(group or {})
    if not found:
        raise BadInput(_("{path}: no host is reached through podman", path=hosts_file))
    return found


def _demo(args: argparse.Namespace) -> int:
    hosts = container_hosts(inventory_file(args.inventory))
    if args.clean:
        for name, container in hosts.items():
            removed = containers.stop(container)
            # Facts cached for the removed host would describe a machine that is gone.
            (FACT_CACHE / name).unlink(missing_ok=True)
            print(
                _("{name}: removed", name=container)
                if removed
                else _("{name}: not there", name=container)
            )
        # What the demo wrote: the example's generated files (with its vault password) and
        # the cost sheets. The example's own files are left as they are.
        for folder in (generated_dir(args.inventory), DEMO_DIR):
            if folder.exists():
                shutil.rmtree(folder)
                print(_("{name}: removed", name=str(folder)))
        return 0
    # The example's vault password is made on first use (it is never committed).
    password = password_file(args.inventory, args.vault_password_file)
    if not password.exists():
        password.parent.mkdir(parents=True, exist_ok=True)
        init_password_file(password)
    report = render_inventory(args.inventory, args.vault_password_file)
    print(
        _(
            "render: {written} file(s) written, {unchanged} unchanged",
            written=len(report.written),
            unchanged=len(report.unchanged),
        )
    )
    containers.build_image()
    for name, container in hosts.items():
        created = containers.start(containers.TestHost(name=container, hostname=name))
        print(
            _(
                "{name}: container {container} {state}",
                name=name,
                container=container,
                state=_("created") if created else _("running"),
            )
        )
    code = print_summary(deploy(args), as_json=args.json)
    if code == 0:
        write_demo_costs(args.inventory)
    return code


def write_demo_costs(inventory: Path) -> None:
    """The example's cost sheets for this year, in every format, under .demo/costs/."""
    period = Period(date(date.today().year, 1, 1), 12)
    report, _structures = report_for_inventory(inventory, period)
    out = DEMO_DIR / "costs" / period.label
    files = write_sheets(report, out, lang=current_language())
    print_written(report, files, out)
