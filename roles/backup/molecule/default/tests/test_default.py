"""The backup role on a server and its repository host: each instance archived on its own,
encrypted, through a key that can only serve its repository; live files compared with the
archive; one instance restored byte for byte (files and database rows) while the other is left
as it was, what the restore replaced kept aside; a restore at a date; a failed backup mailed to
the administrators; a missing backup reported; a server taken over that deletes its archives
undone on the repository host; the space its pruning marked freed there once read."""

from __future__ import annotations

import json
import re
import shlex
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
import testinfra
import yaml
from scenario_tools import ansible_playbook, wait_for

SCENARIO = Path(__file__).resolve().parents[1]
VARS = yaml.safe_load((SCENARIO / "fixtures" / "test.yml").read_text(encoding="utf-8"))
SERVER = VARS["test_server"]
REPOSITORY_HOST = VARS["test_repository"]
PROGRAM = "/usr/local/lib/chaton-backup/chaton-backup"
REPOSITORY_PATH = f"/srv/borg/{SERVER}"
ALPHA = "/srv/www/alpha"
BETA = "/srv/nextcloud/beta"
ARCHIVE_NAME = re.compile(r"^(website-alpha|nextcloud-beta)\.\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")


@pytest.fixture(scope="module")
def server() -> Any:
    return testinfra.get_host(f"podman://{SERVER}")


@pytest.fixture(scope="module")
def repository_host() -> Any:
    return testinfra.get_host(f"podman://{REPOSITORY_HOST}")


def manifest(host: Any, folder: str) -> dict[str, str]:
    """{path: SHA-256} of every file under `folder` on the host."""
    result = host.run(f"find {folder} -type f -print0 | xargs -0 -r sha256sum")
    assert result.rc == 0, result.stderr
    return {
        path: digest
        for digest, path in (line.split(None, 1) for line in result.stdout.splitlines())
    }


def rows(host: Any) -> str:
    result = host.run(
        "runuser -u postgres -- psql --no-psqlrc -At -d nextcloud_beta "
        "-c 'SELECT id, name FROM files ORDER BY id'"
    )
    assert result.rc == 0, result.stderr
    return str(result.stdout)


def sql(host: Any, statement: str) -> None:
    result = host.run(
        f"runuser -u postgres -- psql --no-psqlrc -v ON_ERROR_STOP=1 -d nextcloud_beta "
        f"-c {shlex.quote(statement)}"
    )
    assert result.rc == 0, result.stderr


def program(host: Any, *args: str) -> Any:
    return host.run(shlex.join([PROGRAM, *args]))


def archives(host: Any) -> dict[str, list[dict[str, str]]]:
    listed = program(host, "list")
    assert listed.rc == 0, listed.stdout + listed.stderr
    return dict(json.loads(listed.stdout))


def borg_env(host: Any) -> str:
    """The environment the backup program gives borg, from its own settings."""
    settings = json.loads(host.file("/etc/chaton-backup/instances.json").content_string)
    return (
        f"BORG_RSH={shlex.quote(settings['rsh'])} "
        f"BORG_PASSCOMMAND={shlex.quote(settings['passcommand'])}"
    )


def repository_url(host: Any) -> str:
    settings = json.loads(host.file("/etc/chaton-backup/instances.json").content_string)
    return str(settings["repository"])


def test_the_schedule_and_the_settings(server: Any) -> None:
    for timer in ("chaton-backup.timer", "chaton-backup-watch.timer"):
        assert server.service(timer).is_enabled and server.service(timer).is_running, timer
    assert not server.service("borgmatic.timer").is_enabled
    secret = server.file("/etc/chaton-backup/passphrase")
    assert (secret.user, secret.group, secret.mode) == ("root", "root", 0o600)
    assert secret.content_string.strip() == VARS["test_secrets"]["backup/backup-1/passphrase"]
    configs = sorted(server.file("/etc/borgmatic.d").listdir())
    assert configs == ["nextcloud-beta.yaml", "website-alpha.yaml"]
    for name in configs:
        checked = server.run(f"validate-borgmatic-config --config /etc/borgmatic.d/{name}")
        assert checked.rc == 0, checked.stdout + checked.stderr
        # No secret in the configuration: the passphrase is read from its file.
        assert (
            "test-backup-passphrase" not in server.file(f"/etc/borgmatic.d/{name}").content_string
        )


