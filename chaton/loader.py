"""Reading an inventory: the I/O edge between the operator's YAML files and the pure model.

`check_inventory(root)` reads `collective.yml` and `structures/*.yml`, and returns the models that
are valid together with EVERY error found, in every file, each placed at `file:line:column` with
the dotted path of the field and a message in the operator's language. `load_inventory(root)` is
the same for commands that need a valid inventory: it raises `InvalidInventory` (exit code 2).

Each file is read and parsed with the place of every value by `chaton.yamlsource`; its errors are
put in the operator's words by `chaton.diagnostics`. Here: which files make an inventory, the
models they are validated against, the checks across files (`chaton.validation`), and the names
the inventory's group_vars reserve.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from chaton.diagnostics import LoadError, document_errors, finding_errors, model_errors
from chaton.errors import BadInput
from chaton.i18n import _
from chaton.model import Collective, Structure
from chaton.model.types import Domain, Identifier, show
from chaton.names import RESERVED_MASTODON_USERNAMES, ReservedNames
from chaton.validation import (
    COLLECTIVE_FILE,
    STRUCTURES_DIR,
    StructureKeys,
    structure_document,
    validate,
)
from chaton.yamlsource import (
    MAX_FILE_BYTES,
    ParsedDocument,
    SourceMap,
    UnreadableFile,
    parse_document,
    read_regular_file,
)


@dataclass(frozen=True)
class CheckResult:
    """What `check_inventory` found: the valid models and every error."""

    root: Path
    collective: Collective | None
    # Valid structures by file name (stem); with no errors, stems equal slugs.
    structures: Mapping[str, Structure]
    errors: tuple[LoadError, ...]
    # How many structure files there were, valid or not.
    structure_files: int = 0

    @property
    def valid(self) -> bool:
        return not self.errors and self.collective is not None


@dataclass(frozen=True)
class Inventory:
    """A valid inventory: the collective and its structures by slug."""

    root: Path
    collective: Collective
    structures: Mapping[str, Structure]


class InvalidInventory(BadInput):
    """The inventory has errors; `errors` holds them all."""

    def __init__(self, errors: Iterable[LoadError]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


_M = typing.TypeVar("_M", bound=BaseModel)


def _parse_model(
    model: type[_M], text: str, file: Path
) -> tuple[_M | None, ParsedDocument, list[LoadError]]:
    parsed = parse_document(text)
    errors = document_errors(file, parsed)
    if parsed.data is None:
        return None, parsed, errors
    try:
        instance = model.model_validate(parsed.data)
    except ValidationError as error:
        errors.extend(model_errors(model, error, parsed, file))
        return None, parsed, errors
    except RecursionError:  # pragma: no cover - guarded by MAX_DEPTH
        errors.append(LoadError(file, 1, 1, "", _("the document is nested too deeply")))
        return None, parsed, errors
    # A value that could not be read (bad tag, duplicate key) is an error even if the model,
    # seeing a default or the first occurrence, would accept the document.
    return (None if errors else instance), parsed, errors


def check_texts(
    root: Path,
    collective_text: str | None,
    structure_texts: Mapping[str, str],
    reserved: ReservedNames | None = None,
) -> CheckResult:
    """Check an inventory given as texts: `structure_texts` maps file names (stems) to YAML.
    A `collective_text` of None means collective.yml could not be read (already reported).
    `reserved`: the names the inventory's Ansible variables give the hosting association."""
    errors: list[LoadError] = []
    marks: dict[str, SourceMap] = {}
    collective: Collective | None = None
    if collective_text is not None:
        collective_file = root / COLLECTIVE_FILE
        collective, parsed, found = _parse_model(Collective, collective_text, collective_file)
        errors.extend(found)
        marks[COLLECTIVE_FILE] = parsed.marks
    structures: dict[str, Structure] = {}
    partial: dict[str, StructureKeys] = {}
    for stem in sorted(structure_texts):
        document = structure_document(stem)
        structure, parsed, found = _parse_model(Structure, structure_texts[stem], root / document)
        errors.extend(found)
        marks[document] = parsed.marks
        if structure is not None:
            structures[stem] = structure
        elif parsed.data is not None:
            partial[stem] = _partial_keys(parsed.data)
    findings = validate(collective, structures, partial, reserved)
    errors.extend(finding_errors(root, findings, marks))
    return CheckResult(
        root=root,
        collective=collective,
        structures=structures,
        errors=tuple(_ordered(root, errors)),
        structure_files=len(structure_texts),
    )


_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)
_DOMAIN: TypeAdapter[str] = TypeAdapter(Domain)


def _valid_or_none(adapter: TypeAdapter[str], value: object) -> str | None:
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


def _partial_keys(data: Mapping[str, Any]) -> StructureKeys:
    """The slug, tier, server and domains of an invalid structure that are valid on their own."""
    raw_domains = data.get("domains")
    domains: list[tuple[int, str]] = []
    if isinstance(raw_domains, list):
        for index, value in enumerate(raw_domains):
            domain = _valid_or_none(_DOMAIN, value)
            if domain is not None:
                domains.append((index, domain))
    return StructureKeys(
        slug=_valid_or_none(_IDENTIFIER, data.get("slug")),
        tier=_valid_or_none(_IDENTIFIER, data.get("tier")),
        placement=_valid_or_none(_IDENTIFIER, data.get("placement")),
        domains=tuple(domains),
    )


