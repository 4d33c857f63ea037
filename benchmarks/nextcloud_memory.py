"""Benchmark: the memory of each extra idle Nextcloud instance, and of one answering WebDAV.

What each additional idle Nextcloud instance costs in memory on one host, and what one instance
costs (memory, latency) answering a bounded loop of WebDAV requests.

    .venv/bin/python benchmarks/nextcloud_memory.py [--counts 1,5,10] [--requests 200]
        [--test-release] [--keep]

Runs on REAL Nextcloud (VERSION, below) from the control node's artifact cache
(`chaton artifacts check nextcloud VERSION` must pass: present, intact, verified by Nextcloud's
code signing); when it is not there, says so and stops (exit code 2). `--test-release` runs the
test suite's test release of Nextcloud instead (tests/nextcloud_test_release, built into a
temporary cache), labelled as such everywhere in the output; it serves no WebDAV, so the loop is
skipped.

Starts a Debian 12 test host (chaton-bench-nextcloud, removed at the end even on failure unless
--keep) and deploys 1, then 5, then 10 instances (--counts) on the same host (instances added,
not a new host each time) with the real roles, in the order of the site's Nextcloud play
(benchmarks/nextcloud_memory.yml). The variables for N instances are generated here, as
`chaton render` writes them. After each deployment every instance is loaded once over HTTPS
through the host's nginx, with its vhost's certificate as the only trusted one, and must answer
as itself: status.php (product name "Nextcloud", version VERSION) and an anonymous OCS request
whose session cookie is named after the instance's own instanceid (Nextcloud names its session
so). Then, once no PHP-FPM worker and no PHP command is left (the pools' idle timeout; a
background jobs run the timers start in between is waited for), the memory of every process of
the host is read inside it as PSS (`Pss` of /proc/<pid>/smaps_rollup), in total and per group:
PHP-FPM (master and pools), each Redis, PostgreSQL, nginx, everything else; after a CHECKPOINT
of PostgreSQL, so that its shared buffers count the same way at each step (see measure()).

Then the WebDAV loop, on the first instance, with the most instances deployed: an account of
that instance (LOOP_USER) given a known password with occ, a file (LOOP_FILE_BYTES) uploaded once,
the host left idle again, then --requests PROPFIND Depth:1 of the account's root and as many GET
of the file, alternating, one at a time, by a small Python client run inside the host (one
keep-alive HTTPS connection to nginx on 127.0.0.1, its session cookie kept as clients do). The
client also samples the PSS of every process every LOOP_SAMPLE_INTERVAL seconds: the instance's
pool workers (sum and each, at the peak) and the host total, against the sample just before the
loop and the idle measurement. Latency per request kind: median, p90, max (and the first request,
which spawns the pool's worker). Then the host idle again is measured once more.

Printed and written to runs/benchmarks/nextcloud_memory.json: which release ran
(chaton.artifacts.describe_release), the totals for each count, the cost of an extra instance,
(total(5) - total(1)) / 4 and (total(10) - total(1)) / 9, and which group grows; the same less
PostgreSQL's shared memory (its shared_buffers filling up: a ceiling, not a cost per instance);
the loop's latency and memory. 1 MB here is 1 MiB (1,024 kB of smaps_rollup). No assertion on
the figures: they are printed, never judged by a test.
"""

from __future__ import annotations

import argparse
import itertools
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from chaton import artifacts, containers
from chaton.commands.demo import build_test_release, real_release
from chaton.errors import ChatonError
from chaton.paths import PROJECT_ROOT
from chaton.runner import run_playbook

HOST = containers.TestHost(name="chaton-bench-nextcloud")
PLAYBOOK = Path(__file__).resolve().with_suffix(".yml")
OUTPUT = PROJECT_ROOT / "runs" / "benchmarks" / "nextcloud_memory.json"
VERSION = "31.0.11"
DEFAULT_COUNTS = (1, 5, 10)
MAX_COUNT = 30
PRODUCT_NAME = "Nextcloud"
TEST_PRODUCT_NAME = "Nextcloud test release"
# The pools end their workers php_fpm_process_idle_timeout (10 s) after their last request;
# a background jobs run (every 5 minutes per instance) may be going on too.
IDLE_WAIT = 300.0
# Times a measurement starts again when PHP (a background jobs run) started during it.
MEASURE_ATTEMPTS = 6
SAMPLES = 3
SAMPLE_INTERVAL = 2.0
TARGET_MB = 20
# The WebDAV loop: on the first instance, one account, one file.
DEFAULT_REQUESTS = 200
MAX_REQUESTS = 5000
LOOP_USER = "bench"
LOOP_FILE = "bench.bin"
LOOP_FILE_BYTES = 1024 * 1024
LOOP_SAMPLE_INTERVAL = 0.5
SETTINGS: dict[str, Any] = {
    "nextcloud_version": VERSION,
    # The test host has no access to the internet: Nextcloud does not try.
    "nextcloud_config_extra": {"has_internet_connection": False},
    "postgresql_memory_mb": 256,
    # A podman test host cannot give Redis's units their user namespace (roles/redis/README.md).
    "redis_private_users_enabled": False,
}
NOTE_REAL = (
    "The instances run real Nextcloud from the control node's artifact cache, sharing one "
    "read-only release. An idle instance has no PHP process of its own (ondemand pools): its "
    "idle cost is its Redis, its database, its vhost and units, and what they add to "
    "PostgreSQL, nginx and systemd. The OPcache (php_fpm_opcache_memory_mb, one for every "
    "pool, keyed by the shared release's paths) is filled by the workers and counts in PSS only "
    "while a process maps its pages: once the workers have ended, what they cached is counted "
    "nowhere (a ceiling shared by all instances, not a cost per instance)."
)
NOTE_TEST = (
    "The instances run the TEST RELEASE of Nextcloud (tests/nextcloud_test_release), not "
    "Nextcloud (--test-release). Their idle cost comes from what is real here: each instance's "
    "PHP-FPM pool, Redis, database, vhost and systemd units, and what they add to PostgreSQL, "
    "nginx and systemd. An idle real Nextcloud has no process of its own either with ondemand "
    "pools, but its first requests warm a much bigger (shared) OPcache than the test release's "
    "few scripts. The test release serves no WebDAV: no loop."
)
GROUPS = ("php-fpm", "redis", "postgresql", "nginx", "other")

