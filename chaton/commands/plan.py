"""`chaton plan`: where each instance sits, and what each server has reserved and left."""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from typing import Any

from chaton.commands.options import add_inventory_argument
from chaton.commands.output import print_table
from chaton.errors import ExitCode
from chaton.generated import plan_inventory
from chaton.i18n import _
from chaton.placement import (
    RESOURCES,
    Amount,
    DoesNotFit,
    Plan,
    ServerLoad,
    moved,
    removed,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan",
        help=_("show where each instance sits and what each server has left"),
        description=_(
            "Place every instance the structures ask for on the collective's servers and show, "
            "per server, the RAM, disk and CPU reserved against its capacity (its resources minus "
            "its system reserve), its headroom (the smallest share of capacity left over the "
            "three), and its instances. An instance pinned by its structure's `placement` goes "
            "there; one placed by an earlier render stays where it is; a new one goes to the "
            "server with the most headroom after placing it. Changes nothing. Exit code 0 when "
            "everything fits, 1 when something does not (with the reason), 2 when the inventory "
            "is not valid."
        ),
    )
    add_inventory_argument(parser)
    parser.add_argument(
        "--json", action="store_true", help=_("print the result as JSON (for scripts)")
    )
    parser.set_defaults(func=run)


def _number(value: Decimal) -> int | float:
    """A JSON number: whole amounts as integers, others as their exact decimal text read back."""
    normal = value.normalize()
    return int(normal) if normal == normal.to_integral_value() else float(str(normal))


def _amount(amount: Amount) -> dict[str, int | float]:
    return {resource: _number(amount.get(resource)) for resource in RESOURCES}


def _percent(part: Decimal, whole: Decimal) -> str:
    if whole <= 0:
        return "-"
    return f"{(part * 100 / whole).quantize(Decimal(1))} %"


def _text(value: Decimal) -> str:
    return f"{value.normalize():f}"


def plan_as_dict(plan: Plan, recorded: dict[str, str]) -> dict[str, Any]:
    return {
        "fits": True,
        "servers": [_server_dict(server) for server in plan.servers],
        "moved": [
            {"instance": instance, "from": before, "to": after}
            for instance, before, after in moved(plan, recorded)
        ],
        "removed": removed(plan, recorded),
    }


def _server_dict(server: ServerLoad) -> dict[str, Any]:
    return {
        "name": server.name,
        "capacity": _amount(server.capacity),
        "reserved": _amount(server.reserved),
        "free": _amount(server.capacity - server.reserved),
        "headroom": _number(server.headroom.quantize(Decimal("0.0001"))),
        "mailman": _amount(server.mailman),
        "instances": [
            {
                "id": placed.instance.id,
                "kind": placed.instance.kind,
                "structure": placed.instance.structure,
                "footprint": _amount(placed.instance.footprint),
                "placement": placed.source,
            }
            for placed in server.instances
        ],
    }


def print_plan(plan: Plan, recorded: dict[str, str]) -> None:
    labels = {
        "ram_mb": _("RAM (MB)"),
        "disk_gb": _("disk (GB)"),
        "cpu_share": _("CPU (cores)"),
    }
    sources = {"pinned": _("pinned"), "kept": _("kept"), "chosen": _("chosen")}
    for server in plan.servers:
        print(
            _(
                "{server}: headroom {headroom}",
                server=server.name,
                headroom=_percent(server.headroom, Decimal(1)),
            )
        )
        for resource in RESOURCES:
            reserved, total = server.reserved.get(resource), server.capacity.get(resource)
            print(
                "  "
                + _(
                    "{resource}: {reserved} reserved of {capacity} ({percent}), {free} free",
                    resource=labels[resource],
                    reserved=_text(reserved),
                    capacity=_text(total),
                    percent=_percent(reserved, total),
                    free=_text(total - reserved),
                )
            )
        rows = []
        if server.mailman.get("ram_mb") or server.mailman.get("disk_gb"):
            rows.append(
                (
                    _("mailman (shared by the mail domains)"),
                    _text(server.mailman.ram_mb),
                    _text(server.mailman.disk_gb),
                    _text(server.mailman.cpu_share),
                    "",
                )
            )
        for placed in server.instances:
            footprint = placed.instance.footprint
            rows.append(
                (
                    placed.instance.id,
                    _text(footprint.ram_mb),
                    _text(footprint.disk_gb),
                    _text(footprint.cpu_share),
                    sources[placed.source],
                )
            )
        header = (_("instance (kind/name)"), "RAM", "disk", "CPU", "")
        print_table(header, rows, indent=4, right={1, 2, 3})
    for instance, before, after in moved(plan, recorded):
        print(
            _(
                "{instance} moves from {before} to {after} (its structure's placement changed)",
                instance=instance,
                before=before,
                after=after,
            )
        )
    for instance in removed(plan, recorded):
        print(
            _(
                "{instance} is no longer asked for: the next render removes it from the host_vars",
                instance=instance,
            )
        )


def run(args: argparse.Namespace) -> int:
    try:
        _inventory, plan, recorded = plan_inventory(args.inventory)
    except DoesNotFit as error:
        if args.json:
            print(
                json.dumps(
                    {
                        "fits": False,
                        "refusals": [
                            {"instance": refusal.instance, "reason": refusal.reason}
                            for refusal in error.refusals
                        ],
                        "servers": [_server_dict(server) for server in error.plan.servers],
                    },
                    ensure_ascii=False,
                    indent=2,
                )
            )
        else:
            print_plan(error.plan, {})
            for refusal in error.refusals:
                print(
                    _(
                        "cannot place {instance}: {reason}",
                        instance=refusal.instance,
                        reason=refusal.reason,
                    ),
                    file=sys.stderr,
                )
        return int(ExitCode.FAILED)
    if args.json:
        print(json.dumps(plan_as_dict(plan, recorded), ensure_ascii=False, indent=2))
    else:
        print_plan(plan, recorded)
    return int(ExitCode.OK)
