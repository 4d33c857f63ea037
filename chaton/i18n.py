"""Messages in the operator's language: English by default, French with LANG=fr_*.

The catalogues are gettext's. Babel extracts the messages of the code and of the cost sheets'
templates (`babel.cfg`) into the template `chaton/locale/chaton.pot`, and each language's
translations are in `chaton/locale/<lang>/LC_MESSAGES/chaton.po`, edited with the usual tools
(`make messages` re-extracts the template and updates the .po files; `make lint` checks them
with `msgfmt --check`). A message missing from a catalogue, untranslated or fuzzy, is shown in
English.

The .po file is read at run time (Babel's `read_po`, once per language and process) and wrapped
as gettext translations (`babel.support.Translations`), rather than compiled to a .mo file:
a fresh clone, an editable install and a wheel all work with no build step and no generated
file to keep in step with its source, and a translator sees an edit on the next run. Reading
it costs a few milliseconds per command.

The code marks its messages for extraction by calling, with literal English text:
`_(message)`, `n_(singular, plural, count)` for a message about a number of things, `N_()` and
`Nn_()` for a message stored in a table and translated later by `_()` or `n_()`. The checks'
`fail()`, `Finding(…, template)` and `problem(…, template)` are extracted too.
"""

from __future__ import annotations

import gettext
import os
from functools import cache
from importlib import resources
from io import BytesIO
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

SUPPORTED = ("en", "fr")
DOMAIN = "chaton"


def current_language() -> str:
    """The language the environment asks for, as gettext reads it (LANGUAGE, LC_ALL, LANG…)."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            code = value.split(":")[0].split(".")[0].split("_")[0].lower()
            return code if code in SUPPORTED else "en"
    return "en"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The gettext translations of `lang`, read from its .po file (English: none)."""
    if lang == "en":
        return gettext.NullTranslations()
    po = resources.files("chaton").joinpath("locale", lang, "LC_MESSAGES", f"{DOMAIN}.po")
    with po.open("rb") as source:
        catalog = read_po(source, locale=lang, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # leaves the fuzzy entries out, as msgfmt does
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def _(message: str, /, lang: str | None = None, **values: Any) -> str:
    """Translate `message` and fill its `{placeholders}` from `values`."""
    text = translations(lang or current_language()).gettext(message)
    return text.format(**values) if values else text


def n_(singular: str, plural: str, count: int, /, lang: str | None = None, **values: Any) -> str:
    """Translate the form of `singular`/`plural` that `count` takes in the language (French:
    0 and 1 are singular) and fill its `{placeholders}` from `values` and `{count}`."""
    text = translations(lang or current_language()).ngettext(singular, plural, count)
    return text.format(count=count, **values)


def N_(message: str, /) -> str:  # noqa: N802 - gettext's name for it
    """Mark `message` for extraction; it is translated later by `_()`."""
    return message


def Nn_(singular: str, plural: str, /) -> tuple[str, str]:  # noqa: N802 - as N_
    """Mark a singular/plural pair for extraction; it is translated later by `n_()`."""
    return singular, plural
