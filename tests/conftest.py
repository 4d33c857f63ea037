"""Fixtures every test folder shares: the messages' language, a writable example inventory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chaton.generated import render_inventory
from chaton.paths import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "inventories" / "example"


@pytest.fixture
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages in English whatever the machine's locale."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANGUAGE", "en")


@pytest.fixture
def french(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages in French, chosen the way an operator's session does (LANG=fr_FR.UTF-8)."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    """A writable copy of the example inventory (collective and structures only)."""
    root = tmp_path / "inventory"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("generated", "hosts.yml"))
    return root


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    """The example inventory rendered into a temporary folder."""
    root = tmp_path / "example"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("generated"))
    password = tmp_path / "vault-password"
    password.write_text("test-rendered-password\n")
    render_inventory(root, password)
    return root
