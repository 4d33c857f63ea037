"""The restore drill: a server deployed, known data written in each service, backed up to a
repository host, the server destroyed, a fresh one of another name deployed in its place and
restored from the lost server's repository, and everything compared; then one structure restored
alone, the other left as it was.

Through the CLI, as an operator runs it, on two test hosts: the server (`drill-1`, replaced by
`drill-2` in the same container) and the repository host (`drill-repo`, the chaton_backup_hosts
group), which the server reaches over the containers' network. Two structures: the Amis du
Lavoir (a website, lists, a Nextcloud) and the Fournil Solidaire (a website).

The Nextcloud is the real one, of the version the example collective pins, when the control
node's artifact cache holds that release intact (`chaton artifacts check` passes it): the drill's
own cache links to it. Otherwise it is the test suite's test release of that version, and the
drill says so (pytest -s) and leaves out what only the real one can do: WebDAV. On the real one,
before the backup, the account jeanne is given a password, uploads her files over WebDAV and puts
an event in her calendar over CalDAV, through nginx and TLS (the certificate checked against the
drill's CA); after the restore onto the new server, the same password gets the same bytes and the
same event back, and status.php names Nextcloud and its version.

Nextcloud's background jobs run once on the data written, before the backup, as its timer would
have within minutes. Compared after the restore onto the new server, against what was there when
the backup ran:
- every file of every backed-up folder, by SHA-256 (the websites, the Nextcloud's home but its
  `tmp`, Mailman's `/etc/mailman3` and `/var/lib/mailman3`), except the files the services
  rewrite on their own as they run, named in VOLATILE;
- every row of every table of every database (the Nextcloud's, Mailman's two), by a digest of
  the sorted rows, except the tables named in VOLATILE_TABLES and the rows of VOLATILE_ROWS;
- then `chaton verify`: the units active, each site, Nextcloud and lists page answering.
The drill's times and the repository's size against the data's are printed (pytest -s).

Then the Amis du Lavoir give up their Nextcloud: taken out of their structure file, rendered
and deployed, it is kept (its data, its database, its backups; its units stopped); `chaton
remove` without --yes changes nothing; with --yes it backs it up one last time, fetches an
export whose files and database dump are checked against the data written, and removes every
piece, the other services and the other structure untouched; a deploy after it changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from collectives import chaton, collective, container_server, write_hosts

from chaton import artifacts, containers
from chaton.commands.demo import EXAMPLE, pinned_versions, release_into
from chaton.runner import FACT_CACHE
from chaton.yamlio import load_vars

pytestmark = [pytest.mark.container, pytest.mark.site]

SERVER = "drill-1"
# The server that replaces it, in the same container (its name, its facts, its repository are
# new): the structures are placed on it, their archives are in drill-1's repository.
NEW_SERVER = "drill-2"
REPOSITORY = "drill-repo"
HOST = containers.TestHost(
    name="chaton-test-drill", hostname=SERVER, publish=("127.0.0.1:18445:443",)
)
NEW_HOST = containers.TestHost(
    name="chaton-test-drill", hostname=NEW_SERVER, publish=("127.0.0.1:18445:443",)
)
REPOSITORY_HOST = containers.TestHost(name="chaton-test-drill-repo", hostname=REPOSITORY)
# The release the example collective pins (the drill deploys its group_vars).
NEXTCLOUD_VERSION = pinned_versions(EXAMPLE)["nextcloud"]
FIRST = "amis-du-lavoir"
SECOND = "fournil-solidaire"
STRUCTURES = {
    FIRST: f"""\
name: Les Amis du Lavoir
slug: {FIRST}
contacts:
  - name: Jeanne Roux
    email: jeanne@amis-du-lavoir.fr
tier: member
status: active
domains:
  - amis-du-lavoir.fr
services:
  website:
    source: none
  lists:
    - name: infos
      description: Les nouvelles
      owners: [jeanne@amis-du-lavoir.fr]
  nextcloud:
    accounts: 2
    storage_gb: 1
    users:
      - id: jeanne
        name: Jeanne Roux
