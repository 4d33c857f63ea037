"""The mastodon role on its test host: the collective's shared instance and gamma's dedicated one,
on the test suite's test releases of Mastodon (tests/mastodon_test_release, named as such in every
answer), on Debian's Ruby and Node.js, behind real PostgreSQL, Redis, nginx and systemd. Checked
from inside the host; the tests that run the scenario's converge again (changed secrets, upgrade,
refusals) come last."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import scenario_tools
import yaml
from scenario_tools import assert_database_refused, connects

HOST = "chaton-test-mastodon"
SCENARIO = Path(__file__).resolve().parents[1]
ROOT = SCENARIO.parents[3]
FIXTURES = yaml.safe_load((SCENARIO / "fixtures" / "test.yml").read_text(encoding="utf-8"))
SECRETS: dict[str, str] = FIXTURES["chaton_secrets"]
INSTANCES = {item["name"]: item for item in FIXTURES["test_instances"]}
DOMAINS = {"shared": "social.collectif.example", "gamma": "social.gamma.example"}
RELEASES = "/opt/mastodon/releases"
BUILDER = ROOT / "tests" / "mastodon_test_release" / "build.py"
PROCESSES = ("web", "sidekiq", "streaming")
EXPOSURE_MAX = 3.0


def secret(name: str, purpose: str) -> str:
    return SECRETS[f"mastodon/{name}/{purpose}"]


def fetch(host, name: str, path: str, *curl_args: str):
    """An HTTPS request to instance `name`'s vhost, through the host's nginx."""
    domain = DOMAINS[name]
    return host.run(
        "curl -sk --max-time 20 --resolve {}:443:127.0.0.1 {} {}".format(
            domain,
            " ".join(shlex.quote(a) for a in curl_args),
            shlex.quote(f"https://{domain}{path}"),
        )
    )


def psql(host, database: str, query: str) -> str:
    result = host.run(
        f"runuser -u postgres -- psql --no-psqlrc -tAd {database} -c {shlex.quote(query)}"
    )
    assert result.rc == 0, result.stderr
    return result.stdout


def commands(host, name: str) -> list[dict[str, Any]]:
    """What the test release recorded in instance `name`'s database: one row per tootctl, rails
    and puma start, in order, with the Ruby that ran it (`runtime`: its path and version)."""
    rows = psql(
        host,
        f"mastodon_{name}",
        "SELECT json_build_object('id', id, 'program', program, 'argv', argv, 'status', status,"
        " 'changed', changed, 'release', release, 'unix_user', unix_user, 'runtime', runtime,"
        " 'details', details)"
        " FROM chaton_test_release_commands ORDER BY id",
    )
    return [json.loads(line) for line in rows.splitlines() if line.strip()]


def changes(host, name: str) -> list[dict[str, Any]]:
    """The recorded runs that changed something, and the web process's starts (the read-only
    probes a converge makes, db:migrate:status, are left out)."""
    return [c for c in commands(host, name) if c["changed"] or c["program"] == "puma"]


def proof(host, name: str) -> dict[str, Any]:
    answer = fetch(host, name, "/chaton-test-release.json")
    assert answer.rc == 0, answer.stderr
    return json.loads(answer.stdout)


def env_digest(host, name: str) -> str:
    return host.run(f"sha256sum /srv/mastodon/{name}/.env.production").stdout.split()[0]


def converge(*options: str, **extra_vars: Any) -> subprocess.CompletedProcess[str]:
    """The scenario's converge again, with extra variables (another version for an instance);
    `options`: more ansible-playbook options (--tags mastodon: this role's tasks only)."""
    return scenario_tools.converge(HOST, SCENARIO, *options, **extra_vars)


# ---------------------------------------------------------------------------------------------
# The three units of each instance run, sandboxed, as the instance


@pytest.mark.parametrize("process", PROCESSES)
@pytest.mark.parametrize("name", ["shared", "gamma"])
def test_units_run_sandboxed_as_the_instance(host, name, process):
    unit = f"mastodon-{process}@{name}.service"
    assert host.service(unit).is_running and host.service(unit).is_enabled
    shown = host.run(f"systemctl show -p User,MemoryMax,WorkingDirectory {unit}").stdout
    assert f"User=mastodon-{name}" in shown
    assert f"WorkingDirectory=/srv/mastodon/{name}/live" in shown
    memory = re.search(r"^MemoryMax=(\S+)$", shown, re.MULTILINE)
    assert memory and memory.group(1) != "infinity"
    analysed = host.run(f"systemd-analyze security --offline=no --no-pager {unit}")
    assert analysed.rc == 0, analysed.stderr
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", analysed.stdout)
    assert level, analysed.stdout[-500:]
    assert float(level.group(1)) <= EXPOSURE_MAX, analysed.stdout
    # The processes really run as the instance's user, from the shared release.
    main_pid = host.run(f"systemctl show -p MainPID --value {unit}").stdout.strip()
    uid = host.run(f"id -u mastodon-{name}").stdout.strip()
    assert host.run(f"ps -o uid= -p {main_pid}").stdout.strip() == uid


# ---------------------------------------------------------------------------------------------
# nginx: web and streaming through HTTPS, static files with their caching


@pytest.mark.parametrize("name", ["shared", "gamma"])
def test_health_of_web_and_streaming_through_https(host, name):
    web = fetch(host, name, "/health", "-D", "-")
    assert web.rc == 0, web.stderr
    assert web.stdout.startswith("HTTP/2 200")
    assert web.stdout.endswith("\r\n\r\nOK")
    assert "x-test-release: Mastodon test release" in web.stdout
    assert "strict-transport-security:" in web.stdout.lower()
    streaming = fetch(host, name, "/api/v1/streaming/health", "-D", "-")
    assert streaming.stdout.startswith("HTTP/2 200") and streaming.stdout.endswith("OK")
    # The page the demo prints the address of names the instance.
    home = fetch(host, name, "/", "-D", "-")
    assert home.stdout.startswith("HTTP/2 200") and f"<h1>{DOMAINS[name]}</h1>" in home.stdout
    # What `chaton verify` asks: the instance's API names its own domain.
    instance = json.loads(fetch(host, name, "/api/v2/instance").stdout)
    assert instance["domain"] == DOMAINS[name] and instance["version"] == "4.3.0"
    page = json.loads(fetch(host, name, "/api/v1/streaming/chaton-test-release").stdout)
    assert page["unix_user"] == f"mastodon-{name}"
    assert page["local_domain"] == DOMAINS[name] and page["node_env"] == "production"
    assert page["redis"] == {"ok": True}


def test_streaming_upgrades_to_a_websocket_through_nginx(host):
    key = base64.b64encode(b"chaton-test-key!").decode()
    answer = host.run(
        "curl -sk --http1.1 --max-time 5 -i --resolve social.collectif.example:443:127.0.0.1"
        " -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13'"
        f" -H 'Sec-WebSocket-Key: {key}'"
        " https://social.collectif.example/api/v1/streaming/?stream=public"
        # The frames are binary: only their printable bytes are kept.
        " | tr -c '[:print:]\\r\\n' '.'"
    )
    accept = base64.b64encode(
        hashlib.sha1(  # noqa: S324 - RFC 6455's handshake is SHA-1
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()
        ).digest()
    ).decode()
    assert answer.stdout.startswith("HTTP/1.1 101 Switching Protocols"), answer.stdout[:300]
    assert f"Sec-WebSocket-Accept: {accept}\r\n" in answer.stdout
    assert "Mastodon test release streaming" in answer.stdout


def test_static_files_and_media_are_served_by_nginx_with_their_caching(host):
    pack = fetch(host, "shared", "/packs/chaton-test-release.js", "-D", "-")
    assert pack.stdout.startswith("HTTP/2 200")
    assert "cache-control: public, max-age=2419200, must-revalidate" in pack.stdout.lower()
    assert "a precompiled pack's place" in pack.stdout
    assert "x-test-release" not in pack.stdout.lower()  # nginx, not the web process
    worker = fetch(host, "shared", "/sw.js", "-D", "-")
    assert "cache-control: public, max-age=604800, must-revalidate" in worker.stdout.lower()
    media = "/srv/mastodon/shared/public/system/cache/kept.txt"
    made = host.run(
        f"runuser -u mastodon-shared -- sh -c 'umask 027; mkdir -p {Path(media).parent}"
        f" && echo media > {media}'"
    )
    assert made.rc == 0, made.stderr
    served = fetch(host, "shared", "/system/cache/kept.txt", "-D", "-")
    assert served.stdout.startswith("HTTP/2 200") and served.stdout.endswith("media\n")
    assert "cache-control: public, max-age=2419200, immutable" in served.stdout.lower()
    # Not gamma's: each vhost serves its own instance's media only.
    other = fetch(host, "gamma", "/system/cache/kept.txt", "-o", "/dev/null", "-w", "%{http_code}")
    assert other.stdout == "404"


# ---------------------------------------------------------------------------------------------
# Each instance is wired to its own settings, database and Redis


@pytest.mark.parametrize("name", ["shared", "gamma"])
def test_each_instance_is_wired_to_its_own(host, name):
    page = proof(host, name)
    assert page["product_name"] == "Mastodon test release"
    assert page["version"] == "4.3.0" and page["release"] == f"{RELEASES}/4.3.0"
    assert page["unix_user"] == f"mastodon-{name}"
    assert page["local_domain"] == DOMAINS[name] and page["rails_env"] == "production"
    assert page["missing_env"] == []
    expected = hashlib.sha256(secret(name, "secret_key_base").encode()).hexdigest()
    assert page["secret_key_base_sha256"] == expected
    vapid_public = secret(name, "vapid_keys").split("\n")[1].removeprefix("VAPID_PUBLIC_KEY=")
    assert page["vapid_public_key"] == vapid_public
    assert page["db"]["ok"] is True
    assert page["db"]["current_user"] == page["db"]["current_database"] == f"mastodon_{name}"
    assert page["redis"]["ok"] is True
    assert page["redis"]["path"] == f"/run/redis-mastodon-{name}/redis-server.sock"
    # The sidekiq stand-in beats every 5 seconds into the instance's Redis.
    assert page["redis"]["sidekiq_heartbeat_age"] is not None
    assert page["redis"]["sidekiq_heartbeat_age"] <= 30
    # It writes its media, never its code.
    assert page["release_writable"] is False
    assert page["media_dir"] == f"/srv/mastodon/{name}/public/system"
    assert page["media_writable"] is True


def test_settings_file_holds_the_vaults_values_for_the_instance_only(host):
    env = host.file("/srv/mastodon/shared/.env.production")
    assert (env.user, env.group, env.mode) == ("root", "mastodon-shared", 0o640)
    text = env.content_string
    assert f"SECRET_KEY_BASE={secret('shared', 'secret_key_base')}\n" in text
    assert f"OTP_SECRET={secret('shared', 'otp_secret')}\n" in text
    assert f"DB_PASS={secret('shared', 'db_password')}\n" in text
    assert f"{secret('shared', 'vapid_keys')}\n" in text
    for purpose in ("secret_key_base", "db_password", "redis_password"):
        assert secret("gamma", purpose) not in text
    fingerprints = json.loads(host.file("/var/lib/chaton-mastodon/shared.secrets.json").content)
    assert (
        fingerprints["vapid_keys"]
        == hashlib.sha256(secret("shared", "vapid_keys").encode()).hexdigest()
    )
    assert host.file("/var/lib/chaton-mastodon").mode == 0o700


# ---------------------------------------------------------------------------------------------
# Isolation: the shared instance cannot reach gamma's settings, sockets, database or Redis


def test_shared_cannot_read_gammas_settings_or_media(host):
    for path in ("/srv/mastodon/gamma/.env.production", "/srv/mastodon/gamma/public/system"):
        attempt = host.run(f"runuser -u mastodon-shared -- ls -l {path}")
        assert attempt.rc != 0 and "Permission denied" in attempt.stderr, path
    assert host.run("runuser -u www-data -- cat /srv/mastodon/gamma/.env.production").rc != 0


UPGRADE_BACKUPS = "/var/backups/chaton/mastodon"


@pytest.mark.parametrize(
    "attempt",
    [
        # What would make root, postgres or systemd use the user's files: a live link of its
        # own, settings of its own (or a link to another instance's), a folder where root writes.
        "ln -sfn /tmp /srv/mastodon/gamma/live",
        "ln -sfn /srv/mastodon/shared/.env.production /srv/mastodon/gamma/.env.production",
        "sh -c 'echo DB_PASS=x >> /srv/mastodon/gamma/.env.production'",
        "mkdir /srv/mastodon/gamma/backups",
        f"ls {UPGRADE_BACKUPS}/gamma",
    ],
)
def test_the_instance_user_cannot_change_what_root_uses_in_its_home(host, attempt):
    """gamma's own user tries to swap what root, postgres and systemd work with: its home and
    its settings are root's, its upgrade backups in a folder of root's alone."""
    live = host.file("/srv/mastodon/gamma/live").linked_to
    digest = env_digest(host, "gamma")
    tried = host.run(f"runuser -u mastodon-gamma -- {attempt}")
    assert tried.rc != 0 and "Permission denied" in tried.stderr, attempt
    assert host.file("/srv/mastodon/gamma/live").linked_to == live
    assert env_digest(host, "gamma") == digest
    home = host.file("/srv/mastodon/gamma")
    assert (home.user, home.group, home.mode) == ("root", "mastodon-gamma", 0o750)
    acl = host.check_output("getfacl -p --omit-header /srv/mastodon/gamma").split()
    assert "user:www-data:--x" in acl and "other::---" in acl, acl
    backups = host.file(f"{UPGRADE_BACKUPS}/gamma")
    assert (backups.user, backups.group, backups.mode) == ("root", "root", 0o700)


@pytest.mark.parametrize(
    "socket_path",
    [
        "/run/redis-mastodon-gamma/redis-server.sock",
        "/run/mastodon/gamma/web.sock",
        "/run/mastodon/gamma/streaming.sock",
    ],
)
def test_shared_cannot_use_gammas_redis_or_processes(host, socket_path):
    assert connects(host, "mastodon-shared", socket_path.replace("gamma", "shared")).rc == 0
    theirs = connects(host, "mastodon-shared", socket_path)
    assert theirs.rc != 0 and "PermissionError" in theirs.stderr
    # nginx may: it serves them.
    if "/run/mastodon/" in socket_path:
        assert connects(host, "www-data", socket_path).rc == 0


def test_shareds_credentials_do_not_open_gammas_database(host):
    assert_database_refused(
        host,
        "mastodon_shared",
        secret("shared", "db_password"),
        "mastodon_shared",
        "mastodon_gamma",
    )


# ---------------------------------------------------------------------------------------------
# Accounts: created once, never again


def test_accounts_were_created_once_and_the_suspended_structure_s_disabled(host):
    """Two converges and a check-mode converge ran before."""
    rows = psql(
        host,
        "mastodon_shared",
        "SELECT a.username, u.email, u.disabled, coalesce(r.name, '') FROM accounts a"
        " JOIN users u ON u.account_id = a.id LEFT JOIN user_roles r ON r.id = u.role_id"
        " WHERE a.domain IS NULL ORDER BY a.username",
    ).splitlines()
    assert rows == [
        "alpha_asso|bureau@alpha.example|f|",
        "beta|beta@social.collectif.example|t|",
        "chaton_admin|moderation@collectif.example|f|Admin",
    ]
    tootctl = [" ".join(c["argv"]) for c in commands(host, "shared") if c["program"] == "tootctl"]
    created = [line.split()[2] for line in tootctl if line.startswith("accounts create")]
    assert created == ["chaton_admin", "alpha_asso", "beta"]
    assert [line for line in tootctl if line.startswith("accounts modify")] == [
        "accounts modify beta --disable"
    ]
    assert all(c["unix_user"] == "mastodon-shared" for c in commands(host, "shared"))
    gamma = [" ".join(c["argv"]) for c in commands(host, "gamma") if c["program"] == "tootctl"]
    assert [line.split()[2] for line in gamma] == ["chaton_admin", "gamma"]


def test_tootctl_refuses_an_existing_username_as_the_real_one_does(host):
    run = host.run(
        "cd /srv/mastodon/shared/live && runuser -u mastodon-shared -- sh -c"
        " 'set -a; . /srv/mastodon/shared/.env.production; set +a;"
        " exec ruby bin/tootctl accounts create alpha_asso --email=other@alpha.example'"
    )
    assert run.rc == 1
    assert run.stdout.splitlines() == ["Failure/Error: username", "    taken"]


def test_cleanup_timer_removes_old_media_and_preview_cards_as_the_instance(host):
    timer = host.service("mastodon-cleanup@gamma.timer")
    assert timer.is_enabled and timer.is_running
    assert host.run("systemctl start mastodon-cleanup@gamma.service").rc == 0
    ran = [c for c in commands(host, "gamma") if c["program"] == "tootctl"][-2:]
    assert [c["argv"] for c in ran] == [
        ["media", "remove", "--days", "3"],
        ["preview_cards", "remove", "--days", "14"],
    ]
    assert all(c["status"] == 0 and c["unix_user"] == "mastodon-gamma" for c in ran)


# ---------------------------------------------------------------------------------------------
# Secrets, upgrades and refusals (these run the converge again: last in this file)


def test_a_changed_vault_value_is_refused_and_changes_nothing(host):
    before = env_digest(host, "shared")
    changed = dict(SECRETS)
    changed["mastodon/shared/secret_key_base"] = "f00d" * 16
    run = converge("--tags", "mastodon", chaton_secrets=changed)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "instance shared was deployed with other values of secret_key_base" in output
    assert "f00d" * 16 not in output
    assert env_digest(host, "shared") == before
    assert (
        proof(host, "shared")["secret_key_base_sha256"]
        == hashlib.sha256(secret("shared", "secret_key_base").encode()).hexdigest()
    )


def test_upgrade_runs_pre_deployment_migrations_restart_then_post_deployment(host):
    env_before = {name: env_digest(host, name) for name in ("shared", "gamma")}
    gamma_before = changes(host, "gamma")
    start = commands(host, "shared")[-1]["id"]
    # A test double of the backup role's program: it notes which instance it backs up, and
    # whether its upgrade had begun (the role's "upgrading" mark).
    noted = "/root/backed-up-before-upgrade"
    record = (
        f"echo {{name}} $(cat {UPGRADE_BACKUPS}/{{name}}/upgrading 2>/dev/null "
        f"|| echo not-begun) >> {noted}"
    )
    run = converge(test_shared_version="4.3.1", mastodon_backup_command=["sh", "-c", record])
    assert run.returncode == 0, run.stdout[-3000:]
    assert host.file(noted).content_string == "shared not-begun\n"
    # No secret in the run's output or in the journal (the migrations, the restart, tootctl).
    journal = host.run("journalctl --no-pager -o cat").stdout
    for value in SECRETS.values():
        for line in value.splitlines():
            assert line not in run.stdout + run.stderr
            assert line not in journal
    assert host.file("/srv/mastodon/shared/live").linked_to == f"{RELEASES}/4.3.1"
    assert proof(host, "shared")["version"] == "4.3.1"
    # A backup first: pg_dump's custom format, root's only.
    backups = host.run(f"ls {UPGRADE_BACKUPS}/shared").stdout.split()
    assert len(backups) == 1 and backups[0].endswith("-4.3.0.dump"), backups
    dump = host.file(f"{UPGRADE_BACKUPS}/shared/{backups[0]}")
    assert (dump.user, dump.mode) == ("root", 0o600)
    assert host.run(f"head -c 5 {UPGRADE_BACKUPS}/shared/{backups[0]}").stdout == "PGDMP"
    # Then: pre-deployment migrations with 4.3.1's code, the restart on 4.3.1, post-deployment.
    after = [c for c in commands(host, "shared") if c["id"] > start]
    steps = [
        (c["program"], c["release"], c["details"].get("skip_post_deployment_migrations"))
        for c in after
        if c["program"] == "puma" or c["argv"] == ["db:migrate"]
    ]
    assert steps == [
        ("rails", "4.3.1", True),
        ("puma", "4.3.1", None),
        ("rails", "4.3.1", False),
    ]
    pre, post = (c for c in after if c["argv"] == ["db:migrate"])
    pre_ids = ["2024040301" + "0001"]
    post_ids = ["2024040301" + "0002"]
    assert pre["details"]["applied"] == pre_ids and post["details"]["applied"] == post_ids
    flags = psql(
        host,
        "mastodon_shared",
        "SELECT version || ':' || post_deployment FROM chaton_test_release_migrations"
        " WHERE release = '4.3.1' ORDER BY id",
    ).split()
    assert flags == [f"{pre_ids[0]}:false", f"{post_ids[0]}:true"]
    # The secrets are byte for byte those of before; gamma was not touched.
    assert {name: env_digest(host, name) for name in ("shared", "gamma")} == env_before
    assert changes(host, "gamma") == gamma_before
    assert proof(host, "gamma")["version"] == "4.3.0"


def test_an_unsupported_jump_is_refused_before_anything_changes(host):
    before = commands(host, "shared")
    run = converge("--tags", "mastodon", test_shared_version="4.5.0")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "instance shared runs 4.3.1 and cannot go to 4.5.0" in output
    assert "Nothing was changed" in output
    assert host.file("/srv/mastodon/shared/live").linked_to == f"{RELEASES}/4.3.1"
    assert not host.file(f"{RELEASES}/4.5.0").exists
    assert len(host.run(f"ls {UPGRADE_BACKUPS}/shared").stdout.split()) == 1
    assert commands(host, "shared") == before


def build_release(cache: Path, version: str, *options: str) -> Path:
    """One test release built into `cache` (a cache of the test's own) with the builder's
    options (--runtimes, --declare)."""
    subprocess.run(
        [sys.executable, str(BUILDER), version, str(cache), *options],
        check=True,
        capture_output=True,
        text=True,
    )
    return cache


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # 4.4 needs Ruby 3.2 and Node.js 20 (upstream's notes); Debian 12 has 3.1 and 18.
        (
            ["--runtimes", "none"],
            "release 4.4.0 needs Ruby >= 3.2.0 and bundles none; this host has Debian's 3.1.2.",
        ),
        # A release whose bundled runtime is too old: refused on its manifest, in the preflight.
        (
            ["--runtimes", "ruby=3.1.9,node=22.11.0"],
            "release 4.4.0 needs Ruby >= 3.2.0, and the Ruby it bundles is 3.1.9.",
        ),
        # A manifest that declares another version than its runtime's: refused once unpacked, as
        # nobody, before the release is put in place.
        (
            ["--declare", "node=22.12.0"],
            "release 4.4.0 declares Node.js 22.12.0 in runtime/bin/node, and that program"
            " answered v22.11.0 to --version.",
        ),
    ],
    ids=["no-runtime-and-debians-too-old", "bundled-too-old", "bundled-not-as-declared"],
)
def test_a_release_whose_runtimes_do_not_meet_its_needs_is_refused(
    host, tmp_path, options, message
):
    before = commands(host, "gamma")
    cache = build_release(tmp_path, "4.4.0", *options)
    run = converge(
        "--tags",
        "mastodon",
        test_gamma_version="4.4.0",
        test_shared_version="4.3.1",
        mastodon_artifacts_dir=str(cache),
    )
    output = " ".join((run.stdout + run.stderr).split())
    assert run.returncode != 0
    assert message in output
    assert host.file("/srv/mastodon/gamma/live").linked_to == f"{RELEASES}/4.3.0"
    # Nothing of the release is left: neither in place nor half unpacked, nor its archive.
    assert host.run(f"ls -A {RELEASES}").stdout.split() == [
        "4.3.0",
        "4.3.0.artifact.json",
        "4.3.1",
        "4.3.1.artifact.json",
    ]
    assert host.run("ls -A /var/cache/chaton-mastodon").stdout.split() == []
    assert commands(host, "gamma") == before
    assert proof(host, "gamma")["version"] == "4.3.0"


