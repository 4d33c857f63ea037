"""Benchmark: what each additional idle Nextcloud instance costs in memory on one host.

    .venv/bin/python benchmarks/nextcloud_memory.py [--keep]

Starts a Debian 12 test host (chaton-bench-nextcloud, removed at the end even on failure unless
--keep), builds the test suite's test release of Nextcloud into a temporary artifact cache, and
deploys 1, then 5, then 10 instances on the same host (instances added, not a new host each time)
with the real roles, in the order of the site's Nextcloud play (benchmarks/nextcloud_memory.yml).
The variables for N instances are generated here. After each deployment every instance is loaded
once over HTTPS through the host's nginx (so its pool spawns a worker) and must answer as itself;
then, once no PHP-FPM worker is left (the pools' idle timeout), the memory of every process of the
host is read inside it as PSS (`Pss` of /proc/<pid>/smaps_rollup), in total and per group:
PHP-FPM (master and pools), each Redis, PostgreSQL, nginx, everything else; after a CHECKPOINT
of PostgreSQL, so that its shared buffers count the same way at each step (see measure()).

Printed and written to runs/benchmarks/nextcloud_memory.json: the totals for 1, 5 and 10
instances, the cost of an extra instance, (total(5) - total(1)) / 4 and (total(10) - total(1)) / 9,
and which group grows; the same less PostgreSQL's shared memory (its shared_buffers filling up:
a ceiling, not a cost per instance). 1 MB here is 1 MiB (1,024 kB of smaps_rollup). The
instances run the TEST RELEASE of Nextcloud (tests/nextcloud_test_release), not Nextcloud: see
NOTE below. No assertion on the figures: they are printed, never judged by a test.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from chaton import containers
from chaton.errors import ChatonError
from chaton.paths import PROJECT_ROOT
from chaton.runner import run_playbook

HOST = containers.TestHost(name="chaton-bench-nextcloud")
PLAYBOOK = Path(__file__).resolve().with_suffix(".yml")
BUILD = PROJECT_ROOT / "tests" / "nextcloud_test_release" / "build.py"
OUTPUT = PROJECT_ROOT / "runs" / "benchmarks" / "nextcloud_memory.json"
VERSION = "31.0.0"
COUNTS = (1, 5, 10)
PRODUCT_NAME = "Nextcloud test release"
# The pools end their workers php_fpm_process_idle_timeout (10 s) after their last request.
IDLE_WAIT = 120.0
SAMPLES = 3
SAMPLE_INTERVAL = 2.0
TARGET_MB = 20
SETTINGS: dict[str, Any] = {
    "nextcloud_version": VERSION,
    "postgresql_memory_mb": 256,
    # A podman test host cannot give Redis's units their user namespace (roles/redis/README.md).
    "redis_private_users_enabled": False,
}
NOTE = (
    "The instances run the TEST RELEASE of Nextcloud (tests/nextcloud_test_release), not "
    "Nextcloud. Their idle cost comes from what is real here: each instance's PHP-FPM pool, "
    "Redis, database, vhost and systemd units, and what they add to PostgreSQL, nginx and "
    "systemd. An idle real Nextcloud has no process of its own either with ondemand pools, but "
    "its first requests warm a much bigger (shared) OPcache than the test release's few scripts."
)
GROUPS = ("php-fpm", "redis", "postgresql", "nginx", "other")

# Run inside the host (python3 of the image): every process but itself, as JSON.
PROBE = r"""
import json, os, pwd
me = os.getpid()
rows = []
for entry in os.listdir("/proc"):
    if not entry.isdigit() or int(entry) == me:
        continue
    base = "/proc/" + entry
    try:
        with open(base + "/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        with open(base + "/comm") as f:
            comm = f.read().strip()
        with open(base + "/status") as f:
            uid = next(int(l.split()[2]) for l in f if l.startswith("Uid:"))
        kb = {}
        with open(base + "/smaps_rollup") as f:
            for line in f:
                key, _sep, rest = line.partition(":")
                parts = rest.split()
                if len(parts) == 2 and parts[1] == "kB":
                    kb[key] = int(parts[0])
    except (FileNotFoundError, ProcessLookupError):
        continue
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    rows.append({
        "pid": int(entry), "user": user, "comm": comm, "cmdline": cmdline,
        "pss_kb": kb.get("Pss", 0), "rss_kb": kb.get("Rss", 0),
        "uss_kb": kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0),
        "shmem_kb": kb.get("Pss_Shmem", 0),
        "file_kb": kb.get("Pss_File", 0),
    })
