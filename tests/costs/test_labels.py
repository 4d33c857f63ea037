"""The French sheets are in French (every message's translation is checked by
tests/test_i18n.py)."""

from __future__ import annotations

from chaton.costs.labels import texts


def test_the_labels_differ_in_french() -> None:
    english, french = texts("en"), texts("fr")
    assert english.keys() == french.keys()
    assert french["fair_share"] == "Juste part des coûts"
    same = {key for key in english if english[key] == french[key]}
    assert same <= {
        "structures_sheet",
        "sheet_structures",
        "structure",
        "total",
        "pue",
        "status_active",
    }