def test_a_failed_upgrade_stops_saying_where_and_the_next_run_resumes(host):
    """The test release's switch makes the pre-deployment migrations of gamma fail halfway."""
    psql(
        host, "mastodon_gamma", "INSERT INTO chaton_test_release_switches VALUES ('fail-migration')"
    )
    try:
        run = converge(
            "--tags", "mastodon", test_shared_version="4.3.1", test_gamma_version="4.3.1"
        )
    finally:
        psql(host, "mastodon_gamma", "DELETE FROM chaton_test_release_switches")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "upgrading instance gamma from 4.3.0 to 4.3.1 failed at" in output
    assert "Run the pre-deployment migrations" in output
    assert "Forced failure (test release)" in output
    backups = host.run(f"ls {UPGRADE_BACKUPS}/gamma").stdout.split()
    assert any(name.endswith("-4.3.0.dump") for name in backups) and "upgrading" in backups
    # The old release still serves.
    assert host.file("/srv/mastodon/gamma/live").linked_to == f"{RELEASES}/4.3.0"
    assert proof(host, "gamma")["version"] == "4.3.0"
    start = commands(host, "gamma")[-1]["id"]
    again = converge("--tags", "mastodon", test_shared_version="4.3.1", test_gamma_version="4.3.1")
    assert again.returncode == 0, again.stdout[-3000:]
    assert proof(host, "gamma")["version"] == "4.3.1"
    assert not host.file(f"{UPGRADE_BACKUPS}/gamma/upgrading").exists
    flags = psql(
        host,
        "mastodon_gamma",
        "SELECT version || ':' || post_deployment FROM chaton_test_release_migrations"
        " WHERE release = '4.3.1' ORDER BY id",
    ).split()
    assert flags == ["20240403010001:false", "20240403010002:true"]
    resumed = [
        (c["program"], c["details"].get("applied"))
        for c in commands(host, "gamma")
        if c["id"] > start and (c["program"] == "puma" or c["argv"] == ["db:migrate"])
    ]
    assert resumed == [("rails", []), ("puma", None), ("rails", ["20240403010002"])]


