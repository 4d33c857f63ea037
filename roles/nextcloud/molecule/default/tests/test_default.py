"""The nextcloud role on its test host, on REAL Nextcloud: alpha and beta on 31.0.11 (one shared
read-only release), behind real PHP-FPM pools, PostgreSQL, Redis and nginx, reached over HTTPS as
their users reach them (WebDAV, CalDAV, CardDAV). Checked from inside the host. The canary,
upgrade, rollback and refusal tests run the scenario's converge again (gamma, installed on 30.0.1,
then upgraded to 31.0.11), and come last."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import scenario_tools
import yaml
from scenario_tools import (
    assert_database_refused,
    connects,
    dav,
    nextcloud_https,
    nextcloud_set_password,
    occ,
)

HOST = "chaton-test-nextcloud"
SCENARIO = Path(__file__).resolve().parents[1]
FIXTURES = yaml.safe_load((SCENARIO / "fixtures" / "test.yml").read_text(encoding="utf-8"))
SECRETS: dict[str, str] = FIXTURES["chaton_secrets"]
CURRENT = FIXTURES["test_current_version"]
PREVIOUS = FIXTURES["test_previous_version"]
RELEASES = "/opt/nextcloud/releases"
README = (SCENARIO.parents[1] / "README.md").read_text(encoding="utf-8")
FILL_INS = [
    item["path"]
    for item in yaml.safe_load((SCENARIO.parents[1] / "defaults" / "main.yml").read_text())[
        "nextcloud_release_fill_ins"
    ]
]
# The passwords the tests give the accounts (the role creates them with random ones).
PASSWORDS = {
    ("alpha", "camille"): "Camille-test-password-41",
    ("alpha", "dominique"): "Dominique-test-password-42",
    ("beta", "sacha"): "Sacha-test-password-43",
    ("gamma", "noa"): "Noa-test-password-44",
}


def secret(name: str, purpose: str) -> str:
    return SECRETS[f"nextcloud/{name}/{purpose}"]


def status(host, name: str) -> dict[str, Any]:
    return json.loads(occ(host, name, "status", "--output=json").stdout)


def manifest(version: str) -> dict[str, Any]:
    """The control node's artifact.json of a release (chaton artifacts)."""
    cache = Path(os.environ["CHATON_ARTIFACTS_DIR"])
    return json.loads((cache / "nextcloud" / version / "artifact.json").read_text())


def login(host, name: str, user: str) -> str:
    """The test password of an account, set on first use."""
    password = PASSWORDS[(name, user)]
    nextcloud_set_password(host, name, user, password)
    return password


def converge(*options: str, **extra_vars: Any) -> subprocess.CompletedProcess[str]:
    """The scenario's converge again, with extra variables (another version for an instance);
    `options`: more ansible-playbook options (--tags nextcloud: only this role's tasks, when the
    databases, caches and pools are already there)."""
    return scenario_tools.converge(HOST, SCENARIO, *options, timeout=1200, **extra_vars)


def psql(host, database: str, query: str) -> str:
    result = host.run(f"runuser -u postgres -- psql -d {database} -tAc {shlex.quote(query)}")
    assert result.rc == 0, result.stderr
    return str(result.stdout)


# ---------------------------------------------------------------------------------------------
# Each vhost serves its own real Nextcloud, on its own database and Redis


@pytest.mark.parametrize("name", ["alpha", "beta"])
def test_each_vhost_serves_real_nextcloud(host, name):
    code, body = nextcloud_https(host, name, "/status.php")
    assert code == 200, body
    page = json.loads(body)
    assert page["productname"] == "Nextcloud"
    assert page["versionstring"] == CURRENT
    assert page["installed"] is True and page["maintenance"] is False
    assert not page["needsDbUpgrade"]
    # Its own configuration: database, Redis, data folder, secrets from the vault.
    config = json.loads(occ(host, name, "config:list", "system", "--private").stdout)["system"]
    assert config["dbname"] == config["dbuser"] == f"nextcloud_{name}"
    assert config["redis"]["host"] == f"/run/redis-nextcloud-{name}/redis-server.sock"
    assert config["datadirectory"] == f"/srv/nextcloud/{name}/data"
    assert config["instanceid"] == secret(name, "instanceid")


@pytest.mark.parametrize("name", ["alpha", "beta"])
def test_each_instance_uses_its_own_database_and_redis(host, name):
    tables = psql(
        host, f"nextcloud_{name}", "select count(*) from pg_tables where tablename like 'oc_%'"
    )
    assert int(tables) > 100
    owner = psql(
        host, f"nextcloud_{name}", "select tableowner from pg_tables where tablename = 'oc_users'"
    )
    assert owner.strip() == f"nextcloud_{name}"
    # A request through the vhost fills the instance's own Redis (distributed cache, locks).
    assert nextcloud_https(host, name, "/status.php")[0] == 200
    redis = host.run(
        f"runuser -u nextcloud-{name} -- redis-cli -s /run/redis-nextcloud-{name}/redis-server.sock"
        f" --user nextcloud-{name} --pass {shlex.quote(secret(name, 'redis_password'))}"
        " --no-auth-warning dbsize"
    )
    assert redis.rc == 0 and int(redis.stdout) > 0, redis.stdout + redis.stderr


