"""The nextcloud role on its test host: two instances (alpha, beta) on the test suite's test
releases of Nextcloud (tests/nextcloud_test_release, named as such in every answer), behind real
PHP-FPM pools, PostgreSQL, Redis and nginx. Checked from inside the host; the upgrade, rollback,
refusal and canary tests run the scenario's converge again with other versions, and come last."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import scenario_tools
import yaml
from scenario_tools import assert_database_refused, connects, occ

HOST = "chaton-test-nextcloud"
SCENARIO = Path(__file__).resolve().parents[1]
FIXTURES = yaml.safe_load((SCENARIO / "fixtures" / "test.yml").read_text(encoding="utf-8"))
SECRETS: dict[str, str] = FIXTURES["chaton_secrets"]
RELEASES = "/opt/nextcloud/releases"


def secret(name: str, purpose: str) -> str:
    return SECRETS[f"nextcloud/{name}/{purpose}"]


def status(host, name: str) -> dict[str, Any]:
    return json.loads(occ(host, name, "status", "--output=json").stdout)


def fetch(host, name: str, path: str, *curl_args: str):
    """An HTTPS request to instance `name`'s vhost, through the host's nginx."""
    domain = f"cloud.{name}.example"
    return host.run(
        "curl -sk --max-time 20 --resolve {}:443:127.0.0.1 {} {}".format(
            domain,
            " ".join(shlex.quote(a) for a in curl_args),
            shlex.quote(f"https://{domain}{path}"),
        )
    )


def occ_log(host, name: str) -> list[dict[str, Any]]:
    """What the test release's occ recorded: one entry per run."""
    text = host.file(f"/srv/nextcloud/{name}/data/chaton-test-release-occ.log").content_string
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def changes(host, name: str) -> list[str]:
    return [" ".join(entry["argv"]) for entry in occ_log(host, name) if entry["changed"]]


def converge(*options: str, **extra_vars: Any) -> subprocess.CompletedProcess[str]:
    """The scenario's converge again, with extra variables (another version for an instance);
    `options`: more ansible-playbook options (--tags nextcloud: only this role's tasks, when the
    databases, caches and pools are already there)."""
    return scenario_tools.converge(HOST, SCENARIO, *options, **extra_vars)


# ---------------------------------------------------------------------------------------------
# Each vhost serves its own instance


@pytest.mark.parametrize("name", ["alpha", "beta"])
def test_each_vhost_serves_its_own_instance(host, name):
    answer = fetch(host, name, "/index.php?format=json")
    assert answer.rc == 0, answer.stderr
    page = json.loads(answer.stdout)
    assert page["productname"] == "Nextcloud test release"
    assert page["config_dir"] == f"/srv/nextcloud/{name}/config/"
    assert page["instanceid"] == secret(name, "instanceid")
    assert page["unix_user"] == f"nextcloud-{name}"
    assert page["db"] == {
        "ok": True,
        "current_user": f"nextcloud_{name}",
        "current_database": f"nextcloud_{name}",
    }
    assert page["redis"]["ok"] is True
    assert page["redis"]["host"] == f"/run/redis-nextcloud-{name}/redis-server.sock"
    assert page["datadirectory_writable"] is True
    assert page["maintenance"] is False


def test_nginx_follows_nextclouds_documented_configuration(host):
    status_page = fetch(host, "alpha", "/status.php")
    assert json.loads(status_page.stdout)["installed"] is True
    headers = fetch(host, "alpha", "/.well-known/caldav", "-D", "-", "-o", "/dev/null").stdout
    assert headers.startswith("HTTP/2 301")
    assert "location: https://cloud.alpha.example/remote.php/dav/" in headers.lower()
    page_headers = fetch(host, "alpha", "/index.php", "-D", "-", "-o", "/dev/null").stdout.lower()
    assert "x-robots-tag: noindex, nofollow" in page_headers
    assert "strict-transport-security:" in page_headers
    assert "x-powered-by" not in page_headers
    hidden_paths = (
        "/config/config.php",
        "/data/nextcloud.log",
        "/occ",
        "/lib/base.php",
        "/.ocdata",
    )
    for hidden in hidden_paths:
        answer = fetch(host, "alpha", hidden, "-o", "/dev/null", "-w", "%{http_code}")
        assert answer.stdout == "404", hidden
    # The configuration is not in the release: nothing there to serve or read.
    assert not host.file(f"{RELEASES}/30.0.0/config/config.php").exists


