"""Messages in the operator's language: English by default, French with LANG=fr_*.

Catalogues are YAML files in `chaton/locale/` mapping an English message (the key used
in the code) to its translation. A message missing from a catalogue falls back to English.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from typing import Any

import yaml

SUPPORTED = ("en", "fr")


def current_language() -> str:
    """The language the environment asks for, as gettext reads it (LANGUAGE, LC_ALL, LANG…)."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            code = value.split(":")[0].split(".")[0].split("_")[0].lower()
            return code if code in SUPPORTED else "en"
    return "en"


@cache
def _catalogue(lang: str) -> dict[str, str]:
    if lang == "en":
        return {}
    text = resources.files("chaton").joinpath("locale", f"{lang}.yml").read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise TypeError(f"locale/{lang}.yml must be a mapping")
    return {str(k): str(v) for k, v in data.items()}


def _(message: str, /, lang: str | None = None, **values: Any) -> str:
    """Translate `message` and fill its `{placeholders}` from `values`."""
    text = _catalogue(lang or current_language()).get(message, message)
    return text.format(**values) if values else text
