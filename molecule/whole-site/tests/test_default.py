"""Verify the whole site: the example collective's websites, over HTTPS, in a real browser.

Headless Chromium (Debian's package) runs on this machine and reaches the test host through the
port published on 127.0.0.1; `--host-resolver-rules` sends every name to that address, so the
browser asks for the structures' real names (SNI and Host), as a visitor's would. It trusts only
the scenario's local CA, through its own NSS database: a page that loads is a certificate that
chains to that CA and names the host.
"""

import json
import os
import shlex
import subprocess
import sys
import time
from email.utils import parseaddr
from pathlib import Path

import pytest
import yaml
from scenario_tools import (
    assert_list_post_signed_and_archived,
    dav,
    dkim_report,
    mailman_rest,
    nextcloud_set_password,
    occ,
    postorius_login,
    postorius_status,
    wait_for,
)

WHOLE_SITE = Path(os.environ["CHATON_WHOLE_SITE_DIR"])
PORT = os.environ["CHATON_WHOLE_SITE_PORT"]
PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
ARTIFACTS = PROJECT / "runs" / "artifacts" / "whole-site"
VAULT_PASSWORD_FILE = os.environ["ANSIBLE_VAULT_PASSWORD_FILE"]
# Vélo-Cité's list (structures/velo-cite.yml), a local member of it, and the owner of
# L'Épicerie's lists (structures/epicerie-coop.yml) with the test password of her Postorius account.
LIST = "adherents@lists.velo-cite.fr"
READER = "lecteur"
OTHER_OWNER = "coordination@epicerie-coop.fr"
OTHER_OWNER_PASSWORD = "test-epicerie-web-password-4821"  # noqa: S105

# Two structures of inventories/example and what their page must name (by hand, from
# structures/*.yml): the placeholder names the structure until its content arrives.
SITES = {
    "velo-cite.fr": "Vélo-Cité",
    "théâtre-du-lien.fr": "Théâtre du Lien",
}


