"""Fixtures for the render tests: a writable example inventory with a vault password."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chaton.secrets import PASSWORD_ENV

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "example"
PASSWORD = "test-vault-password-not-a-real-one"  # noqa: S105 - the tests' own vault


@pytest.fixture(autouse=True)
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages in English whatever the machine's locale; no vault password from outside."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANGUAGE", "en")
    monkeypatch.delenv(PASSWORD_ENV, raising=False)


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    """A writable copy of the example inventory (no generated files), with a vault password."""
    root = tmp_path / "inventory"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("generated", "hosts.yml"))
    (root / "generated").mkdir()
    password = root / "generated" / ".vault-password"
    password.write_text(PASSWORD + "\n", encoding="utf-8")
    password.chmod(0o600)
    return root
