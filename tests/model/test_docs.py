"""The schema documentation shows the example as it is, and names every field of the models."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from chaton import model

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "docs" / "schema.md", ROOT / "docs" / "schema.fr.md"]
EXAMPLE = ROOT / "inventories" / "example"


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_the_full_example_is_the_real_one(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for name in ("collective.yml", "structures/velo-cite.yml", "structures/epicerie-coop.yml"):
        assert (EXAMPLE / name).read_text(encoding="utf-8") in text, name


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_field_is_documented(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    models = [m for m in vars(model).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    missing = sorted(
        f"{m.__name__}.{field}"
        for m in models
        for field in m.model_fields
        if not re.search(
            rf"\b{re.escape(field)}\b",
            text.split("## Full example")[0].split("## Exemple complet")[0],
        )
    )
    assert missing == []
