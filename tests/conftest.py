"""Fixtures every test folder shares: the messages' language, a writable example inventory (with
its vault password or without), no vault password from outside."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest
from support import STEP_TIMES, VAULT_PASSWORD

from chaton.generated import render_inventory
from chaton.paths import PROJECT_ROOT
from chaton.vault import PASSWORD_ENV

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
def vault_inventory(inventory: Path) -> Path:
    """The writable example inventory (`inventory`), with its vault password where `chaton
    render` looks for it: generated/.vault-password (support.VAULT_PASSWORD, mode 0600)."""
    password = inventory / "generated" / ".vault-password"
    password.parent.mkdir()
    password.write_text(VAULT_PASSWORD + "\n", encoding="utf-8")
    password.chmod(0o600)
    return inventory


@pytest.fixture
def no_outside_vault_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """No vault password from the machine's environment (CHATON_VAULT_PASSWORD_FILE unset): the
    test finds only the password it wrote itself."""
    monkeypatch.delenv(PASSWORD_ENV, raising=False)


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


# Seconds each role scenario took in one `make test` here (2026-12-07 at 5129c90, alone on the
# machine, two workers, the linters beside; its "molecule steps, seconds" table). Only used to
# order the tests (the collection hook below passes them to `spread`); nothing asserts them.
SCENARIO_SECONDS = {
    "mastodon": 867,
    "mailman": 805,
    "nextcloud": 761,
    "backup": 498,
    "website": 303,
    "acme": 195,
    "postgresql": 163,
    "opendkim": 160,
    "nginx": 148,
    "common": 147,
    "postfix": 141,
    "php_fpm": 106,
    "firewall": 103,
    "sshd": 89,
    "redis": 86,
    "instance_accounts": 85,
}
# A scenario not measured yet still counts as a slow one.
UNMEASURED_SCENARIO_SECONDS = 200


def expected_seconds(item: pytest.Item, seconds: Mapping[str, float], unmeasured: float) -> float:
    """What a test is expected to take, for ordering: a role scenario's time in `seconds`, or
    `unmeasured` if it has none there; 0 for any other test."""
    if getattr(item, "originalname", None) != "test_role_scenario":
        return 0
    role = item.callspec.params.get("role", "") if hasattr(item, "callspec") else ""
    return seconds.get(role, unmeasured)


def spread(
    items: list[pytest.Item], workers: int, *, seconds: Mapping[str, float], unmeasured: float
) -> list[pytest.Item]:
    """The tests in the order that finishes soonest on `workers` pytest-xdist workers, a role
    scenario expected to take its time in `seconds` (`unmeasured` if it has none there).

    xdist's `worksteal` gives each worker a contiguous part of the collection, nearly equal in
    number (worker k: len // (workers - k) of what is left), then moves tests from a busy
    worker's queue to an idle one. So each part starts with its share of the slow tests, the
    slowest first, shared out longest first to the least loaded part; the quick tests fill the
    parts in their own order, and stealing evens out the end."""

    def expected(item: pytest.Item) -> float:
        return expected_seconds(item, seconds, unmeasured)

    sizes = []
    remaining = len(items)
    for k in range(workers):
        sizes.append(remaining // (workers - k))
        remaining -= sizes[-1]
    slow = sorted((i for i in items if expected(i) > 0), key=expected, reverse=True)
    quick = iter(i for i in items if expected(i) == 0)
    parts: list[list[pytest.Item]] = [[] for _ in range(workers)]
    loads = [0.0] * workers
    for item in slow:
        k = min((k for k in range(workers) if len(parts[k]) < sizes[k]), key=lambda k: loads[k])
        parts[k].append(item)
        loads[k] += expected(item)
    for k, part in enumerate(parts):
        part.extend(next(quick) for _ in range(sizes[k] - len(part)))
    return [item for part in parts for item in part]


@pytest.hookimpl(trylast=True)  # after the deselection by -m and -k
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    items[:] = spread(
        items, max(workers, 1), seconds=SCENARIO_SECONDS, unmeasured=UNMEASURED_SCENARIO_SECONDS
    )