def test_the_servers_key_only_serves_its_own_repository(server: Any, repository_host: Any) -> None:
    lines = repository_host.file("/srv/borg/.ssh/authorized_keys").content_string.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        f'command="borg serve --restrict-to-repository {REPOSITORY_PATH} --append-only",restrict'
        " ssh-ed25519 "
    ), lines[0]
    assert lines[0].endswith(f" chaton-backup:{SERVER}")
    url = repository_url(server)
    # A shell command through the key: borg serve runs instead, the command never does.
    host_part = url.removeprefix("ssh://").split("/", 1)[0]
    user_host, _colon, port = host_part.rpartition(":")
    settings = json.loads(server.file("/etc/chaton-backup/instances.json").content_string)
    shell = server.run(
        f"{settings['rsh']} -p {port} {user_host} 'echo chaton-canary-$((6*7))' </dev/null"
    )
    assert "chaton-canary-42" not in shell.stdout + shell.stderr
    # Another repository on the same host: refused.
    other = url.replace(REPOSITORY_PATH, "/srv/borg/another-server")
    refused = server.run(f"{borg_env(server)} borg init --encryption repokey-blake2 {other}")
    assert refused.rc != 0
    assert "not allowed" in refused.stderr, refused.stderr
    assert not repository_host.file("/srv/borg/another-server").exists


def test_a_backup_archives_each_instance_on_its_own(server: Any) -> None:
    ran = program(server, "run")
    assert ran.rc == 0, ran.stdout + ran.stderr
    assert "spot check: 1 file(s) identical" in ran.stdout, ran.stdout  # website-alpha
    found = archives(server)
    assert sorted(found) == ["nextcloud-beta", "website-alpha"]
    for name, listed in found.items():
        assert len(listed) == 1, listed
        assert ARCHIVE_NAME.match(listed[0]["name"]) and listed[0]["name"].startswith(name)
    url, env = repository_url(server), borg_env(server)
    beta = server.run(f"{env} borg list --short {url}::{found['nextcloud-beta'][0]['name']}")
    assert beta.rc == 0, beta.stderr
    paths = beta.stdout.splitlines()
    assert "srv/nextcloud/beta/data/rapport.txt" in paths
    assert "root/.borgmatic/postgresql_databases/localhost/nextcloud_beta" in paths
    assert not [path for path in paths if "tmp" in path.split("/")], paths
    assert not [path for path in paths if path.startswith("srv/www")], paths
    alpha = server.run(f"{env} borg list --short {url}::{found['website-alpha'][0]['name']}")
    assert not [path for path in alpha.stdout.splitlines() if "nextcloud" in path]


def test_the_repository_is_encrypted(server: Any, repository_host: Any) -> None:
    # Content written by prepare.yml, compressed and encrypted in the repository.
    plain = repository_host.run(f"grep -r -l -a 'Rapport d' {REPOSITORY_PATH}")
    assert plain.rc == 1, plain.stdout
    config = repository_host.file(f"{REPOSITORY_PATH}/config").content_string
    assert re.search(r"^key = \S+", config, re.MULTILINE), "the key is in the repository"
    settings = json.loads(server.file("/etc/chaton-backup/instances.json").content_string)
    wrong = server.run(
        f"BORG_RSH={shlex.quote(settings['rsh'])} BORG_PASSPHRASE=not-the-passphrase "
        f"borg list {settings['repository']}"
    )
    assert wrong.rc != 0
    assert "passphrase" in wrong.stderr.lower(), wrong.stderr


def test_the_spot_check_finds_a_file_that_differs_from_the_archive(server: Any) -> None:
    page = f"{ALPHA}/public/index.html"
    original = server.file(page).content_string
    # Same size, other content, the old modification time: only a comparison finds it.
    server.run(
        f"cp -p {page} /root/index.saved && printf '<h1>ALPHA</h1>\\n' > {page} "
        f"&& touch -r /root/index.saved {page}"
    )
    try:
        checked = program(server, "spot-check", "--files", "100")
        assert checked.rc == 1
        assert f"{page} (differs)" in checked.stdout, checked.stdout
    finally:
        server.run(f"cp -p /root/index.saved {page}")
    assert server.file(page).content_string == original
    assert program(server, "spot-check", "--files", "100").rc == 0


