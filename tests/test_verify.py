"""chaton verify: each website over HTTPS, checked against a test-double web server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tls_double import https_server

from chaton.codesigning import ROOT_FINGERPRINT
from chaton.commands.demo import build_test_release
from chaton.errors import BadInput
from chaton.paths import PROJECT_ROOT
from chaton.servers import server_addresses, server_shells
from chaton.verify import (
    MIN_CERT_DAYS,
    SERVER_UNITS,
    Address,
    Shell,
    check_server,
    check_units,
    expected_units,
    names,
)
from chaton.yamlio import load_vars

pytestmark = pytest.mark.usefixtures("english")

NAME = "L'Atelier Vélo & Co"
# The placeholder's heading for NAME, escaped by hand (' is &#39;, & is &amp;).
PAGE = "<h1>L&#39;Atelier Vélo &amp; Co</h1>".encode()


def host_vars(enabled: bool = True) -> dict[str, Any]:
    """The part of a server's generated host_vars verify reads, for one site at site.localhost."""
    vhost = {"name": "website-alpha", "kind": "website", "instance": "alpha"}
    return {
        "website_sites": [{"structure": "alpha", "structure_name": NAME}],
        "nginx_vhosts": [
            {**vhost, "structure": "alpha", "server_names": ["site.localhost"], "enabled": enabled},
            # A suspended structure's Mastodon: not checked.
            {
                **vhost,
                "kind": "mastodon",
                "structure": "beta",
                "server_names": ["social.localhost"],
                "enabled": False,
            },
        ],
    }


def test_a_good_site_passes(tmp_path: Path) -> None:
    with https_server(tmp_path, page=PAGE) as (port, ca, _other):
        (check,) = check_server("s1", host_vars(), Address("127.0.0.1", port), ca)
    assert check.ok, check.problem
    assert (check.structure, check.name, check.status) == ("alpha", "site.localhost", 200)
    assert check.content_ok
    assert check.certificate_days is not None and 89 <= check.certificate_days <= 90


def nextcloud_vars() -> dict[str, Any]:
    vhost = {"name": "nextcloud-alpha", "kind": "nextcloud", "instance": "alpha"}
    return {
        "nextcloud_instances": [{"structure": "alpha", "structure_name": NAME}],
        "nginx_vhosts": [
            {**vhost, "structure": "alpha", "server_names": ["cloud.localhost"], "enabled": True}
        ],
    }


STATUS = '{"installed":true,"maintenance":false,"needsDbUpgrade":false,"versionstring":"31.0.0"}'


@pytest.mark.parametrize(
    ("page", "problem"),
    [
        (STATUS, None),
        (STATUS.replace('"installed":true', '"installed":false'), "Nextcloud is not installed"),
        (
            STATUS.replace('"maintenance":false', '"maintenance":true'),
            "Nextcloud is in maintenance mode",
        ),
        (
            STATUS.replace('"needsDbUpgrade":false', '"needsDbUpgrade":true'),
            "Nextcloud waits for its upgrade to finish (occ upgrade)",
        ),
        ("<html>Welcome</html>", "status.php did not answer Nextcloud's status"),
    ],
)
def test_a_nextcloud_is_judged_by_its_status(tmp_path: Path, page: str, problem: str) -> None:
    served = {"name": "cloud.localhost", "path": "/status.php"}
    with https_server(tmp_path, page=page.encode(), **served) as (port, ca, _other):
        (check,) = check_server("s1", nextcloud_vars(), Address("127.0.0.1", port), ca)
    assert (check.kind, check.name, check.status) == ("nextcloud", "cloud.localhost", 200)
    assert check.problem == problem
    assert check.content_ok is (problem is None)


def cached_manifest(cache: Path, manifest: dict[str, Any]) -> None:
    folder = cache / "nextcloud" / manifest["version"]
    folder.mkdir(parents=True)
    (folder / "artifact.json").write_text(json.dumps(manifest))