def test_nginx_follows_nextclouds_documented_configuration(host):
    assert nextcloud_https(host, "alpha", "/.well-known/caldav")[0] == 301
    headers = host.run(
        "curl -sS -o /dev/null -D - --cacert /etc/ssl/chaton/nextcloud-alpha/fullchain.pem"
        " --resolve cloud.alpha.example:443:127.0.0.1 https://cloud.alpha.example/.well-known/caldav"
    ).stdout.lower()
    assert "location: https://cloud.alpha.example/remote.php/dav/" in headers
    page_headers = host.run(
        "curl -sS -o /dev/null -D - --cacert /etc/ssl/chaton/nextcloud-alpha/fullchain.pem"
        " --resolve cloud.alpha.example:443:127.0.0.1 https://cloud.alpha.example/status.php"
    ).stdout.lower()
    for header in (
        "x-robots-tag: noindex, nofollow",
        "x-xss-protection: 1; mode=block",
        "x-permitted-cross-domain-policies: none",
        "strict-transport-security:",
    ):
        assert header in page_headers
    assert "x-powered-by" not in page_headers
    for hidden in (
        "/config/config.php",
        "/data/nextcloud.log",
        "/occ",
        "/lib/base.php",
        "/.ocdata",
    ):
        assert nextcloud_https(host, "alpha", hidden)[0] == 404, hidden
    # The configuration is not in the release: nothing there to serve or read.
    assert not host.file(f"{RELEASES}/{CURRENT}/config/config.php").exists


def test_one_read_only_release_shared_by_both(host):
    for name in ("alpha", "beta"):
        link = host.file(f"/srv/nextcloud/{name}/release")
        assert link.is_symlink and link.linked_to == f"{RELEASES}/{CURRENT}"
    writable = host.run(f"find {RELEASES} -perm /022 -o ! -user root | head -5")
    assert writable.stdout == ""
    attempt = host.run(f"runuser -u nextcloud-alpha -- touch {RELEASES}/{CURRENT}/index.php")
    assert attempt.rc != 0


# ---------------------------------------------------------------------------------------------
# What the structure file asks: accounts, groups, quotas, apps (read back with occ)


def test_accounts_groups_quotas_and_apps(host):
    users = json.loads(occ(host, "alpha", "user:list", "--output=json").stdout)
    assert set(users) == {"admin", "camille", "dominique"}
    assert users["camille"] == "Camille Martin"
    info = json.loads(occ(host, "alpha", "user:info", "camille", "--output=json").stdout)
    assert info["email"] == "camille@alpha.example"
    assert info["quota"] == "5 GB"
    groups = json.loads(occ(host, "alpha", "group:list", "--output=json").stdout)
    assert sorted(groups["bureau"]) == ["camille"] and groups["benevoles"] == ["dominique"]
    # 20 GB for 10 accounts: 2 GB each by default.
    default = occ(host, "alpha", "config:app:get", "files", "default_quota").stdout.strip()
    assert default == "2048 MB"
    beta_users = json.loads(occ(host, "beta", "user:list", "--output=json").stdout)
    assert set(beta_users) == {"admin", "sacha"}
    apps = json.loads(occ(host, "alpha", "app:list", "--output=json").stdout)
    assert {"twofactor_totp", "files", "dav"} <= set(apps["enabled"])
    # The role upgrades Nextcloud, not its web updater.
    assert "updatenotification" in apps["disabled"]
    beta_apps = json.loads(occ(host, "beta", "app:list", "--output=json").stdout)
    assert "twofactor_totp" in beta_apps["disabled"]


@pytest.mark.parametrize(
    ("name", "user"), [("alpha", "camille"), ("alpha", "dominique"), ("beta", "sacha")]
)
def test_each_account_uploads_lists_and_downloads_over_webdav(host, name, user):
    password = login(host, name, user)
    content = f"Compte rendu de {user} sur {name}: {os.urandom(8).hex()}\n"
    host.run(f"printf %s {shlex.quote(content)} > /tmp/chaton-upload.txt")
    code, body = dav(
        host, name, user, password, "PUT", f"files/{user}/compte-rendu.txt",
        "-T", "/tmp/chaton-upload.txt",
    )  # fmt: skip
    assert code == 201, body
    code, listing = dav(host, name, user, password, "PROPFIND", f"files/{user}/", "-H", "Depth: 1")
    assert code == 207, listing
    assert f"/remote.php/dav/files/{user}/compte-rendu.txt" in listing
    code, downloaded = dav(host, name, user, password, "GET", f"files/{user}/compte-rendu.txt")
    assert (code, downloaded) == (200, content)
    # On disk, in the instance's own data folder, owned by its user.
    stored = host.file(f"/srv/nextcloud/{name}/data/{user}/files/compte-rendu.txt")
    assert stored.content_string == content and stored.user == f"nextcloud-{name}"


