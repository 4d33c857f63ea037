"""Reading a run's results from ansible-runner's stats, and the progress display."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from support import ROOT

from chaton.runner import HostStats, Progress, RunResult, _rotate, hosts_from_stats, run_playbook


def test_hosts_from_runner_stats() -> None:
    stats = {
        "ok": {"a": 10, "b": 3},
        "changed": {"a": 2},
        "dark": {"b": 1},
        "failures": {},
        "skipped": {"a": 1},
        "processed": {"a": 1, "b": 1, "c": 1},
    }
    hosts = hosts_from_stats(stats)
    assert list(hosts) == ["a", "b", "c"]
    assert hosts["a"] == HostStats(ok=10, changed=2, skipped=1)
    assert hosts["b"] == HostStats(ok=3, unreachable=1)
    assert hosts["c"] == HostStats()
    assert hosts_from_stats(None) == {}


def test_result_success_needs_every_host() -> None:
    ok = RunResult("successful", 0, {"a": HostStats(ok=3, changed=1)})
    assert ok.succeeded and ok.changed == 1
    dark = RunResult("failed", 4, {"a": HostStats(ok=3), "b": HostStats(unreachable=1)})
    assert not dark.succeeded


def test_progress_counts_and_records() -> None:
    out = io.StringIO()
    progress = Progress(out)
    events = [
        {"event": "playbook_on_play_start", "event_data": {"play": "Base"}},
        {"event": "playbook_on_task_start", "event_data": {"task": "Install"}},
        {
            "event": "runner_on_ok",
            "event_data": {"host": "a", "task": "Install", "res": {"changed": True}},
        },
        {"event": "runner_on_ok", "event_data": {"host": "b", "task": "Install", "res": {}}},
        {
            "event": "runner_on_failed",
            "event_data": {"host": "b", "task": "Install", "res": {"msg": "boom"}},
        },
        {
            "event": "runner_on_failed",
            "event_data": {"host": "a", "ignore_errors": True, "res": {}},
        },
        {"event": "runner_on_unreachable", "event_data": {"host": "c", "res": {"msg": "gone"}}},
    ]
    for event in events:
        assert progress(event) is True
    assert progress.counts == {"ok": 1, "changed": 1, "failed": 1, "unreachable": 1}
    assert progress.changed_tasks == [("a", "Install")]
    # An event without a task name is the current task.
    assert progress.failed_tasks == [("b", "Install", "boom"), ("c", "Install", "gone")]
    text = out.getvalue()
    assert (
        "play: Base" in text and "FAILED b: Install: boom" in text and "UNREACHABLE c: gone" in text
    )


def test_rotation_keeps_the_newest_runs_and_nothing_else(tmp_path: Path) -> None:
    names = [f"2026112{day}T120000.000000Z" for day in range(5)]
    for name in names:
        (tmp_path / name / "artifacts").mkdir(parents=True)
        (tmp_path / name / "artifacts" / "stdout").write_text("…")
    (tmp_path / "costs").mkdir()  # another command's output beside the runs
    _rotate(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [*names[-2:], "costs"]


def test_the_roles_reports_reach_the_operator(tmp_path: Path) -> None:
    """A real run: each message of a `debug` task is shown as it comes, a loop's item by item;
    a hidden task's and one meant for a higher verbosity are not."""
    hosts = tmp_path / "hosts.yml"
    hosts.write_text(
        "all:\n  hosts:\n    h1:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n"
    )
    out = io.StringIO()
    result = run_playbook(
        ROOT / "tests" / "runner_fixtures" / "notes_play.yml",
        hosts,
        progress=Progress(out),
        runs_dir=tmp_path / "runs",
        fact_cache=tmp_path / "facts",
    )
    assert result.succeeded, result.output_tail
    lines = [line.strip() for line in out.getvalue().splitlines() if line.startswith("  h1: ")]
    assert lines == [
        "h1: nextcloud/alpha (alpha) is no longer listed: it is kept",
        "h1: list infos is kept",
        "h1: list bureau is kept",
        "h1: first line",
        "h1: second line",
    ]
    assert "canary" not in out.getvalue()