def _ordered(root: Path, errors: list[LoadError]) -> list[LoadError]:
    collective_file = root / COLLECTIVE_FILE

    def key(error: LoadError) -> tuple[bool, str, int, int, str, str]:
        return (
            error.file != collective_file,
            str(error.file),
            error.line,
            error.column,
            error.path,
            error.message,
        )

    return sorted(set(errors), key=key)


def _read(file: Path, root: Path, errors: list[LoadError]) -> str | None:
    """The text of an inventory file, or None with the reason in `errors`. Refused unread: a
    file that is, or lies in, a link to a place outside the inventory `root` (a structure file
    sent as a link must not make chaton read, and show in its errors, a file of the operator's
    machine), what is not a regular file (a FIFO would block, a device never end), a file over
    MAX_FILE_BYTES (by its size, before reading it)."""

    def refuse(message: str) -> None:
        errors.append(LoadError(file, 1, 1, "", message))

    target = file.resolve()
    if not target.is_relative_to(root.resolve()):
        refuse(
            _(
                "the file leads outside the inventory (to {target}): inventory files must be "
                "in the inventory folder, not links to elsewhere",
                target=show(str(target), limit=240),
            )
        )
        return None
    try:
        data = read_regular_file(target, MAX_FILE_BYTES)
    except UnreadableFile as error:
        refuse(str(error))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        errors.append(LoadError(file, line, column, "", _("the file is not valid UTF-8 text")))
        return None


class _AnsibleVarsLoader(yaml.SafeLoader):
    """Reads an Ansible variables file for plain values: its tags (`!vault`, `!unsafe`) give
    None, never an error."""


_AnsibleVarsLoader.add_multi_constructor("!", lambda _loader, _suffix, _node: None)


def group_vars(root: Path) -> list[dict[str, Any]]:
    """The variables of the inventory's group_vars, file by file as Ansible reads them
    (`group_vars/<group>.yml`, then `group_vars/<group>/*.yml`), plain values only: tags
    (`!vault`, `!unsafe`) read as None. A file YAML cannot read (a vault) is skipped: Ansible
    reports it."""
    folder = root / "group_vars"
    if not folder.is_dir():
        return []
    found: list[dict[str, Any]] = []
    for file in sorted(folder.glob("*.yml")) + sorted(folder.glob("*/*.yml")):
        try:
            data = yaml.load(file.read_text(encoding="utf-8"), Loader=_AnsibleVarsLoader)  # noqa: S506
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(data, dict):
            found.append(data)
    return found


def reserved_names(root: Path) -> ReservedNames:
    """The names the inventory's group_vars give the hosting association: its administrators'
    Unix accounts (`common_admins[].name`) and the Mastodon administrator's account
    (`mastodon_admin_username`, besides the role's default and `admin`)."""
    users: set[str] = set()
    accounts: set[str] = set(RESERVED_MASTODON_USERNAMES)
    for data in group_vars(root):
        admins = data.get("common_admins")
        if isinstance(admins, list):
            users.update(
                admin["name"]
                for admin in admins
                if isinstance(admin, dict) and isinstance(admin.get("name"), str)
            )
        account = data.get("mastodon_admin_username")
        if isinstance(account, str):
            accounts.add(account.lower())
    return ReservedNames(unix_users=frozenset(users), mastodon_accounts=frozenset(accounts))


def check_inventory(root: Path) -> CheckResult:
    """Read and check a whole inventory folder. Raises BadInput when there is no inventory."""
    collective_file = root / COLLECTIVE_FILE
    if not root.is_dir():
        raise BadInput(_("no inventory folder at {path}", path=str(root)))
    if not collective_file.exists():
        raise BadInput(
            _("{path} is missing: an inventory needs a collective.yml", path=str(collective_file))
        )
    read_errors: list[LoadError] = []
    collective_text = _read(collective_file, root, read_errors)
    structure_texts: dict[str, str] = {}
    unreadable = 0
    structures_dir = root / STRUCTURES_DIR
    if structures_dir.is_dir():
        for file in sorted(structures_dir.iterdir()):
            if file.name.startswith(".") or not file.is_file():
                continue
            if file.suffix == ".yaml":
                read_errors.append(
                    LoadError(
                        file,
                        1,
                        1,
                        "",
                        _(
                            "structure files end in .yml: rename it to {name}",
                            name=file.stem + ".yml",
                        ),
                    )
                )
                unreadable += 1
                continue
            if file.suffix != ".yml":
                continue
            text = _read(file, root, read_errors)
            if text is None:
                unreadable += 1
            else:
                structure_texts[file.stem] = text
    result = check_texts(root, collective_text, structure_texts, reserved_names(root))
    if not read_errors:
        return result
    return CheckResult(
        root=result.root,
        collective=result.collective,
        structures=result.structures,
        errors=tuple(_ordered(root, [*read_errors, *result.errors])),
        structure_files=result.structure_files + unreadable,
    )


def load_inventory(root: Path) -> Inventory:
    """A valid inventory, or `InvalidInventory` with every error."""
    result = check_inventory(root)
    if not result.valid or result.collective is None:
        raise InvalidInventory(result.errors)
    return Inventory(root=root, collective=result.collective, structures=dict(result.structures))


def errors_as_json(result: CheckResult) -> str:
    """The check's outcome as JSON for machines."""
    collective = result.collective
    return json.dumps(
        {
            "valid": result.valid,
            "structures": result.structure_files,
            "servers": len(collective.servers) if collective is not None else None,
            "errors": [error.as_dict() for error in result.errors],
        },
        ensure_ascii=False,
        indent=2,
    )
