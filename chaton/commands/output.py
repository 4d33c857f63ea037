"""What several commands print: tables, a playbook run's summary, the cost sheets written, the
checks of a verification. Commands import this module, never each other.

Tables are drawn by `rich` on a terminal; piped or captured, they are plain aligned text, the
same from one version to the next, for scripts (which should prefer `--json`) and tests."""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table

from chaton.costs.formatting import euros
from chaton.costs.model import CostReport
from chaton.errors import ExitCode
from chaton.i18n import _, n_
from chaton.runner import RunResult
from chaton.verify import SERVER_UNITS, Check


def console() -> Console:
    """Where the commands' tables go: standard output, as `print` writes it."""
    return Console(file=sys.stdout, highlight=False)


def print_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    indent: int = 0,
    right: Collection[int] = (),
) -> None:
    """`rows` under `header`, indented by `indent` spaces, the columns numbered in `right`
    aligned to the right: a rich table on a terminal, else columns of plain text two spaces
    apart."""
    out = console()
    if out.is_terminal:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for index, title in enumerate(header):
            table.add_column(title, justify="right" if index in right else "left")
        for row in rows:
            table.add_row(*row)
        out.print(Padding(table, (0, 0, 0, indent)))
        return
    lines = [header, *rows]
    widths = [max(len(line[index]) for line in lines) for index in range(len(header))]
    for line in lines:
        cells = (
            cell.rjust(widths[index]) if index in right else cell.ljust(widths[index])
            for index, cell in enumerate(line)
        )
        print((" " * indent + "  ".join(cells)).rstrip())


def print_summary(result: RunResult, *, as_json: bool = False) -> int:
    """Print a per-host table (or JSON) and return the exit code of the run."""
    code = int(ExitCode.OK if result.succeeded else ExitCode.FAILED)
    if as_json:
        print(
            json.dumps(
                {
                    "status": result.status,
                    "hosts": {h: asdict(s) for h, s in result.hosts.items()},
                    "changed_tasks": result.changed_tasks,
                    "changed_by_structure": result.structure_changes,
                    "failed_tasks": result.failed_tasks,
                    "run_dir": str(result.run_dir),
                },
                indent=2,
            )
        )
        return code
    print_table(
        (_("host"), "ok", _("changed"), _("failed"), _("unreachable"), _("skipped")),
        [
            (h, str(s.ok), str(s.changed), str(s.failures), str(s.unreachable), str(s.skipped))
            for h, s in result.hosts.items()
        ],
    )
    for host, task in result.changed_tasks:
        print(_("  changed on {host}: {task}", host=host, task=task))
    print_structure_changes(result.structure_changes)
    for host, task, message in result.failed_tasks:
        print(_("  failed on {host}: {task}: {message}", host=host, task=task, message=message))
    if result.output_tail:
        print(result.output_tail)
    verdict = _("succeeded") if result.succeeded else _("FAILED")
    print(
        n_(
            "Run {verdict}: {changed} changed task. Logs: {run_dir}",
            "Run {verdict}: {changed} changed tasks. Logs: {run_dir}",
            result.changed,
            verdict=verdict,
            changed=result.changed,
            run_dir=result.run_dir,
        )
    )
    return code


def print_structure_changes(table: Mapping[str, Mapping[str, int]]) -> None:
    """What changed, per host and per structure ("(server)": its own, shared pieces)."""
    if not any(table.values()):
        return
    print(_("Changed tasks per structure:"))
    print_table(
        (_("host"), _("structure"), _("changed")),
        [
            (host, structure or _("(server)"), str(count))
            for host, row in sorted(table.items())
            for structure, count in sorted(row.items())
        ],
        indent=2,
    )


def print_written(report: CostReport, files: list[Path], out: Path) -> None:
    """The period's totals and where the sheets were written."""
    print(
        _(
            "{period}: total cost {total}, billed {billed}, volunteer time {volunteer}, "
            "solidarity balance {balance}",
            period=report.period.label,
            total=euros(report.total_cost),
            billed=euros(report.billed_total),
            volunteer=euros(report.volunteer_value),
            balance=euros(report.solidarity_balance),
        )
    )
    print(
        n_(
            "wrote {count} file in {path}",
            "wrote {count} files in {path}",
            len(files),
            path=str(out),
        )
    )


def print_checks(checks: list[Check]) -> None:
    """The checks of `chaton verify`, one line each (and the release a check found)."""
    for check in checks:
        result = _("ok") if check.ok else _("FAILED: {problem}", problem=check.problem)
        days = "    -" if check.certificate_days is None else f"{check.certificate_days:>4}d"
        structure = _(SERVER_UNITS) if check.structure == SERVER_UNITS else check.structure
        print(
            f"{check.server:<12} {structure:<18} {check.name:<36} "
            f"{check.status or '-':<4} {days}  {result}"
        )
        if check.release:
            release = _("release: {release}", release=check.release)
            print(f"{'':<12} {'':<18} {release}")