def test_one_read_only_release_shared_by_both(host):
    for name in ("alpha", "beta"):
        link = host.file(f"/srv/nextcloud/{name}/release")
        assert link.is_symlink and link.linked_to == f"{RELEASES}/30.0.0"
    writable = host.run(f"find {RELEASES} -perm /022 -o ! -user root | head -5")
    assert writable.stdout == ""
    attempt = host.run(f"runuser -u nextcloud-alpha -- touch {RELEASES}/30.0.0/index.php")
    assert attempt.rc != 0


# ---------------------------------------------------------------------------------------------
# Isolation: alpha cannot reach beta's data, configuration, pool, database or Redis


@pytest.mark.parametrize(
    "path",
    [
        "/srv/nextcloud/beta/config/config.php",
        "/srv/nextcloud/beta/config/chaton.config.php",
        "/srv/nextcloud/beta/data/chaton-test-release-occ.log",
    ],
)
def test_alpha_cannot_read_betas_files(host, path):
    assert host.file(path).exists
    attempt = host.run(f"runuser -u nextcloud-alpha -- cat {shlex.quote(path)}")
    assert attempt.rc != 0 and "Permission denied" in attempt.stderr
    listing = host.run("runuser -u nextcloud-alpha -- ls /srv/nextcloud/beta/data")
    assert listing.rc != 0
    # Nor can the web server: it only crosses the homes.
    assert host.run(f"runuser -u www-data -- cat {shlex.quote(path)}").rc != 0


@pytest.mark.parametrize(
    "socket_path", ["/run/php/nextcloud-beta.sock", "/run/redis-nextcloud-beta/redis-server.sock"]
)
def test_alpha_cannot_use_betas_pool_or_redis(host, socket_path):
    assert connects(host, "nextcloud-alpha", socket_path.replace("beta", "alpha")).rc == 0
    theirs = connects(host, "nextcloud-alpha", socket_path)
    assert theirs.rc != 0 and "PermissionError" in theirs.stderr


def test_alphas_credentials_do_not_open_betas_database(host):
    assert_database_refused(
        host, "nextcloud_alpha", secret("alpha", "db_password"), "nextcloud_alpha", "nextcloud_beta"
    )


def test_configuration_files_belong_to_their_instance(host):
    extra = host.file("/srv/nextcloud/alpha/config/chaton.config.php")
    assert (extra.user, extra.group, extra.mode) == ("root", "nextcloud-alpha", 0o640)
    assert secret("alpha", "db_password") in extra.content_string
    main = host.file("/srv/nextcloud/alpha/config/config.php")
    assert (main.user, main.mode) == ("nextcloud-alpha", 0o640)
    assert occ(host, "alpha", "config:system:get", "dbpassword").stdout.strip() == secret(
        "alpha", "db_password"
    )


# ---------------------------------------------------------------------------------------------
# What the inventory asks, and nothing twice


def test_accounts_groups_quotas_and_apps(host):
    users = json.loads(occ(host, "alpha", "user:list", "--output=json").stdout)
    assert set(users) == {"admin", "camille", "dominique"}
    assert users["camille"] == "Camille Martin"
    groups = json.loads(occ(host, "alpha", "group:list", "--output=json").stdout)
    assert sorted(groups["bureau"]) == ["camille"] and groups["benevoles"] == ["dominique"]
    assert occ(host, "alpha", "user:setting", "camille", "files", "quota").stdout.strip() == "5 GB"
    # 20 GB for 10 accounts: 2 GB each by default.
    default = occ(host, "alpha", "config:app:get", "files", "default_quota").stdout.strip()
    assert default == "2048 MB"
    apps = json.loads(occ(host, "alpha", "app:list", "--output=json").stdout)
    assert {"calendar", "contacts", "files"} <= set(apps["enabled"])
    beta_apps = json.loads(occ(host, "beta", "app:list", "--output=json").stdout)
    assert "calendar" not in beta_apps["enabled"]


