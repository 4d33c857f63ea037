"""Run the project's playbooks through ansible-runner's Python API.

One private data folder per run under `runs/` (ignored by git, rotated), no environment files
written, event data omitted except for failures, results read from `runner.stats`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import ansible_runner

from chaton.attribution import StructureIndex, event_values
from chaton.i18n import _
from chaton.paths import CONTAINERS_CONF, PROJECT_ROOT

RUNS_DIR = PROJECT_ROOT / "runs"
# Where the facts of each host are cached between runs (ansible.cfg's fact_caching_connection).
FACT_CACHE = PROJECT_ROOT / ".cache" / "ansible-facts"
# Events written to a run's folder; the others (and their data) are only shown, never kept.
KEPT_EVENTS = frozenset({"runner_on_failed", "runner_on_unreachable", "playbook_on_stats", "error"})
KEEP_RUNS = 20
RUN_NAME = re.compile(r"\d{8}T\d{6}\.\d{6}Z")
# HostStats field -> key of ansible-runner's `stats` (unreachable hosts are "dark" there).
RUNNER_STAT_KEYS = {
    "ok": "ok",
    "changed": "changed",
    "failures": "failures",
    "unreachable": "dark",
    "skipped": "skipped",
    "rescued": "rescued",
    "ignored": "ignored",
}


@dataclass
class HostStats:
    ok: int = 0
    changed: int = 0
    failures: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0


@dataclass
class RunResult:
    """What a run did, from Ansible's own stats."""

    status: str
    rc: int
    hosts: dict[str, HostStats]
    changed_tasks: list[tuple[str, str]] = field(default_factory=list)
    # {host: {structure slug, or "" for the server's own pieces: changed tasks}}
    structure_changes: dict[str, dict[str, int]] = field(default_factory=dict)
    failed_tasks: list[tuple[str, str, str]] = field(default_factory=list)
    run_dir: Path | None = None
    # The end of Ansible's output, kept when the run failed before any task could.
    output_tail: str = ""

    @property
    def changed(self) -> int:
        return sum(h.changed for h in self.hosts.values())

    @property
    def succeeded(self) -> bool:
        return self.rc == 0 and all(
            h.failures == 0 and h.unreachable == 0 for h in self.hosts.values()
        )


def hosts_from_stats(stats: Mapping[str, Mapping[str, int]] | None) -> dict[str, HostStats]:
    """Turn ansible-runner's stats ({"ok": {host: n}, "dark": {...}, …}) into per-host rows."""
    stats = stats or {}
    hosts = {host: HostStats() for host in stats.get("processed", {}) or {}}
    for field_name, key in RUNNER_STAT_KEYS.items():
        for host, count in (stats.get(key) or {}).items():
            setattr(hosts.setdefault(host, HostStats()), field_name, int(count))
    return dict(sorted(hosts.items()))


# The tasks whose messages are shown: the roles' reports to the operator.
NOTE_ACTIONS = frozenset({"debug", "ansible.builtin.debug", "ansible.legacy.debug"})


class Progress:
    """Live progress of a run: current play and task, and the counts so far."""

    def __init__(
        self, stream: TextIO = sys.stderr, indexes: Mapping[str, StructureIndex] | None = None
    ) -> None:
        self.stream = stream
        # Each host's instances, to tell whose a change is (chaton.attribution).
        self.indexes = dict(indexes or {})
        # (host, task, structure or "") of every change, a loop's items one by one.
        self.changes: set[tuple[str, str, str]] = set()
        self.live = stream.isatty()
        self.play = ""
        self.task = ""
        self.counts = {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0}
        self.changed_tasks: list[tuple[str, str]] = []
        self.failed_tasks: list[tuple[str, str, str]] = []

    def __call__(self, event: dict[str, Any]) -> bool:
        name = event.get("event", "")
        data = event.get("event_data", {}) or {}
        host = str(data.get("host", ""))
        if name == "playbook_on_play_start":
            self.play = str(data.get("play", ""))
            self._line(_("play: {play}", play=self.play))
        elif name == "playbook_on_task_start":
            self.task = str(data.get("task", ""))
            self._status()
        elif name == "runner_on_ok":
            changed = bool((data.get("res") or {}).get("changed", False)) or bool(
                data.get("changed")
            )
            self.counts["changed" if changed else "ok"] += 1
            if changed:
                self.changed_tasks.append((host, str(data.get("task", self.task))))
                result = data.get("res") or {}
                if "results" not in result:  # a loop's items were counted one by one
                    self._attribute(host, str(data.get("task", self.task)), result)
            self._note(host, data)
            self._status()
        elif name == "runner_item_on_ok":
            result = data.get("res") or {}
            if result.get("changed"):
                self._attribute(host, str(data.get("task", self.task)), result)
            self._note(host, data)
        elif name == "runner_on_failed" and not data.get("ignore_errors"):
            self.counts["failed"] += 1
            message = str((data.get("res") or {}).get("msg", ""))
            self.failed_tasks.append((host, str(data.get("task", self.task)), message))
            self._line(
                _("FAILED {host}: {task}: {message}", host=host, task=self.task, message=message)
            )
        elif name == "runner_on_unreachable":
            self.counts["unreachable"] += 1
            message = str((data.get("res") or {}).get("msg", ""))
            self.failed_tasks.append((host, str(data.get("task", self.task)), message))
            self._line(_("UNREACHABLE {host}: {message}", host=host, message=message))
        return True

    def _note(self, host: str, data: Mapping[str, Any]) -> None:
        """What a `debug` task of the roles says to the operator (a vhost disabled, an instance
        kept, a server not backed up), one line per message; a loop's, item by item. A `no_log`
        task's result holds no message."""
        if data.get("task_action") not in NOTE_ACTIONS:
            return
        result = data.get("res") or {}
        message = result.get("msg")
        if message is None or "results" in result:
            return
        for line in message if isinstance(message, list) else [message]:
            self._line(_("  {host}: {message}", host=host, message=str(line)))

    def _attribute(self, host: str, task: str, result: Mapping[str, Any]) -> None:
        index = self.indexes.get(host)
        structure = index.structure_of(event_values(result)) if index else None
        self.changes.add((host, task, structure or ""))

    def structure_changes(self) -> dict[str, dict[str, int]]:
        """{host: {structure or "": changed tasks}}: a task counts once per structure it
        changed something for."""
        table: dict[str, dict[str, int]] = {}
        for host, _task, structure in sorted(self.changes):
            row = table.setdefault(host, {})
            row[structure] = row.get(structure, 0) + 1
        return table

    def _status(self) -> None:
        if not self.live:
            return
        c = self.counts
        text = _(
            "  {task} — ok {ok}, changed {changed}, failed {failed}",
            task=self.task[:60],
            ok=c["ok"],
            changed=c["changed"],
            failed=c["failed"] + c["unreachable"],
        )
        self.stream.write("\r\033[K" + text)
        self.stream.flush()

    def _line(self, text: str) -> None:
        if self.live:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()