def streaming_proof(host, name: str) -> dict[str, Any]:
    answer = fetch(host, name, "/api/v1/streaming/chaton-test-release")
    assert answer.rc == 0, answer.stderr
    return json.loads(answer.stdout)


def test_a_release_that_bundles_its_runtimes_runs_on_them(host):
    """The test release 4.4.0 bundles Ruby 3.3.6 and Node.js 22.11.0 (test doubles: Debian's
    programs under those names). Gamma moves to it; the shared instance stays on 4.3.1 and
    Debian's Ruby and Node.js, on the same host."""
    start = commands(host, "gamma")[-1]["id"]
    versions = {"test_shared_version": "4.3.1", "test_gamma_version": "4.4.0"}
    run = converge("--tags", "mastodon", **versions)
    assert run.returncode == 0, run.stdout[-3000:]
    bundled = f"{RELEASES}/4.4.0/runtime/bin"
    assert host.file("/srv/mastodon/gamma/live").linked_to == f"{RELEASES}/4.4.0"
    # Every program of the upgrade ran on the new release's Ruby: the pre-deployment migrations
    # (run from the new release before the switch), the web process, the post-deployment ones.
    ran = [
        (c["program"], c["release"], c["runtime"])
        for c in commands(host, "gamma")
        if c["id"] > start and (c["program"] == "puma" or c["argv"] == ["db:migrate"])
    ]
    ruby = f"{bundled}/ruby 3.3.6"
    assert ran == [("rails", "4.4.0", ruby), ("puma", "4.4.0", ruby), ("rails", "4.4.0", ruby)]
    assert proof(host, "gamma")["ruby"] == ruby
    assert streaming_proof(host, "gamma")["node"] == f"{bundled}/node 22.11.0"
    # The sidekiq process too (its command line: the bundled ruby, found through the live link).
    main_pid = host.run("systemctl show -p MainPID --value mastodon-sidekiq@gamma.service")
    environ = host.run(f"tr '\\0' '\\n' < /proc/{main_pid.stdout.strip()}/environ").stdout
    assert f"CHATON_TEST_RELEASE_RUBY={ruby}" in environ.splitlines()
    # The daily cleanup (its drop-in's ExecStart= lines) as well.
    cleaned = host.run("systemctl start mastodon-cleanup@gamma.service")
    assert cleaned.rc == 0, cleaned.stderr
    last = [c for c in commands(host, "gamma") if c["program"] == "tootctl"][-2:]
    assert [(c["argv"][:2], c["status"], c["runtime"]) for c in last] == [
        (["media", "remove"], 0, ruby),
        (["preview_cards", "remove"], 0, ruby),
    ]
    # The shared instance still runs on Debian's, as Debian's Ruby and Node.js name themselves.
    debian_ruby = host.run(
        shlex.join(["ruby", "-e", "print RbConfig.ruby, ' ', RUBY_VERSION"])
    ).stdout
    debian_node = host.run(
        shlex.join(["node", "-e", "process.stdout.write(`${process.execPath} ${process.version}`)"])
    ).stdout
    assert debian_ruby.startswith("/usr/bin/ruby") and debian_ruby.endswith(" 3.1.2")
    assert proof(host, "shared")["ruby"] == debian_ruby
    assert debian_node.startswith("/usr/bin/node")
    assert streaming_proof(host, "shared")["node"] == debian_node.replace(" v", " ")
    # A second run changes nothing.
    again = converge("--tags", "mastodon", **versions)
    assert again.returncode == 0, again.stdout[-3000:]
    assert " changed=0 " in again.stdout, again.stdout[-3000:]