QUOTA_QUERY = '<d:propfind xmlns:d="DAV:"><d:prop><d:quota-available-bytes/></d:prop></d:propfind>'


def test_an_upload_over_the_accounts_quota_is_refused(host):
    password = login(host, "beta", "sacha")
    code, listing = dav(
        host, "beta", "sacha", password, "PROPFIND", "files/sacha/", "-H", "Depth: 0",
        "--data", QUOTA_QUERY,
    )  # fmt: skip
    assert code == 207, listing
    available = int(re.search(r"quota-available-bytes>(\d+)<", listing).group(1))
    # sacha's own quota is 50 MB (its structure file): the rest of it, minus what the skeleton took.
    assert 0 < available <= 50 * 1024 * 1024
    host.run(f"head -c {available + 1024 * 1024} /dev/zero > /tmp/chaton-too-big")
    code, body = dav(
        host,
        "beta",
        "sacha",
        password,
        "PUT",
        "files/sacha/too-big.bin",
        "-T",
        "/tmp/chaton-too-big",
    )
    assert code == 507, body
    assert "InsufficientStorage" in body
    assert not host.file("/srv/nextcloud/beta/data/sacha/files/too-big.bin").exists


EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//chaton-toolkit//tests//FR\r\n"
    "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261207T100000Z\r\nDTSTART:20261210T170000Z\r\n"
    "DTEND:20261210T190000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nEMAIL:{email}\r\nEND:VCARD\r\n"


def put_text(host, name, user, password, path, text, content_type):
    host.run(f"printf %s {shlex.quote(text)} > /tmp/chaton-dav-body")
    return dav(
        host, name, user, password, "PUT", path,
        "-T", "/tmp/chaton-dav-body", "-H", f"Content-Type: {content_type}",
    )  # fmt: skip


def test_a_calendar_event_and_a_contact_are_written_and_read_back(host):
    password = login(host, "alpha", "camille")
    event = EVENT.format(uid="chaton-ag-2026", summary="Assemblée générale")
    code, body = put_text(
        host, "alpha", "camille", password, "calendars/camille/personal/ag-2026.ics", event,
        "text/calendar; charset=utf-8",
    )  # fmt: skip
    assert code == 201, body
    code, exported = dav(
        host, "alpha", "camille", password, "GET", "calendars/camille/personal/ag-2026.ics"
    )
    assert (
        code == 200
        and "SUMMARY:Assemblée générale" in exported
        and "UID:chaton-ag-2026" in exported
    )
    card = CARD.format(uid="chaton-claude", name="Claude Dupont", email="claude@example.org")
    code, body = put_text(
        host, "alpha", "camille", password, "addressbooks/users/camille/contacts/claude.vcf", card,
        "text/vcard; charset=utf-8",
    )  # fmt: skip
    assert code == 201, body
    code, read = dav(
        host, "alpha", "camille", password, "GET", "addressbooks/users/camille/contacts/claude.vcf"
    )
    assert code == 200 and "FN:Claude Dupont" in read and "EMAIL:claude@example.org" in read
    # Stored in alpha's database, not in beta's.
    assert (
        psql(
            host,
            "nextcloud_alpha",
            "select count(*) from oc_calendarobjects where uri = 'ag-2026.ics'",
        ).strip()
        == "1"
    )
    assert (
        psql(
            host,
            "nextcloud_beta",
            "select count(*) from oc_calendarobjects where uri = 'ag-2026.ics'",
        ).strip()
        == "0"
    )


def test_background_jobs_run_from_the_timer_as_the_instance(host):
    timer = host.service("nextcloud-cron@alpha.timer")
    assert timer.is_enabled and timer.is_running
    mode = occ(host, "alpha", "config:app:get", "core", "backgroundjobs_mode").stdout.strip()
    assert mode == "cron"
    # The role ran them once right after the install.
    before = int(occ(host, "alpha", "config:app:get", "core", "lastcron").stdout.strip())
    assert before > 0
    assert host.run("sleep 1.1; systemctl start nextcloud-cron@alpha.service").rc == 0
    after = int(occ(host, "alpha", "config:app:get", "core", "lastcron").stdout.strip())
    assert after > before
    shown = host.run("systemctl show -p User,Environment nextcloud-cron@alpha.service").stdout
    assert "User=nextcloud-alpha" in shown
    assert "NEXTCLOUD_CONFIG_DIR=/srv/nextcloud/alpha/config/" in shown
    # The timer is what runs it: the service is the timer's unit.
    assert host.run("systemctl show -p Unit --value nextcloud-cron@alpha.timer").stdout.strip() == (
        "nextcloud-cron@alpha.service"
    )


# ---------------------------------------------------------------------------------------------
# Isolation: alpha cannot reach beta's data, configuration, pool, database or Redis


