"""No-op rerun of the base playbook on one test host: accelerator (Mitogen) against Ansible's
standard strategy through the podman connection plugin.

    .venv/bin/python benchmarks/connection.py [--runs 3]

Starts a Debian 12 test host (chaton-bench-connection), converges the site once, then times
`--runs` no-op reruns each way, alternating, and prints the median times and their ratio. Both
ways use the project's ansible.cfg (pipelining, fact cache); only the strategy differs.
Compare the ratio, measured in one run on one machine, not the absolute times.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from chaton import containers
from chaton.paths import PROJECT_ROOT
from chaton.runner import run_playbook

SITE = PROJECT_ROOT / "playbooks" / "site.yml"
EXAMPLE = PROJECT_ROOT / "inventories" / "example"
HOST = containers.TestHost(name="chaton-bench-connection", hostname="fabrique-1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, containers.running(HOST):
        root = Path(tmp)
        data = yaml.safe_load((EXAMPLE / "hosts.yml").read_text())
        data["all"]["children"]["chaton_servers"]["hosts"]["fabrique-1"]["ansible_host"] = HOST.name
        (root / "hosts.yml").write_text(yaml.safe_dump(data))
        (root / "group_vars").symlink_to(EXAMPLE / "group_vars")
        first = run_playbook(
            SITE, root / "hosts.yml", runs_dir=root / "runs", fact_cache=root / "facts"
        )
        if not first.succeeded:
            print("the first converge failed:", first.failed_tasks or first.output_tail)
            return 1
        times: dict[str, list[float]] = {"accelerator": [], "standard": []}
        for _ in range(args.runs):
            for way in times:
                start = time.monotonic()
                result = run_playbook(
                    SITE,
                    root / "hosts.yml",
                    runs_dir=root / "runs",
                    fact_cache=root / "facts",
                    accelerator=way == "accelerator",
                )
                times[way].append(time.monotonic() - start)
                if not result.succeeded or result.changed:
                    print(f"{way}: the rerun was not a clean no-op: {result.changed_tasks}")
                    return 1
    fast = statistics.median(times["accelerator"])
    slow = statistics.median(times["standard"])
    print(f"no-op rerun of playbooks/site.yml, {args.runs} runs each, median wall time:")
    print(f"  Mitogen accelerator (mitogen_linear, podman) : {fast:6.1f} s")
    print(f"  standard (linear, podman connection plugin)  : {slow:6.1f} s")
    print(f"  ratio standard / accelerator                 : {slow / fast:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
