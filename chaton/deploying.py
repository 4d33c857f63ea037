"""Deploying a collective: its rendered inventory read back, a structure's selection, the site
playbook run through ansible-runner, the summary printed. Used by `chaton deploy` and by the
commands that deploy again after they changed the servers (backup, restore, remove, demo), or
that read what was rendered (verify, dns)."""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from chaton.attribution import StructureIndex
from chaton.errors import BadInput, ExitCode
from chaton.generated import generated_dir, render_inventory
from chaton.i18n import _
from chaton.loader import load_inventory
from chaton.paths import PROJECT_ROOT
from chaton.render import HOST_VARS, INVENTORY_FILE, recorded_local_suffix
from chaton.runner import RunResult, run_playbook
from chaton.secrets import SECRETS_FILE, password_file, read_password
from chaton.selection import selection_inventory, selections
from chaton.yamlio import load_vars

SITE = PROJECT_ROOT / "playbooks" / "site.yml"


def inventory_file(inventory: Path) -> Path:
    hosts = inventory / "hosts.yml"
    if not hosts.is_file():
        raise BadInput(_("{path}: no such inventory file", path=hosts))
    return hosts


def inventory_hosts(hosts_file: Path) -> dict[str, dict[str, Any]]:
    """{host name: its variables} for every host of a hand-written inventory (any group depth)."""
    data = yaml.safe_load(hosts_file.read_text(encoding="utf-8")) or {}
    found: dict[str, dict[str, Any]] = {}

    def walk(group: dict[str, Any]) -> None:
        for name, hostvars in (group.get("hosts") or {}).items():
            found[name] = hostvars or {}
        for child in (group.get("children") or {}).values():
            walk(child or {})

    for group in data.values():
        walk(group or {})
    return found


def is_container(hostvars: dict[str, Any]) -> bool:
    """Whether Ansible reaches the host through podman (a local container)."""
    return str(hostvars.get("ansible_connection", "")).endswith("podman")


@dataclass(frozen=True)
class DeployInputs:
    """What Ansible is given for a collective: its inventories and how to read its secrets."""

    inventories: list[Path]
    extra_args: list[str]


def deploy_inputs(root: Path, vault_password_file: Path | None = None) -> DeployInputs:
    """The hand-written hosts.yml, plus what `chaton render` generated when it has run: the
    generated inventory (the host_vars beside it) and the vault-encrypted secrets."""
    inventories = [inventory_file(root)]
    extra_args: list[str] = []
    generated = generated_dir(root)
    if (generated / INVENTORY_FILE).is_file():
        refuse_stale(root, vault_password_file)
        inventories.append(generated / INVENTORY_FILE)
    secrets = generated / SECRETS_FILE
    if secrets.is_file():
        password = password_file(root, vault_password_file)
        read_password(password)  # a missing or empty password file is bad input, said clearly
        extra_args += ["--extra-vars", f"@{secrets}", "--vault-password-file", str(password)]
    return DeployInputs(inventories, extra_args)


def refuse_stale(root: Path, vault_password_file: Path | None = None) -> None:
    """BadInput when the generated files are not what a render of the inventory as it is now
    would write (a structure edited, render forgotten): deploying them would deploy the past."""
    generated = generated_dir(root)
    suffix = recorded_local_suffix((generated / INVENTORY_FILE).read_text(encoding="utf-8"))
    report = render_inventory(root, vault_password_file, check=True, local_suffix=suffix)
    if report.stale:
        option = f" --local-suffix {suffix}" if suffix else ""
        raise BadInput(
            _(
                "the generated files are stale ({files}): run `chaton render{option}` first, "
                "then deploy",
                files=", ".join(report.stale),
                option=option,
            )
        )


def rendered_host_vars(root: Path) -> dict[str, dict[str, Any]]:
    """{server: its rendered host_vars} (none before a render)."""
    folder = generated_dir(root) / HOST_VARS
    return {
        path.stem: load_vars(path.read_text(encoding="utf-8")) or {}
        for path in sorted(folder.glob("*.yml"))
    }


def structure_indexes(host_vars: Mapping[str, Mapping[str, Any]]) -> dict[str, StructureIndex]:
    """{server: whose each of its instances is}, from the rendered host_vars."""
    return {
        server: StructureIndex.from_host_vars(variables) for server, variables in host_vars.items()
    }


def require_rendered(root: Path) -> None:
    """BadInput when `chaton render` has not run on the inventory yet."""
    if not (generated_dir(root) / INVENTORY_FILE).is_file():
        raise BadInput(
            _("{path}: not rendered yet: run `chaton render` first", path=str(generated_dir(root)))
        )