def test_an_account_of_alpha_cannot_log_in_on_beta(host):
    password = login(host, "alpha", "camille")
    assert (
        dav(host, "alpha", "camille", password, "PROPFIND", "files/camille/", "-H", "Depth: 0")[0]
        == 207
    )
    # Same name, same password, other instance: beta has no such account.
    for path in ("files/camille/", "calendars/camille/"):
        code, _ = dav(host, "beta", "camille", password, "PROPFIND", path, "-H", "Depth: 0")
        assert code == 401, path
    # Nor can alpha's credentials reach beta's files by beta's account name.
    code, _ = dav(host, "beta", "sacha", password, "PROPFIND", "files/sacha/", "-H", "Depth: 0")
    assert code == 401


# Run in alpha's own PHP-FPM pool: every warning PHP gives while reading each path.
PROBE = r"""<?php
set_error_handler(function (int $no, string $message) {
    $GLOBALS['said'][] = $message;
    return true;
});
$result = [];
foreach (json_decode($_SERVER['CHATON_PATHS'], true) as $path) {
    $GLOBALS['said'] = [];
    $content = file_get_contents($path);
    $listing = is_dir($path) ? scandir($path) : null;
    $result[$path] = [
        'read' => $content !== false,
        'listed' => $listing !== false && $listing !== null,
        'said' => $GLOBALS['said'],
    ];
}
header('Content-Type: application/json');
echo json_encode($result);
"""


def test_alphas_php_cannot_read_outside_its_paths(host):
    """Real PHP code in alpha's pool (a tenant's code runs there): open_basedir refuses beta's
    folders, and a world-readable file outside alpha's paths, which file modes alone would
    let it read; alpha's own configuration stays readable."""
    paths = [
        "/srv/nextcloud/beta/config/config.php",
        "/srv/nextcloud/beta/data/nextcloud.log",
        "/srv/nextcloud/beta/data",
        "/etc/hostname",
        "/srv/nextcloud/alpha/config/config.php",
    ]
    result = run_in_pool(host, "alpha", PROBE, CHATON_PATHS=json.dumps(paths))
    assert host.file("/etc/hostname").mode & 0o004  # world-readable: only open_basedir stops it
    for path in paths[:4]:
        assert not result[path]["read"] and not result[path]["listed"], path
        assert any("open_basedir restriction in effect" in said for said in result[path]["said"]), (
            result[path]
        )
    assert result["/srv/nextcloud/alpha/config/config.php"]["read"]


# Run in a pool: what a tenant's PHP can do with APCu, whose memory PHP-FPM shares between pools.
CACHE_PROBE = r"""<?php
$apcu = function_exists('apcu_enabled') && apcu_enabled();
$result = ['apcu' => $apcu, 'stored' => false, 'fetched' => null, 'keys' => []];
if ($apcu) {
    if (isset($_SERVER['CHATON_STORE'])) {
        $result['stored'] = apcu_store('chaton-left-by-alpha', 'poisoned');
    }
    $fetched = apcu_fetch('chaton-left-by-alpha', $found);
    $result['fetched'] = $found ? $fetched : null;
    foreach ((apcu_cache_info(false)['cache_list'] ?? []) as $entry) {
        $result['keys'][] = $entry['info'];
    }
}
header('Content-Type: application/json');
echo json_encode($result);
"""


def run_in_pool(host, name: str, code: str, **params: str) -> dict[str, Any]:
    """Run PHP `code` in instance `name`'s own PHP-FPM pool (through its socket, as nginx does),
    from a file in its writable apps folder (where a tenant's code could be): its JSON answer."""
    probe = f"/srv/nextcloud/{name}/apps/chaton-probe.php"
    host.run(f"printf %s {shlex.quote(code)} > /tmp/chaton-probe.php")
    owner = f"nextcloud-{name}"
    installed = host.run(f"install -o {owner} -g {owner} -m 0640 /tmp/chaton-probe.php {probe}")
    assert installed.rc == 0, installed.stderr
    fastcgi = " ".join(f"{key}={shlex.quote(value)}" for key, value in params.items())
    try:
        answer = host.run(
            f"{fastcgi} SCRIPT_FILENAME={probe} REQUEST_METHOD=GET "
            f"cgi-fcgi -bind -connect /run/php/nextcloud-{name}.sock"
        )
    finally:
        host.run(f"rm -f {probe}")
    assert answer.rc == 0, answer.stderr
    result: dict[str, Any] = json.loads(answer.stdout.split("\r\n\r\n", 1)[1])
    return result


def test_no_cache_is_shared_between_the_instances_pools(host):
    """PHP-FPM's pools share one APCu. A tenant's PHP must find nothing of another instance
    there, and be unable to leave anything there for another: APCu is off (Nextcloud's local
    cache is each instance's own Redis)."""
    config = json.loads(occ(host, "alpha", "config:list", "system", "--private").stdout)["system"]
    assert config["memcache.local"] == "\\OC\\Memcache\\Redis"
    # Each instance served requests first: their caches are in use.
    for name in ("alpha", "beta"):
        assert nextcloud_https(host, name, "/status.php")[0] == 200
    # alpha leaves an entry, beta looks for it (and lists what it can see).
    alpha = run_in_pool(host, "alpha", CACHE_PROBE, CHATON_STORE="1")
    beta = run_in_pool(host, "beta", CACHE_PROBE)
    for seen in (alpha, beta):
        assert seen["keys"] == [] and seen["fetched"] is None, seen
        assert seen["apcu"] is False and seen["stored"] is False