def test_a_nextcloud_check_says_which_release_answers(tmp_path: Path) -> None:
    """Real Nextcloud 31.0.11 answers and the cache holds it, verified by its code signing: the
    check names it with what the verification found. The cache's figures are written by hand
    here (a manifest as `chaton artifacts add` writes one)."""
    cache = tmp_path / "cache"
    cached_manifest(
        cache,
        {
            "name": "nextcloud", "version": "31.0.11", "file": "nextcloud-31.0.11.tar.zst",
            "size": 1, "sha512": "0" * 128, "sha256": "0" * 64, "source": "/copies/nc.tar.zst",
            "added_at": "2026-12-07T00:00:00Z", "product_name": "Nextcloud",
            "code_signing": {
                "root_fingerprint": ROOT_FINGERPRINT, "scopes": 54, "files": 26576,
                "absent": ["core/fonts/NotoSans-Bold.ttf", "dist/core-common.js"],
                "left_out": [], "verified_at": "2026-12-07T00:00:00Z",
            },
        },
    )  # fmt: skip
    page = STATUS.replace("31.0.0", "31.0.11").replace("{", '{"productname":"Nextcloud",', 1)
    served = {"name": "cloud.localhost", "path": "/status.php"}
    with https_server(tmp_path, page=page.encode(), **served) as (port, ca, _other):
        (check,) = check_server("s1", nextcloud_vars(), Address("127.0.0.1", port), ca, cache)
    assert check.ok
    assert (
        check.release == "Nextcloud 31.0.11, verified by Nextcloud's code signing, 2 files absent"
    )
    # Another version than the cache holds: named as status.php names it.
    with https_server(tmp_path, page=page.replace("31.0.11", "31.0.12").encode(), **served) as (
        port, ca, _other,
    ):  # fmt: skip
        (check,) = check_server("s1", nextcloud_vars(), Address("127.0.0.1", port), ca, cache)
    assert check.release == f"Nextcloud 31.0.12 (not in the artifact cache {cache / 'nextcloud'})"


