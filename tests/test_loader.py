"""The YAML edge: positions, refusals a plain safe_load would not make, limits, reading files."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from chaton.errors import BadInput, ExitCode
from chaton.loader import (
    CheckResult,
    InvalidInventory,
    check_inventory,
    check_texts,
    load_inventory,
)
from chaton.yamlsource import MAX_FILE_BYTES, parse_document

pytestmark = pytest.mark.usefixtures("english")

STRUCTURE = """\
name: Zèbre
slug: zz-case
contacts:
  - name: Zoé
    email: zoe@zebre.fr
tier: member
domains: [zebre.fr]
"""


def test_positions_of_keys_and_values() -> None:
    parsed = parse_document(STRUCTURE)
    assert parsed.problems == []
    # 0-based, as PyYAML counts; `locate` turns them into 1-based positions.
    assert parsed.marks.keys[("tier",)] == (5, 0)
    assert parsed.marks.values[("tier",)] == (5, 6)
    assert parsed.marks.values[("contacts", 0, "email")] == (4, 11)
    assert parsed.marks.values[("domains", 0)] == (6, 10)
    assert parsed.marks.locate(("tier",)) == (6, 7)
    assert parsed.marks.locate(("tier",), at_key=True) == (6, 1)
    # A path that does not exist falls back to its nearest parent's key.
    assert parsed.marks.locate(("contacts", 0, "role")) == (4, 5)
    assert parsed.marks.locate(("services", "nextcloud")) == (1, 1)


def test_values_are_plain_data() -> None:
    parsed = parse_document(STRUCTURE)
    assert parsed.data == {
        "name": "Zèbre",
        "slug": "zz-case",
        "contacts": [{"name": "Zoé", "email": "zoe@zebre.fr"}],
        "tier": "member",
        "domains": ["zebre.fr"],
    }


def test_anchors_and_aliases_are_followed() -> None:
    parsed = parse_document("a: &x [1, 2]\nb: *x\n")
    assert parsed.data == {"a": [1, 2], "b": [1, 2]}


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    parsed = parse_document("\n".join(lines) + "\n")
    assert parsed.data is None
    assert [p.message for p in parsed.problems] == [
        "the document is too large (too many values or aliases)"
    ]


def test_recursive_alias_is_refused() -> None:
    parsed = parse_document("a: &x\n  b: *x\n")
    assert parsed.data is None
    assert parsed.problems[0].message == "the document is nested too deeply"


def test_deep_nesting_is_refused() -> None:
    parsed = parse_document("a: " + "[" * 60 + "]" * 60 + "\n")
    assert parsed.data is None
    assert parsed.problems[0].message == "the document is nested too deeply"


def test_control_character_is_placed() -> None:
    parsed = parse_document("name: ok\nslug: a\x07b\n")
    assert parsed.data is None
    (problem,) = parsed.problems
    assert (problem.line, problem.column) == (2, 8)
    assert "character YAML does not allow" in problem.message


def test_byte_order_mark_is_accepted(inventory: Path) -> None:
    file = inventory / "structures" / "zz-case.yml"
    file.write_bytes(b"\xef\xbb\xbf" + STRUCTURE.encode("utf-8"))
    result = check_inventory(inventory)
    assert result.errors == ()
    assert "zz-case" in result.structures


def test_every_file_is_checked_not_just_the_first(inventory: Path) -> None:
    (inventory / "structures" / "aa-first.yml").write_text("name: [\n", encoding="utf-8")
    (inventory / "structures" / "zz-last.yml").write_text("- a list\n", encoding="utf-8")
    (inventory / "collective.yml").write_text(
        (inventory / "collective.yml").read_text(encoding="utf-8") + "colour: green\n",
        encoding="utf-8",
    )
    files = {error.file.name for error in check_inventory(inventory).errors}
    assert files == {"collective.yml", "aa-first.yml", "zz-last.yml"}


def test_errors_are_ordered_collective_first_then_by_file_and_line(inventory: Path) -> None:
    (inventory / "structures" / "aa-first.yml").write_text(
        STRUCTURE.replace("zz-case", "aa-first")
        .replace("domains: [zebre.fr]", "status: gone")
        .replace("zoe@zebre.fr", "zoe"),
        encoding="utf-8",
    )
    collective = inventory / "collective.yml"
    text = collective.read_text(encoding="utf-8")
    collective.write_text(text + "colour: green\n", encoding="utf-8")
    errors = check_inventory(inventory).errors
    assert [(e.file.name, e.line, e.path) for e in errors] == [
        ("collective.yml", len(text.splitlines()) + 1, "colour"),
        ("aa-first.yml", 5, "contacts[0].email"),
        ("aa-first.yml", 7, "status"),
    ]


def test_missing_inventory_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as caught:
        check_inventory(tmp_path / "nowhere")
    assert caught.value.code == ExitCode.BAD_INPUT
    with pytest.raises(BadInput, match=r"collective\.yml"):
        check_inventory(tmp_path)


def test_load_inventory_raises_with_every_error(inventory: Path) -> None:
    (inventory / "structures" / "zz-case.yml").write_text(
        STRUCTURE.replace("member", "gold").replace("zoe@zebre.fr", "zoe"), encoding="utf-8"
    )
    with pytest.raises(InvalidInventory) as caught:
        load_inventory(inventory)
    assert caught.value.code == ExitCode.BAD_INPUT
    assert len(caught.value.errors) == 2
    assert str(caught.value).count("zz-case.yml:") == 2


def test_load_inventory_gives_structures_by_slug(inventory: Path) -> None:
    loaded = load_inventory(inventory)
    assert set(loaded.structures) == {p.stem for p in (inventory / "structures").glob("*.yml")}


def test_invalid_collective_still_checks_structures() -> None:
    result = check_texts(
        Path("inv"), "name: [\n", {"zz-case": STRUCTURE.replace("member", "gold") + "status: x\n"}
    )
    first, second = result.errors
    assert str(first).startswith("inv/collective.yml:2:1: the YAML syntax is broken here: ")
    # The structure's own errors are reported; its tier cannot be checked without a collective.
    assert str(second) == (
        "inv/structures/zz-case.yml:8:9: status: must be one of: 'active', 'suspended', 'leaving'"
    )
    assert result.collective is None
    assert not result.valid


def test_hostile_free_text_is_accepted_as_is(inventory: Path) -> None:
    hostile = "{{ lookup('pipe','id') }} {% raw %} !unsafe <script>"
    text = (
        STRUCTURE.replace("name: Zèbre", f'name: "{hostile}"').replace(
            "name: Zoé", 'name: "{% endraw %}{{ 7*7 }}"'
        )
        + 'services:\n  lists:\n    - name: info\n      description: "{{ x }}"\n'
        "      owners: [zoe@zebre.fr]\n"
    )
    (inventory / "structures" / "zz-case.yml").write_text(text, encoding="utf-8")
    result = check_inventory(inventory)
    assert result.errors == ()
    structure = result.structures["zz-case"]
    assert structure.name == hostile
    assert structure.contacts[0].name == "{% endraw %}{{ 7*7 }}"
    assert structure.services.lists[0].description == "{{ x }}"


def in_thread(work: Callable[[], object], seconds: float) -> object:
    """What `work` returns, or a failure when it has not returned within `seconds` (the thread
    is a daemon: a read that blocks does not hold the test run)."""
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(work()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert done, f"still running after {seconds} s"
    return done[0]


def test_a_structure_file_that_links_out_of_the_inventory_is_refused_unread(
    inventory: Path, tmp_path: Path
) -> None:
    # A structure sends its file as a link to a file of the operator's machine: here one that
    # would load as a valid structure (so that before the fix it was taken as one).
    outside = tmp_path / "elsewhere" / "secret.yml"
    outside.parent.mkdir()
    outside.write_text(STRUCTURE.replace("Zèbre", "Secret de l'opérateur"), encoding="utf-8")
    (inventory / "structures" / "zz-case.yml").symlink_to(outside)
    result = check_inventory(inventory)
    assert [(e.file.name, e.message) for e in result.errors] == [
        (
            "zz-case.yml",
            f"the file leads outside the inventory (to {str(outside)!r}): inventory files "
            "must be in the inventory folder, not links to elsewhere",
        )
    ]
    assert "zz-case" not in result.structures
    # A link out of the inventory anywhere on the way counts too: the structures folder itself.
    moved = tmp_path / "structures-elsewhere"
    (inventory / "structures").rename(moved)
    (inventory / "structures").symlink_to(moved)
    (moved / "zz-case.yml").unlink()
    errors = check_inventory(inventory).errors
    assert errors and all("leads outside the inventory" in e.message for e in errors)


def test_a_link_that_stays_in_the_inventory_is_read(inventory: Path) -> None:
    kept = inventory / "kept"
    kept.mkdir()
    (kept / "zz-case.yml").write_text(STRUCTURE, encoding="utf-8")
    (inventory / "structures" / "zz-case.yml").symlink_to(Path("..") / "kept" / "zz-case.yml")
    result = check_inventory(inventory)
    assert result.errors == ()
    assert result.structures["zz-case"].name == "Zèbre"


def test_a_collective_file_that_is_a_fifo_is_refused_at_once(inventory: Path) -> None:
    collective = inventory / "collective.yml"
    collective.unlink()
    os.mkfifo(collective)
    result = in_thread(lambda: check_inventory(inventory), 10)
    assert isinstance(result, CheckResult)
    assert [(e.file.name, e.message) for e in result.errors] == [
        ("collective.yml", "the file is not a regular file")
    ]


def test_a_huge_file_is_refused_by_its_size_without_being_read(inventory: Path) -> None:
    # 64 GiB, sparse: reading it whole is what must not happen.
    huge = inventory / "structures" / "zz-case.yml"
    with huge.open("wb") as stream:
        stream.truncate(64 * 1024**3)
    result = in_thread(lambda: check_inventory(inventory), 10)
    assert isinstance(result, CheckResult)
    assert [(e.file.name, e.message) for e in result.errors] == [
        ("zz-case.yml", f"the file is too large (more than {MAX_FILE_BYTES} bytes)")
    ]