# Python run inside the host (python3 of the image): every process but `me`, read from /proc,
# as (pid, comm, cmdline, uid, {smaps_rollup field: kB}). Part of PROBE and of CLIENT.
READ_PROCESSES = r"""
def processes(me):
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
        rows.append((int(entry), comm, cmdline, uid, kb))
    return rows
"""

# Run inside the host: every process but itself, as JSON.
PROBE = (
    "import json, os, pwd\n"
    + READ_PROCESSES
    + r"""
rows = []
for pid, comm, cmdline, uid, kb in processes(os.getpid()):
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    rows.append({
        "pid": pid, "user": user, "comm": comm, "cmdline": cmdline,
        "pss_kb": kb.get("Pss", 0), "rss_kb": kb.get("Rss", 0),
        "uss_kb": kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0),
        "shmem_kb": kb.get("Pss_Shmem", 0),
        "file_kb": kb.get("Pss_File", 0),
    })
print(json.dumps(rows))
"""
)

# Run inside the host (python3 of the image, standard library only): the WebDAV client of the
# loop. argv[1]: its settings as JSON. Mode "upload": PUT the file once, then PROPFIND it.
# Mode "loop": `requests` PROPFIND Depth:1 of the account's root and as many GET of the file,
# alternating, one at a time, on one keep-alive HTTPS connection to nginx on 127.0.0.1 (the
# vhost's own certificate the only trusted one), the session cookie kept as clients keep it;
# meanwhile a thread samples the PSS of every process but this one. Prints JSON; an unexpected
# answer stops it (exit code 1, the answer on stderr).
CLIENT = (
    r"""
import base64, http.client, json, os, re, socket, ssl, sys, threading, time

cfg = json.loads(sys.argv[1])
me = os.getpid()
pool_title = "php-fpm: pool " + cfg["pool"]
base_path = "/remote.php/dav/files/" + cfg["user"] + "/"
auth = "Basic " + base64.b64encode((cfg["user"] + ":" + cfg["password"]).encode()).decode()
context = ssl.create_default_context(cafile=cfg["cacert"])
PROPS = (
    '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
    "<d:prop><d:resourcetype/><d:getlastmodified/><d:getcontentlength/><d:getetag/>"
    "<oc:id/><oc:size/><oc:permissions/></d:prop></d:propfind>"
).encode()


class Connection(http.client.HTTPSConnection):
    # To nginx on 127.0.0.1, the instance's domain as the TLS server name and Host.
    def connect(self):
        sock = socket.create_connection(("127.0.0.1", 443), self.timeout)
        self.sock = context.wrap_socket(sock, server_hostname=self.host)


class Client:
    def __init__(self):
        self.conn = None
        self.cookies = {}
        self.connections = 0

    def request(self, method, path, body=None, headers=None, expect=(200,)):
        sent = {"Authorization": auth, "User-Agent": "chaton-benchmark/1"}
        sent.update(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(k + "=" + v for k, v in self.cookies.items())
        start = time.perf_counter()
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = Connection(cfg["domain"], 443, timeout=120)
                self.connections += 1
            try:
                self.conn.request(method, path, body=body, headers=sent)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed a kept-alive connection: once more on a new one.
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        elapsed = (time.perf_counter() - start) * 1000
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _sep, value = header.split(";", 1)[0].partition("=")
            if value in ("", "deleted"):
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        if response.will_close:
            self.conn.close()
            self.conn = None
        if response.status not in expect:
            sys.stderr.write(f"{method} {path}: HTTP {response.status}: {data[-800:]!r}\n")
            sys.exit(1)
        return elapsed, response.status, data


"""
    + READ_PROCESSES
    + r"""

def sample(t0):
    workers, total, fpm, php_cli = [], 0, 0, False
    for pid, comm, cmdline, _uid, kb in processes(me):
        pss = kb.get("Pss", 0)
        total += pss
        if cmdline.startswith("php-fpm"):
            fpm += pss
            if cmdline == pool_title:
                workers.append({
                    "pid": pid, "pss_kb": pss, "rss_kb": kb.get("Rss", 0),
                    "uss_kb": kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0),
                    "anon_kb": kb.get("Pss_Anon", 0), "shmem_kb": kb.get("Pss_Shmem", 0),
                    "file_kb": kb.get("Pss_File", 0),
                })
        elif comm.startswith("php"):
            php_cli = True
    return {
        "t": round(time.monotonic() - t0, 2), "total_kb": total, "php_fpm_kb": fpm,
        "workers": workers, "php_cli": php_cli,
    }


def propfind(client, path, depth):
    headers = {"Depth": depth, "Content-Type": "application/xml; charset=utf-8"}
    elapsed, _status, data = client.request("PROPFIND", path, PROPS, headers, expect=(207,))
    text = data.decode()
    ids = re.findall(r"<oc:id>([^<]*)</oc:id>", text)
    sizes = re.findall(r"<d:getcontentlength>([0-9]+)</d:getcontentlength>", text)
    return elapsed, text.count("<d:response>"), ids, sizes


client = Client()
file_path = base_path + cfg["file"]
if cfg["mode"] == "upload":
    body = os.urandom(cfg["file_bytes"])
    elapsed, status, _data = client.request(
        "PUT", file_path, body, {"Content-Type": "application/octet-stream"}, expect=(201, 204)
    )
    _ms, entries, ids, sizes = propfind(client, file_path, "0")
    print(json.dumps({"put_ms": round(elapsed, 1), "status": status, "entries": entries,
                      "ids": ids, "sizes": sizes}))
    sys.exit(0)

t0 = time.monotonic()
samples = [sample(t0)]
done = threading.Event()


def sampler():
    while not done.wait(cfg["sample_interval"]):
        samples.append(sample(t0))


thread = threading.Thread(target=sampler, daemon=True)
thread.start()
propfind_ms, get_ms, entries_seen, root_ids = [], [], set(), set()
for _ in range(cfg["requests"]):
    ms, entries, ids, _sizes = propfind(client, base_path, "1")
    propfind_ms.append(round(ms, 2))
    entries_seen.add(entries)
    root_ids.add(ids[0] if ids else "")
    ms, _status, data = client.request("GET", file_path)
    if len(data) != cfg["file_bytes"]:
        sys.stderr.write(f"GET {file_path}: {len(data)} bytes, not {cfg['file_bytes']}\n")
        sys.exit(1)
    get_ms.append(round(ms, 2))
seconds = time.monotonic() - t0
done.set()
thread.join()
samples.append(sample(t0))
print(json.dumps({
    "propfind_ms": propfind_ms, "get_ms": get_ms, "entries": sorted(entries_seen),
    "root_ids": sorted(root_ids), "seconds": round(seconds, 2),
    "connections": client.connections, "cookies": sorted(client.cookies), "samples": samples,
}))
"""
)