""",
    SECOND: f"""\
name: Le Fournil Solidaire
slug: {SECOND}
contacts:
  - name: Malik Perrin
    email: malik@fournil-solidaire.fr
tier: member
status: active
domains:
  - fournil-solidaire.fr
services:
  website:
    source: none
""",
}
# Files the services rewrite on their own while they run (not data a structure entrusted):
# Mailman's runtime state and caches, HyperKitty's search index (rebuilt by its own jobs from
# the archives), the test release's record of the occ commands the deploy runs, Nextcloud's log
# (every request and background jobs run writes to it: the new server's first runs after the
# restore add their lines).
VOLATILE = re.compile(
    r"^/var/lib/mailman3/(locks|queue|messages|archives/private/.*\.lock|web/static)/"
    r"|^/var/lib/mailman3/web/fulltext_index/"
    r"|^/var/lib/mailman3/(data/master\.pid|data/postfix_.*|lists/.*/.*\.lck)$"
    r"|/chaton-test-release-occ\.log$"
    r"|^/srv/nextcloud/[^/]+/data/nextcloud\.log$"
)
# The settings of a server's Mailman that hold its secrets (the vault's mailman/<server>/…), and
# the name of the copy Ansible keeps of a file it replaces.
MAILMAN_SETTINGS = (
    "/etc/mailman3/mailman-hyperkitty.cfg",
    "/etc/mailman3/mailman-web.py",
    "/etc/mailman3/mailman.cfg",
)
ANSIBLE_COPY = re.compile(r"\.[0-9]+\.[0-9]{4}-[0-9]{2}-[0-9]{2}@[0-9:]{8}~$")
# Tables a running service writes on its own (sessions, its task queue and cache).
# HyperKitty's row of each list mirrors Mailman's own (compared in mailman3's tables): its jobs
# write it when they first sync, before or after the backup. Nextcloud's oc_jobs is its task
# queue: each background jobs run writes when its jobs last ran and were checked, and a job that
# fails and queues itself again (Theming's MigrateBackgroundImages on a new instance) comes back
# under a new id.
VOLATILE_TABLES = re.compile(
    r"^(django_session|django_q_.*|hyperkitty_.*cache.*|hyperkitty_mailinglist|oc_jobs)$"
)

# Run in the server: {path: SHA-256} of every file under the folders argv[1:] (a path
# starting with '-' excludes that folder).
MANIFEST = """
import hashlib, json, os, sys
roots = [a for a in sys.argv[1:] if not a.startswith('-')]
skip = [a[1:] for a in sys.argv[1:] if a.startswith('-')]
found = {}
for root in roots:
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skip]
        for name in files:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, 'rb') as stream:
                    found[path] = hashlib.sha256(stream.read()).hexdigest()
print(json.dumps(found))
"""
# Rows a running service rewrites on its own, left out of their table's digest, all written by
# every run of Nextcloud's background jobs: the time of the last run (core.lastcron), the id of
# the last job it ran (backgroundjob.lastjob, where the next run starts in oc_jobs), and the times
# the Circles app's maintenance job last ran at each of its levels (circles.maintenance_update).
VOLATILE_ROWS = {
    "oc_appconfig": "(appid, configkey) NOT IN (('core', 'lastcron'), "
    "('backgroundjob', 'lastjob'), ('circles', 'maintenance_update'))"
}
# Run in the server: {database.table: [rows, digest of the sorted rows]} for the databases
# argv[2:], without the rows that argv[1] ({table: SQL condition}, JSON) leaves out.
TABLES = """
import json, subprocess, sys
def psql(db, sql):
    return subprocess.run(['runuser', '-u', 'postgres', '--', 'psql', '--no-psqlrc', '-At',
                           '-d', db, '-c', sql], capture_output=True, text=True,
                          check=True, cwd='/').stdout