def test_every_change_was_made_once(host):
    """Two converges and a check-mode converge ran before: the occ commands that changed
    something are the first converge's, each once."""
    alpha = changes(host, "alpha")
    install = "maintenance:install --database=pgsql --database-name=nextcloud_alpha"
    assert alpha[0].startswith(install)
    assert alpha[1:] == [
        "background:cron",
        "config:app:set files default_quota --value=2048 MB",
        "app:enable calendar contacts",
        "group:add benevoles",
        "group:add bureau",
        "user:add --generate-password --display-name=Camille Martin "
        "--email=camille@alpha.example --group=bureau camille",
        "user:add --generate-password --display-name=Dominique --group=benevoles dominique",
        "user:setting camille files quota 5 GB",
    ]
    beta = changes(host, "beta")
    assert beta[1:] == ["background:cron", "config:app:set files default_quota --value=2048 MB"]
    # No password in occ's arguments.
    for name in ("alpha", "beta"):
        for entry in occ_log(host, name):
            for purpose in ("admin_password", "db_password"):
                assert secret(name, purpose) not in " ".join(entry["argv"])


def test_background_jobs_run_as_the_instance(host):
    timer = host.service("nextcloud-cron@alpha.timer")
    assert timer.is_enabled and timer.is_running
    mode = occ(host, "alpha", "config:app:get", "core", "backgroundjobs_mode").stdout.strip()
    assert mode == "cron"
    before = occ(host, "alpha", "config:app:get", "core", "lastcron", check=False).stdout.strip()
    assert host.run("sleep 1.1; systemctl start nextcloud-cron@alpha.service").rc == 0
    after = occ(host, "alpha", "config:app:get", "core", "lastcron").stdout.strip()
    assert after != before
    shown = host.run("systemctl show -p User,Environment nextcloud-cron@alpha.service").stdout
    assert "User=nextcloud-alpha" in shown
    assert "NEXTCLOUD_CONFIG_DIR=/srv/nextcloud/alpha/config/" in shown


# ---------------------------------------------------------------------------------------------
# Upgrades (these run the converge again: last in this file)


def test_upgrade_to_the_next_major_keeps_the_data(host):
    marker = "/srv/nextcloud/alpha/data/camille/files/kept.txt"
    assert (
        host.run(
            f"runuser -u nextcloud-alpha -- sh -c 'mkdir -p {Path(marker).parent} && "
            f"echo precious > {marker}'"
        ).rc
        == 0
    )
    beta_before = changes(host, "beta")
    # A test double of the backup role's program: it notes which instance it backs up, and
    # whether its upgrade had begun (the role's "upgrading" mark).
    noted = "/root/backed-up-before-upgrade"
    record = (
        f"echo {{name}} $(cat /srv/nextcloud/{{name}}/backups/upgrading 2>/dev/null "
        f"|| echo not-begun) >> {noted}"
    )
    run = converge(test_alpha_version="31.0.0", nextcloud_backup_command=["sh", "-c", record])
    assert run.returncode == 0, run.stdout[-3000:]
    assert host.file(noted).content_string == "alpha not-begun\n"
    state = status(host, "alpha")
    assert state["versionstring"] == "31.0.0" and not state["needsDbUpgrade"]
    assert not state["maintenance"]
    assert host.file("/srv/nextcloud/alpha/release").linked_to == f"{RELEASES}/31.0.0"
    assert host.file(marker).content_string == "precious\n"
    assert "camille" in json.loads(occ(host, "alpha", "user:list", "--output=json").stdout)
    backups = host.run("ls /srv/nextcloud/alpha/backups").stdout.split()
    assert len(backups) == 1 and backups[0].endswith("-30.0.0")
    assert host.file(f"/srv/nextcloud/alpha/backups/{backups[0]}/database.dump").size > 0
    assert changes(host, "alpha")[-3:] == ["maintenance:mode --on", "upgrade --no-interaction",
                                           "maintenance:mode --off"]  # fmt: skip
    # beta was not touched, and stays on 30.
    assert changes(host, "beta") == beta_before
    assert status(host, "beta")["versionstring"] == "30.0.0"