def test_a_restore_puts_one_instance_back_and_keeps_what_it_replaced(server: Any) -> None:
    notes = uuid.uuid4().hex
    server.run(
        f"printf '{notes}\\n' > {BETA}/data/notes.txt"
        f" && chown nextcloud-beta: {BETA}/data/notes.txt && chmod 0640 {BETA}/data/notes.txt"
    )
    sql(server, "INSERT INTO files VALUES (3, 'notes.txt')")
    ran = program(server, "run")
    assert ran.rc == 0, ran.stdout + ran.stderr
    backed_up, backed_up_rows = manifest(server, BETA), rows(server)
    assert f"{BETA}/data/notes.txt" in backed_up and "3|notes.txt" in backed_up_rows
    # The uploads in progress (tmp) are left out of the archives: not restored, kept aside.
    left_out = f"{BETA}/tmp/upload.part"  # the instance's own tmp, not /tmp
    assert backed_up.pop(left_out)

    # Structure beta's instance damaged, structure alpha's changed after the backup.
    server.run(
        f"rm {BETA}/data/notes.txt && printf 'changed\\n' >> {BETA}/data/rapport.txt"
        f" && printf 'junk\\n' > {BETA}/data/junk.txt"
        f" && printf 'new page\\n' > {ALPHA}/public/new.html"
    )
    sql(server, "DELETE FROM files WHERE id = 1; INSERT INTO files VALUES (9, 'junk')")
    alpha_now = manifest(server, ALPHA)

    restored = program(server, "restore", "nextcloud-beta")
    assert restored.rc == 0, restored.stdout + restored.stderr
    report = json.loads(restored.stdout.splitlines()[-1])
    assert manifest(server, BETA) == backed_up
    assert rows(server) == backed_up_rows
    notes_file = server.file(f"{BETA}/data/notes.txt")
    assert (notes_file.user, notes_file.mode) == ("nextcloud-beta", 0o640)
    # Alpha's instance is as it was before the restore.
    assert manifest(server, ALPHA) == alpha_now
    # What the restore replaced is kept: the folder moved aside, the database dumped.
    ((path, aside),) = report["moved_aside"]
    assert path == BETA and server.file(f"{aside}/data/junk.txt").exists
    assert server.file(left_out.replace(BETA, aside)).exists
    dump = f"{report['databases_dumped_before']}/nextcloud_beta.dump"
    replaced = server.run(f"pg_restore --data-only -f - {dump}")
    assert replaced.rc == 0 and "junk" in replaced.stdout, replaced.stderr


def test_a_restore_at_a_date_takes_the_archive_of_then(server: Any) -> None:
    listed = archives(server)["nextcloud-beta"]
    assert len(listed) >= 2, listed
    first = listed[0]
    chosen = program(server, "restore", "nextcloud-beta", "--at", first["start"], "--dry-run")
    assert chosen.rc == 0, chosen.stderr
    assert json.loads(chosen.stdout.splitlines()[-1])["archive"] == first["name"]
    too_early = program(server, "restore", "nextcloud-beta", "--at", "2001-01-01", "--dry-run")
    assert too_early.rc == 1
    assert "no archive at or before 2001-01-01" in too_early.stdout


TIMER = "chaton-website-build-alpha.timer"


def restore_playbook(report_dir: str, **restore: object) -> Any:
    """The role's restore tasks through Ansible, as `chaton restore` runs them."""
    plan = {"chaton_restore": {"report_dir": report_dir, **restore}}
    return ansible_playbook(
        SERVER, SCENARIO / "restore.yml", "--extra-vars", json.dumps(plan), timeout=600
    )


def timer_started(server: Any) -> str:
    shown = server.run(f"systemctl show --property=ActiveEnterTimestampMonotonic {TIMER}")
    return str(shown.stdout.strip())