kept = json.loads(sys.argv[1])
found = {}
for db in sys.argv[2:]:
    names = psql(db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").split()
    for table in names:
        where = f" WHERE {kept[table]}" if table in kept else ''
        row = psql(db, "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\\\\n' "
                       f"ORDER BY t::text), '')) FROM public.\\"{table}\\" t{where}").split()
        found[f'{db}.{table}'] = row
print(json.dumps(found))
"""


def on_server(*command: str) -> str:
    result = containers.exec_in(HOST.name, *command, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return str(result.stdout)


def backed_up(root: Path, server: str) -> tuple[list[str], list[str], list[str]]:
    """The folders, excluded folders and databases of every backed-up instance of `server`."""
    text = (root / "generated" / "host_vars" / f"{server}.yml").read_text(encoding="utf-8")
    items = load_vars(text)["backup_instances"]
    paths = [path for item in items for path in item["paths"]]
    exclude = [path for item in items for path in item["exclude"]]
    databases = [db for item in items for db in item["databases"]]
    return paths, exclude, databases


def snapshot(root: Path, server: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Every file's SHA-256 and every table's rows, of what is backed up, on the server now."""
    paths, exclude, databases = backed_up(root, server)
    files = json.loads(
        on_server("python3", "-c", MANIFEST, *paths, *(f"-{path}" for path in exclude))
    )
    files = {path: digest for path, digest in files.items() if not VOLATILE.search(path)}
    tables = json.loads(on_server("python3", "-c", TABLES, json.dumps(VOLATILE_ROWS), *databases))
    tables = {
        name: rows
        for name, rows in tables.items()
        if not VOLATILE_TABLES.match(name.split(".", 1)[1])
    }
    return files, tables


@dataclass(frozen=True)
class Account:
    """jeanne's on the real Nextcloud: her password, her event's UID and SUMMARY, her photo's
    SHA-256."""

    password: str
    event: str
    summary: str
    photo: str


# In the server: the files jeanne uploads, and the drill's CA (what signs the vhosts'
# certificates: the acme role's local mode, acme_local_ca_dir on this machine).
UPLOADS = "/root/drill"
CA_IN_SERVER = f"{UPLOADS}/ca.pem"
CLOUD = f"cloud.{FIRST}.fr"


def write_known_data(real: bool, ca: Path) -> Account | None:
    """Something of each structure's in each service, made by the test. In the Nextcloud, on the
    real one: jeanne's files uploaded and an event put in her calendar over WebDAV, with the
    password given to her (returned); on the test release, her files written in its data folder."""
    marker = uuid.uuid4().hex
    user = f"website-{FIRST}"
    for slug in (FIRST, SECOND):
        page = f"/srv/www/{slug}/public/drill.html"
        on_server("sh", "-c", f"printf '<p>{marker} {slug}</p>\\n' > {page}")
    on_server("chown", f"{user}:{user}", f"/srv/www/{FIRST}/public/drill.html")
    database = f"nextcloud_{FIRST.replace('-', '_')}"
    # A uuid and a rendered identifier: no outside text in the SQL.
    rows = (
        "CREATE TABLE drill_rows (id integer PRIMARY KEY, note text);"  # noqa: S608
        f"INSERT INTO drill_rows SELECT n, '{marker} ' || n FROM generate_series(1, 500) n;"
        f"ALTER TABLE drill_rows OWNER TO {database};"
    )
    on_server(
        "runuser", "-u", "postgres", "--", "psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1",
        "-d", database, "-c", rows,
    )  # fmt: skip
    on_server("mkdir", "-p", UPLOADS)
    on_server("sh", "-c", f"head -c 300000 /dev/urandom > {UPLOADS}/photo.bin")
    on_server("sh", "-c", f"printf 'Compte rendu {marker}\\n' > {UPLOADS}/compte-rendu.txt")
    if not real:
        cloud = f"/srv/nextcloud/{FIRST}/data/jeanne/files"
        on_server("mkdir", "-p", cloud)
        on_server("cp", f"{UPLOADS}/photo.bin", f"{UPLOADS}/compte-rendu.txt", f"{cloud}/")
        on_server(
            "chown", "-R", f"nextcloud-{FIRST}:nextcloud-{FIRST}", f"/srv/nextcloud/{FIRST}/data"
        )
        return None
    account = Account(
        password=f"Lavoir-{uuid.uuid4().hex}",
        event=f"drill-{marker}",
        summary=f"Assemblee du lavoir {marker}",
        photo=on_server("sha256sum", f"{UPLOADS}/photo.bin").split()[0],
    )
    copy_ca(ca)
    home = f"/srv/nextcloud/{FIRST}"
    on_server(
        "runuser", "-u", f"nextcloud-{FIRST}", "--", "env", f"OC_PASS={account.password}",
        f"NEXTCLOUD_CONFIG_DIR={home}/config/", "php", f"{home}/release/occ",
        "user:resetpassword", "--password-from-env", "jeanne",
    )  # fmt: skip
    # Her first login (this first request) makes her folder and her "personal" calendar.
    for name in ("photo.bin", "compte-rendu.txt"):
        status, _body = dav(
            account, "PUT", f"files/jeanne/{name}", "--upload-file", f"{UPLOADS}/{name}"
        )
        assert status == 201, (name, status)
    calendar = "calendars/jeanne/personal/"
    status, _body = dav(account, "PROPFIND", calendar, "--header", "Depth: 0")
    if status == 404:
        status, _body = dav(account, "MKCALENDAR", calendar)
        assert status == 201, status
    else:
        assert status == 207, status
    event = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//chaton-toolkit//restore drill//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{account.event}\r\nDTSTAMP:20260101T090000Z\r\n"
        "DTSTART:20270110T180000Z\r\nDTEND:20270110T200000Z\r\n"
        f"SUMMARY:{account.summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    status, _body = dav(
        account, "PUT", f"{calendar}{account.event}.ics",
        "--header", "Content-Type: text/calendar; charset=utf-8", "--data-binary", event,
    )  # fmt: skip
    assert status == 201, status
    return account


