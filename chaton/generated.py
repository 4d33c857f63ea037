"""The I/O edge of `chaton plan` and `chaton render`: the `generated/` folder of an inventory.

Reads what the last render recorded (each server's `chaton_instances`, so that placement keeps
every instance where it is), runs the pure placement and rendering, and writes the result
atomically: every file is prepared first, then all are renamed; a failure leaves every file as it
was. The secrets are completed by `chaton.secrets` and kept by `chaton.vault` (ansible-vault).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from chaton import files as atomic
from chaton.errors import BadInput
from chaton.i18n import _
from chaton.loader import Inventory, load_inventory
from chaton.placement import Plan, place
from chaton.render import HOST_VARS, INVENTORY_FILE, Rendered, recorded_instances, render
from chaton.secrets import SecretsUpdate, complete
from chaton.vault import SECRETS_FILE, encrypt_secrets, password_file, read_password, read_secrets
from chaton.yamlio import load_vars

GENERATED = "generated"


def generated_dir(root: Path) -> Path:
    return root / GENERATED


def not_rendered(root: Path) -> BadInput:
    """What is said when a command needs `root`'s generated files and `chaton render` has not
    written them yet."""
    return BadInput(
        _("{path}: not rendered yet: run `chaton render` first", path=str(generated_dir(root)))
    )


def read_recorded(root: Path) -> dict[str, str]:
    """Instance id → server, from the rendered host_vars (empty before the first render)."""
    folder = generated_dir(root) / HOST_VARS
    recorded: dict[str, str] = {}
    if not folder.is_dir():
        return recorded
    for file in sorted(folder.glob("*.yml")):
        try:
            data = load_vars(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            data = None
        ids = recorded_instances(data) if isinstance(data, dict) else None
        if ids is None:
            raise BadInput(
                _(
                    "{path} is not a host_vars file written by `chaton render` (no readable "
                    "chaton_instances): restore it from git or delete it to place its "
                    "instances again",
                    path=str(file),
                )
            )
        for instance in ids:
            if instance in recorded:
                raise BadInput(
                    _(
                        "{path}: {instance} is also recorded on {other}: restore the generated "
                        "files from git",
                        path=str(file),
                        instance=instance,
                        other=recorded[instance],
                    )
                )
            recorded[instance] = file.stem
    return recorded


def plan_inventory(root: Path) -> tuple[Inventory, Plan, dict[str, str]]:
    """The valid inventory, its plan and what was recorded before (raises on bad input)."""
    inventory = load_inventory(root)
    recorded = read_recorded(root)
    return inventory, place(inventory.collective, inventory.structures, recorded), recorded


@dataclass(frozen=True)
class RenderReport:
    """What `render_inventory` did (or, with check, would do). Paths are relative to generated/."""

    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    secrets_created: int
    secrets_unused: tuple[str, ...]
    # With check: the files that are missing, different, or would be removed.
    stale: tuple[str, ...] = field(default=())


def _expected(
    rendered: Rendered, update: SecretsUpdate, password: bytes, secrets_bytes: bytes
) -> dict[str, bytes]:
    wanted = {path: text.encode("utf-8") for path, text in rendered.files.items()}
    if update.changed or not secrets_bytes:
        wanted[SECRETS_FILE] = encrypt_secrets(update.values, password)
    return wanted


def render_inventory(
    root: Path,
    vault_password_file: Path | None = None,
    *,
    check: bool = False,
    local_suffix: str | None = None,
) -> RenderReport:
    """Render `root`'s generated folder (or with `check`, only compare it).

    `local_suffix`: see chaton.render.render (the demo's `localhost` names)."""
    return _render_inventory(root, vault_password_file, check, local_suffix).report


@dataclass(frozen=True)
class CheckedRender:
    """A render made in memory and compared with the generated folder, with what it was made
    from: when its report has nothing stale, `rendered.files` are the files on disk and
    `secrets` the vault's values."""

    inventory: Inventory
    rendered: Rendered
    report: RenderReport
    secrets: Mapping[str, str]


def check_render(
    root: Path, vault_password_file: Path | None = None, *, local_suffix: str | None = None
) -> CheckedRender:
    """`render_inventory(check=True)`, keeping the inventory and the render it made."""
    return _render_inventory(root, vault_password_file, True, local_suffix)


def _render_inventory(
    root: Path, vault_password_file: Path | None, check: bool, local_suffix: str | None
) -> CheckedRender:
    inventory, plan, _recorded = plan_inventory(root)
    rendered = render(inventory, plan, local_suffix=local_suffix)
    password = read_password(password_file(root, vault_password_file))
    out = generated_dir(root)
    secrets_path = out / SECRETS_FILE
    secrets_bytes = secrets_path.read_bytes() if secrets_path.exists() else b""
    update = complete(read_secrets(secrets_path, password), rendered.secrets)
    wanted = _expected(rendered, update, password, secrets_bytes)
    existing = _existing(out)
    written, unchanged = [], []
    if SECRETS_FILE not in wanted:
        unchanged.append(SECRETS_FILE)
    for path, data in wanted.items():
        if path == SECRETS_FILE:
            written.append(path)
        elif existing.get(path) == data:
            unchanged.append(path)
        else:
            written.append(path)
    removed = sorted(
        path for path in existing if path.startswith(f"{HOST_VARS}/") and path not in wanted
    )
    report = RenderReport(
        written=tuple(sorted(written)),
        unchanged=tuple(sorted(unchanged)),
        removed=tuple(removed),
        secrets_created=len(update.created),
        secrets_unused=update.unused,
        stale=tuple(sorted([*written, *removed])) if check else (),
    )
    if not check:
        atomic.write_all(
            {out / path: wanted[path] for path in written},
            remove=[out / path for path in removed],
            modes={out / SECRETS_FILE: 0o600},
        )
    return CheckedRender(inventory, rendered, report, update.values)


def _existing(out: Path) -> Mapping[str, bytes]:
    """The generated files there are now (host_vars and the inventory file), by relative path."""
    found: dict[str, bytes] = {}
    inventory = out / INVENTORY_FILE
    if inventory.is_file():
        found[INVENTORY_FILE] = inventory.read_bytes()
    host_vars = out / HOST_VARS
    if host_vars.is_dir():
        for file in sorted(host_vars.glob("*.yml")):
            found[f"{HOST_VARS}/{file.name}"] = file.read_bytes()
    return found