class BenchmarkError(Exception):
    """The benchmark could not measure what it should: the reason is its message."""


class MissingRelease(BenchmarkError):
    """The real release is not in the control node's artifact cache (exit code 2)."""


class PhpStarted(BenchmarkError):
    """PHP started on the host while it was being measured."""


@dataclass(frozen=True)
class Release:
    """The Nextcloud release the instances run, and the artifact cache the deploy reads."""

    description: str
    version: str
    test_release: bool
    cache: Path

    @property
    def product_name(self) -> str:
        return TEST_PRODUCT_NAME if self.test_release else PRODUCT_NAME

    @property
    def note(self) -> str:
        return NOTE_TEST if self.test_release else NOTE_REAL


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
    # Measurements started again because PHP (a background jobs run) started during them.
    restarts: int
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


def domain_of(name: str) -> str:
    return f"cloud.{name}.example"


def cacert_of(name: str) -> str:
    """The vhost's own certificate on the host (the nginx role's placeholder): the only one
    trusted when the benchmark reaches the instance."""
    return f"/etc/ssl/chaton/nextcloud-{name}/fullchain.pem"


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


def deployment_vars(count: int, vault: dict[str, str], release: Release) -> dict[str, Any]:
    """The variables of `count` instances, as `chaton render` writes them. On real Nextcloud the
    first instance has the loop's account (created by the role with a random password)."""
    names = [name_of(index) for index in range(1, count + 1)]
    keys = ("admin_password", "db_password", "redis_password", "secret", "passwordsalt")
    loop_users = [] if release.test_release else [{"id": LOOP_USER, "name": "Benchmark"}]

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
                "domain": domain_of(name),
                "user": f"nextcloud-{name}",
                "home": f"/srv/nextcloud/{name}",
                "max_accounts": 10,
                "quota_gb": 20,
                "admin_email": f"admin@{name}.example",
                "database": f"nextcloud_{name}",
                "redis": f"nextcloud-{name}",
                "php_fpm_pool": f"nextcloud-{name}",
                "secrets": secret_keys(name, *keys, "instanceid"),
                **({"users": loop_users} if name == name_of(1) and loop_users else {}),
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
                "server_names": [domain_of(name)],
                "enabled": True,
                "upstream": f"unix:/run/php/nextcloud-{name}.sock",
            }
            for name in names
        ],
    }