def test_a_suspended_instance_stops_and_comes_back_as_it_was(host):
    accounts_before = psql(host, "mastodon_gamma", "SELECT username FROM accounts ORDER BY 1")
    versions = {"test_shared_version": "4.3.1", "test_gamma_version": "4.4.0"}
    run = converge(test_gamma_enabled=False, **versions)
    assert run.returncode == 0, run.stdout[-3000:]
    for process in PROCESSES:
        unit = host.service(f"mastodon-{process}@gamma.service")
        assert not unit.is_running and not unit.is_enabled, process
    assert not host.service("mastodon-cleanup@gamma.timer").is_running
    suspended = fetch(host, "gamma", "/health", "-o", "/dev/null", "-w", "%{http_code}")
    assert suspended.stdout == "503"
    assert fetch(host, "shared", "/health").stdout == "OK"
    # Its settings, data and accounts stay.
    assert host.file("/srv/mastodon/gamma/.env.production").exists
    back = converge(**versions)
    assert back.returncode == 0, back.stdout[-3000:]
    assert all(host.service(f"mastodon-{p}@gamma.service").is_running for p in PROCESSES)
    assert fetch(host, "gamma", "/health").stdout == "OK"
    assert psql(host, "mastodon_gamma", "SELECT username FROM accounts ORDER BY 1") == (
        accounts_before
    )