@pytest.mark.parametrize(
    "path",
    [
        "/srv/nextcloud/beta/config/config.php",
        "/srv/nextcloud/beta/config/chaton.config.php",
        "/srv/nextcloud/beta/data/nextcloud.log",
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


UPGRADE_BACKUPS = "/var/backups/chaton/nextcloud"


@pytest.mark.parametrize(
    "attempt",
    [
        # What would make root or postgres use the user's files: a release link of its own,
        # a folder of its own where root writes or reads (upgrade dumps, config).
        "ln -sfn /tmp /srv/nextcloud/alpha/release",
        "mv /srv/nextcloud/alpha/release /srv/nextcloud/alpha/release.old",
        "mkdir /srv/nextcloud/alpha/backups",
        "mv /srv/nextcloud/alpha/config /srv/nextcloud/alpha/config.old",
        "touch /srv/nextcloud/alpha/anything",
        f"ls {UPGRADE_BACKUPS}/alpha",
    ],
)
def test_the_instance_user_cannot_change_what_root_uses_in_its_home(host, attempt):
    """alpha's own user tries to swap what root and postgres work with: its home is root's, its
    upgrade backups out of it in a folder of root's alone."""
    release = host.file("/srv/nextcloud/alpha/release").linked_to
    tried = host.run(f"runuser -u nextcloud-alpha -- {attempt}")
    assert tried.rc != 0 and "Permission denied" in tried.stderr, attempt
    assert host.file("/srv/nextcloud/alpha/release").linked_to == release
    home = host.file("/srv/nextcloud/alpha")
    assert (home.user, home.group, home.mode) == ("root", "nextcloud-alpha", 0o750)
    backups = host.file(f"{UPGRADE_BACKUPS}/alpha")
    assert (backups.user, backups.group, backups.mode) == ("root", "root", 0o700)
    assert not host.file("/srv/nextcloud/alpha/backups").exists


# What beta's user writes in its own config.php (any code of beta's, an app say, could): an older
# version, to make the role "upgrade" it, and a path, which root would have used in its own.
@pytest.mark.parametrize("forged", ["30.0.1.2", "../../../../etc/chaton-test"])
def test_an_instance_cannot_make_the_role_act_on_a_version_it_forges(host, forged):
    config = "/srv/nextcloud/beta/config/config.php"
    original = host.file(config).content_string
    assert f"'version' => '{CURRENT}." in original
    release = host.file("/srv/nextcloud/beta/release").linked_to
    backups = host.run(f"ls {UPGRADE_BACKUPS}/beta").stdout.split()
    # Run by beta's user: its config.php, with the version given.
    rewrite = (
        "import re, sys; p, v = sys.argv[1:]; t = open(p).read(); "
        "open(p, 'w').write(re.sub(\"'version' => '[^']*'\", f\"'version' => '{v}'\", t))"
    )
    forge = ["runuser", "-u", "nextcloud-beta", "--", "python3", "-c", rewrite, config, forged]
    host.run_expect([0], shlex.join(forge))
    try:
        run = converge("--tags", "nextcloud")
        after = (
            host.file("/srv/nextcloud/beta/release").linked_to,
            host.run(f"ls {UPGRADE_BACKUPS}/beta").stdout.split(),
        )
    finally:
        put_back = f"runuser -u nextcloud-beta -- sh -c 'cat > {config}'"
        host.run_expect([0], f"printf %s {shlex.quote(original)} | {put_back}")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "instance beta says it runs" in output, output[-3000:]
    assert f"but this role left it on {CURRENT}" in output
    assert "Nothing was changed" in output
    # Nothing was: no backup taken, no release switched, and the instance serves as before.
    assert after == (release, backups)
    assert not host.file("/etc/chaton-test").exists
    assert host.file(f"{UPGRADE_BACKUPS}/beta/version").content_string == f"{CURRENT}\n"
    assert status(host, "beta")["versionstring"] == CURRENT


def test_only_the_web_server_may_cross_an_instances_home(host):
    """An ACL lets www-data cross alpha's home (to its release and apps); another instance's
    user cannot even look at a name in it."""
    acl = host.check_output("getfacl -p --omit-header /srv/nextcloud/alpha").split()
    assert "user:www-data:--x" in acl and "other::---" in acl, acl
    assert host.run("runuser -u www-data -- test -e /srv/nextcloud/alpha/release/occ").rc == 0
    assert host.run("runuser -u www-data -- ls /srv/nextcloud/alpha").rc != 0
    peek = host.run("runuser -u nextcloud-beta -- ls -l /srv/nextcloud/alpha/release")
    assert peek.rc != 0 and "Permission denied" in peek.stderr


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
    assert main.user == "nextcloud-alpha" and not main.mode & 0o007
    assert occ(host, "alpha", "config:system:get", "dbpassword").stdout.strip() == secret(
        "alpha", "db_password"
    )


# ---------------------------------------------------------------------------------------------
# Nextcloud's own checks


def test_setup_checks_warn_only_about_what_the_readme_explains(host):
    """`occ setupchecks`: what the role fixes passes (HTTP headers, database indices, MIME types,
    background jobs, internet access switched off on a host without it); every other check that
    does not pass is named and explained in the role's README."""
    checks = json.loads(occ(host, "alpha", "setupchecks", "--output=json", check=False).stdout)
    results = {name: result for group in checks.values() for name, result in group.items()}
    fixed = (
        "OCA\\Settings\\SetupChecks\\SecurityHeaders",
        "OCA\\Settings\\SetupChecks\\DatabaseHasMissingIndices",
        "OCA\\Settings\\SetupChecks\\MimeTypeMigrationAvailable",
        "OCA\\Settings\\SetupChecks\\CronInfo",
        "OCA\\Settings\\SetupChecks\\InternetConnectivity",
        "OCA\\Settings\\SetupChecks\\DatabaseHasMissingColumns",
        "OCA\\Settings\\SetupChecks\\DatabaseHasMissingPrimaryKeys",
    )
    for name in fixed:
        assert results[name]["severity"] == "success", (name, results[name])
    unexplained = [
        f"{name} ({result['severity']}: {result.get('description')})"
        for name, result in results.items()
        if result["severity"] != "success" and f"`{name.rsplit(chr(92), 1)[1]}`" not in README
    ]
    assert unexplained == []


def expected_integrity(version: str) -> dict[str, dict[str, set[str]]]:
    """What Nextcloud's integrity check must report on `version`, from the cache's manifest:
    {scope: {"FILE_MISSING": paths, "INVALID_HASH": paths}} (paths relative to the scope), the
    absent files the role filled in reported as changed (Debian's version), the others as
    missing."""
    expected: dict[str, dict[str, set[str]]] = {}
    for path in manifest(version)["code_signing"]["absent"]:
        scope, relative = ("core", path)
        if path.startswith("apps/"):
            _apps, app, relative = path.split("/", 2)
            scope = app
        kind = "INVALID_HASH" if path in FILL_INS else "FILE_MISSING"
        expected.setdefault(scope, {"FILE_MISSING": set(), "INVALID_HASH": set()})[kind].add(
            relative
        )
    return expected


def integrity_report(host, name: str, scope: str) -> dict[str, set[str]]:
    command = ["integrity:check-core"] if scope == "core" else ["integrity:check-app", scope]
    result = occ(host, name, *command, "--output=json", check=False)
    text = result.stdout.strip()
    report = json.loads(text) if text.startswith("{") else {}
    return {kind: set(files) for kind, files in report.items()}


def test_the_integrity_check_reports_exactly_the_absent_files(host):
    expected = expected_integrity(CURRENT)
    assert "core" in expected  # the shared copies lack files: the check is not empty
    assert expected["core"]["INVALID_HASH"] == {
        "core/fonts/NotoSans-Regular.ttf",
        "core/fonts/NotoSans-Bold.ttf",
    }
    for scope, kinds in expected.items():
        wanted = {kind: files for kind, files in kinds.items() if files}
        assert integrity_report(host, "alpha", scope) == wanted, scope
    # An app the copies do not lack anything of: nothing reported.
    assert "files" not in expected and integrity_report(host, "alpha", "files") == {}


# ---------------------------------------------------------------------------------------------
# Canary secrets: a new instance's install leaves them nowhere (gamma, on the previous release)


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
        run = converge(test_with_gamma=True)
    finally:
        host.run("touch /run/chaton-stop-sampler; sleep 1")
    assert run.returncode == 0, run.stdout[-3000:]
    state = status(host, "gamma")
    assert state["installed"] is True and state["versionstring"] == PREVIOUS
    samples = host.file("/var/lib/chaton-ps-samples").content_string
    # The sampler did see occ's install run: the check below could have caught a password.
    assert "maintenance:install" in samples and "nextcloud_gamma" in samples
    journal = host.run("journalctl --no-pager -o cat").stdout
    logs = host.run("cat /srv/nextcloud/gamma/data/*.log").stdout
    canaries = [v for k, v in SECRETS.items() if k.startswith("nextcloud/gamma/")]
    assert len(canaries) == 6
    # The instance id is no secret to Nextcloud: it names the data folder's appdata_<id> (in
    # its log's paths) and the session cookie every answer sets.
    instanceid = secret("gamma", "instanceid")
    assert logs.strip(), "gamma's install left no log to look into"
    for canary in canaries:
        for where, text in (
            ("output", run.stdout + run.stderr),
            ("journal", journal),
            ("process list", samples),
            ("Nextcloud's log", logs.replace(f"appdata_{instanceid}", "appdata_")),
        ):
            assert canary not in text, f"a secret of gamma is in the {where}"


# ---------------------------------------------------------------------------------------------
# Upgrades of gamma, 30.0.1 to 31.0.11 (these run the converge again: last in this file)


def gamma_holds_its_data(host) -> None:
    """gamma serves noa's file and calendar event over HTTPS."""
    password = PASSWORDS[("gamma", "noa")]
    assert dav(host, "gamma", "noa", password, "GET", "files/noa/kept.txt") == (200, "precious\n")
    code, event = dav(host, "gamma", "noa", password, "GET", "calendars/noa/personal/kept.ics")
    assert code == 200 and "SUMMARY:Réunion gardée" in event


def test_gamma_holds_files_and_a_calendar_on_the_previous_release(host):
    password = login(host, "gamma", "noa")
    host.run("printf 'precious\\n' > /tmp/chaton-kept.txt")
    assert (
        dav(
            host,
            "gamma",
            "noa",
            password,
            "PUT",
            "files/noa/kept.txt",
            "-T",
            "/tmp/chaton-kept.txt",
        )[0]
        == 201
    )
    # 30 makes no calendar at an account's first login (31 does): a client makes one.
    assert dav(host, "gamma", "noa", password, "MKCALENDAR", "calendars/noa/personal/")[0] == 201
    event = EVENT.format(uid="chaton-kept", summary="Réunion gardée")
    assert (
        put_text(
            host,
            "gamma",
            "noa",
            password,
            "calendars/noa/personal/kept.ics",
            event,
            "text/calendar",
        )[0]
        == 201
    )
    gamma_holds_its_data(host)
    assert status(host, "gamma")["versionstring"] == PREVIOUS


def test_a_jump_of_two_majors_is_refused_before_anything_changes(host):
    releases = host.run(f"ls {RELEASES}").stdout.split()
    run = converge("--tags", "nextcloud", test_with_gamma=True, test_gamma_version="32.0.0")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"instance gamma runs {PREVIOUS} and cannot go to 32.0.0" in output
    assert "one major version at a time" in output
    # Refused before the releases: 32.0.0 was not even looked for in the cache.
    assert "is not in the artifact cache" not in output
    assert host.run(f"ls {RELEASES}").stdout.split() == releases
    assert status(host, "gamma")["versionstring"] == PREVIOUS


def _schema_and_rows(host) -> tuple[str, str, str]:
    """gamma's database: its schema (as pg_dump writes it), its accounts, calendar objects and
    migrations, and who may connect to it."""
    # pg_dump's \restrict line holds a random key of each dump: left out.
    schema = host.run(
        "runuser -u postgres -- pg_dump --schema-only nextcloud_gamma"
        " | grep -v -E '^.(un)?restrict ' | sha256sum"
    )
    assert schema.rc == 0
    rows = psql(host, "nextcloud_gamma", "select uid, displayname from oc_users order by uid")
    rows += psql(host, "nextcloud_gamma", "select uri, etag from oc_calendarobjects order by uri")
    rows += psql(host, "nextcloud_gamma", "select app, version from oc_migrations order by 1, 2")
    access = psql(
        host, "postgres", "select datacl::text from pg_database where datname = 'nextcloud_gamma'"
    )
    return schema.stdout.split()[0], rows, access


# A real failure in the middle of Nextcloud's own upgrade, from the instance's own database: a
# trigger of its role refuses Nextcloud's record of 31's third core migration (two have changed
# the schema by then).
INJECT = (
    "CREATE FUNCTION chaton_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF NEW.app = 'core' AND NEW.version LIKE '31%' AND (SELECT count(*) FROM oc_migrations "
    "WHERE app = 'core' AND version LIKE '31%') >= 2 THEN "
    "RAISE EXCEPTION 'chaton test: a failure injected into the upgrade (%)', NEW.version; "
    "END IF; RETURN NEW; END $$; "
    "CREATE TRIGGER chaton_test_fail BEFORE INSERT ON oc_migrations FOR EACH ROW "
    "EXECUTE FUNCTION chaton_test_fail();"
)
# What a tenant would plant for the rollback's restore: a CHECK constraint whose function makes
# its role a superuser when whoever restores the rows is one (even after a SET ROLE, which the
# function resets: planted by a superuser with SET ROLE, it would have made it one at once).
PLANT = (
    "CREATE FUNCTION chaton_test_escalate(text) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN "
    "RESET ROLE; "
    "IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN "
    "EXECUTE 'ALTER ROLE nextcloud_gamma SUPERUSER'; END IF; RETURN true; END $$; "
    "CREATE TABLE chaton_test_planted (v text CHECK (public.chaton_test_escalate(v))); "
    "INSERT INTO chaton_test_planted VALUES ('planted');"
)
REMOVE_INJECTION = (
    "DROP TRIGGER IF EXISTS chaton_test_fail ON oc_migrations; "
    "DROP FUNCTION IF EXISTS chaton_test_fail(); "
    "DROP TABLE IF EXISTS chaton_test_planted; "
    "DROP FUNCTION IF EXISTS chaton_test_escalate(text); "
    "ALTER ROLE nextcloud_gamma NOSUPERUSER;"
)


def as_gamma(host, query: str) -> str:
    """Run `query` in gamma's database as gamma's own role, logged in with its password (as
    gamma's PHP is), not as a superuser."""
    password = SECRETS["nextcloud/gamma/db_password"]
    result = host.run(
        f"PGPASSWORD={shlex.quote(password)} psql -h 127.0.0.1 -U nextcloud_gamma "
        f"-d nextcloud_gamma -v ON_ERROR_STOP=1 -tAc {shlex.quote(query)}"
    )
    assert result.rc == 0, result.stderr
    return str(result.stdout)


def gamma_is_superuser(host) -> str:
    query = "select rolsuper from pg_roles where rolname = 'nextcloud_gamma'"
    return psql(host, "postgres", query).strip()


def test_a_failed_upgrade_is_rolled_back_to_the_previous_release_with_its_data(host):
    as_gamma(host, INJECT)
    as_gamma(host, PLANT)
    try:
        assert gamma_is_superuser(host) == "f"
        before = _schema_and_rows(host)
        run = converge("--tags", "nextcloud", test_with_gamma=True, test_gamma_version=CURRENT)
        after = _schema_and_rows(host)
        # The restore ran the planted function as the instance's own role, logged in as itself.
        escalated = gamma_is_superuser(host)
        planted = psql(host, "nextcloud_gamma", "select v from chaton_test_planted").strip()
    finally:
        psql(host, "nextcloud_gamma", REMOVE_INJECTION)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"upgrading instance gamma from {PREVIOUS} to {CURRENT} failed" in output
    assert "rolled back" in output and "a failure injected into the upgrade" in output
    assert escalated == "f"
    assert planted == "planted"
    # Nextcloud had changed the schema before the failure; the rollback undid it.
    assert after == before
    state = status(host, "gamma")
    assert state["versionstring"] == PREVIOUS and not state["maintenance"]
    assert not state["needsDbUpgrade"]
    assert host.file("/srv/nextcloud/gamma/release").linked_to == f"{RELEASES}/{PREVIOUS}"
    assert not host.file(f"{UPGRADE_BACKUPS}/gamma/upgrading").exists
    # The role's record of its release is still the one it goes back to.
    assert host.file(f"{UPGRADE_BACKUPS}/gamma/version").content_string == f"{PREVIOUS}\n"
    gamma_holds_its_data(host)


def test_upgrade_to_the_next_major_keeps_the_data_and_serves_it(host):
    beta_before = (
        status(host, "beta"),
        host.file("/srv/nextcloud/beta/config/config.php").sha256sum,
    )
    # A test double of the backup role's program: it notes which instance it backs up, and
    # whether its upgrade had begun (the role's "upgrading" mark).
    noted = "/root/backed-up-before-upgrade"
    record = (
        f"echo {{name}} $(cat {UPGRADE_BACKUPS}/{{name}}/upgrading 2>/dev/null "
        f"|| echo not-begun) >> {noted}"
    )
    run = converge(
        test_with_gamma=True,
        test_gamma_version=CURRENT,
        nextcloud_backup_command=["sh", "-c", record],
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert host.file(noted).content_string == "gamma not-begun\n"
    state = status(host, "gamma")
    assert state["versionstring"] == CURRENT and not state["needsDbUpgrade"]
    assert not state["maintenance"]
    assert host.file("/srv/nextcloud/gamma/release").linked_to == f"{RELEASES}/{CURRENT}"
    # Served at once, by the new release (its apps too: nothing of the previous one is cached).
    code, body = nextcloud_https(host, "gamma", "/status.php")
    assert code == 200 and json.loads(body)["versionstring"] == CURRENT
    gamma_holds_its_data(host)
    kept = host.run(f"ls {UPGRADE_BACKUPS}/gamma").stdout.split()
    # The failed upgrade's backup, then this one's; and the release the role left it on.
    backups = [name for name in kept if name != "version"]
    assert len(backups) == 2 and all(b.endswith(f"-{PREVIOUS}") for b in backups)
    assert host.file(f"{UPGRADE_BACKUPS}/gamma/version").content_string == f"{CURRENT}\n"
    assert host.file(f"{UPGRADE_BACKUPS}/gamma/{backups[-1]}/database.dump").size > 0
    # beta was not touched.
    assert (
        status(host, "beta"),
        host.file("/srv/nextcloud/beta/config/config.php").sha256sum,
    ) == beta_before
    # What the setup checks ask after an upgrade was done by the role.
    checks = json.loads(occ(host, "gamma", "setupchecks", "--output=json", check=False).stdout)
    results = {name: result for group in checks.values() for name, result in group.items()}
    for name in ("DatabaseHasMissingIndices", "MimeTypeMigrationAvailable", "CronInfo"):
        assert results[f"OCA\\Settings\\SetupChecks\\{name}"]["severity"] == "success", name
