"""A collective as `chaton render` wrote it, read once per command, and the playbook runs made
from it: the site playbook (a whole deploy, one structure's, some servers') and a plan's
playbook (backup, restore, remove) through ansible-runner. Used by `chaton deploy` and by the
commands that deploy again after they changed the servers (restore, remove, demo) or that read
what was rendered (backup, dns). What they print of a run is in `chaton.commands.output`."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chaton.attribution import StructureIndex
from chaton.backups import plan_inventory
from chaton.errors import BadInput
from chaton.generated import CheckedRender, check_render, generated_dir, not_rendered
from chaton.i18n import _
from chaton.loader import Inventory
from chaton.paths import PROJECT_ROOT
from chaton.render import HOST_VARS, INVENTORY_FILE, recorded_local_suffix
from chaton.runner import RunResult, run_playbook
from chaton.selection import selection_inventory, selections
from chaton.servers import inventory_file
from chaton.vault import SECRETS_FILE, password_file, read_password
from chaton.yamlio import load_vars

SITE = PROJECT_ROOT / "playbooks" / "site.yml"


@dataclass(frozen=True)
class RenderedCollective:
    """A collective as `chaton render` wrote it, checked current (`read_rendered`).

    `inventory` is None before the first render; `host_vars` are the servers' rendered variables
    (equal to the files in generated/host_vars, from the render that checked them); Ansible is
    given `inventories` (hosts.yml, then the generated inventory) and `extra_args` (the
    vault-encrypted secrets and their password file)."""

    root: Path
    inventory: Inventory | None
    host_vars: Mapping[str, Mapping[str, Any]]
    inventories: tuple[Path, ...]
    extra_args: tuple[str, ...]

    def require_rendered(self) -> Inventory:
        """The inventory; BadInput when `chaton render` has not run on it yet."""
        if self.inventory is None:
            raise not_rendered(self.root)
        return self.inventory

    def indexes(self) -> dict[str, StructureIndex]:
        """{server: whose each of its instances is}."""
        return {
            server: StructureIndex.from_host_vars(variables)
            for server, variables in self.host_vars.items()
        }

    def selection(self, slug: str, limit: str | None = None) -> dict[str, dict[str, Any]]:
        """{server: its chaton_selection} for `chaton deploy --structure slug`; BadInput for a
        structure the inventory does not have, one with nothing placed, or with --limit."""
        if limit:
            raise BadInput(_("--structure chooses the servers itself: leave --limit out"))
        known = sorted(self.require_rendered().structures)
        if slug not in known:
            raise BadInput(
                _(
                    "no structure {slug} in the inventory (known: {known})",
                    slug=slug,
                    known=", ".join(known),
                )
            )
        found = selections(self.host_vars, slug)
        if not found:
            raise BadInput(
                _("{slug} has no service placed on any server: nothing to deploy", slug=slug)
            )
        return found


def current_render(root: Path, vault_password_file: Path | None = None) -> CheckedRender | None:
    """The inventory in `root` loaded and rendered again in memory, once (None before the first
    render); BadInput when the generated files are not what that render writes (a structure
    edited, render forgotten: deploying them would deploy the past)."""
    generated = generated_dir(root)
    if not (generated / INVENTORY_FILE).is_file():
        return None
    suffix = recorded_local_suffix((generated / INVENTORY_FILE).read_text(encoding="utf-8"))
    checked = check_render(root, vault_password_file, local_suffix=suffix)
    if checked.report.stale:
        option = f" --local-suffix {suffix}" if suffix else ""
        raise BadInput(
            _(
                "the generated files are stale ({files}): run `chaton render{option}` first, "
                "then deploy",
                files=", ".join(checked.report.stale),
                option=option,
            )
        )
    return checked


def read_rendered(
    root: Path, vault_password_file: Path | None = None, *, require: bool = False
) -> RenderedCollective:
    """The collective in `root` as rendered (`current_render`), with what Ansible is given.
    `require`: BadInput when it has not been rendered yet (else Ansible gets hosts.yml only)."""
    checked = current_render(root, vault_password_file)
    if checked is None and require:
        raise not_rendered(root)
    generated = generated_dir(root)
    inventories = [inventory_file(root)]
    extra_args: list[str] = []
    inventory: Inventory | None = None
    host_vars: dict[str, Mapping[str, Any]] = {}
    if checked is not None:
        inventory = checked.inventory
        host_vars = {
            Path(path).stem: load_vars(text) or {}
            for path, text in sorted(checked.rendered.files.items())
            if path.startswith(f"{HOST_VARS}/")
        }
        inventories.append(generated / INVENTORY_FILE)
    secrets = generated / SECRETS_FILE
    if secrets.is_file():
        password = password_file(root, vault_password_file)
        read_password(password)  # a missing or empty password file is bad input, said clearly
        extra_args += ["--extra-vars", f"@{secrets}", "--vault-password-file", str(password)]
    return RenderedCollective(root, inventory, host_vars, tuple(inventories), tuple(extra_args))


def deploy(
    collective: RenderedCollective,
    *,
    structure: str | None = None,
    limit: str | None = None,
    check: bool = False,
    accelerator: bool = True,
    env: Mapping[str, str] | None = None,
) -> RunResult:
    """The site playbook on the collective: everywhere, on the servers `limit` names, or only
    what `structure` needs. `env`: more environment for Ansible (the demo's artifact cache)."""
    with tempfile.TemporaryDirectory(prefix="chaton-selection-") as folder:
        inventories = list(collective.inventories)
        if structure:
            found = collective.selection(structure, limit)
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
            check=check,
            diff=check,
            accelerator=accelerator,
            extra_args=list(collective.extra_args),
            env=env,
            indexes=collective.indexes(),
        )


def run_plan(
    collective: RenderedCollective,
    playbook: Path,
    variable: str,
    per_server: dict[str, dict[str, Any]],
) -> RunResult:
    """`playbook` on the servers of `per_server`, each given its `variable`."""
    with tempfile.TemporaryDirectory(prefix="chaton-plan-") as folder:
        plan_file = Path(folder) / "plan.yml"
        plan_file.write_text(
            yaml.safe_dump(plan_inventory(variable, per_server), sort_keys=True), encoding="utf-8"
        )
        return run_playbook(
            playbook,
            [*collective.inventories, plan_file],
            limit=",".join(per_server),
            extra_args=list(collective.extra_args),
        )
