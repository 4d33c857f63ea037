"""Helpers shared by the cost tests: where the inventories are, where artifacts go, and a skip
marker for programs the tests need."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chaton.paths import PROJECT_ROOT

WORKED = Path(__file__).resolve().parent / "worked"
EXAMPLE = PROJECT_ROOT / "inventories" / "example"
ARTIFACTS = PROJECT_ROOT / "runs" / "artifacts"


def needs(tool: str) -> pytest.MarkDecorator:
    """Skip, saying why, when a program the test needs is not installed."""
    return pytest.mark.skipif(
        shutil.which(tool) is None,
        reason=f"{tool} is not installed (the bootstrap installs it: see docs/costs.md)",
    )
