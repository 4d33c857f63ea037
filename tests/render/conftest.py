"""Fixtures for the render tests: a writable example inventory with a vault password."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaton.vault import PASSWORD_ENV

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "example"
PASSWORD = "test-vault-password-not-a-real-one"  # noqa: S105 - the tests' own vault


@pytest.fixture(autouse=True)
def english(english: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages in English (tests/conftest.py); no vault password from outside."""
    monkeypatch.delenv(PASSWORD_ENV, raising=False)


@pytest.fixture
def inventory(inventory: Path) -> Path:
    """The writable example inventory (tests/conftest.py), with a vault password."""
    root = inventory
    (root / "generated").mkdir()
    password = root / "generated" / ".vault-password"
    password.write_text(PASSWORD + "\n", encoding="utf-8")
    password.chmod(0o600)
    return root
