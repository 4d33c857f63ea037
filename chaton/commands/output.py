"""What several commands print: a playbook run's summary, the cost sheets written, the checks
of a verification. Commands import this module, never each other."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from chaton.costs.formatting import euros
from chaton.costs.model import CostReport
from chaton.errors import ExitCode
from chaton.i18n import _
from chaton.runner import RunResult
from chaton.verify import SERVER_UNITS, Check


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
    header = (_("host"), "ok", _("changed"), _("failed"), _("unreachable"), _("skipped"))
    rows = [header] + [
        (h, str(s.ok), str(s.changed), str(s.failures), str(s.unreachable), str(s.skipped))
        for h, s in result.hosts.items()
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    for host, task in result.changed_tasks:
        print(_("  changed on {host}: {task}", host=host, task=task))
    print_structure_changes(result.structure_changes)
    for host, task, message in result.failed_tasks:
        print(_("  failed on {host}: {task}: {message}", host=host, task=task, message=message))
    if result.output_tail:
        print(result.output_tail)
    verdict = _("succeeded") if result.succeeded else _("FAILED")
    print(
        _(
            "Run {verdict}: {changed} changed task(s). Logs: {run_dir}",
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
    header = (_("host"), _("structure"), _("changed"))
    rows = [header] + [
        (host, structure or _("(server)"), str(count))
        for host, row in sorted(table.items())
        for structure, count in sorted(row.items())
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


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
    print(_("wrote {count} files in {path}", count=len(files), path=str(out)))


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
            print(f"{'':<12} {'':<18} {_('release: {release}', release=check.release)}")