# ---------------------------------------------------------------------------------------------
# Removal (last: gamma's instance is gone after it)


def test_a_removed_instance_leaves_nothing_and_the_other_runs_on(host):
    shared_before = env_digest(host, "shared")
    # Removing an instance still listed is refused by the role, before anything changes.
    listed = scenario_tools.ansible_playbook(
        HOST, SCENARIO / "remove.yml", "--extra-vars", json.dumps({"test_refuse_listed": True})
    )
    assert listed.returncode != 0
    assert "mastodon: shared cannot be removed" in listed.stdout + listed.stderr
    assert fetch(host, "shared", "/health").stdout == "OK"
    run = scenario_tools.ansible_playbook(HOST, SCENARIO / "remove.yml")
    assert run.returncode == 0, run.stdout[-3000:]
    for unit in [f"mastodon-{p}@gamma.service" for p in (*PROCESSES, "cleanup")] + [
        "mastodon-cleanup@gamma.timer",
        "redis-server@mastodon-gamma.service",
    ]:
        shown = host.run(f"systemctl show -p ActiveState,UnitFileState --value {unit}").stdout
        # A template's instance left without its drop-in: not running, and not enabled (the
        # cleanup service has no [Install]: static).
        assert shown.split() in (["inactive"], ["inactive", "disabled"], ["inactive", "static"]), (
            unit,
            shown,
        )
    for path in (
        "/srv/mastodon/gamma",
        "/run/mastodon/gamma",
        "/var/lib/chaton-mastodon/gamma.secrets.json",
        "/etc/systemd/system/mastodon-web@gamma.service.d",
        "/etc/systemd/system/mastodon-cleanup@gamma.service.d",
    ):
        assert not host.file(path).exists, path
    assert not host.user("mastodon-gamma").exists and not host.group("mastodon-gamma").exists
    assert "mastodon-gamma" not in host.file("/etc/tmpfiles.d/chaton-mastodon.conf").content_string
    databases = psql(host, "postgres", "SELECT datname FROM pg_database ORDER BY 1").split()
    assert "mastodon_gamma" not in databases and "mastodon_shared" in databases
    gone = fetch(host, "gamma", "/health", "-o", "/dev/null", "-w", "%{http_code}")
    assert gone.stdout != "200"
    # The shared instance is untouched and still answers; its release (shared) stays.
    assert env_digest(host, "shared") == shared_before
    assert fetch(host, "shared", "/health").stdout == "OK"
    assert all(host.service(f"mastodon-{p}@shared.service").is_running for p in PROCESSES)
    assert host.file(f"{RELEASES}/4.3.1").is_directory
