"""The commands' tables (chaton/commands/output.py): drawn by rich on a terminal, plain aligned
columns when captured or piped."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from chaton.commands import output

HEADER = ("host", "ok", "changed")
ROWS = [("fabrique-1", "120", "3"), ("b", "7", "12")]


def test_captured_the_columns_are_plain_text_two_spaces_apart(
    capsys: pytest.CaptureFixture[str],
) -> None:
    output.print_table(HEADER, ROWS, indent=2, right={1, 2})
    # By hand: widths 10 ("fabrique-1"), 3 ("120"), 7 ("changed"); ok and changed to the right.
    assert capsys.readouterr().out.splitlines() == [
        "  host         ok  changed",
        "  fabrique-1  120        3",
        "  b             7       12",
    ]


def test_on_a_terminal_rich_draws_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()

    def terminal() -> Console:
        """A test double of the commands' console: a terminal 60 columns wide, no colour."""
        return Console(file=screen, force_terminal=True, width=60, color_system=None)

    monkeypatch.setattr(output, "console", terminal)
    output.print_table(HEADER, ROWS, indent=2, right={1, 2})
    lines = screen.getvalue().splitlines()
    # A rule under the header (SIMPLE_HEAD), then the rows; the indent is kept.
    assert any(set(line.strip()) == {"─"} for line in lines), lines
    row = next(line for line in lines if "fabrique-1" in line)
    assert row.startswith("  ") and row.split() == ["fabrique-1", "120", "3"]
    # Right-aligned: the numbers of a column end at the same place.
    other = next(line for line in lines if line.split()[:1] == ["b"])
    assert row.rstrip().endswith("3") and other.rstrip().endswith("12")
    assert len(row.rstrip()) == len(other.rstrip())