def choose_release(test_release: bool, root: Path) -> Release:
    """Real Nextcloud VERSION from the control node's artifact cache, as it is (the deploy reads
    that cache); with `test_release`, the test release built into `root`/artifacts."""
    if test_release:
        cache = root / "artifacts"
        try:
            build_test_release("nextcloud", VERSION, cache)
            manifest = artifacts.read_manifest(
                artifacts.artifact_folder(cache, "nextcloud", VERSION)
            )
        except (ChatonError, OSError, ValueError) as error:
            raise BenchmarkError(f"building the test release failed: {error}") from error
        if not manifest.test_release:
            raise BenchmarkError("the test release's manifest does not say it is one")
        return Release(artifacts.describe_release(manifest), VERSION, True, cache)
    found = real_release("nextcloud", VERSION)
    if found is None:
        raise MissingRelease(
            f"real Nextcloud {VERSION} is not in the control node's artifact cache "
            f"{artifacts.default_cache()} (or does not pass `chaton artifacts check nextcloud "
            f"{VERSION}`): add it with `chaton artifacts fetch nextcloud {VERSION}` (or "
            "`chaton artifacts add`), or run on the test release with --test-release "
            "(figures that are not Nextcloud's)"
        )
    return Release(artifacts.describe_release(found), VERSION, False, artifacts.default_cache())


def deploy(count: int, vault: dict[str, str], root: Path, release: Release) -> float:
    """Converge `count` instances on the host; returns the seconds it took."""
    vars_file = root / f"instances-{count}.yml"
    vars_file.write_text(yaml.safe_dump(deployment_vars(count, vault, release), sort_keys=False))
    start = time.monotonic()
    result = run_playbook(
        PLAYBOOK,
        root / "hosts.yml",
        runs_dir=root / "runs",
        fact_cache=root / "facts",
        env={"CHATON_ARTIFACTS_DIR": str(release.cache)},
        extra_args=["--extra-vars", f"@{vars_file}"],
    )
    if not result.succeeded:
        raise BenchmarkError(
            f"the deployment of {count} instances failed: "
            f"{result.failed_tasks or result.output_tail}"
        )
    return time.monotonic() - start


def https(name: str, path: str, *curl_args: str) -> tuple[int, dict[str, list[str]], str]:
    """(HTTP status, headers, body) of a request to instance `name`'s domain, through the
    host's nginx on 127.0.0.1, with the vhost's own certificate as the only trusted one."""
    domain = domain_of(name)
    answer = containers.exec_in(
        HOST.name,
        "curl",
        "-sS",
        "--max-time",
        "60",
        "--cacert",
        cacert_of(name),
        "--resolve",
        f"{domain}:443:127.0.0.1",
        "--dump-header",
        "-",
        *curl_args,
        f"https://{domain}{path}",
        check=False,
    )
    if answer.returncode != 0:
        raise BenchmarkError(
            f"https://{domain}{path}: curl exit {answer.returncode}: {answer.stderr[-500:]}"
        )
    head, _sep, body = answer.stdout.replace("\r\n", "\n").partition("\n\n")
    lines = head.splitlines()
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        status = 0
    headers: dict[str, list[str]] = defaultdict(list)
    for line in lines[1:]:
        key, _sep, value = line.partition(":")
        headers[key.strip().lower()].append(value.strip())
    return status, headers, body


def check_real(name: str, vault: dict[str, str]) -> None:
    """status.php says Nextcloud VERSION, installed; an anonymous OCS request gets a session
    cookie named after the instance's own instanceid (Nextcloud names its session so)."""
    domain = domain_of(name)
    status, _headers, body = https(name, "/status.php")
    try:
        page = json.loads(body)
    except json.JSONDecodeError:
        page = {}
    expected = {
        "productname": PRODUCT_NAME,
        "versionstring": VERSION,
        "installed": True,
        "maintenance": False,
        "needsDbUpgrade": False,
    }
    wrong = {key: page.get(key) for key, value in expected.items() if page.get(key) != value}
    if status != 200 or wrong:
        raise BenchmarkError(
            f"{domain}/status.php did not answer as Nextcloud {VERSION} (HTTP {status}): "
            f"{wrong or body[-500:]}"
        )
    status, headers, body = https(
        name, "/ocs/v2.php/cloud/capabilities?format=json", "-H", "OCS-APIRequest: true"
    )
    cookies = {cookie.split("=", 1)[0] for cookie in headers.get("set-cookie", [])}
    instanceid = vault[f"nextcloud/{name}/instanceid"]
    try:
        version = json.loads(body)["ocs"]["data"]["version"]["string"]
    except (json.JSONDecodeError, KeyError, TypeError):
        version = None
    if status != 200 or instanceid not in cookies or version != VERSION:
        raise BenchmarkError(
            f"{domain} did not answer as instance {name} (HTTP {status}, version {version}, "
            f"session cookie of instanceid {instanceid} "
            f"{'set' if instanceid in cookies else 'absent'}; cookies: {sorted(cookies)})"
        )