def chromium(home, *args):
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={home / 'profile'}",
        "--host-resolver-rules=MAP * 127.0.0.1",
    ]
    return subprocess.run(
        ["chromium", *flags, *args],
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def browser_home(tmp_path, trusted):
    """A HOME whose NSS database trusts the scenario's CA (or nothing)."""
    home = tmp_path / ("trusting" if trusted else "untrusting")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True)
    if trusted:
        ca = WHOLE_SITE / "ca" / "ca.pem"
        subprocess.run(
            ["certutil", "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "test CA", "-i", ca],
            check=True,
        )
    return home


@pytest.fixture(scope="module")
def trusting(tmp_path_factory):
    return browser_home(tmp_path_factory.mktemp("chromium"), trusted=True)


@pytest.mark.parametrize("name", SITES)
def test_each_site_names_its_own_structure_over_https(trusting, name):
    page = chromium(trusting, "--dump-dom", f"https://{name}:{PORT}/")
    assert page.returncode == 0, page.stderr
    assert f"<h1>{SITES[name]}</h1>" in page.stdout, page.stdout[:2000]
    for other in set(SITES.values()) - {SITES[name]}:
        assert other not in page.stdout


def test_a_browser_without_the_ca_gets_no_page(tmp_path):
    page = chromium(
        browser_home(tmp_path, trusted=False), "--dump-dom", f"https://velo-cite.fr:{PORT}/"
    )
    assert "Vélo-Cité" not in page.stdout


def test_screenshot_is_kept(trusting):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "velo-cite.png"
    shot.unlink(missing_ok=True)
    result = chromium(
        trusting, f"--screenshot={shot}", "--window-size=1280,800", f"https://velo-cite.fr:{PORT}/"
    )
    assert result.returncode == 0, result.stderr
    # A PNG of some size (an error page would be a PNG too: the DOM check above is the proof).
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 5000


def test_a_list_domains_index_shows_its_structures_lists_only(trusting):
    """Vélo-Cité's list index (structures/velo-cite.yml: adherents, atelier) in a browser, and
    none of L'Épicerie's lists (structures/epicerie-coop.yml: cooperateurs, conseil,
    commandes), which are on the same Mailman."""
    url = f"https://lists.velo-cite.fr:{PORT}/postorius/lists/"
    page = chromium(trusting, "--dump-dom", url)
    assert page.returncode == 0, page.stderr
    for address in ("adherents@lists.velo-cite.fr", "atelier@lists.velo-cite.fr"):
        assert address in page.stdout, page.stdout[:3000]
    assert "epicerie-coop" not in page.stdout, page.stdout[:3000]


def test_postorius_shows_a_structures_list(trusting):
    """Vélo-Cité's list adherents (structures/velo-cite.yml), on its own lists domain."""
    url = f"https://lists.velo-cite.fr:{PORT}/postorius/lists/adherents.lists.velo-cite.fr/"
    page = chromium(trusting, "--dump-dom", url)
    assert page.returncode == 0, page.stderr
    assert "adherents@lists.velo-cite.fr" in page.stdout, page.stdout[:2000]
    assert "Infos aux adhérentes et adhérents" in page.stdout


def published_dkim_record(domain):
    """(name, value) of the DKIM record `chaton dns` tells the structure to publish."""
    printed = subprocess.run(
        [
            str(Path(sys.executable).parent / "chaton"),
            "dns",
            "--inventory",
            str(WHOLE_SITE / "example"),
            "--vault-password-file",
            VAULT_PASSWORD_FILE,
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    (entry,) = [d for d in json.loads(printed.stdout) if d["domain"] == domain]
    (record,) = [r for r in entry["records"] if "._domainkey." in r["name"]]
    return record["name"], record["value"]


def test_a_post_to_a_structures_list_reaches_its_member_signed_and_archived(host):
    """Vélo-Cité's list, created from its structure file: a local member subscribed through the
    REST API receives a post sent over SMTP, From: the list and with a DKIM signature dkimpy
    verifies against the record `chaton dns` prints; HyperKitty archives it."""
    # The test host's own name (the inventory's host and postfix_mydomain): mail to it stays here.
    member = f"{READER}@{host.check_output('postconf -h myhostname')}"
    assert host.run(f"id {READER} || useradd --create-home {READER}").rc == 0
    roster = mailman_rest(host, f"/lists/{LIST}/roster/member").get("entries", [])
    if member not in [m["email"] for m in roster]:
        mailman_rest(
            host,
            "/members",
            "POST",
            {
                "list_id": LIST.replace("@", "."),
                "subscriber": member,
                "pre_verified": True,
                "pre_confirmed": True,
                "pre_approved": True,
            },
        )
    subject = f"Atelier du samedi {time.time_ns()}"
    script = (
        "import smtplib\nfrom email.message import EmailMessage\n"
        f"m = EmailMessage()\nm['From'] = {member!r}\nm['To'] = {LIST!r}\n"
        f"m['Subject'] = {subject!r}\nm.set_content('Bonjour, atelier samedi.')\n"
        "with smtplib.SMTP('127.0.0.1', 25, timeout=30) as s:\n    s.send_message(m)\n"
    )
    sent = host.run(f"python3 -c {shlex.quote(script)}")
    assert sent.rc == 0, sent.stderr
    mailbox = f"/var/mail/{READER}"
    delivered = wait_for(host, f"grep -qF {shlex.quote(subject)} {mailbox}", 90)
    assert delivered.rc == 0, host.run("tail -n 30 /var/log/mailman3/mailman.log").stdout
    name, value = published_dkim_record("lists.velo-cite.fr")
    report = dkim_report(host, mailbox, subject, name, value, ("Bonjour", "Bonsoir"))
    assert parseaddr(report["from"])[1] == LIST, report
    assert_list_post_signed_and_archived(
        host, report, "lists.velo-cite.fr", "chaton", name, subject
    )


def test_another_structures_owner_has_no_hand_on_velo_cites_lists(host):
    """L'Épicerie's coordinator owns L'Épicerie's lists, none of Vélo-Cité's: in the REST API,
    and in Postorius once logged in."""
    for name in ("adherents", "atelier"):
        for role in ("owner", "moderator"):
            roster = mailman_rest(host, f"/lists/{name}.lists.velo-cite.fr/roster/{role}")
            assert OTHER_OWNER not in [m["email"] for m in roster.get("entries", [])]
    owners = mailman_rest(host, "/lists/cooperateurs.lists.epicerie-coop.fr/roster/owner")
    assert [m["email"] for m in owners["entries"]] == [OTHER_OWNER]
    site = "lists.epicerie-coop.fr"
    jar = postorius_login(host, site, OTHER_OWNER, OTHER_OWNER_PASSWORD)
    settings = "/postorius/lists/{}/settings/"
    mine = postorius_status(host, jar, site, settings.format("cooperateurs.lists.epicerie-coop.fr"))
    assert mine == "200"
    # Vélo-Cité's list is not even found on her list domain...
    theirs = postorius_status(host, jar, site, settings.format("adherents.lists.velo-cite.fr"))
    assert theirs == "404"
    # ...and on Vélo-Cité's, where it is, Postorius refuses her.
    site = "lists.velo-cite.fr"
    jar = postorius_login(host, site, OTHER_OWNER, OTHER_OWNER_PASSWORD)
    theirs = postorius_status(host, jar, site, settings.format("adherents.lists.velo-cite.fr"))
    assert theirs == "403"


def rendered_nextclouds():
    """The Nextcloud instances `chaton render` placed on fabrique-1 (name, domain, user...)."""
    host_vars = WHOLE_SITE / "example" / "generated" / "host_vars" / "fabrique-1.yml"
    return yaml.safe_load(host_vars.read_text(encoding="utf-8").replace("!unsafe", ""))[
        "nextcloud_instances"
    ]


OC_USERS_OWNER = "select tableowner from pg_tables where tablename = 'oc_users'"


def nextcloud_manifest() -> dict:
    """The artifact.json of the Nextcloud release the scenario deployed (prepare put the real one
    there when the control node's cache holds it, else the test release)."""
    version = yaml.safe_load(
        (PROJECT / "inventories" / "example" / "group_vars" / "chaton_servers.yml").read_text()
    )["nextcloud_version"]
    cache = Path(os.environ["CHATON_ARTIFACTS_DIR"])
    return json.loads((cache / "nextcloud" / version / "artifact.json").read_text())


def test_each_nextcloud_answers_as_its_own_instance(host):
    """Over HTTPS through nginx, each structure's cloud.<domain> runs Nextcloud (the real release,
    or the test release where the control node's cache has no real one) with its own
    configuration, user and database."""
    instances = rendered_nextclouds()
    assert len(instances) == 4
    manifest = nextcloud_manifest()
    for instance in instances:
        domain = instance["domain"]
        get = f"curl -sk --max-time 20 --resolve {domain}:443:127.0.0.1 https://{domain}"
        status = json.loads(host.check_output(f"{get}/status.php"))
        assert status["installed"] is True and status["versionstring"] == manifest["version"]
        if manifest.get("test_release"):
            assert status["productname"] == "Nextcloud test release"
            page = json.loads(host.check_output(f"{get}/index.php?format=json"))
            assert page["config_dir"] == f"{instance['home']}/config/"
            assert page["unix_user"] == instance["user"]
            assert page["db"]["current_database"] == instance["database"]
            assert page["redis"]["ok"] is True
            continue
        assert status["productname"] == "Nextcloud"
        name = instance["name"]
        config = json.loads(occ(host, name, "config:list", "system", "--private").stdout)["system"]
        assert config["dbname"] == instance["database"]
        assert config["datadirectory"] == f"{instance['home']}/data"
        owner = host.check_output(
            f"runuser -u postgres -- psql -d {instance['database']} -tAc "
            + shlex.quote(OC_USERS_OWNER)
        )
        assert owner.strip() == instance["database"]
        pool = host.check_output(f"stat -c %U /run/php/{instance['php_fpm_pool']}.sock")
        assert pool.strip() == instance["user"]


def test_a_structures_nextcloud_account_stores_and_serves_a_file(host):
    """Vélo-Cité's Camille, on the real release: a file up and down over WebDAV, through nginx and
    TLS; her account is unknown to Épicerie Coop's Nextcloud."""
    if nextcloud_manifest().get("test_release"):
        pytest.skip("the test release of Nextcloud serves no WebDAV (no real release in the cache)")
    nextcloud_set_password(host, "velo-cite", "camille", "Velo-cite-test-password-7")
    host.run("printf 'Ordre du jour\\n' > /tmp/odj.txt")
    # The scenario's local CA, the only one curl trusts on the host.
    ca = (WHOLE_SITE / "ca" / "ca.pem").read_text()
    host.run(f"printf %s {shlex.quote(ca)} > /tmp/whole-site-ca.pem")
    tls = {"cacert": "/tmp/whole-site-ca.pem"}
    put = dav(
        host, "velo-cite", "camille", "Velo-cite-test-password-7", "PUT", "files/camille/odj.txt",
        "-T", "/tmp/odj.txt", domain="cloud.velo-cite.fr", **tls,
    )  # fmt: skip
    assert put[0] == 201, put
    got = dav(
        host, "velo-cite", "camille", "Velo-cite-test-password-7", "GET", "files/camille/odj.txt",
        domain="cloud.velo-cite.fr", **tls,
    )  # fmt: skip
    assert got == (200, "Ordre du jour\n")
    other = dav(
        host, "epicerie-coop", "camille", "Velo-cite-test-password-7", "PROPFIND",
        "files/camille/", "-H", "Depth: 0", domain="cloud.epicerie-coop.fr", **tls,
    )  # fmt: skip
    assert other[0] == 401


def rendered_mastodons():
    """The Mastodon instances `chaton render` placed on fabrique-1."""
    host_vars = WHOLE_SITE / "example" / "generated" / "host_vars" / "fabrique-1.yml"
    return yaml.safe_load(host_vars.read_text(encoding="utf-8").replace("!unsafe", ""))[
        "mastodon_instances"
    ]


def test_each_mastodon_answers_as_its_own_instance(host):
    """The shared instance and Réseau des Jardins' dedicated one, over HTTPS through nginx: the
    test release of Mastodon runs as the instance, on its own database and Redis, with its
    sidekiq beating and its streaming server answering."""
    instances = {i["name"]: i for i in rendered_mastodons()}
    domains = {
        "shared": "social.fabrique-transition.org",
        "reseau-jardins": "social.reseau-jardins.org",
    }
    assert {name: i["domain"] for name, i in instances.items()} == domains
    for name, domain in domains.items():

        def get(path, domain=domain):
            answer = host.run(
                f"curl -sk --max-time 20 --resolve {domain}:443:127.0.0.1 'https://{domain}{path}'"
            )
            assert answer.rc == 0, answer.stderr
            return answer.stdout

        assert json.loads(get("/api/v2/instance"))["domain"] == domain
        assert get("/api/v1/streaming/health") == "OK"
        proof = json.loads(get("/chaton-test-release.json"))
        assert proof["product_name"] == "Mastodon test release"
        assert proof["unix_user"] == f"mastodon-{name}"
        assert proof["db"]["current_database"] == f"mastodon_{name.replace('-', '_')}"
        assert proof["redis"]["ok"] is True and proof["missing_env"] == []
        assert proof["redis"]["sidekiq_heartbeat_age"] is not None
    for process in ("web", "sidekiq", "streaming"):
        for name in domains:
            assert host.service(f"mastodon-{process}@{name}").is_running


def test_each_structure_has_its_account_on_the_shared_mastodon(host):
    """One account per structure with Mastodon accounts (structures/*.yml, by hand), at its first
    contact's address, and the hosting association's moderators' account."""
    query = (
        "SELECT a.username, u.email, coalesce(r.name, '') FROM accounts a"
        " JOIN users u ON u.account_id = a.id LEFT JOIN user_roles r ON r.id = u.role_id"
        " WHERE a.domain IS NULL ORDER BY a.username"
    )
    rows = host.check_output(
        f"runuser -u postgres -- psql --no-psqlrc -tA -d mastodon_shared -c {shlex.quote(query)}"
    ).splitlines()
    assert rows == [
        "chaton_admin|contact@alolise.fr|Admin",
        "epicerie_coop|coordination@epicerie-coop.fr|",
        "theatre_du_lien|louise@theatre-du-lien.fr|",
        "velo_cite|camille.martin@velo-cite.fr|",
    ]


def test_a_structures_nextcloud_accounts_are_created(host):
    groups = json.loads(occ(host, "velo-cite", "group:list", "--output=json").stdout)
    assert sorted(groups["bureau"]) == ["camille", "yanis"]
    assert groups["atelier"] == ["yanis"] and groups["benevoles"] == []


def test_http_redirects_to_https_and_unknown_names_get_nothing(host):
    redirect = host.run(
        "curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: velo-cite.fr' http://127.0.0.1/x"
    )
    assert redirect.stdout == "301 https://velo-cite.fr/x"
    unknown = host.run("curl -sk --resolve unknown.example:443:127.0.0.1 https://unknown.example/")
    assert unknown.rc != 0 and unknown.stdout == ""


def test_webmasters_are_sftp_only(host):
    for site in ("velo-cite", "theatre-du-lien", "reseau-jardins", "epicerie-coop"):
        user = host.user(f"website-{site}")
        assert user.shell == "/usr/sbin/nologin"
        assert "chaton-sftp" in user.groups
    config = host.run("sshd -T -C user=website-velo-cite,host=x,addr=127.0.0.1")
    assert "forcecommand internal-sftp -u 0027" in config.stdout
    assert "chrootdirectory %h" in config.stdout
    # Keys only, by default: the structure file's key is the way in, no password is.
    assert "passwordauthentication no" in config.stdout.splitlines()
    assert host.check_output("getent shadow website-velo-cite").split(":")[1] == "!"
    structure = yaml.safe_load(
        (PROJECT / "inventories" / "example" / "structures" / "velo-cite.yml").read_text()
    )
    keys = structure["services"]["website"]["sftp_keys"]
    assert keys and keys[0].startswith("ssh-ed25519 ")
    written = host.file("/etc/ssh/sftp-authorized-keys/website-velo-cite")
    assert written.content_string.splitlines() == keys
    assert (written.user, written.mode) == ("root", 0o644)
    # A site whose structure gave no key has no key file: nobody logs in.
    assert not host.file("/etc/ssh/sftp-authorized-keys/website-theatre-du-lien").exists


def test_the_base_is_there(host):
    # Key-only sshd for everyone else, the firewall's table open to the web, the example's admin.
    config = host.run("sshd -T").stdout.splitlines()
    assert "passwordauthentication no" in config
    # The example's administrator has a key: root's login is closed.
    assert "permitrootlogin no" in config
    table = host.run("nft list table inet chaton_filter").stdout
    assert "policy drop" in table
    assert "443" in table
    assert host.run("id -nG camille").stdout.split() == ["camille", "chaton-admins"]