def copy_ca(ca: Path) -> None:
    on_server("mkdir", "-p", UPLOADS)
    containers.podman("cp", str(ca), f"{HOST.name}:{CA_IN_SERVER}")


def https(path: str, *args: str) -> tuple[int, str]:
    """(status, body) of a request to https://CLOUD/`path` made in the server with curl, through
    its nginx on 127.0.0.1:443, the certificate checked against the drill's CA (curl fails
    otherwise)."""
    shown = on_server(
        "curl", "--silent", "--show-error", "--resolve", f"{CLOUD}:443:127.0.0.1",
        "--cacert", CA_IN_SERVER, "--write-out", "\n%{http_code}", *args, f"https://{CLOUD}/{path}",
    )  # fmt: skip
    body, _newline, status = shown.rpartition("\n")
    return int(status), body


def dav(account: Account, method: str, path: str, *args: str) -> tuple[int, str]:
    """A WebDAV request as jeanne: /remote.php/dav/`path`."""
    return https(
        f"remote.php/dav/{path}", "--request", method, "--user", f"jeanne:{account.password}", *args
    )


def read_back(account: Account) -> None:
    """jeanne's photo and event over WebDAV, with her password: as they were written."""
    status, _body = dav(
        account, "GET", "files/jeanne/photo.bin", "--output", f"{UPLOADS}/photo.back"
    )
    assert status == 200, status
    assert on_server("sha256sum", f"{UPLOADS}/photo.back").split()[0] == account.photo
    status, body = dav(account, "GET", f"calendars/jeanne/personal/{account.event}.ics")
    assert status == 200, (status, body[-2000:])
    assert f"SUMMARY:{account.summary}" in body.splitlines(), body
    status, body = https("status.php")
    assert status == 200, (status, body[-2000:])
    shown = json.loads(body)
    assert (shown["productname"], shown["versionstring"]) == ("Nextcloud", NEXTCLOUD_VERSION)
    assert shown["installed"] and not shown["maintenance"], shown