def structure_selection(
    root: Path, host_vars: Mapping[str, Mapping[str, Any]], slug: str, limit: str | None
) -> dict[str, dict[str, Any]]:
    """{server: its chaton_selection} for `chaton deploy --structure slug`, from the rendered
    `host_vars`; BadInput for a structure the inventory does not have, one with nothing placed,
    or with --limit."""
    if limit:
        raise BadInput(_("--structure chooses the servers itself: leave --limit out"))
    require_rendered(root)
    known = sorted(load_inventory(root).structures)
    if slug not in known:
        raise BadInput(
            _(
                "no structure {slug} in the inventory (known: {known})",
                slug=slug,
                known=", ".join(known),
            )
        )
    found = selections(host_vars, slug)
    if not found:
        raise BadInput(
            _("{slug} has no service placed on any server: nothing to deploy", slug=slug)
        )
    return found


def deploy_again(
    args: argparse.Namespace, *, structure: str | None = None, limit: str | None = None
) -> RunResult:
    """A whole deploy (or one structure's, or on some servers) after a command changed the
    servers (a restore, a removal), with that command's inventory and vault."""
    return deploy(
        argparse.Namespace(
            inventory=args.inventory,
            vault_password_file=args.vault_password_file,
            structure=structure,
            limit=limit,
            check=False,
            accelerator=True,
        )
    )


def deploy(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> RunResult:
    """The site playbook on the inventory; `env`: more environment for Ansible (the demo's
    artifact cache)."""
    inputs = deploy_inputs(args.inventory, getattr(args, "vault_password_file", None))
    slug = getattr(args, "structure", None)
    host_vars = rendered_host_vars(args.inventory)
    with tempfile.TemporaryDirectory(prefix="chaton-selection-") as folder:
        inventories = list(inputs.inventories)
        limit = args.limit
        if slug:
            found = structure_selection(args.inventory, host_vars, slug, args.limit)
            selection_file = Path(folder) / "selection.yml"
            selection_file.write_text(
                yaml.safe_dump(selection_inventory(found), sort_keys=True), encoding="utf-8"
            )
            inventories.append(selection_file)
            limit = ",".join(found)
        return run_playbook(
            SITE,
            inventories,
            limit=limit,
            check=args.check,
            diff=args.check,
            accelerator=args.accelerator,
            extra_args=inputs.extra_args,
            env=env,
            indexes=structure_indexes(host_vars),
        )


def print_summary(result: RunResult, *, as_json: bool = False) -> int:
    """Print a per-host table (or JSON) and return the exit code of the run."""
    code = int(ExitCode.OK if result.succeeded else ExitCode.FAILED)
    if as_json:
        print(
            json.dumps(
                {
                    "status": result.status,
                    "hosts": {h: asdict(s) for h, s in result.hosts.items()},
                    "changed_tasks": result.changed_tasks,
                    "changed_by_structure": result.structure_changes,
                    "failed_tasks": result.failed_tasks,
                    "run_dir": str(result.run_dir),
                },
                indent=2,
            )
        )
        return code
    header = (_("host"), "ok", _("changed"), _("failed"), _("unreachable"), _("skipped"))
    rows = [header] + [
        (h, str(s.ok), str(s.changed), str(s.failures), str(s.unreachable), str(s.skipped))
        for h, s in result.hosts.items()
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    for host, task in result.changed_tasks:
        print(_("  changed on {host}: {task}", host=host, task=task))
    print_structure_changes(result.structure_changes)
    for host, task, message in result.failed_tasks:
        print(_("  failed on {host}: {task}: {message}", host=host, task=task, message=message))
    if result.output_tail:
        print(result.output_tail)
    verdict = _("succeeded") if result.succeeded else _("FAILED")
    print(
        _(
            "Run {verdict}: {changed} changed task(s). Logs: {run_dir}",
            verdict=verdict,
            changed=result.changed,
            run_dir=result.run_dir,
        )
    )
    return code


def print_structure_changes(table: Mapping[str, Mapping[str, int]]) -> None:
    """What changed, per host and per structure ("(server)": its own, shared pieces)."""
    if not any(table.values()):
        return
    print(_("Changed tasks per structure:"))
    header = (_("host"), _("structure"), _("changed"))
    rows = [header] + [
        (host, structure or _("(server)"), str(count))
        for host, row in sorted(table.items())
        for structure, count in sorted(row.items())
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