def check_test_release(name: str, vault: dict[str, str]) -> None:
    """The test release's index.php?format=json proves the wiring is the instance's own."""
    domain = domain_of(name)
    status, _headers, body = https(name, "/index.php?format=json")
    try:
        page = json.loads(body)
    except json.JSONDecodeError:
        page = {}
    expected = {
        "productname": TEST_PRODUCT_NAME,
        "versionstring": VERSION,
        "instanceid": vault[f"nextcloud/{name}/instanceid"],
        "config_dir": f"/srv/nextcloud/{name}/config/",
        "unix_user": f"nextcloud-{name}",
    }
    wrong = {key: page.get(key) for key, value in expected.items() if page.get(key) != value}
    db_ok = (page.get("db") or {}).get("ok") is True
    redis_ok = (page.get("redis") or {}).get("ok") is True
    if status != 200 or wrong or not db_ok or not redis_ok:
        raise BenchmarkError(
            f"{domain} did not answer as instance {name} (HTTP {status}): {wrong or body[-500:]}"
        )


def load_each(count: int, vault: dict[str, str], release: Release) -> None:
    """Each instance loaded once over HTTPS through the host's nginx; each must answer as
    itself."""
    for index in range(1, count + 1):
        if release.test_release:
            check_test_release(name_of(index), vault)
        else:
            check_real(name_of(index), vault)


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
    how long ago the last one ran. The reading before it is kept too. PhpStarted when PHP (a
    background jobs run) starts meanwhile.
    """
    before = processes()
    if any(p.busy_php for p in before):
        raise PhpStarted("PHP started again before the measurement")
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
            raise PhpStarted("PHP started again during the measurement")
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
        restarts=0,
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


def measure_idle(count: int, deploy_seconds: float) -> Measurement:
    """Wait until the host is idle, then measure it; again (bounded) when a background jobs run
    starts meanwhile (each instance's timer fires every 5 minutes)."""
    waited = 0.0
    for attempt in range(MEASURE_ATTEMPTS):
        waited += wait_idle()
        try:
            found = measure(count, deploy_seconds, waited)
        except PhpStarted:
            print("    PHP started during the measurement: again", file=sys.stderr)
            continue
        found.restarts = attempt
        return found
    raise BenchmarkError(
        f"PHP started during each of {MEASURE_ATTEMPTS} measurements of {count} instances"
    )


def occ(name: str, *args: str, env: tuple[str, ...] = ()) -> str:
    """occ of instance `name`, as the nextcloud role runs it (its user, its configuration)."""
    result = containers.exec_in(
        HOST.name,
        "runuser",
        "-u",
        f"nextcloud-{name}",
        "--",
        "env",
        *env,
        f"NEXTCLOUD_CONFIG_DIR=/srv/nextcloud/{name}/config/",
        "php",
        f"/srv/nextcloud/{name}/release/occ",
        *args,
        check=False,
    )
    if result.returncode != 0:
        raise BenchmarkError(
            f"occ {' '.join(args)} of {name} failed: {(result.stdout + result.stderr)[-800:]}"
        )
    return result.stdout


def client(settings: dict[str, Any]) -> dict[str, Any]:
    """The WebDAV client (CLIENT), run inside the host; its JSON answer."""
    result = containers.exec_in(
        HOST.name, "python3", "-c", CLIENT, json.dumps(settings), check=False
    )
    if result.returncode != 0:
        raise BenchmarkError(
            f"the WebDAV client ({settings['mode']}) failed: {result.stderr.strip()[-1200:]}"
        )
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def latency(values: list[float]) -> dict[str, float | int]:
    """Median, p90 (inclusive quantiles) and max of request times in ms; the first request
    (the one that spawned the pool's worker) and the max of the others too."""
    p90 = (
        statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]
    )
    return {
        "requests": len(values),
        "median_ms": round(statistics.median(values), 1),
        "p90_ms": round(p90, 1),
        "max_ms": round(max(values), 1),
        "mean_ms": round(statistics.fmean(values), 1),
        "first_ms": round(values[0], 1),
        "max_after_first_ms": round(max(values[1:]), 1) if len(values) > 1 else round(values[0], 1),
    }