def forget_facts() -> None:
    for name in (SERVER, NEW_SERVER, REPOSITORY):
        (FACT_CACHE / name).unlink(missing_ok=True)


def address(host: containers.TestHost) -> str:
    """The host's address on the containers' network, for the other container (never used
    from this machine)."""
    shown = containers.podman(
        "inspect", "--format", "{{.NetworkSettings.IPAddress}}", host.name
    ).stdout.strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", shown), shown
    return str(shown)


@pytest.fixture
def drill_hosts() -> Iterator[None]:
    forget_facts()
    try:
        containers.start(REPOSITORY_HOST)
        containers.start(HOST)
        yield
    finally:
        containers.stop(HOST.name)
        containers.stop(REPOSITORY_HOST.name)
        forget_facts()


def run(*args: str, password: Path | None, env: dict[str, str]) -> Any:
    result = chaton(*args, password=password, env=env)
    assert result.returncode == 0, (args, result.stdout[-4000:] + result.stderr[-4000:])
    return result


def nextcloud_release(cache: Path) -> str:
    """Put the Nextcloud release of NEXTCLOUD_VERSION in the artifact cache `cache`: a link to
    the real one of the control node's cache when it is there intact (as the demo does), else
    the test release. Its description ("Nextcloud 31.0.11, verified by…"), or "" for the test
    release."""
    manifest = release_into(cache, "nextcloud", NEXTCLOUD_VERSION)
    if manifest is None:
        print(
            f"\nrestore drill: Nextcloud {NEXTCLOUD_VERSION} is not in the artifact cache "
            f"{artifacts.default_cache()} (chaton artifacts fetch nextcloud {NEXTCLOUD_VERSION}): "
            "the drill runs the test suite's test release instead, which is not Nextcloud, and "
            "leaves out the WebDAV checks"
        )
        return ""
    described = artifacts.describe_release(manifest)
    print(f"\nrestore drill: {described} (from the artifact cache {artifacts.default_cache()})")
    return described


