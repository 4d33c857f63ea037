"""Write a play run's stats as JSON, for tests that judge a run by Ansible's own numbers.

Enabled in ansible.cfg; it writes only when CHATON_STATS_FILE names a file. The file holds
`{"hosts": {HOST: {"ok": N, "changed": N, "failures": N, "unreachable": N, "skipped": N,
"rescued": N, "ignored": N}}, "changed_tasks": [[HOST, TASK NAME], ...]}`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: chaton_stats
type: aggregate
short_description: write the run's per-host stats and changed tasks as JSON
description:
  - Writes per-host stats and the list of changed tasks to the file named by CHATON_STATS_FILE.
requirements:
  - enabled in ansible.cfg (callbacks_enabled)
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "chaton_stats"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._changed: list[list[str]] = []

    def v2_runner_on_ok(self, result: Any) -> None:
        if result._result.get("changed", False):
            self._changed.append([result._host.get_name(), result._task.get_name()])

    def v2_playbook_on_stats(self, stats: Any) -> None:
        path = os.environ.get("CHATON_STATS_FILE")
        if not path:
            return
        hosts = {}
        for host in sorted(stats.processed):
            summary = stats.summarize(host)
            hosts[host] = {key: int(value) for key, value in summary.items()}
        with Path(path).open("w", encoding="utf-8") as stream:
            json.dump({"hosts": hosts, "changed_tasks": self._changed}, stream, indent=2)
