"""The nginx role on its test host: vhosts, redirects, headers and TLS, checked from inside it."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from scenario_tools import ansible_playbook

HOST = "chaton-test-nginx"
SCENARIO = Path(__file__).resolve().parent.parent
SITES = "/etc/nginx/sites-available"
ENABLED = "/etc/nginx/sites-enabled"
TESTSSL_JSON = "/root/testssl.json"  # in the test host


def curl(host, url: str, *options: str):
    """curl inside the test host, every name resolved to the host itself."""
    name = url.split("/")[2]
    port = "443" if url.startswith("https") else "80"
    resolve = f"{name}:{port}:127.0.0.1"
    args = ["curl", "-sS", "--max-time", "10", "--resolve", resolve, *options, url]
    return host.run(shlex.join(args))


def head(host, url: str) -> tuple[int, dict[str, str]]:
    """Status and headers (lower-case names) of a GET, certificate not checked (a placeholder)."""
    out = curl(host, url, "-k", "-o", "/dev/null", "-D", "-").stdout
    lines = out.replace("\r", "").strip().splitlines()
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return status, headers


@pytest.mark.parametrize(
    ("name", "structure"),
    [
        ("alpha.example.org", "alpha"),
        ("www.alpha.example.org", "alpha"),
        ("beta.example.org", "beta"),
    ],
)
def test_each_name_serves_its_own_site(host, name, structure):
    page = curl(host, f"https://{name}/", "-k")
    assert page.rc == 0, page.stderr
    assert f"Website of the structure {structure}" in page.stdout
    other = "beta" if structure == "alpha" else "alpha"
    assert f"structure {other}" not in page.stdout


def test_http_redirects_to_https(host):
    status, headers = head(host, "http://alpha.example.org/some/page?x=1")
    assert status == 301
    assert headers["location"] == "https://alpha.example.org/some/page?x=1"


def test_acme_challenge_is_served_over_http(host):
    answer = curl(host, "http://beta.example.org/.well-known/acme-challenge/test-token")
    assert answer.rc == 0
    assert answer.stdout == "test-token.key-authorization\n"
    status, _ = head(host, "http://beta.example.org/.well-known/acme-challenge/missing")
    assert status == 404


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_unknown_name_gets_nothing(host, scheme):
    answer = curl(host, f"{scheme}://unknown.example.org/", "-k")
    # 444: nginx closes the connection without a byte (curl: 52 empty reply over HTTP,
    # an error after the handshake over HTTPS).
    assert answer.rc != 0
    assert answer.stdout == ""


def test_unknown_name_is_not_given_a_vhost_certificate(host):
    out = host.run(
        "openssl s_client -connect 127.0.0.1:443 -servername unknown.example.org"
        " </dev/null 2>/dev/null | openssl x509 -noout -subject"
    ).stdout
    assert "example.org" not in out


def test_suspended_vhost_answers_503(host):
    status, headers = head(host, "https://gamma.example.org/")
    assert status == 503
    assert "strict-transport-security" in headers
    page = curl(host, "https://gamma.example.org/any/page", "-k")
    assert "Service suspended" in page.stdout
    assert "structure gamma" not in page.stdout


@pytest.mark.parametrize("path", ["/", "/style.css"])
def test_security_headers(host, path):
    status, headers = head(host, f"https://alpha.example.org{path}")
    assert status == 200
    assert headers["strict-transport-security"] == "max-age=63072000"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "SAMEORIGIN"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in headers["permissions-policy"]
    assert headers["server"] == "nginx"  # no version


def test_assets_are_cached_and_hidden_files_and_listings_are_not_served(host):
    _, headers = head(host, "https://alpha.example.org/style.css")
    assert headers["cache-control"] == "max-age=604800"
    status, _ = head(host, "https://alpha.example.org/.secret")
    assert status == 404
    listing = curl(host, "https://alpha.example.org/files/", "-k", "-w", "%{http_code}")
    assert listing.stdout[-3:] in ("403", "404")
    assert "listed-nowhere" not in listing.stdout


# root:www-data 0640, as a service's settings
SETTINGS_FILE = "/etc/chaton-test/service-secret.conf"
CANARY = "canary-service-secret-5d1c"


def as_tenant(host, user: str, *argv: str) -> None:
    """Run a command as the tenant's own account (what its SFTP session or code can do)."""
    host.check_output(shlex.join(["runuser", "-u", user, "--", *argv]))