def loop_memory(samples: list[dict[str, Any]], idle: Measurement) -> dict[str, Any]:
    """The memory the loop's samples show: the pool's workers at their peak (sum and each), the
    host's total at its peak (samples with a PHP command running, a background jobs run, left
    out), against the sample before the loop and the idle measurement."""
    before = samples[0]

    def workers(sample: dict[str, Any], key: str = "pss_kb") -> int:
        return sum(int(w[key]) for w in sample["workers"])

    peak = max(samples, key=workers)
    clean = [s for s in samples if not s["php_cli"]] or samples
    host_peak = max(clean, key=lambda s: s["total_kb"])
    # While the pool had workers: what the loop holds most of the time, not its first moments.
    busy = [s for s in clean if s["workers"]] or clean
    return {
        "samples": len(samples),
        "sample_interval_s": LOOP_SAMPLE_INTERVAL,
        "samples_with_php_command_left_out": len(samples) - len(clean),
        "workers_at_peak": len(peak["workers"]),
        "max_workers": max(len(s["workers"]) for s in samples),
        "workers_pss_peak_mb": mb(sum(w["pss_kb"] for w in peak["workers"])),
        "workers_uss_at_peak_mb": mb(sum(w["uss_kb"] for w in peak["workers"])),
        "workers_rss_at_peak_mb": mb(sum(w["rss_kb"] for w in peak["workers"])),
        "each_worker_pss_at_peak_mb": [mb(w["pss_kb"]) for w in peak["workers"]],
        "each_worker_uss_at_peak_mb": [mb(w["uss_kb"]) for w in peak["workers"]],
        # PSS split: the workers' own memory (anonymous: PHP's heap), their share of the shared
        # memory (OPcache, one for every pool) and of files' pages (binaries, libraries).
        "workers_anon_at_peak_mb": mb(workers(peak, "anon_kb")),
        "workers_shmem_at_peak_mb": mb(workers(peak, "shmem_kb")),
        "workers_file_at_peak_mb": mb(workers(peak, "file_kb")),
        "workers_pss_median_mb": mb(statistics.median(workers(s) for s in busy)),
        "workers_anon_median_mb": mb(statistics.median(workers(s, "anon_kb") for s in busy)),
        "host_total_median_mb": mb(statistics.median(s["total_kb"] for s in busy)),
        "php_fpm_before_mb": mb(before["php_fpm_kb"]),
        "php_fpm_at_peak_mb": mb(peak["php_fpm_kb"]),
        "host_total_before_mb": mb(before["total_kb"]),
        "host_total_peak_mb": mb(host_peak["total_kb"]),
        "host_total_peak_vs_before_mb": mb(host_peak["total_kb"] - before["total_kb"]),
        "idle_total_mb": idle.total_mb,
        "host_total_peak_vs_idle_mb": round(mb(host_peak["total_kb"]) - idle.total_mb, 2),
        "series": [
            {
                "t": s["t"],
                "total_mb": mb(s["total_kb"]),
                "workers_pss_mb": [mb(w["pss_kb"]) for w in s["workers"]],
                "php_command": s["php_cli"],
            }
            for s in samples
        ],
    }


def webdav_loop(
    requests: int, vault: dict[str, str], idle: Measurement
) -> tuple[dict[str, Any], Measurement]:
    """The loop on the first instance (see the module's docstring); its figures, and the host
    idle again after it."""
    name = name_of(1)
    password = secrets.token_urlsafe(24)
    occ(name, "user:resetpassword", "--password-from-env", LOOP_USER, env=(f"OC_PASS={password}",))
    settings: dict[str, Any] = {
        "domain": domain_of(name),
        "cacert": cacert_of(name),
        "user": LOOP_USER,
        "password": password,
        "pool": f"nextcloud-{name}",
        "file": LOOP_FILE,
        "file_bytes": LOOP_FILE_BYTES,
        "requests": requests,
        "sample_interval": LOOP_SAMPLE_INTERVAL,
    }
    upload = client({**settings, "mode": "upload"})
    instanceid = vault[f"nextcloud/{name}/instanceid"]
    if upload["sizes"] != [str(LOOP_FILE_BYTES)] or not all(
        i.endswith(instanceid) for i in upload["ids"]
    ):
        raise BenchmarkError(f"the uploaded file is not as sent, or not {name}'s: {upload}")
    print(f"  loop: file uploaded ({upload['put_ms']:.0f} ms); waiting for idle", file=sys.stderr)
    idle_before = wait_idle()
    start = time.monotonic()
    answer = client({**settings, "mode": "loop"})
    if len(answer["root_ids"]) != 1 or not answer["root_ids"][0].endswith(instanceid):
        raise BenchmarkError(f"the account's root is not {name}'s: {answer['root_ids']}")
    wall = time.monotonic() - start
    after = measure_idle(idle.instances, 0.0)
    entries = answer["entries"]
    return {
        "instance": name,
        "account": LOOP_USER,
        "requests_per_kind": requests,
        "file_bytes": LOOP_FILE_BYTES,
        "how": (
            "sequential, alternating PROPFIND Depth:1 of the account's root and GET of the file, "
            "by a Python client inside the host on one keep-alive HTTPS connection to nginx on "
            "127.0.0.1 (Basic auth, session cookie kept); the pool's worker spawned by the "
            "first request (the pool idle before)"
        ),
        "upload_ms": upload["put_ms"],
        "idle_wait_before_s": round(idle_before, 1),
        "loop_seconds": answer["seconds"],
        "wall_seconds": round(wall, 1),
        "connections": answer["connections"],
        "propfind_entries": entries[0] if len(entries) == 1 else entries,
        "latency": {
            "propfind_depth1": latency(answer["propfind_ms"]),
            "get": latency(answer["get_ms"]),
        },
        "memory": loop_memory(answer["samples"], idle),
        "idle_after_loop_total_mb": after.total_mb,
        "idle_after_loop_vs_idle_mb": round(after.total_mb - idle.total_mb, 2),
        "idle_after_loop_groups_mb": after.groups_mb,
        "idle_after_loop_redis_mb": after.redis_mb.get(f"nextcloud-{name}"),
        "propfind_ms": answer["propfind_ms"],
        "get_ms": answer["get_ms"],
    }, after


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


