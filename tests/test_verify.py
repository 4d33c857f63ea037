"""chaton verify: each website over HTTPS, checked against a test-double web server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tls_double import https_server

from chaton.commands.verify import server_addresses
from chaton.errors import BadInput
from chaton.verify import MIN_CERT_DAYS, Address, check_server, names

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
    assert check.problem is not None and "valid for 10 more day(s) only" in check.problem


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