def fetch(host, url: str) -> tuple[int, str]:
    out = curl(host, url, "-k", "-w", "\n%{http_code}").stdout
    body, _, status = out.rpartition("\n")
    return int(status), body


# (tenant, folder it can write, URL of that folder)
TENANT_FOLDERS = [
    ("alpha-web", "/srv/www/alpha/public/tenant", "https://alpha.example.org/tenant"),
    ("kappa", "/srv/nextcloud/kappa/apps/evil", "https://cloud.kappa.example.org/custom_apps/evil"),
    (
        "lambda",
        "/srv/mastodon/lambda/public/system/evil",
        "https://social.lambda.example.org/system/evil",
    ),
]


@pytest.mark.parametrize(
    ("tenant", "folder", "url"), TENANT_FOLDERS, ids=["website", "nextcloud-apps", "mastodon-media"]
)
@pytest.mark.parametrize(
    "target",
    [SETTINGS_FILE, "/srv/www/beta/public/index.html", "/etc/passwd"],
    ids=["service-secret", "another-site", "system-file"],
)
def test_a_tenants_symlink_out_of_its_tree_is_not_followed(host, tenant, folder, url, target):
    """The tenant publishes a link to a file the web server can read, then fetches it."""
    as_tenant(host, tenant, "mkdir", "-p", folder)
    as_tenant(host, tenant, "ln", "-sfn", target, f"{folder}/leak.css")
    status, body = fetch(host, f"{url}/leak.css")
    assert status in (403, 404), body[:300]
    assert CANARY not in body
    assert "Website of the structure beta" not in body
    assert "root:x:0:0" not in body


@pytest.mark.parametrize(
    ("tenant", "folder", "url"), TENANT_FOLDERS, ids=["website", "nextcloud-apps", "mastodon-media"]
)
def test_a_linked_folder_out_of_the_tree_is_not_followed(host, tenant, folder, url):
    as_tenant(host, tenant, "mkdir", "-p", folder)
    as_tenant(host, tenant, "ln", "-sfn", "/etc/chaton-test", f"{folder}/settings")
    status, body = fetch(host, f"{url}/settings/service-secret.conf")
    assert status in (403, 404), body[:300]
    assert CANARY not in body


@pytest.mark.parametrize(
    ("tenant", "folder", "url"), TENANT_FOLDERS, ids=["website", "nextcloud-apps", "mastodon-media"]
)
def test_a_tenants_own_files_and_links_are_served(host, tenant, folder, url):
    """Not over-blocked: what the tenant owns is served, through its own links too."""
    as_tenant(host, tenant, "mkdir", "-p", folder)
    as_tenant(host, tenant, "sh", "-c", f"echo 'own file of {tenant}' > {folder}/own.css")
    as_tenant(host, tenant, "ln", "-sfn", "own.css", f"{folder}/mine.css")
    for name in ("own.css", "mine.css"):
        status, body = fetch(host, f"{url}/{name}")
        assert (status, body.strip()) == (200, f"own file of {tenant}")


@pytest.mark.parametrize(
    "url",
    [
        "https://cloud.kappa.example.org/core/css/server.css",
        "https://social.lambda.example.org/sw.js",
    ],
)
def test_a_release_reached_through_roots_link_is_served(host, url):
    status, body = fetch(host, url)
    assert (status, body.strip()) == (200, "/* release file */")


def test_a_tenant_that_swaps_its_release_link_gets_nothing_out_of_its_tree(host):
    """kappa owns its home (as the nextcloud role lays it out) and points `release` elsewhere."""
    link = "/srv/nextcloud/kappa/release"
    original = host.file(link).linked_to
    try:
        as_tenant(host, "kappa", "ln", "-sfn", "/etc/chaton-test", f"{link}.new")
        as_tenant(host, "kappa", "mv", "-T", f"{link}.new", link)
        status, body = fetch(host, "https://cloud.kappa.example.org/service-secret.conf")
        assert CANARY not in body, status
    finally:
        host.check_output(f"ln -sfn {original} {link}.back && mv -T {link}.back {link}")


@pytest.mark.parametrize(
    ("version", "accepted"),
    [("-tls1", False), ("-tls1_1", False), ("-tls1_2", True), ("-tls1_3", True)],
)
def test_only_tls_1_2_and_1_3(host, version, accepted):
    # SECLEVEL=0 lets the client offer the old versions: a refusal comes from the server.
    result = host.run(
        "openssl s_client -connect 127.0.0.1:443 -servername alpha.example.org "
        f"{version} -cipher DEFAULT@SECLEVEL=0 </dev/null"
    )
    if accepted:
        assert result.rc == 0, result.stderr
        assert "Cipher is (NONE)" not in result.stdout
    else:
        assert result.rc != 0
        assert "alert protocol version" in result.stderr


