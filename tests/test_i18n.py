"""The gettext catalogues: Babel's extraction of the messages (the code and the cost sheets'
templates, babel.cfg) is the committed template chaton/locale/chaton.pot, every message has a
French translation with the same placeholders, and `_()`/`n_()` read them."""

from __future__ import annotations

import ast
import re
import shlex
import string
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from chaton.i18n import _, n_

ROOT = Path(__file__).resolve().parents[1]
POT = ROOT / "chaton" / "locale" / "chaton.pot"
PO = ROOT / "chaton" / "locale" / "fr" / "LC_MESSAGES" / "chaton.po"
PYBABEL = Path(sys.executable).parent / "pybabel"


def _extract_options() -> list[str]:
    """The options of the Makefile's `make messages` extraction (its EXTRACT_OPTIONS)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    found = re.search(r"^EXTRACT_OPTIONS := ((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    assert found, "the Makefile has no EXTRACT_OPTIONS"
    return shlex.split(found.group(1).replace("\\\n", " ").replace("\\#", "#"))


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The template as `make messages` extracts it now."""
    out = tmp_path_factory.mktemp("pot") / "chaton.pot"
    subprocess.run(
        [str(PYBABEL), "-q", "extract", *_extract_options(), "-o", str(out), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return out.read_text(encoding="utf-8")


def _catalog(text: str) -> Catalog:
    return read_po(BytesIO(text.encode("utf-8")))


def _without_date(text: str) -> str:
    return re.sub(r'^"POT-Creation-Date: .*"$', "", text, flags=re.MULTILINE)


FRENCH = read_po(PO.open("rb"))


def _messages(catalog: Catalog) -> dict[str | tuple[str, ...], Message]:
    return {message.id: message for message in catalog if message.id}


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_the_template_is_up_to_date(extracted: str) -> None:
    """Run `make messages` when this fails (then translate what it added to the .po files)."""
    assert _without_date(extracted) == _without_date(POT.read_text(encoding="utf-8"))


def test_the_extraction_finds_the_messages(extracted: str) -> None:
    messages = _messages(_catalog(extracted))
    assert "this field is required" in messages  # N_(): the loader's table of pydantic errors
    assert "unknown tier {value}; the collective's tiers are: {known}" in messages  # Finding()
    assert "duplicate key {key}: it is already set on line {line}" in messages  # problem()
    assert ("{count} server", "{count} servers") in messages  # n_()
    assert "templates/costs/structure.html.j2" in {
        path for path, _ in messages["What you pay"].locations
    }
    assert len(messages) > 600


def test_babel_sees_every_translated_call() -> None:
    """Every `_()`/`n_()` of the package with literal text is in the template (Babel does not
    look inside an f-string: write the message out of it)."""
    template = _messages(read_po(POT.open("rb")))
    ids = {part for key in template for part in ((key,) if isinstance(key, str) else key)}
    for source in sorted((ROOT / "chaton").rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("_", "n_", "N_", "Nn_")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                where = f"{source.relative_to(ROOT)}:{node.lineno}"
                assert node.args[0].value in ids, f"not extracted: {where}"


def test_the_french_catalogue_has_the_template_s_messages_and_no_others() -> None:
    template = _messages(read_po(POT.open("rb")))
    assert set(_messages(FRENCH)) == set(template)
    assert not FRENCH.obsolete
    assert FRENCH.plural_forms == "nplurals=2; plural=(n > 1);"


# Messages whose French is the English (checked by hand).
SAME_IN_FRENCH = frozenset(
    {"PUE", "Structure", "Structures", "Total", "active", "instance", "structure", "true/false"}
    | {("{count} structure", "{count} structures")}
)


@pytest.mark.parametrize("message", [m for m in FRENCH if m.id], ids=lambda m: str(m.id)[:80])
def test_french_translation_exists_with_the_same_placeholders(message: Message) -> None:
    assert not message.fuzzy, f"fuzzy: {message.id}"
    english = message.id if isinstance(message.id, tuple) else (message.id,)
    french = message.string if isinstance(message.string, tuple) else (message.string,)
    assert all(french), f"no French for: {message.id}"
    assert french != english or message.id in SAME_IN_FRENCH
    # French has two forms, as English: the singular (0 and 1) and the plural.
    assert len(french) == len(english)
    for form, text in zip(english, french, strict=True):
        assert _fields(text) == _fields(form), text


def test_messages_are_translated_and_filled() -> None:
    assert _("this field is required", lang="fr") == "ce champ est obligatoire"
    assert _("this field is required", lang="en") == "this field is required"
    assert _("no such message {x}", lang="fr", x=1) == "no such message 1"  # English fallback
    assert _("unknown field {field} (allowed here: {allowed})", lang="fr", field="a", allowed="b")
    assert _("{x} {{literal}}") == "{x} {{literal}}"  # no values: the message as it is


@pytest.mark.parametrize(
    ("count", "english", "french"),
    [
        (0, "0 servers", "0 serveur"),
        (1, "1 server", "1 serveur"),
        (2, "2 servers", "2 serveurs"),
    ],
)
def test_plural_forms(count: int, english: str, french: str) -> None:
    assert n_("{count} server", "{count} servers", count, lang="en") == english
    assert n_("{count} server", "{count} servers", count, lang="fr") == french
    assert (
        n_("not {count} thing {x}", "not {count} things {x}", count, lang="fr", x="!")
        == f"not {count} thing{'s' if count != 1 else ''} !"
    )


def test_the_language_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    assert n_("{count} server", "{count} servers", 2) == "2 serveurs"
    assert _("this field is required", lang="en") == "this field is required"
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    assert _("this field is required") == "this field is required"