print(json.dumps(rows))
"""


class BenchmarkError(Exception):
    """The benchmark could not measure what it should: the reason is its message."""


@dataclass(frozen=True)
class Process:
    pid: int
    user: str
    comm: str
    cmdline: str
    pss_kb: int
    rss_kb: int
    uss_kb: int
    shmem_kb: int
    file_kb: int

    @property
    def group(self) -> str:
        if self.cmdline.startswith("php-fpm"):
            return "php-fpm"
        if self.comm == "redis-server":
            return "redis"
        if self.comm == "postgres":
            return "postgresql"
        if self.comm == "nginx":
            return "nginx"
        return "other"

    @property
    def busy_php(self) -> bool:
        """A pool's worker, or PHP on the command line (occ, a background jobs run)."""
        if self.cmdline.startswith("php-fpm: pool "):
            return True
        return self.comm.startswith("php") and not self.cmdline.startswith("php-fpm")


@dataclass
class Measurement:
    instances: int
    deploy_seconds: float
    idle_wait_seconds: float
    processes: int
    total_mb: float
    rss_mb: float
    uss_mb: float
    shmem_mb: float
    # Files' pages (binaries, libraries): shared with every process that maps them, in other
    # containers of the same image too, so this part moves when they start or stop.
    file_mb: float
    groups_mb: dict[str, float]
    groups_shmem_mb: dict[str, float]
    group_processes: dict[str, int]
    redis_mb: dict[str, float]
    other_mb: dict[str, float]
    samples_total_mb: list[float]
    # The total less PostgreSQL's shared memory (its shared_buffers as they fill up).
    total_without_postgresql_shmem_mb: float
    postgresql_shared_buffers: str
    # PostgreSQL before the CHECKPOINT measure() asks for, and its checkpoints until then.
    before_checkpoint_total_mb: float
    before_checkpoint_postgresql_mb: float
    checkpoints_before: dict[str, int]


def by_number(item: tuple[str, float]) -> tuple[int, str]:
    """nextcloud-i2 before nextcloud-i10."""
    return len(item[0]), item[0]


def mb(kb: float) -> float:
    return round(kb / 1024, 2)


def name_of(index: int) -> str:
    return f"i{index}"


def test_secrets(count: int) -> dict[str, str]:
    """Throwaway secrets of the benchmark's instances (the host is removed at the end)."""
    found: dict[str, str] = {}
    for index in range(1, count + 1):
        name = name_of(index)
        for purpose in ("admin_password", "db_password", "redis_password", "secret"):
            found[f"nextcloud/{name}/{purpose}"] = secrets.token_urlsafe(24)
        found[f"nextcloud/{name}/passwordsalt"] = secrets.token_urlsafe(30)
        found[f"nextcloud/{name}/instanceid"] = "oc" + secrets.token_hex(5)
    return found