def test_the_restore_tasks_stop_the_instances_units_and_start_them_again(server: Any) -> None:
    page = f"{ALPHA}/public/index.html"
    original = server.file(page).content_string
    server.run(f"printf 'defaced\\n' > {page}")
    before = timer_started(server)
    with tempfile.TemporaryDirectory() as reports:
        ran = restore_playbook(reports, instances=["website-alpha"])
        assert ran.returncode == 0, ran.stdout[-3000:]
        outcome = json.loads((Path(reports) / f"{SERVER}.website-alpha.json").read_text())
    assert outcome["rc"] == 0 and ARCHIVE_NAME.match(outcome["result"]["archive"]), outcome
    assert server.file(page).content_string == original
    assert server.service(TIMER).is_running
    assert timer_started(server) != before, "the timer was not stopped and started again"


def test_a_restore_that_cannot_be_done_says_why_and_leaves_the_units_running(
    server: Any,
) -> None:
    with tempfile.TemporaryDirectory() as reports:
        ran = restore_playbook(reports, instances=["website-alpha"], at="2001-01-01")
        assert ran.returncode != 0
        assert "no archive at or before 2001-01-01" in ran.stdout, ran.stdout[-3000:]
        outcome = json.loads((Path(reports) / f"{SERVER}.website-alpha.json").read_text())
    assert outcome["rc"] == 1 and "no archive at or before" in outcome["error"], outcome
    assert server.service(TIMER).is_running
    refused = restore_playbook("", instances=["website-gamma"])
    assert refused.returncode != 0
    assert "must name instances of backup_instances" in refused.stdout, refused.stdout[-2000:]


OLD_SERVER = "backup-0"


def make_old_servers_repository(repository_host: Any, page: str) -> str:
    """On the repository host, the repository a replaced server (backup-0) left, encrypted with
    its own passphrase, holding an archive of alpha's website as it was there. Its name."""
    passphrase = VARS["test_secrets"][f"backup/{OLD_SERVER}/passphrase"]
    archive = "website-alpha.2026-01-02T03:04:05"
    made = repository_host.run(
        "set -e; rm -rf /srv/borg/backup-0 /tmp/old; mkdir -p /tmp/old/srv/www/alpha/public;"
        f" printf %s {shlex.quote(page)} > /tmp/old/srv/www/alpha/public/index.html;"
        f" export BORG_PASSPHRASE={shlex.quote(passphrase)};"
        " borg init --encryption repokey-blake2 /srv/borg/backup-0;"
        f" cd /tmp/old && borg create /srv/borg/backup-0::{archive} srv/www/alpha;"
        " chown -R borg:borg /srv/borg/backup-0; rm -rf /tmp/old"
    )
    assert made.rc == 0, made.stderr
    return archive