def test_the_test_release_is_never_named_as_nextcloud(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    build_test_release("nextcloud", "31.0.11", cache)
    page = STATUS.replace("31.0.0", "31.0.11").replace(
        "{", '{"productname":"Nextcloud test release",', 1
    )
    served = {"name": "cloud.localhost", "path": "/status.php"}
    with https_server(tmp_path, page=page.encode(), **served) as (port, ca, _other):
        (check,) = check_server("s1", nextcloud_vars(), Address("127.0.0.1", port), ca, cache)
    assert check.release == "Nextcloud test release 31.0.11, a test release (test double)"
    # The cache holds the test release, a real Nextcloud answers: not described as the test one.
    real = page.replace("Nextcloud test release", "Nextcloud")
    with https_server(tmp_path, page=real.encode(), **served) as (port, ca, _other):
        (check,) = check_server("s1", nextcloud_vars(), Address("127.0.0.1", port), ca, cache)
    assert check.release == f"Nextcloud 31.0.11 (not in the artifact cache {cache / 'nextcloud'})"


def test_a_lists_vhost_must_show_its_domains_lists(tmp_path: Path) -> None:
    vhost = {"name": "mailman-alpha", "kind": "mailman", "instance": "alpha", "enabled": True}
    variables = {
        "mailman_domains": [{"structure": "alpha", "structure_name": NAME}],
        "nginx_vhosts": [{**vhost, "structure": "alpha", "server_names": ["lists.a.localhost"]}],
    }
    served = {"name": "lists.a.localhost", "path": "/postorius/lists/"}
    mine = b"<li>membres@lists.a.localhost</li>"
    with https_server(tmp_path, page=mine, **served) as (port, ca, _other):
        (check,) = check_server("s1", variables, Address("127.0.0.1", port), ca)
    assert check.ok, check.problem
    theirs = b"<li>membres@lists.b.localhost</li>"
    with https_server(tmp_path, page=theirs, **served) as (port, ca, _other):
        (check,) = check_server("s1", variables, Address("127.0.0.1", port), ca)
    assert check.problem == "Postorius does not show this domain's lists"


def mastodon_vars() -> dict[str, Any]:
    """The shared instance's vhost: it belongs to no structure."""
    vhost = {"name": "mastodon-shared", "kind": "mastodon", "instance": "shared", "enabled": True}
    return {"nginx_vhosts": [{**vhost, "structure": None, "server_names": ["social.localhost"]}]}


INSTANCE = b'{"domain":"social.localhost","title":"Mastodon","version":"4.3.0"}'


@pytest.mark.parametrize(
    ("pages", "problem"),
    [
        ({"/api/v2/instance": INSTANCE, "/api/v1/streaming/health": b"OK"}, None),
        # Another instance behind this name.
        (
            {
                "/api/v2/instance": INSTANCE.replace(b"social.localhost", b"social.other"),
                "/api/v1/streaming/health": b"OK",
            },
            "the instance answers as social.other",
        ),
        # A website, not Mastodon.
        (
            {"/api/v2/instance": b"<html>Welcome</html>", "/api/v1/streaming/health": b"OK"},
            "/api/v2/instance did not answer Mastodon's instance",
        ),
        # The web process answers, the streaming one does not (nginx's 502 is a status).
        ({"/api/v2/instance": INSTANCE}, "HTTP status 404 (/api/v1/streaming/health)"),
        (
            {"/api/v2/instance": INSTANCE, "/api/v1/streaming/health": b"<html>502</html>"},
            "the streaming server did not answer",
        ),
    ],
)
def test_a_mastodon_is_judged_by_its_instance_and_its_streaming(
    tmp_path: Path, pages: dict[str, bytes], problem: str | None
) -> None:
    with https_server(tmp_path, name="social.localhost", pages=pages) as (port, ca, _other):
        (check,) = check_server("s1", mastodon_vars(), Address("127.0.0.1", port), ca)
    assert (check.structure, check.kind, check.name) == ("shared", "mastodon", "social.localhost")
    assert check.problem == problem
    assert check.ok is (problem is None)


def test_a_page_of_someone_else_fails(tmp_path: Path) -> None:
    with https_server(tmp_path, page=b"<h1>Another structure</h1>") as (port, ca, _other):
        (check,) = check_server("s1", host_vars(), Address("127.0.0.1", port), ca)
    assert check.problem == "the page does not name the structure"


def test_a_certificate_about_to_expire_fails(tmp_path: Path) -> None:
    with https_server(tmp_path, page=PAGE, days=MIN_CERT_DAYS - 4) as (port, ca, _other):
        (check,) = check_server("s1", host_vars(), Address("127.0.0.1", port), ca)
    assert check.problem is not None and "valid for 10 more days only" in check.problem


def test_a_certificate_from_another_ca_fails(tmp_path: Path) -> None:
    with https_server(tmp_path, page=PAGE) as (port, _ca, other):
        (check,) = check_server("s1", host_vars(), Address("127.0.0.1", port), other)
    assert check.status is None
    assert check.problem is not None and check.problem.startswith("certificate:")


def test_nothing_listening_fails_and_a_suspended_site_is_not_checked(tmp_path: Path) -> None:
    with https_server(tmp_path, page=PAGE) as (port, ca, _other):
        pass  # stopped: nothing listens on `port` any more
    (check,) = check_server("s1", host_vars(), Address("127.0.0.1", port), ca)
    assert not check.ok
    assert check_server("s1", host_vars(enabled=False), Address("127.0.0.1", port), ca) == []


@pytest.mark.parametrize(
    ("page", "found"),
    [
        ("<h1>L&#39;Atelier Vélo &amp; Co</h1>", True),
        ("<p>L'Atelier\n  Vélo &amp;\tCo</p>", True),
        ("<p>L&#x27;Atelier <b>Vélo</b> &amp; Co</p>", True),
        ("<p>L'Atelier Velo & Co</p>", False),
        ("<p>Atelier Vélo</p>", False),
    ],
)
def test_names_reads_the_text_of_the_page(page: str, found: bool) -> None:
    assert names(page, NAME) is found


def test_server_addresses_from_the_inventory(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.yml"
    hosts.write_text(
        "all:\n  children:\n    chaton_servers:\n      hosts:\n"
        "        real-1: {ansible_host: 192.0.2.10}\n"
        "        real-2:\n"
    )
    assert server_addresses(hosts) == {
        "real-1": Address("192.0.2.10", 443),
        "real-2": Address("real-2", 443),
    }
    hosts.write_text(
        "all:\n  hosts:\n    box: {ansible_host: chaton-test-never-started, "
        "ansible_connection: podman}\n"
    )
    with pytest.raises(BadInput, match=r"publishes no HTTPS port on 127\.0\.0\.1"):
        server_addresses(hosts)


GOLDEN = PROJECT_ROOT / "tests" / "render" / "golden" / "example" / "host_vars" / "fabrique-1.yml"


def test_the_units_of_the_example_collective() -> None:
    """Worked out by hand from the example's structure files: only the Épicerie's site is built
    from git; four Nextclouds; the Réseau des Jardins' own Mastodon and the shared one; lists."""
    units = expected_units(load_vars(GOLDEN.read_text(encoding="utf-8")))
    mastodon = "mastodon-{}@{}.service"
    assert units == {
        SERVER_UNITS: [
            "nginx.service",
            "postfix.service",
            "postgresql@15-main.service",
            "php8.2-fpm.service",
            "opendkim.service",
            "mailman3.service",
            "mailman3-web.service",
        ],
        "epicerie-coop": [
            "chaton-website-build-epicerie-coop.timer",
            "nextcloud-cron@epicerie-coop.timer",
            "redis-server@nextcloud-epicerie-coop.service",
        ],
        "monnaie-locale": [
            "nextcloud-cron@monnaie-locale.timer",
            "redis-server@nextcloud-monnaie-locale.service",
        ],
        "theatre-du-lien": [
            "nextcloud-cron@theatre-du-lien.timer",
            "redis-server@nextcloud-theatre-du-lien.service",
        ],
        "velo-cite": [
            "nextcloud-cron@velo-cite.timer",
            "redis-server@nextcloud-velo-cite.service",
        ],
        "reseau-jardins": [
            *(mastodon.format(p, "reseau-jardins") for p in ("web", "sidekiq", "streaming")),
            "mastodon-cleanup@reseau-jardins.timer",
            "redis-server@mastodon-reseau-jardins.service",
        ],
        "shared": [
            *(mastodon.format(p, "shared") for p in ("web", "sidekiq", "streaming")),
            "mastodon-cleanup@shared.timer",
            "redis-server@mastodon-shared.service",
        ],
    }


def test_a_structure_whose_only_instance_runs_no_unit_gets_no_units_check() -> None:
    """A website not built from git runs no unit of its own: no "0 systemd units" check."""
    site = {"structure": "alpha", "name": "alpha", "git": None, "enabled": True}
    assert expected_units({"website_sites": [site]}) == {SERVER_UNITS: ["postfix.service"]}


def test_a_suspended_structure_has_no_unit_to_check() -> None:
    cloud = {"structure": "alpha", "name": "alpha", "redis": "nextcloud-alpha", "enabled": False}
    assert expected_units({"nextcloud_instances": [cloud]}) == {SERVER_UNITS: ["postfix.service"]}


def systemctl_double(tmp_path: Path, states: dict[str, str]) -> Path:
    """A test double of `systemctl is-active`: a folder holding a `systemctl` script that prints
    the state `states` gives each unit ("inactive" for the others) and exits as systemd does
    (3 when one is not active)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    cases = "".join(f"    {unit}) state={state} ;;\n" for unit, state in states.items())
    script = folder / "systemctl"
    script.write_text(
        "#!/bin/sh\n"
        '[ "$1" = is-active ] && [ "$2" = -- ] || exit 64\n'
        "shift 2\ncode=0\n"
        'for unit in "$@"; do\n'
        '  case "$unit" in\n'
        f"{cases}"
        "    *) state=inactive ;;\n"
        "  esac\n"
        '  echo "$state"; [ "$state" = active ] || code=3\n'
        "done\nexit $code\n"
    )
    script.chmod(0o755)
    return folder


SITE_VARS = {
    "website_sites": [
        {"structure": "alpha", "name": "alpha", "enabled": True, "git": {"url": "x"}},
        {"structure": "beta", "name": "beta", "enabled": True, "git": {"url": "y"}},
    ]
}


def test_units_active_pass_and_the_others_are_named(tmp_path: Path) -> None:
    states = {"postfix.service": "active", "chaton-website-build-alpha.timer": "active"}
    bin_dir = systemctl_double(tmp_path, states | {"chaton-website-build-beta.timer": "failed"})
    # `sh -c` stands in for ssh's remote shell: the command arrives as one quoted string.
    path = f"{bin_dir}:/usr/bin:/bin"
    shell = Shell(("sh", "-c"), ssh=True, extra_env=(("PATH", path),))
    checks = {check.structure: check for check in check_units("s1", SITE_VARS, shell)}
    assert sorted(checks) == [SERVER_UNITS, "alpha", "beta"]
    assert checks[SERVER_UNITS].ok and checks["alpha"].ok
    assert checks["beta"].problem == "not active: chaton-website-build-beta.timer (failed)"
    assert checks["alpha"].name == "1 systemd unit" and checks["alpha"].kind == "units"


def test_a_server_that_cannot_be_asked_fails_every_structure(tmp_path: Path) -> None:
    shell = Shell(("sh", "-c", "echo 'ssh: connect to host real-1 port 22: refused' >&2; exit 255"))
    checks = check_units("s1", SITE_VARS, shell)
    assert len(checks) == 3
    for check in checks:
        assert check.problem == (
            "could not ask systemd: ssh: connect to host real-1 port 22: refused"
        )


def test_server_shells_from_the_inventory(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.yml"
    hosts.write_text(
        "all:\n  hosts:\n"
        "    real-1: {ansible_host: 192.0.2.10, ansible_port: 2222, ansible_user: camille, "
        "ansible_ssh_common_args: '-o ProxyJump=bastion'}\n"
        "    real-2:\n"
        "    box: {ansible_host: chaton-demo-box, ansible_connection: podman}\n"
    )
    shells = server_shells(hosts)
    options = ("ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10")
    assert shells["real-1"] == Shell(
        (*options, "-p", "2222", "-l", "camille", "-o", "ProxyJump=bastion", "--", "192.0.2.10"),
        ssh=True,
    )
    assert shells["real-2"] == Shell((*options, "--", "real-2"), ssh=True)
    assert shells["box"].prefix == ("podman", "exec", "chaton-demo-box")
    assert not shells["box"].ssh
