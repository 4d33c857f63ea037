"""The acme role on its test host: real certificates from pebble (a real ACME server running
in the test host), served by nginx, chaining to pebble's root; renewal by certbot's timer."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

HOST = "chaton-test-acme"
SCENARIO = Path(__file__).resolve().parent.parent
ROOT = SCENARIO.parents[3]
PEBBLE = "/etc/chaton-test-pebble"
ROOT_PEM = "/root/pebble-root.pem"  # in the test host
CERTS = "/etc/ssl/chaton"
VHOSTS = {
    "website-alpha": ["alpha.example.org", "www.alpha.example.org"],
    "website-beta": ["beta.example.org"],
}


@pytest.fixture(scope="module")
def pebble_root(host) -> str:
    """pebble's issuing root, from its management API (made anew at each pebble start)."""
    host.check_output(
        f"curl -sSf --cacert {PEBBLE}/cert.pem -o {ROOT_PEM} https://localhost:15000/roots/0"
    )
    assert "BEGIN CERTIFICATE" in host.file(ROOT_PEM).content_string
    return ROOT_PEM


def served_chain(host, name: str) -> list[str]:
    """The certificates nginx sends for a name, leaf first."""
    out = host.check_output(
        f"openssl s_client -connect 127.0.0.1:443 -servername {name} -showcerts </dev/null"
        " 2>/dev/null"
    )
    blocks = out.split("-----BEGIN CERTIFICATE-----")[1:]
    return [
        "-----BEGIN CERTIFICATE-----"
        + b.split("-----END CERTIFICATE-----")[0]
        + "-----END CERTIFICATE-----\n"
        for b in blocks
    ]


@pytest.mark.parametrize("name", [n for names in VHOSTS.values() for n in names])
def test_served_certificate_chains_to_pebble_root(host, pebble_root, name):
    chain = served_chain(host, name)
    assert len(chain) >= 2, "nginx must send the intermediate with the leaf"
    host.check_output(f"printf %s {shlex.quote(chain[0])} > /root/leaf.pem")
    host.check_output(f"printf %s {shlex.quote(''.join(chain[1:]))} > /root/untrusted.pem")
    verify = host.run(
        f"openssl verify -CAfile {pebble_root} -untrusted /root/untrusted.pem"
        f" -verify_hostname {name} /root/leaf.pem"
    )
    assert verify.rc == 0, verify.stdout + verify.stderr
    assert verify.stdout.strip().endswith("OK")
    # The same, as a client sees it: curl trusting pebble's root only.
    page = host.run(
        f"curl -sS --cacert {pebble_root} --resolve {name}:443:127.0.0.1 https://{name}/"
    )
    assert page.rc == 0, page.stderr
    assert "Website of the structure" in page.stdout


def test_verify_rejects_a_certificate_pebble_did_not_sign(host, pebble_root):
    """The check above is not a formality: a self-signed certificate fails it."""
    host.check_output(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
        " -subj /CN=alpha.example.org -keyout /root/fake.key -out /root/fake.pem 2>/dev/null"
    )
    assert host.run(f"openssl verify -CAfile {pebble_root} /root/fake.pem").rc != 0


@pytest.mark.parametrize(("name", "names"), list(VHOSTS.items()))
def test_certificate_files_are_certbots_and_cover_the_names(host, name, names):
    for file in ("fullchain.pem", "privkey.pem"):
        link = f"{CERTS}/{name}/{file}"
        assert host.file(link).is_symlink
        assert host.check_output(f"readlink {link}") == f"/etc/letsencrypt/live/{name}/{file}"
    text = host.check_output(
        f"openssl x509 -noout -ext subjectAltName -in {CERTS}/{name}/fullchain.pem"
    )
    for server_name in names:
        assert f"DNS:{server_name}" in text
    issuer = host.check_output(f"openssl x509 -noout -issuer -in {CERTS}/{name}/fullchain.pem")
    assert "Pebble" in issuer
    assert host.file(f"/etc/letsencrypt/live/{name}/privkey.pem").mode & 0o077 == 0


def test_renewal_timer_and_hook(host):
    timer = host.service("certbot.timer")
    assert timer.is_enabled
    assert host.run("systemctl is-active certbot.timer").stdout.strip() == "active"
    hook = host.file("/etc/letsencrypt/renewal-hooks/deploy/chaton-reload-nginx")
    assert hook.mode & 0o111
    assert "nginx -t" in hook.content_string
    env = host.check_output("systemctl show certbot.service -p Environment")
    assert f"REQUESTS_CA_BUNDLE={PEBBLE}/cert.pem" in env
    # The hook itself works: it tests and reloads nginx.
    assert host.run(hook.path).rc == 0


def test_renewal_works_against_pebble(host):
    """certbot renew with the renewal configuration the role left (webroot, key type), without
    saving: a dry run asks pebble for new certificates and answers the challenges. (A dry run
    goes to Let's Encrypt's staging server unless told the server again.)"""
    run = host.run(
        f"REQUESTS_CA_BUNDLE={PEBBLE}/cert.pem certbot renew --dry-run --no-random-sleep-on-renew"
        " --server https://localhost:14000/dir"
    )
    assert run.rc == 0, run.stdout + run.stderr
    assert "all simulated renewals succeeded" in (run.stdout + run.stderr).lower()


def _playbook(playbook: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    env["ANSIBLE_ROLES_PATH"] = str(ROOT / "roles")
    env["ANSIBLE_NOCOLOR"] = "1"
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", f"{HOST},"]
    # "podman": the connection's name Mitogen knows (much faster than the FQCN).
    return subprocess.run(
        [*command, "-c", "podman", *args, str(playbook)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_local_mode_signs_with_the_local_ca(host, tmp_path):
    """The demo's mode: a CA made on the control node signs a .localhost vhost's certificate;
    a second run changes nothing; the ACME certificates stay as they were."""
    ca_dir = tmp_path / "ca"
    alpha_before = host.check_output(f"readlink {CERTS}/website-alpha/fullchain.pem")
    first = _playbook(SCENARIO / "local_mode.yml", "-e", f"acme_local_ca_dir={ca_dir}")
    assert first.returncode == 0, first.stdout[-3000:]
    assert (ca_dir / "ca.key").stat().st_mode & 0o077 == 0
    ca = (ca_dir / "ca.pem").read_text()
    host.check_output(f"printf %s {shlex.quote(ca)} > /root/demo-ca.pem")
    for name in ("demo.localhost", "www.demo.localhost"):
        page = host.run(
            f"curl -sS --cacert /root/demo-ca.pem --resolve {name}:443:127.0.0.1 https://{name}/"
        )
        assert page.rc == 0, page.stderr
        assert "Website of the structure alpha" in page.stdout
    link = host.check_output(f"readlink {CERTS}/website-demo/fullchain.pem")
    assert link == "/var/lib/chaton-acme/local/website-demo/fullchain.pem"
    assert host.check_output(f"readlink {CERTS}/website-alpha/fullchain.pem") == alpha_before
    second = _playbook(SCENARIO / "local_mode.yml", "-e", f"acme_local_ca_dir={ca_dir}")
    assert second.returncode == 0, second.stdout[-3000:]
    assert " changed=0 " in second.stdout, second.stdout[-3000:]