def deployment_vars(count: int, vault: dict[str, str]) -> dict[str, Any]:
    """The variables of `count` instances, as `chaton render` writes them."""
    names = [name_of(index) for index in range(1, count + 1)]
    keys = ("admin_password", "db_password", "redis_password", "secret", "passwordsalt")

    def secret_keys(name: str, *purposes: str) -> dict[str, str]:
        return {purpose: f"nextcloud/{name}/{purpose}" for purpose in purposes}

    return {
        **SETTINGS,
        "chaton_secrets": {
            key: value
            for key, value in vault.items()
            if key.split("/")[1] in names  # nextcloud/<name>/<purpose>
        },
        "nextcloud_instances": [
            {
                "name": name,
                "structure": name,
                "structure_name": f"Instance {name}",
                "enabled": True,
                "domain": f"cloud.{name}.example",
                "user": f"nextcloud-{name}",
                "home": f"/srv/nextcloud/{name}",
                "max_accounts": 10,
                "quota_gb": 20,
                "admin_email": f"admin@{name}.example",
                "database": f"nextcloud_{name}",
                "redis": f"nextcloud-{name}",
                "php_fpm_pool": f"nextcloud-{name}",
                "secrets": secret_keys(name, *keys, "instanceid"),
            }
            for name in names
        ],
        "postgresql_databases": [
            {
                "name": f"nextcloud_{name}",
                "owner": f"nextcloud_{name}",
                "instance": f"nextcloud/{name}",
                "secrets": {"password": f"nextcloud/{name}/db_password"},
            }
            for name in names
        ],
        "redis_instances": [
            {
                "name": f"nextcloud-{name}",
                "user": f"nextcloud-{name}",
                "instance": f"nextcloud/{name}",
                "secrets": {"password": f"nextcloud/{name}/redis_password"},
            }
            for name in names
        ],
        "php_fpm_pools": [
            {
                "name": f"nextcloud-{name}",
                "user": f"nextcloud-{name}",
                "instance": f"nextcloud/{name}",
                "home": f"/srv/nextcloud/{name}",
                "listen": f"/run/php/nextcloud-{name}.sock",
                "extra_paths": ["/opt/nextcloud/releases"],
                "env": {"NEXTCLOUD_CONFIG_DIR": f"/srv/nextcloud/{name}/config/"},
            }
            for name in names
        ],
        "nginx_vhosts": [
            {
                "name": f"nextcloud-{name}",
                "kind": "nextcloud",
                "instance": name,
                "structure": name,
                "server_names": [f"cloud.{name}.example"],
                "enabled": True,
                "upstream": f"unix:/run/php/nextcloud-{name}.sock",
            }
            for name in names
        ],
    }


