"""Verify the whole site: the example collective's websites, over HTTPS, in a real browser.

Headless Chromium (Debian's package) runs on this machine and reaches the test host through the
port published on 127.0.0.1; `--host-resolver-rules` sends every name to that address, so the
browser asks for the structures' real names (SNI and Host), as a visitor's would. It trusts only
the scenario's local CA, through its own NSS database: a page that loads is a certificate that
chains to that CA and names the host.
"""

import os
import subprocess
from pathlib import Path

import pytest

WHOLE_SITE = Path(os.environ["CHATON_WHOLE_SITE_DIR"])
PORT = os.environ["CHATON_WHOLE_SITE_PORT"]
PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
ARTIFACTS = PROJECT / "runs" / "artifacts" / "whole-site"

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


def test_the_base_is_there(host):
    # Key-only sshd for everyone else, the firewall's table open to the web, the example's admin.
    config = host.run("sshd -T").stdout.splitlines()
    assert "passwordauthentication no" in config
    table = host.run("nft list table inet chaton_filter").stdout
    assert "policy drop" in table
    assert "443" in table
    assert host.run("id -nG camille").stdout.split() == ["camille", "chaton-admins"]