def test_testssl_finds_only_tls_1_2_1_3_and_nothing_high(host):
    """testssl.sh (Debian's) against a vhost: protocols, ciphers, preferences, certificate,
    headers and vulnerabilities; the placeholder certificate is trusted with --add-ca."""
    host.run(f"rm -f {TESTSSL_JSON}")
    run = host.run(
        "testssl --quiet --warnings off --color 0 --nodns none --ip 127.0.0.1 --sneaky"
        " --connect-timeout 10 --openssl-timeout 10"
        " --add-ca /etc/ssl/chaton/website-alpha/fullchain.pem"
        f" --jsonfile {TESTSSL_JSON} -p -s -f -P -S -h -U https://alpha.example.org/"
    )
    # testssl's exit status counts checks that could not finish: the findings tell.
    assert host.file(TESTSSL_JSON).exists, run.stdout[-2000:]
    findings = json.loads(host.file(TESTSSL_JSON).content_string)
    assert not [f for f in findings if f["severity"] == "FATAL"]
    by_id = {f["id"]: f for f in findings}
    for old in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        assert by_id[old]["finding"] == "not offered", by_id[old]
    assert by_id["TLS1_2"]["finding"] == "offered"
    assert by_id["TLS1_3"]["finding"].startswith("offered")
    assert by_id["HSTS_time"]["severity"] == "OK"
    # The placeholder certificate names no CRL or OCSP responder (testssl: HIGH); a real one
    # from the acme role does. Nothing else may be rated HIGH or CRITICAL.
    placeholder_only = {"cert_revocation"}
    bad = [
        (f["id"], f["severity"], f["finding"])
        for f in findings
        if f["severity"] in ("HIGH", "CRITICAL") and f["id"] not in placeholder_only
    ]
    assert bad == []
    assert len(findings) > 50  # the scan really ran its checks


def test_configuration_passes_nginx_t(host):
    assert host.run("nginx -t").rc == 0
    assert host.file(f"{ENABLED}/website-alpha.conf").linked_to == f"{SITES}/website-alpha.conf"
    assert not host.file(f"{ENABLED}/default").exists


def test_no_stapling_without_resolvers(host):
    """Off by default; asked for without name servers, refused before anything is written."""
    before = host.file("/etc/nginx/nginx.conf").sha256sum
    assert "ssl_stapling" not in host.file("/etc/nginx/nginx.conf").content_string
    playbook = ansible_playbook(HOST, SCENARIO / "stapling_without_resolvers.yml")
    assert playbook.returncode != 0, playbook.stdout[-3000:]
    assert "nginx_ssl_stapling_enabled needs nginx_resolvers" in playbook.stdout
    assert "changed=0" in playbook.stdout
    assert host.file("/etc/nginx/nginx.conf").sha256sum == before


def _worker_pids(host) -> list[str]:
    return sorted(host.check_output("ps -o pid= --ppid $(cat /run/nginx.pid)").split())


def test_bad_vhost_is_refused_and_nothing_changes(host):
    """Runs last: the role applied with vhosts whose settings nginx refuses."""
    before = host.file(f"{SITES}/website-alpha.conf").sha256sum
    workers = _worker_pids(host)
    playbook = ansible_playbook(HOST, SCENARIO / "bad_vhost.yml")
    assert playbook.returncode != 0, playbook.stdout[-3000:]
    assert "rescued=1" in playbook.stdout, playbook.stdout[-3000:]
    assert "nginx -t refused the new configuration" in playbook.stdout
    # The changed file is back as it was, the new one and its link are gone, no backup left.
    assert host.file(f"{SITES}/website-alpha.conf").sha256sum == before
    assert not host.file(f"{SITES}/website-delta.conf").exists
    assert not host.file(f"{ENABLED}/website-delta.conf").exists
    assert host.run(f"ls {SITES} | grep -c '~$'").stdout.strip() == "0"
    grep = "grep -r -e another_unknown_directive -e this_is_not_a_directive /etc/nginx"
    assert host.run(grep).rc == 1
    # Not reloaded (the same workers), still serving.
    assert _worker_pids(host) == workers
    assert host.run("nginx -t").rc == 0
    page = curl(host, "https://alpha.example.org/", "-k")
    assert "Website of the structure alpha" in page.stdout