def test_an_instance_moved_here_is_restored_from_its_old_servers_repository(
    server: Any, repository_host: Any
) -> None:
    page = f"<h1>Alpha, on {OLD_SERVER}</h1>\n"
    archive = make_old_servers_repository(repository_host, page)
    address = re.fullmatch(r"ssh://borg@([0-9.]+):22/srv/borg/.*", repository_url(server))
    assert address, repository_url(server)
    source = {"server": OLD_SERVER, "passphrase": f"backup/{OLD_SERVER}/passphrase"}
    with tempfile.TemporaryDirectory() as reports:
        ran = ansible_playbook(
            SERVER, SCENARIO / "restore.yml", "--extra-vars", json.dumps({
                "backup_repository_address": address[1],
                "chaton_restore": {"report_dir": reports, "instances": ["website-alpha"],
                                   "source": source},
            }), timeout=600,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stdout[-3000:]
        outcome = json.loads((Path(reports) / f"{SERVER}.website-alpha.json").read_text())
    assert outcome["rc"] == 0 and outcome["result"]["archive"] == archive, outcome
    assert server.file(f"{ALPHA}/public/index.html").content_string == page
    # Its units wait for the deploy that follows (here: started by the test).
    assert not server.service(TIMER).is_running
    assert server.run(f"systemctl start {TIMER}").rc == 0
    # What it replaced is kept, as for a restore from the server's own repository.
    ((path, aside),) = outcome["result"]["moved_aside"]
    assert path == ALPHA and server.file(f"{aside}/public/index.html").exists
    # The access to backup-0's repository was given for the restore, then taken back; the
    # server's own stays.
    assert f"Let that key read only, append-only, the repository of {OLD_SERVER}" in ran.stdout
    assert "Take the key's line out of the repository host" in ran.stdout
    keys = repository_host.file("/srv/borg/.ssh/authorized_keys").content_string
    assert f"chaton-backup:{SERVER}:reads:{OLD_SERVER}" not in keys
    assert not server.file("/run/chaton-backup-source").exists
    own = f'command="borg serve --restrict-to-repository {REPOSITORY_PATH} --append-only",restrict '
    own = f"^{re.escape(own)}.* chaton-backup:{SERVER}$"
    assert re.search(own, keys, re.MULTILINE), keys
    # Its archives are all still there.
    listed = repository_host.run(
        f"BORG_PASSPHRASE={shlex.quote(VARS['test_secrets'][source['passphrase']])}"
        " borg list --short /srv/borg/backup-0"
    )
    assert listed.stdout.split() == [archive], listed.stderr
    # An instance it never had, a server whose passphrase is not in the vault: said, refused.
    with tempfile.TemporaryDirectory() as reports:
        plan = {"report_dir": reports, "instances": ["nextcloud-beta"], "source": source}
        ran = ansible_playbook(
            SERVER, SCENARIO / "restore.yml", "--extra-vars", json.dumps({
                "backup_repository_address": address[1], "chaton_restore": plan}),
        )  # fmt: skip
        assert ran.returncode != 0
        assert "no archive nextcloud-beta.<date> in ssh://" in ran.stdout, ran.stdout[-3000:]
    unknown = {**source, "server": "backup-9", "passphrase": "backup/backup-9/passphrase"}
    refused = restore_playbook("", instances=["website-alpha"], source=unknown)
    assert refused.returncode != 0
    assert "whose repository passphrase is in the vault" in refused.stdout, refused.stdout[-2000:]


def test_a_failed_backup_is_mailed_to_the_administrators(server: Any, repository_host: Any) -> None:
    server.run("truncate -s 0 /var/mail/root")
    assert repository_host.run("systemctl stop ssh.service").rc == 0
    try:
        failed = server.run("systemctl start chaton-backup.service")
        assert failed.rc != 0
        mail = wait_for(
            server, "grep -q 'backup problem: chaton-backup.service failed' /var/mail/root"
        )
        assert mail.rc == 0, server.run("journalctl -n 40 --no-pager").stdout
        assert "borg" in server.file("/var/mail/root").content_string
    finally:
        repository_host.run("systemctl start ssh.service")


def test_a_missing_or_old_backup_is_reported(server: Any) -> None:
    recent = program(server, "watch", "--max-age-hours", "26")
    assert recent.rc == 0, recent.stdout + recent.stderr
    late = program(server, "watch", "--max-age-hours", "0")
    assert late.rc == 1
    assert "website-alpha: the latest archive is" in late.stdout
    assert "nextcloud-beta: the latest archive is" in late.stdout


REPOSITORY_PROGRAM = "/usr/local/sbin/chaton-backup-repository"


def repository_program(host: Any, *args: str) -> Any:
    return host.run(shlex.join([REPOSITORY_PROGRAM, *args]))


def history(host: Any) -> list[dict[str, Any]]:
    shown = repository_program(host, "log", SERVER, "--json")
    assert shown.rc == 0, shown.stdout + shown.stderr
    return list(json.loads(shown.stdout))


def latest_server_transaction(host: Any) -> int:
    return int([e for e in history(host) if e["kind"] == "server"][-1]["transaction"])


def repository_files(host: Any) -> dict[str, int]:
    """{path: size} of every file of the server's repository."""
    found = host.run(f"find {REPOSITORY_PATH} -type f -printf '%p %s\\n'")
    assert found.rc == 0, found.stderr
    return {path: int(size) for path, size in (line.split() for line in found.stdout.splitlines())}


def archive_names(host: Any) -> list[str]:
    return sorted(a["name"] for listed in archives(host).values() for a in listed)


def test_a_server_taken_over_cannot_destroy_its_archives(server: Any, repository_host: Any) -> None:
    kept = archive_names(server)
    assert len(kept) >= 4, kept
    reviewed = latest_server_transaction(repository_host)
    # Root on the server, with the server's own key and passphrase: every archive deleted, the
    # space asked back.
    url, env = repository_url(server), borg_env(server)
    attack = server.run(f"{env} borg delete --glob-archives '*' {url} && {env} borg compact {url}")
    assert attack.rc == 0, attack.stderr
    assert archive_names(server) == []
    # The data is all still on the repository host, the deletion logged.
    assert latest_server_transaction(repository_host) > reviewed
    # Compacting with the history read before the deletion: refused.
    refused = repository_program(repository_host, "compact", SERVER, "--reviewed", str(reviewed))
    assert refused.rc == 1, refused.stdout + refused.stderr
    assert f"not {reviewed}: read its history again" in refused.stderr
    # The rollback says what it would move, moves nothing without --yes.
    files = repository_files(repository_host)
    said = repository_program(repository_host, "rollback", SERVER, "--to", str(reviewed))
    assert said.rc == 0, said.stdout + said.stderr
    assert "nothing was changed" in said.stdout and repository_files(repository_host) == files
    rolled = repository_program(repository_host, "rollback", SERVER, "--to", str(reviewed), "--yes")
    assert rolled.rc == 0, rolled.stdout + rolled.stderr
    aside = re.search(r"what came after is in (\S+)", rolled.stdout)
    assert aside, rolled.stdout
    # What the rollback took out is kept, root's only.
    top = repository_host.file("/srv/borg/.rolled-back")
    assert (top.user, top.mode) == ("root", 0o700)
    assert repository_host.file(f"{aside[1]}/README").exists
    # The server's borg refuses the repository it remembers later, until it forgets it.
    assert program(server, "list").rc != 0
    forgot = program(server, "forget-repository-state")
    assert forgot.rc == 0, forgot.stdout + forgot.stderr
    assert "forgotten: /root/.config/borg/security/" in forgot.stdout, forgot.stdout
    assert archive_names(server) == kept
    for name in kept:
        whole = server.run(f"{env} borg extract --dry-run {url}::{name}")
        assert whole.rc == 0, whole.stderr
    # The server backs up again, into the repository as it was.
    ran = program(server, "run")
    assert ran.rc == 0, ran.stdout + ran.stderr
    assert len(archive_names(server)) == len(kept) + 2


def test_a_compaction_frees_what_was_pruned_once_read(server: Any, repository_host: Any) -> None:
    kept = archive_names(server)
    url, env = repository_url(server), borg_env(server)
    # An archive of 3 MB that no other holds, then deleted by the server, as its prune does.
    made = server.run(
        f"set -e; head -c 3000000 /dev/urandom > /root/scratch.bin;"
        f" {env} borg create {url}::scratch.test /root/scratch.bin;"
        f" {env} borg delete {url}::scratch.test; rm /root/scratch.bin"
    )
    assert made.rc == 0, made.stderr
    before = sum(repository_files(repository_host).values())
    reviewed = latest_server_transaction(repository_host)
    compacted = repository_program(repository_host, "compact", SERVER, "--reviewed", str(reviewed))
    assert compacted.rc == 0, compacted.stdout + compacted.stderr
    after = sum(repository_files(repository_host).values())
    assert before - after > 2_500_000, (before, after)
    assert archive_names(server) == kept
    # Recorded: nothing of the server's since, and no rollback back before it.
    (row,) = [
        r
        for r in json.loads(repository_program(repository_host, "list", "--json").stdout)
        if r["server"] == SERVER
    ]
    assert row["since_last_compaction"] == 0 and row["last_compaction"], row
    back = repository_program(repository_host, "rollback", SERVER, "--to", str(reviewed), "--yes")
    assert back.rc == 1 and "before the compaction" in back.stderr, back.stdout + back.stderr
