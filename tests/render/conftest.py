"""Fixtures for the render's contract tests: English messages, no vault password from outside."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "example"


@pytest.fixture(autouse=True)
def english(english: None, no_outside_vault_password: None) -> None:
    """Messages in English (tests/conftest.py); no vault password from outside."""