def _schema_and_rows(host) -> tuple[str, str, str]:
    """beta's database: its schema (as pg_dump writes it), its accounts and its schema version
    (the background jobs may change other rows meanwhile), and who may connect to it."""

    def psql(query: str) -> str:
        psql_command = f"runuser -u postgres -- psql -d nextcloud_beta -tAc {shlex.quote(query)}"
        result = host.run(psql_command)
        assert result.rc == 0, result.stderr
        return result.stdout

    # pg_dump's \restrict line holds a random key of each dump: left out.
    schema = host.run(
        "runuser -u postgres -- pg_dump --schema-only nextcloud_beta"
        " | grep -v -E '^.(un)?restrict ' | sha256sum"
    )
    assert schema.rc == 0
    rows = psql("select uid, displayname from oc_users order by uid")
    rows += psql("select * from oc_chaton_schema")
    access = psql("select datacl::text from pg_database where datname = 'nextcloud_beta'")
    return schema.stdout.split()[0], rows, access


def test_a_failed_upgrade_is_rolled_back(host):
    fail_file = "/srv/nextcloud/beta/config/chaton-test-release-fail-upgrade"
    before = _schema_and_rows(host)
    assert host.run(f"runuser -u nextcloud-beta -- touch {fail_file}").rc == 0
    try:
        # Only this role's tasks (the databases, caches and pools are there): also proves that
        # --tags nextcloud reaches the tasks the role includes per instance.
        run = converge(
            "--tags", "nextcloud", test_alpha_version="31.0.0", test_beta_version="31.0.0"
        )
    finally:
        host.run(f"rm -f {fail_file}")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "upgrading instance beta from 30.0.0 to 31.0.0 failed" in output
    assert "rolled back" in output and "Forced failure (test release)" in output
    state = status(host, "beta")
    assert state["versionstring"] == "30.0.0" and not state["maintenance"]
    assert not state["needsDbUpgrade"]
    assert host.file("/srv/nextcloud/beta/release").linked_to == f"{RELEASES}/30.0.0"
    assert not host.file("/srv/nextcloud/beta/backups/upgrading").exists
    assert _schema_and_rows(host) == before
    page = json.loads(fetch(host, "beta", "/index.php?format=json").stdout)
    assert page["db"]["ok"] and page["maintenance"] is False


def test_a_jump_of_two_majors_is_refused_and_changes_nothing(host):
    before = changes(host, "beta")
    run = converge("--tags", "nextcloud", test_alpha_version="31.0.0", test_beta_version="32.0.0")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "instance beta runs 30.0.0 and cannot go to 32.0.0" in output
    assert "one major version at a time" in output
    assert status(host, "beta")["versionstring"] == "30.0.0"
    assert changes(host, "beta") == before


# ---------------------------------------------------------------------------------------------
# Canary secrets: a new instance's install leaves them nowhere


SAMPLER = (
    "for i in $(seq 1 40000); do [ -e /run/chaton-stop-sampler ] && break; "
    "ps -eo args >> /var/lib/chaton-ps-samples; done"
)


def test_an_install_leaves_no_secret_in_output_journal_or_process_list(host):
    host.run("rm -f /run/chaton-stop-sampler /var/lib/chaton-ps-samples")
    started = host.run(
        f"systemd-run --unit chaton-ps-sampler --collect bash -c {shlex.quote(SAMPLER)}"
    )
    assert started.rc == 0, started.stderr
    try:
        run = converge(test_alpha_version="31.0.0", test_with_gamma=True)
    finally:
        host.run("touch /run/chaton-stop-sampler; sleep 1")
    assert run.returncode == 0, run.stdout[-3000:]
    assert status(host, "gamma")["installed"] is True
    samples = host.file("/var/lib/chaton-ps-samples").content_string
    # The sampler did see occ's install run: the check below could have caught a password.
    assert "maintenance:install" in samples and "nextcloud_gamma" in samples
    journal = host.run("journalctl --no-pager -o cat").stdout
    logs = host.run("cat /srv/nextcloud/gamma/data/*.log").stdout
    canaries = [v for k, v in SECRETS.items() if k.startswith("nextcloud/gamma/")]
    assert len(canaries) == 6
    for canary in canaries:
        for where, text in (
            ("output", run.stdout + run.stderr),
            ("journal", journal),
            ("process list", samples),
            ("occ log", logs),
        ):
            assert canary not in text, f"a secret of gamma is in the {where}"