def load_average() -> list[float]:
    """The machine's load average (1, 5, 15 minutes): latency under load is not comparable."""
    return [float(value) for value in Path("/proc/loadavg").read_text().split()[:3]]


def report(
    release: Release,
    counts: tuple[int, ...],
    results: list[Measurement],
    loop: dict[str, Any] | None,
    load: dict[str, list[float]],
    seconds: float,
) -> dict[str, Any]:
    first = results[0]
    extras = {
        f"{m.instances}_vs_{first.instances}": per_extra(first, m)
        for m in results
        if m.instances != first.instances
    }
    return {
        "benchmark": "nextcloud_memory",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "release": release.description,
        "release_version": release.version,
        "test_release": release.test_release,
        "note": release.note,
        "unit": "MB = MiB (1,024 kB of /proc/<pid>/smaps_rollup); PSS unless named otherwise",
        "settings": SETTINGS,
        "counts": list(counts),
        "target_mb_per_extra_instance": TARGET_MB,
        "measurements": [asdict(m) for m in results],
        "per_extra_instance_mb": extras,
        "webdav_loop": loop,
        "load_average": load,
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
    print(f"Release: {data['release']}")
    print(data["note"])
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
    row("restarts (PHP ran)", [m["restarts"] for m in results], digits=0)
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
    if not extras:
        print("  one count only: no figure per extra instance (--counts 1,5,10 gives them)")
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
    loop = data["webdav_loop"]
    if loop is not None:
        print_loop(loop)
    else:
        print()
        print("WebDAV loop: not run (the test release serves no WebDAV)")
    load = data["load_average"]
    print()
    print(
        "  deploy: "
        + ", ".join(f"{m['instances']} inst. {m['deploy_seconds']:.0f} s" for m in results)
        + f"; whole run {data['duration_seconds']:.0f} s"
    )
    print(
        "  load average (1, 5, 15 min) at start "
        + " ".join(f"{v:.2f}" for v in load["start"])
        + ", before the loop "
        + " ".join(f"{v:.2f}" for v in load.get("before_loop", []))
        + ", at the end "
        + " ".join(f"{v:.2f}" for v in load["end"])
        + " (2 cores here: latency measured under load is not comparable)"
    )


def print_loop(loop: dict[str, Any]) -> None:
    memory = loop["memory"]
    print()
    print(
        f"WebDAV loop on instance {loop['instance']} (account {loop['account']}, a "
        f"{loop['file_bytes'] // 1024} KiB file): {loop['requests_per_kind']} PROPFIND Depth:1 "
        f"+ {loop['requests_per_kind']} GET, {loop['loop_seconds']:.1f} s, "
        f"{loop['connections']} HTTPS connection(s)"
    )
    print(f"  ({loop['how']})")
    print(f"  {'ms':<26}{'median':>10}{'p90':>10}{'max':>10}{'first':>10}{'max w/o 1st':>13}")
    kinds = (
        ("propfind_depth1", f"PROPFIND Depth:1 ({loop['propfind_entries']} entries)"),
        ("get", f"GET ({loop['file_bytes'] // 1024} KiB)"),
    )
    for key, label in kinds:
        found = loop["latency"][key]
        print(
            f"  {label:<32}{found['median_ms']:>10.1f}{found['p90_ms']:>10.1f}"
            f"{found['max_ms']:>10.1f}{found['first_ms']:>10.1f}{found['max_after_first_ms']:>13.1f}"
        )
    each = ", ".join(f"{value:.1f}" for value in memory["each_worker_pss_at_peak_mb"])
    print(
        f"  pool workers at their peak: {memory['workers_at_peak']} worker(s), PSS "
        f"{memory['workers_pss_peak_mb']:.1f} MB (each: {each}; USS "
        f"{memory['workers_uss_at_peak_mb']:.1f}, RSS {memory['workers_rss_at_peak_mb']:.1f}); "
        f"at most {memory['max_workers']} at once; {memory['samples']} samples every "
        f"{memory['sample_interval_s']} s"
    )
    print(
        f"    of which their own (anonymous: PHP's heap) {memory['workers_anon_at_peak_mb']:.1f}, "
        f"their share of the OPcache (shmem) {memory['workers_shmem_at_peak_mb']:.1f}, "
        f"of files {memory['workers_file_at_peak_mb']:.1f}"
    )
    print(
        f"  while the pool had workers (median of the samples): workers' PSS "
        f"{memory['workers_pss_median_mb']:.1f} MB (own {memory['workers_anon_median_mb']:.1f}), "
        f"host total {memory['host_total_median_mb']:.1f} MB"
    )
    print(
        f"  php-fpm group: {memory['php_fpm_before_mb']:.1f} MB before the loop, "
        f"{memory['php_fpm_at_peak_mb']:.1f} MB at the workers' peak"
    )
    print(
        f"  host total PSS: {memory['host_total_before_mb']:.1f} MB just before the loop, "
        f"{memory['host_total_peak_mb']:.1f} MB at its peak during it "
        f"(+{memory['host_total_peak_vs_before_mb']:.1f}); idle measurement "
        f"{memory['idle_total_mb']:.1f} MB (after a CHECKPOINT; peak "
        f"{memory['host_total_peak_vs_idle_mb']:+.1f}); idle again after the loop "
        f"{loop['idle_after_loop_total_mb']:.1f} MB ({loop['idle_after_loop_vs_idle_mb']:+.1f}; "
        f"its Redis {loop['idle_after_loop_redis_mb']:.1f} MB)"
    )
    if memory["samples_with_php_command_left_out"]:
        print(
            f"  {memory['samples_with_php_command_left_out']} sample(s) with a PHP command "
            "running (a background jobs run) left out of the host's peak"
        )


def run(counts: tuple[int, ...], requests: int, test_release: bool, keep: bool) -> dict[str, Any]:
    start = time.monotonic()
    load = {"start": load_average()}
    if containers.exists(HOST.name):
        raise BenchmarkError(
            f"{HOST.name} exists already (a run with --keep?): remove it first with "
            f"`podman rm --force {HOST.name}`"
        )
    vault = test_secrets(max(counts))
    results: list[Measurement] = []
    loop: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="chaton-bench-nextcloud-") as tmp:
        root = Path(tmp)
        release = choose_release(test_release, root)
        print(f"release: {release.description}", file=sys.stderr)
        inventory = {"all": {"hosts": {HOST.name: {"ansible_connection": "podman"}}}}
        (root / "hosts.yml").write_text(yaml.safe_dump(inventory))
        try:
            containers.start(HOST)
            for count in counts:
                print(f"deploying {count} instance(s)…", file=sys.stderr)
                seconds = deploy(count, vault, root, release)
                load_each(count, vault, release)
                results.append(measure_idle(count, seconds))
                print(f"  {count}: {results[-1].total_mb:.1f} MB PSS", file=sys.stderr)
            if not release.test_release:
                print(f"WebDAV loop ({requests} + {requests} requests)…", file=sys.stderr)
                load["before_loop"] = load_average()
                loop, _after = webdav_loop(requests, vault, results[-1])
        finally:
            if keep:
                print(f"kept {HOST.name}: `podman rm --force {HOST.name}`", file=sys.stderr)
            else:
                containers.stop(HOST.name)
    load["end"] = load_average()
    return report(release, counts, results, loop, load, time.monotonic() - start)