def ansible_env(*, accelerator: bool = True) -> dict[str, str]:
    """Environment of an Ansible run: the project's ansible.cfg and containers.conf."""
    env = {
        "ANSIBLE_CONFIG": str(PROJECT_ROOT / "ansible.cfg"),
        "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", str(CONTAINERS_CONF)),
        "ANSIBLE_FORCE_COLOR": "false",
        # ansible-runner turns host key checking off unless told: keep Ansible's default (on).
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        # The Ansible installed beside chaton, even when its virtualenv is not activated.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    if not accelerator:
        env["ANSIBLE_STRATEGY"] = "linear"
    return env


def run_playbook(
    playbook: Path,
    inventory: Path | list[Path],
    *,
    limit: str | None = None,
    check: bool = False,
    diff: bool = False,
    accelerator: bool = True,
    progress: Callable[[dict[str, Any]], bool] | None = None,
    runs_dir: Path = RUNS_DIR,
    quiet: bool = True,
    env: Mapping[str, str] | None = None,
    fact_cache: Path = FACT_CACHE,
    extra_args: Sequence[str] = (),
    indexes: Mapping[str, StructureIndex] | None = None,
) -> RunResult:
    """Run `playbook` against `inventory` and return what happened."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    run_dir = runs_dir / stamp
    run_dir.mkdir()
    inventories = inventory if isinstance(inventory, list) else [inventory]
    cmdline = list(extra_args)
    if check:
        cmdline.append("--check")
    if diff:
        cmdline.append("--diff")
    tracker = progress or Progress(indexes=indexes)

    def handle(event: dict[str, Any]) -> bool:
        tracker(event)
        return str(event.get("event", "")) in KEPT_EVENTS

    kwargs: dict[str, Any] = {
        "private_data_dir": str(run_dir),
        "playbook": str(playbook.resolve()),
        "inventory": [str(p.resolve()) for p in inventories],
        "envvars": {**ansible_env(accelerator=accelerator), **(env or {})},
        "suppress_env_files": True,
        # The handler sees every event in full (for the progress display) and decides which
        # are written to the run folder: failures and the final stats only.
        "omit_event_data": False,
        "only_failed_event_data": False,
        "rotate_artifacts": KEEP_RUNS,
        "quiet": quiet,
        "event_handler": handle,
        "project_dir": str(PROJECT_ROOT),
        # Facts kept between runs (ansible.cfg: gathering = smart), not per run folder.
        "fact_cache": str(fact_cache.resolve()),
    }
    if limit:
        kwargs["limit"] = limit
    if cmdline:
        kwargs["cmdline"] = shlex.join(cmdline)
    runner = ansible_runner.run(**kwargs)
    if isinstance(tracker, Progress):
        tracker.close()
    _rotate(runs_dir)
    tail = ""
    if runner.rc != 0 and not getattr(tracker, "failed_tasks", []):
        tail = "\n".join(runner.stdout.read().splitlines()[-15:])
    return RunResult(
        status=str(runner.status),
        rc=int(runner.rc if runner.rc is not None else 1),
        hosts=hosts_from_stats(runner.stats),
        changed_tasks=list(getattr(tracker, "changed_tasks", [])),
        structure_changes=tracker.structure_changes() if isinstance(tracker, Progress) else {},
        failed_tasks=list(getattr(tracker, "failed_tasks", [])),
        run_dir=run_dir,
        output_tail=tail,
    )


def _rotate(runs_dir: Path, keep: int = KEEP_RUNS) -> None:
    """Keep the newest `keep` run folders (named by their start time); nothing else is touched."""
    runs = sorted(p for p in runs_dir.iterdir() if p.is_dir() and RUN_NAME.fullmatch(p.name))
    for old in runs[:-keep]:
        shutil.rmtree(old)