def build_test_release(artifacts: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(BUILD), VERSION, str(artifacts)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BenchmarkError(f"building the test release failed: {result.stderr.strip()}")


def deploy(count: int, vault: dict[str, str], root: Path) -> float:
    """Converge `count` instances on the host; returns the seconds it took."""
    vars_file = root / f"instances-{count}.yml"
    vars_file.write_text(yaml.safe_dump(deployment_vars(count, vault), sort_keys=False))
    start = time.monotonic()
    result = run_playbook(
        PLAYBOOK,
        root / "hosts.yml",
        runs_dir=root / "runs",
        fact_cache=root / "facts",
        env={"CHATON_ARTIFACTS_DIR": str(root / "artifacts")},
        extra_args=["--extra-vars", f"@{vars_file}"],
    )
    if not result.succeeded:
        raise BenchmarkError(
            f"the deployment of {count} instances failed: "
            f"{result.failed_tasks or result.output_tail}"
        )
    return time.monotonic() - start


def load_each(count: int, vault: dict[str, str]) -> None:
    """One HTTPS request per instance through the host's nginx; each must answer as itself."""
    for index in range(1, count + 1):
        name = name_of(index)
        domain = f"cloud.{name}.example"
        answer = containers.exec_in(
            HOST.name,
            "curl",
            "-sk",
            "--max-time",
            "30",
            "--resolve",
            f"{domain}:443:127.0.0.1",
            f"https://{domain}/index.php?format=json",
            check=False,
        )
        try:
            page = json.loads(answer.stdout)
        except json.JSONDecodeError:
            page = {}
        expected = {
            "productname": PRODUCT_NAME,
            "instanceid": vault[f"nextcloud/{name}/instanceid"],
            "config_dir": f"/srv/nextcloud/{name}/config/",
            "unix_user": f"nextcloud-{name}",
        }
        wrong = {key: page.get(key) for key, value in expected.items() if page.get(key) != value}
        db_ok = (page.get("db") or {}).get("ok") is True
        redis_ok = (page.get("redis") or {}).get("ok") is True
        if answer.returncode != 0 or wrong or not db_ok or not redis_ok:
            raise BenchmarkError(
                f"{domain} did not answer as instance {name} (curl exit {answer.returncode}): "
                f"{wrong or answer.stdout[-500:] or answer.stderr[-500:]}"
            )


def processes() -> list[Process]:
    """Every process of the host, read inside it (a file it cannot read stops the benchmark)."""
    result = containers.exec_in(HOST.name, "python3", "-c", PROBE)
    return [Process(**row) for row in json.loads(result.stdout)]


def wait_idle() -> float:
    """Wait (bounded) until no pool worker and no PHP command is left; returns the seconds."""
    start = time.monotonic()
    while True:
        busy = [p for p in processes() if p.busy_php]
        if not busy:
            return time.monotonic() - start
        if time.monotonic() - start > IDLE_WAIT:
            raise BenchmarkError(
                f"PHP still running after {IDLE_WAIT:.0f} s: "
                + "; ".join(f"{p.pid} {p.cmdline}" for p in busy)
            )
        time.sleep(1)


def psql(query: str) -> str:
    """A query as PostgreSQL's superuser, inside the host (peer authentication)."""
    result = containers.exec_in(
        HOST.name, "runuser", "-u", "postgres", "--", "psql", "-qAtc", query
    )
    return result.stdout.strip()


def measure(count: int, deploy_seconds: float, idle_seconds: float) -> Measurement:
    """The idle host, after a CHECKPOINT: SAMPLES readings, the one with the median total kept.

    PSS counts a page of shared memory only in the processes that have touched it. The buffers
    PostgreSQL's backends dirtied while the roles created databases count nowhere once those
    backends have ended, until the checkpointer writes them (a timed checkpoint, every 5 minutes
    when something was written): without a CHECKPOINT first, PostgreSQL's figure would depend on
    how long ago the last one ran. The reading before it is kept too.
    """
    before = processes()
    shared_buffers = psql("SHOW shared_buffers")
    timed, requested = psql(
        "SELECT checkpoints_timed || ' ' || checkpoints_req FROM pg_stat_bgwriter"
    ).split()
    psql("CHECKPOINT")
    samples: list[list[Process]] = []
    for sample in range(SAMPLES):
        if sample:
            time.sleep(SAMPLE_INTERVAL)
        found = processes()
        if any(p.busy_php for p in found):
            raise BenchmarkError("PHP started again during the measurement")
        samples.append(found)
    totals = [sum(p.pss_kb for p in found) for found in samples]
    kept = samples[totals.index(statistics.median_low(totals))]
    groups: dict[str, float] = dict.fromkeys(GROUPS, 0.0)
    shmem: dict[str, float] = dict.fromkeys(GROUPS, 0.0)
    counts: dict[str, int] = dict.fromkeys(GROUPS, 0)
    redis: dict[str, float] = defaultdict(float)
    other: dict[str, float] = defaultdict(float)
    for p in kept:
        groups[p.group] += p.pss_kb
        shmem[p.group] += p.shmem_kb
        counts[p.group] += 1
        if p.group == "redis":
            redis[p.user] += p.pss_kb
        elif p.group == "other":
            other[p.comm] += p.pss_kb
    return Measurement(
        instances=count,
        deploy_seconds=round(deploy_seconds, 1),
        idle_wait_seconds=round(idle_seconds, 1),
        processes=len(kept),
        total_mb=mb(sum(p.pss_kb for p in kept)),
        rss_mb=mb(sum(p.rss_kb for p in kept)),
        uss_mb=mb(sum(p.uss_kb for p in kept)),
        shmem_mb=mb(sum(p.shmem_kb for p in kept)),
        file_mb=mb(sum(p.file_kb for p in kept)),
        groups_mb={group: mb(kb) for group, kb in groups.items()},
        groups_shmem_mb={group: mb(kb) for group, kb in shmem.items()},
        group_processes=counts,
        redis_mb={user: mb(kb) for user, kb in sorted(redis.items(), key=by_number)},
        other_mb={comm: mb(kb) for comm, kb in sorted(other.items(), key=lambda i: -i[1])},
        samples_total_mb=[mb(total) for total in totals],
        total_without_postgresql_shmem_mb=mb(sum(p.pss_kb for p in kept) - shmem["postgresql"]),
        postgresql_shared_buffers=shared_buffers,
        before_checkpoint_total_mb=mb(sum(p.pss_kb for p in before)),
        before_checkpoint_postgresql_mb=mb(
            sum(p.pss_kb for p in before if p.group == "postgresql")
        ),
        checkpoints_before={"timed": int(timed), "requested": int(requested)},
    )


def per_extra(first: Measurement, later: Measurement) -> dict[str, float]:
    """What one more instance costs, from two measurements: total and per group, in MB."""
    extra = later.instances - first.instances

    def each(before: float, after: float) -> float:
        return round((after - before) / extra, 2) or 0.0  # no "-0.00"

    found = {group: each(first.groups_mb[group], later.groups_mb[group]) for group in GROUPS}
    found["total"] = each(first.total_mb, later.total_mb)
    found["shmem"] = each(first.shmem_mb, later.shmem_mb)
    found["file"] = each(first.file_mb, later.file_mb)
    found["total_without_postgresql_shmem"] = each(
        first.total_without_postgresql_shmem_mb, later.total_without_postgresql_shmem_mb
    )
    return found


def report(results: list[Measurement], seconds: float) -> dict[str, Any]:
    by_count = {m.instances: m for m in results}
    first = by_count[COUNTS[0]]
    extras = {
        f"{m.instances}_vs_{first.instances}": per_extra(first, m)
        for m in results
        if m.instances != first.instances
    }
    return {
        "benchmark": "nextcloud_memory",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "note": NOTE,
        "release": f"{PRODUCT_NAME} {VERSION} (tests/nextcloud_test_release), not Nextcloud",
        "unit": "MB = MiB (1,024 kB of /proc/<pid>/smaps_rollup); PSS unless named otherwise",
        "settings": SETTINGS,
        "target_mb_per_extra_instance": TARGET_MB,
        "measurements": [asdict(m) for m in results],
        "per_extra_instance_mb": extras,
        "duration_seconds": round(seconds, 1),
    }


def print_table(data: dict[str, Any]) -> None:
    results: list[dict[str, Any]] = data["measurements"]
    extras: dict[str, dict[str, float]] = data["per_extra_instance_mb"]
    heads = [f"{m['instances']} inst." for m in results] + [
        f"+1 ({key.replace('_vs_', ' vs ')})" for key in extras
    ]

    def row(label: str, values: list[Any], extra_key: str = "", digits: int = 1) -> None:
        cells = [f"{value:>14.{digits}f}" if digits else f"{value:>14}" for value in values]
        if extra_key:
            cells += [f"{extra[extra_key]:>14.2f}" for extra in extras.values()]
        print(f"  {label:<22}" + "".join(cells))

    print()
    print(NOTE)
    print()
    print("Idle memory of the whole host, PSS in MB (MiB), after a CHECKPOINT, median of 3:")
    print(f"  {'group':<22}" + "".join(f"{head:>14}" for head in heads))
    for group in GROUPS:
        row(group, [m["groups_mb"][group] for m in results], group)
    row("total", [m["total_mb"] for m in results], "total")
    row("  of which shmem", [m["shmem_mb"] for m in results], "shmem")
    row("  of which files", [m["file_mb"] for m in results], "file")
    row(
        "total less PG shmem",
        [m["total_without_postgresql_shmem_mb"] for m in results],
        "total_without_postgresql_shmem",
    )
    row("PG shmem", [m["groups_shmem_mb"]["postgresql"] for m in results])
    row("total, no CHECKPOINT", [m["before_checkpoint_total_mb"] for m in results])
    row("postgresql, no CHECKP.", [m["before_checkpoint_postgresql_mb"] for m in results])
    row("timed checkpoints", [m["checkpoints_before"]["timed"] for m in results], digits=0)
    row("RSS total", [m["rss_mb"] for m in results])
    row("USS total", [m["uss_mb"] for m in results])
    row("processes", [m["processes"] for m in results], digits=0)
    last = results[-1]
    print(
        f"  each Redis at {last['instances']} instances: "
        + ", ".join(f"{user} {value:.1f}" for user, value in last["redis_mb"].items())
    )
    top = list(last["other_mb"].items())[:6]
    print(
        f"  largest of 'other' at {last['instances']}: "
        + ", ".join(f"{comm} {value:.1f}" for comm, value in top)
    )
    print()
    for key, extra in extras.items():
        growth = sorted(GROUPS, key=lambda group: -extra[group])
        shares = ", ".join(f"{group} {extra[group]:.2f}" for group in growth)
        print(f"  per extra instance ({key.replace('_vs_', ' vs ')}): {extra['total']:.2f} MB")
        print(f"    by group, largest first: {shares}")
        print(
            f"    less PostgreSQL's shared memory: {extra['total_without_postgresql_shmem']:.2f} MB"
        )
    print(
        f"  PostgreSQL's shared memory grows as its shared_buffers "
        f"({last['postgresql_shared_buffers']}: postgresql_memory_mb / 4) fill up, with the "
        "blocks each CREATE DATABASE copies: a fixed ceiling, not a cost per instance."
    )
    print(
        "  Files' pages (binaries, libraries) are shared, and their PSS divided, with every "
        "process mapping them, in other containers of the same image too: that part moves when "
        "other containers start or stop on this machine."
    )
    print(
        f"  target: at most {TARGET_MB} MB per extra idle instance "
        "(YunoHost budgets 512 MB per Nextcloud, Nextcloud All-in-One 2 GB)"
    )
    print(
        "  deploy: "
        + ", ".join(f"{m['instances']} inst. {m['deploy_seconds']:.0f} s" for m in results)
        + f"; whole run {data['duration_seconds']:.0f} s"
    )


def run(keep: bool) -> dict[str, Any]:
    start = time.monotonic()
    if containers.exists(HOST.name):
        raise BenchmarkError(
            f"{HOST.name} exists already (a run with --keep?): remove it first with "
            f"`podman rm --force {HOST.name}`"
        )
    vault = test_secrets(max(COUNTS))
    results: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="chaton-bench-nextcloud-") as tmp:
        root = Path(tmp)
        build_test_release(root / "artifacts")
        inventory = {"all": {"hosts": {HOST.name: {"ansible_connection": "podman"}}}}
        (root / "hosts.yml").write_text(yaml.safe_dump(inventory))
        try:
            containers.start(HOST)
            for count in COUNTS:
                print(f"deploying {count} instance(s)…", file=sys.stderr)
                seconds = deploy(count, vault, root)
                load_each(count, vault)
                idle = wait_idle()
                results.append(measure(count, seconds, idle))
                print(f"  {count}: {results[-1].total_mb:.1f} MB PSS", file=sys.stderr)
        finally:
            if keep:
                print(f"kept {HOST.name}: `podman rm --force {HOST.name}`", file=sys.stderr)
            else:
                containers.stop(HOST.name)
    return report(results, time.monotonic() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the test host at the end")
    args = parser.parse_args()
    try:
        data = run(args.keep)
    except (BenchmarkError, ChatonError) as error:
        print(f"nextcloud_memory: {error}", file=sys.stderr)
        return 1
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print_table(data)
    print(f"\nwritten: {OUTPUT.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
