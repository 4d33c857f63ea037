"""Fixtures every test folder shares: the messages' language, a writable example inventory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import STEP_TIMES

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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Where each molecule scenario's time went, step by step (slowest scenario first): what to
    look at when the suite nears its time budget."""
    rows = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            steps = dict(getattr(report, "user_properties", ())).get(STEP_TIMES)
            if steps:
                name = report.nodeid.partition("[")[2].rstrip("]") or report.nodeid
                rows.append((sum(steps.values()), name, steps))
    if not rows:
        return
    terminalreporter.section("molecule steps, seconds")
    for total, name, steps in sorted(rows, key=lambda row: row[0], reverse=True):
        parts = ", ".join(f"{step} {seconds:.0f}" for step, seconds in steps.items())
        terminalreporter.write_line(f"{name:<24} {total:6.0f}  {parts}")