def parse_counts(text: str) -> tuple[int, ...]:
    """Increasing instance counts from 1 to MAX_COUNT, written like 1,5,10."""
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers like 1,5,10: {text!r}") from None
    if any(b <= a for a, b in itertools.pairwise(counts)) or not (
        counts[0] >= 1 and counts[-1] <= MAX_COUNT
    ):
        raise argparse.ArgumentTypeError(
            f"increasing instance counts between 1 and {MAX_COUNT}, like 1,5,10: {text!r}"
        )
    return counts


def parse_requests(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_REQUESTS:
        raise argparse.ArgumentTypeError(f"a number of requests from 1 to {MAX_REQUESTS}")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--counts",
        type=parse_counts,
        default=DEFAULT_COUNTS,
        help="instance counts deployed in turn on the same host (default: 1,5,10)",
    )
    parser.add_argument(
        "--requests",
        type=parse_requests,
        default=DEFAULT_REQUESTS,
        help=f"PROPFIND and as many GET in the WebDAV loop (default {DEFAULT_REQUESTS})",
    )
    parser.add_argument(
        "--test-release",
        action="store_true",
        help="run the test suite's test release of Nextcloud, not Nextcloud (no WebDAV loop)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the test host at the end")
    args = parser.parse_args()
    try:
        data = run(args.counts, args.requests, args.test_release, args.keep)
    except MissingRelease as error:
        print(f"nextcloud_memory: {error}", file=sys.stderr)
        return 2
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