def test_the_restore_drill(tmp_path: Path, drill_hosts: None) -> None:
    cache = tmp_path / "artifacts"
    release = nextcloud_release(cache)
    env = {artifacts.CACHE_ENV: str(cache)}
    password = tmp_path / "vault-password"
    password.write_text("test-drill-vault-password\n")
    server = container_server(HOST.name, tmp_path)
    hosts = {
        "all": {
            "children": {
                "chaton_servers": {"hosts": {SERVER: server}},
                "chaton_backup_hosts": {
                    "hosts": {
                        REPOSITORY: {
                            "ansible_host": REPOSITORY_HOST.name,
                            "ansible_connection": "podman",
                        }
                    }
                },
            }
        }
    }
    settings = {
        "backup_repository_host": REPOSITORY,
        "backup_repository_address": address(REPOSITORY_HOST),
    }
    root = collective(tmp_path, SERVER, hosts, STRUCTURES, settings)
    inventory = ["--inventory", str(root)]
    ca = tmp_path / "ca" / "ca.pem"
    times: dict[str, float] = {}

    def timed(step: str, *args: str) -> Any:
        start = time.monotonic()
        result = run(*args, password=password, env=env)
        times[step] = times.get(step, 0.0) + time.monotonic() - start
        return result

    run("render", *inventory, password=password, env=env)
    timed("deploy", "deploy", *inventory)
    account = write_known_data(bool(release), ca)
    # Nextcloud's background jobs run on what is there, as its timer would within 5 minutes: the
    # jobs still queued (the metadata and previews of jeanne's files, the administrator's
    # birthday calendar) are done before the backup, not by the new server after the restore.
    on_server("systemctl", "start", f"nextcloud-cron@{FIRST}.service")
    timed("backup", "backup", *inventory)
    before_files, before_tables = snapshot(root, SERVER)
    backed_up_before = backed_up(root, SERVER)
    assert f"/srv/nextcloud/{FIRST}/data/jeanne/files/photo.bin" in before_files
    if account is not None:  # what Nextcloud received over WebDAV, byte for byte
        assert before_files[f"/srv/nextcloud/{FIRST}/data/jeanne/files/photo.bin"] == account.photo
    assert f"nextcloud_{FIRST.replace('-', '_')}.drill_rows" in before_tables
    assert any(name.startswith("mailman3.") for name in before_tables)
    sizes = on_server("du", "-sb", "--", *backed_up_before[0]).splitlines()
    data_bytes = sum(int(line.split()[0]) for line in sizes)
    repository = containers.exec_in(REPOSITORY_HOST.name, "du", "-sb", f"/srv/borg/{SERVER}")
    repository_bytes = int(repository.stdout.split()[0])

    # The server is lost: another one, of another name, takes its place in the inventory; the
    # structures are placed on it; it is deployed, then restored from drill-1's repository.
    containers.stop(HOST.name)
    forget_facts()
    (root / "collective.yml").write_text(
        (root / "collective.yml").read_text(encoding="utf-8").replace(SERVER, NEW_SERVER),
        encoding="utf-8",
    )
    servers = hosts["all"]["children"]["chaton_servers"]
    servers["hosts"] = {NEW_SERVER: servers["hosts"][SERVER]}
    write_hosts(root, hosts)
    containers.start(NEW_HOST)
    rendered = run("render", *inventory, password=password, env=env)
    assert f"{SERVER}.yml (no such server any more)" in rendered.stdout
    assert backed_up(root, NEW_SERVER) == backed_up_before
    timed("rebuild", "deploy", *inventory)
    moved = ["--server", NEW_SERVER, "--from", SERVER]
    dry = run("restore", *moved, *inventory, password=password, env=env)
    assert "would come back from" in dry.stdout and "Nothing was changed" in dry.stdout
    timed("restore", "restore", *moved, "--yes", *inventory)
    after_files, after_tables = snapshot(root, NEW_SERVER)
    # Every file as it was, but the Mailman settings that hold its secrets: a server's Mailman
    # has its own (mailman/<server>/… in the vault), and the deploy after the restore writes
    # drill-2's in them, keeping a copy of what it replaced (Ansible's backup: <file>.<pid>.
    # <date>@<time>~). That copy is what came back from drill-1's archive, byte for byte.
    assert not set(before_files) - set(after_files), sorted(set(before_files) - set(after_files))
    added = {p: ANSIBLE_COPY.sub("", p) for p in set(after_files) - set(before_files)}
    assert sorted(added.values()) == sorted(MAILMAN_SETTINGS), sorted(added)
    assert {p: after_files[p] for p in added} == {p: before_files[f] for p, f in added.items()}
    changed = sorted(p for p in before_files if after_files[p] != before_files[p])
    assert changed == sorted(MAILMAN_SETTINGS), changed
    changed = sorted(t for t in before_tables.keys() | after_tables.keys()
                     if before_tables.get(t) != after_tables.get(t))  # fmt: skip
    assert not changed, {t: (before_tables.get(t), after_tables.get(t)) for t in changed}
    # What jeanne put in her Nextcloud comes back over WebDAV, with her password (its hash is in
    # the database): after the comparisons, her requests write rows of their own.
    if account is not None:
        copy_ca(ca)
        read_back(account)
    verified = run("verify", *inventory, "--ca-file", str(ca), "--json", password=None, env=env)
    checks = json.loads(verified.stdout)
    assert all(check["ok"] for check in checks), checks
    assert {(c["structure"], c["kind"]) for c in checks} >= {
        (FIRST, "website"),
        (FIRST, "nextcloud"),
        (FIRST, "mailman"),
        (SECOND, "website"),
    }
    if release:
        assert [c["release"] for c in checks if c["kind"] == "nextcloud"] == [release], checks
    # The access to drill-1's repository lasted the restore only.
    keys = containers.exec_in(REPOSITORY_HOST.name, "cat", "/srv/borg/.ssh/authorized_keys")
    assert f"chaton-backup:{NEW_SERVER}:reads:" not in keys.stdout
    assert f" chaton-backup:{NEW_SERVER}\n" in keys.stdout
    assert not exists_on_server("/run/chaton-backup-source")
    # Once drill-2 has archives of its own, its Mailman holds what its structures have now:
    # drill-1's would replace it, not add to it, and is refused.
    timed("backup on drill-2", "backup", *inventory)
    refused = chaton(
        "restore", *moved, "--service", "lists", *inventory, password=password, env=env
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"mailman-{NEW_SERVER} is shared by this server's structures" in refused.stdout

    # One structure restored alone: the other's later change stays.
    second_page = f"/srv/www/{SECOND}/public/drill.html"
    on_server("sh", "-c", f"printf 'changed later\\n' > {second_page}")
    on_server("sh", "-c", f"printf 'damaged\\n' > /srv/www/{FIRST}/public/drill.html")
    run("restore", FIRST, "--service", "website", "--yes", *inventory, password=password, env=env)
    assert on_server("cat", second_page) == "changed later\n"
    first_page = f"/srv/www/{FIRST}/public/drill.html"
    restored = json.loads(on_server("python3", "-c", MANIFEST, first_page.rsplit("/", 1)[0]))
    assert restored[first_page] == before_files[first_page]

    removal(root, before_files, password, env, timed)
    print(
        "\nrestore drill: "
        + ", ".join(f"{step} {seconds:.0f} s" for step, seconds in times.items())
        + f"; data {data_bytes / 1e6:.1f} MB, repository {repository_bytes / 1e6:.1f} MB "
        f"({repository_bytes / data_bytes:.2f} of the data)"
    )


# Run in the server: the names of the archives of the backup instance argv[1], read with the
# repository settings the backup program uses (the instance may be gone from its list).
ARCHIVES = """
import json, os, subprocess, sys
settings = json.load(open('/etc/chaton-backup/instances.json'))
env = dict(os.environ, BORG_PASSCOMMAND=settings['passcommand'], BORG_RSH=settings['rsh'],
           BORG_RELOCATED_REPO_ACCESS_IS_OK='yes')
found = subprocess.run(['borg', 'list', '--json', '--glob-archives', sys.argv[1] + '.*',
                        settings['repository']], env=env, capture_output=True, text=True,
                       check=True)
print(json.dumps([a['name'] for a in json.loads(found.stdout)['archives']]))
"""


def exists_on_server(path: str) -> bool:
    return containers.exec_in(HOST.name, "test", "-e", path, check=False).returncode == 0


def removal(
    root: Path, before_files: dict[str, str], password: Path, env: dict[str, str], timed: Any
) -> None:
    """The Amis du Lavoir give up their Nextcloud: kept after the deploy, then removed."""
    home = f"/srv/nextcloud/{FIRST}"
    database = f"nextcloud_{FIRST.replace('-', '_')}"
    backup = f"nextcloud-{FIRST}"
    photo = f"{home}/data/jeanne/files/photo.bin"
    structure = root / "structures" / f"{FIRST}.yml"
    text = structure.read_text(encoding="utf-8")
    structure.write_text(text[: text.index("  nextcloud:\n")], encoding="utf-8")
    inventory = ["--inventory", str(root)]
    run("render", *inventory, password=password, env=env)
    deployed = timed("deploy without the Nextcloud", "deploy", *inventory)
    kept = f"{NEW_SERVER}: nextcloud/{FIRST} ({FIRST}) is no longer listed: it is kept"
    assert kept in deployed.stderr
    # Kept: its data, its database, its backup configuration; its units stopped.
    assert exists_on_server(photo)
    assert exists_on_server(f"/etc/chaton/instances/nextcloud.{FIRST}.json")
    assert exists_on_server(f"/etc/borgmatic.d/{backup}.yaml")
    states = containers.exec_in(
        HOST.name, "systemctl", "is-active", f"nextcloud-cron@{FIRST}.timer",
        f"redis-server@{backup}.service", check=False,
    ).stdout.split()  # fmt: skip
    assert states == ["inactive", "inactive"]
    archives_before = json.loads(on_server("python3", "-c", ARCHIVES, backup))

    dry = run("remove", FIRST, *inventory, password=password, env=env)
    assert f"{NEW_SERVER} nextcloud/{FIRST}: would be removed:" in dry.stdout
    assert "first backed up one last time" in dry.stdout
    assert "Nothing was changed" in dry.stdout
    assert exists_on_server(photo)

    removed = timed("remove", "remove", FIRST, "--yes", *inventory)
    assert f"{NEW_SERVER} nextcloud/{FIRST}: removed" in removed.stdout
    (export,) = (root / "exports" / FIRST).glob(f"{NEW_SERVER}.nextcloud.{FIRST}.*.tar.gz")
    assert export.stat().st_mode & 0o777 == 0o600
    assert f"{export} ({export.stat().st_size} bytes, SHA-256 " in removed.stdout
    with tarfile.open(export) as packed:
        names = packed.getnames()
        assert f"{home[1:]}/data/jeanne/files/compte-rendu.txt" in names
        assert not [n for n in names if n.startswith(f"{home[1:]}/tmp/")]
        stream = packed.extractfile(photo[1:])
        assert stream is not None
        assert hashlib.sha256(stream.read()).hexdigest() == before_files[photo]
        dump = packed.extractfile(f"databases/{database}.dump")
        assert dump is not None and dump.read(5) == b"PGDMP"  # pg_dump's custom format
        described = packed.extractfile("instance.json")
        assert described is not None
        assert json.loads(described.read())["id"] == f"nextcloud/{FIRST}"
    # Backed up one last time; the archives stay in the repository.
    archives_after = json.loads(on_server("python3", "-c", ARCHIVES, backup))
    assert set(archives_before) < set(archives_after)
    # Every piece gone.
    for path in (
        home,
        f"/etc/chaton/instances/nextcloud.{FIRST}.json",
        f"/etc/borgmatic.d/{backup}.yaml",
        f"/etc/redis/redis-{backup}.conf",
        f"/var/lib/redis-{backup}",
        f"/etc/php/8.2/fpm/pool.d/{backup}.conf",
        f"/etc/php/8.2/fpm/pool.d/{backup}.conf.disabled",
        f"/etc/nginx/sites-available/{backup}.conf",
        f"/etc/nginx/sites-enabled/{backup}.conf",
        f"/etc/systemd/system/nextcloud-cron@{FIRST}.service.d",
        "/var/lib/chaton-remove/" + export.name,
    ):
        assert not exists_on_server(path), path
    assert containers.exec_in(HOST.name, "getent", "passwd", backup, check=False).returncode == 2
    databases = on_server(
        "runuser", "-u", "postgres", "--", "psql", "--no-psqlrc", "-At", "-c",
        "SELECT datname FROM pg_database UNION ALL SELECT rolname FROM pg_roles",
    ).split()  # fmt: skip
    assert database not in databases and "mailman3" in databases
    # The rest answers, and a deploy finds nothing to do.
    ca = root.parent / "ca" / "ca.pem"
    verified = run("verify", *inventory, "--ca-file", str(ca), "--json", password=None, env=env)
    checks = json.loads(verified.stdout)
    assert all(check["ok"] for check in checks), checks
    assert {(c["structure"], c["kind"]) for c in checks if c["kind"] != "units"} == {
        (FIRST, "website"),
        (FIRST, "mailman"),
        (SECOND, "website"),
    }
    again = timed("deploy after the removal", "deploy", *inventory, "--json")
    assert json.loads(again.stdout)["changed_tasks"] == [], again.stdout
    assert "no longer listed" not in again.stderr
