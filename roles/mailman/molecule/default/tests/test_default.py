"""Verify the mailman role: the REST API holds exactly the converge's domains, lists and owners;
a message posted to a list reaches a member's local mailbox through Postfix and Mailman, From:
the list and DKIM-signed by the list domain (OpenDKIM), and HyperKitty archives it; each
structure's owners own their lists only; nginx serves the web interface."""

import json
import os
import re
import shlex
import time
from email.header import decode_header, make_header
from email.utils import getaddresses, parseaddr
from pathlib import Path

from scenario_tools import (
    ansible_playbook,
    assert_list_post_signed_and_archived,
    dkim_report,
    mailman_rest,
    postorius_login,
    postorius_status,
    public_key_record,
    wait_for,
)

HOST = "chaton-test-mailman"
SCENARIO = Path(__file__).resolve().parents[1]
MEMBER = "camille"
MYHOSTNAME = "chaton-test-mailman.mailman.test"
ALPHA_LIST = "membres@lists.alpha.example"
BETA_LIST = "annonces@lists.beta.example"
# Alpha's list domain signs with the key prepare.yml made on the controller (the tests derive
# its public half from that copy, not from the test host's).
DKIM_DOMAIN = "lists.alpha.example"
DKIM_SELECTOR = "chaton"
DKIM_KEY_FILE = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "dkim-lists.alpha.example.pem"


def test_services_listen_on_loopback_only(host):
    for service in ["mailman3", "mailman3-web", "postfix", "nginx"]:
        assert host.service(service).is_running, service
    for port in [8001, 8024, 8000]:
        assert host.socket(f"tcp://127.0.0.1:{port}").is_listening, port
        assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening, port


def test_configuration_files_keep_their_secrets(host):
    for path, group in [
        ("/etc/mailman3/mailman.cfg", "list"),
        ("/etc/mailman3/mailman-hyperkitty.cfg", "list"),
        ("/etc/mailman3/mailman-web.py", "www-data"),
    ]:
        config = host.file(path)
        assert (config.user, config.group, config.mode) == ("root", group, 0o640), path
    assert "postgresql://mailman3:" in host.file("/etc/mailman3/mailman.cfg").content_string
    assert "postgresql" in host.file("/etc/mailman3/mailman-web.py").content_string
    # No SQLite database was set up by the packages.
    assert not host.file("/var/lib/mailman3/data/mailman.db").exists
    assert not host.file("/var/lib/mailman3/web/mailman3web.db").exists


def test_rest_api_has_exactly_the_domains_lists_and_owners(host):
    domains = mailman_rest(host, "/domains").get("entries", [])
    assert sorted(d["mail_host"] for d in domains) == ["lists.alpha.example", "lists.beta.example"]
    lists = mailman_rest(host, "/lists").get("entries", [])
    assert sorted(m["fqdn_listname"] for m in lists) == [BETA_LIST, ALPHA_LIST]
    owners = {
        name: sorted(
            o["email"] for o in mailman_rest(host, f"/lists/{name}/roster/owner")["entries"]
        )
        for name in [ALPHA_LIST, BETA_LIST]
    }
    assert owners == {ALPHA_LIST: ["owner-a@alpha.example"], BETA_LIST: ["owner-b@beta.example"]}


def test_list_settings_follow_the_variables_and_defaults(host):
    alpha = mailman_rest(host, f"/lists/{ALPHA_LIST}/config")
    assert alpha["description"] == "Les membres d'Alpha"
    assert alpha["subscription_policy"] == "confirm_then_moderate"
    assert alpha["archive_policy"] == "private"
    assert alpha["emergency"] is False
    beta = mailman_rest(host, f"/lists/{BETA_LIST}/config")
    assert beta["description"] == ""
    assert beta["subscription_policy"] == "moderate"
    assert beta["archive_policy"] == "public"
    # Every list rewrites the posts' From: to its own address (mailman_dmarc_munge_from_enabled).
    for settings in [alpha, beta]:
        assert settings["dmarc_mitigate_action"] == "munge_from"
        assert settings["dmarc_mitigate_unconditionally"] is True


def test_owner_b_has_no_role_on_alpha(host):
    for role in ["owner", "moderator"]:
        roster = mailman_rest(host, f"/lists/{ALPHA_LIST}/roster/{role}").get("entries", [])
        assert "owner-b@beta.example" not in [m["email"] for m in roster], role


def test_postfix_hands_the_lists_mail_to_mailman(host):
    lmtp = host.file("/var/lib/mailman3/data/postfix_lmtp").content_string.splitlines()
    routes = dict(line.split() for line in lmtp if line.strip() and not line.startswith("#"))
    assert routes[ALPHA_LIST] == routes[BETA_LIST] == "lmtp:[127.0.0.1]:8024"
    assert host.file("/var/lib/mailman3/data/postfix_lmtp.db").exists
    for parameter in ["relay_domains", "transport_maps", "local_recipient_maps"]:
        assert "/var/lib/mailman3/data/" in host.check_output(f"postconf -h {parameter}")


def test_a_post_reaches_a_member_and_the_archive(host):
    member = f"{MEMBER}@{MYHOSTNAME}"
    subscribed = [
        m["email"]
        for m in mailman_rest(host, f"/lists/{ALPHA_LIST}/roster/member").get("entries", [])
    ]
    if member not in subscribed:
        mailman_rest(
            host,
            "/members",
            "POST",
            {
                "list_id": "membres.lists.alpha.example",
                "subscriber": member,
                "pre_verified": True,
                "pre_confirmed": True,
                "pre_approved": True,
            },
        )
    subject = f"Test post {time.time_ns()}"
    script = (
        "import smtplib\nfrom email.message import EmailMessage\n"
        "m = EmailMessage()\n"
        f"m['From'] = {'Camille <' + member + '>'!r}\nm['To'] = {ALPHA_LIST!r}\n"
        f"m['Subject'] = {subject!r}\n"
        "m.set_content('Bonjour la liste.')\n"
        "with smtplib.SMTP('127.0.0.1', 25, timeout=30) as s:\n    s.send_message(m)\n"
    )
    sent = host.run(f"python3 -c {shlex.quote(script)}")
    assert sent.rc == 0, sent.stderr
    delivered = wait_for(host, f"grep -F {shlex.quote(subject)} /var/mail/{MEMBER}", 60)
    assert delivered.rc == 0, host.run("tail -n 30 /var/log/mailman3/mailman.log").stdout
    mailbox = host.file(f"/var/mail/{MEMBER}").content_string
    assert "List-Id: Les membres d'Alpha <membres.lists.alpha.example>" in mailbox
    # From: the list (the poster in Reply-To:), signed by the list domain: dkimpy verifies the
    # signature, the DNS answered by a test double with the record of the controller's key.
    record_name = f"{DKIM_SELECTOR}._domainkey.{DKIM_DOMAIN}."
    record = public_key_record(DKIM_KEY_FILE)
    report = dkim_report(
        host, f"/var/mail/{MEMBER}", subject, record_name, record, ("Bonjour", "Bonsoir")
    )
    assert report["found"] == 1, report
    display_name, address = parseaddr(report["from"])
    assert address == ALPHA_LIST, report["from"]
    assert "Camille" in str(make_header(decode_header(display_name))), report["from"]
    poster = [a for _, a in getaddresses([report["reply_to"], report["cc"]])]
    assert member in poster, report
    assert_list_post_signed_and_archived(
        host, report, DKIM_DOMAIN, DKIM_SELECTOR, record_name, subject
    )


def test_nginx_serves_the_web_interface_per_structure(host):
    for name in ["lists.alpha.example", "lists.beta.example"]:
        base = f"curl -sk --resolve {name}:443:127.0.0.1 -o /dev/null -w '%{{http_code}}' "
        page = host.check_output(base + f"https://{name}/postorius/lists/")
        assert page == "200", name
        archives = host.check_output(base + f"https://{name}/hyperkitty/")
        assert archives == "200", name
        static = host.check_output(
            base + f"https://{name}/mailman3/static/postorius/img/favicon.ico"
        )
        assert static == "200", name
    # The archiving API is refused through nginx (only Mailman, on loopback, may use it).
    api = host.check_output(
        "curl -sk --resolve lists.alpha.example:443:127.0.0.1 -o /dev/null -w '%{http_code}' "
        "-X POST https://lists.alpha.example/hyperkitty/api/mailman/archive"
    )
    assert api == "403", api


OWNER_B = "owner-b@beta.example"
ALPHA = "lists.alpha.example"
# The scenario's test password of owner-b's Postorius account.
OWNER_B_PASSWORD = "test-owner-b-web-password-0123"  # noqa: S105


def test_postorius_refuses_owner_b_on_alpha(host):
    """owner-b, logged in to Postorius with a verified address, manages beta's list only."""
    jar = postorius_login(host, "lists.alpha.example", OWNER_B, OWNER_B_PASSWORD)
    # One Postorius serves every domain: beta's list is reached from alpha's host too.
    settings = "/postorius/lists/{}/settings/"
    assert postorius_status(host, jar, ALPHA, settings.format("annonces.lists.beta.example")) == (
        "200"
    )
    assert postorius_status(host, jar, ALPHA, settings.format("membres.lists.alpha.example")) == (
        "403"
    )


def words(output: str) -> str:
    """Ansible's output with its colours taken out and its lines joined (messages are folded)."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", output).split())


def test_a_list_no_longer_listed_is_reported_and_kept_until_asked(host):
    """Runs last: a list Mailman has that no structure file names (as when it is taken out of
    one) is reported (by its list id) and kept; only mailman_delete_unlisted_lists deletes it."""
    old = "ancienne@lists.beta.example"
    said = "list ancienne.lists.beta.example is in Mailman but not in mailman_lists; it is"
    if old not in [m["fqdn_listname"] for m in mailman_rest(host, "/lists")["entries"]]:
        mailman_rest(host, "/lists", "POST", {"fqdn_listname": old})
    kept = ansible_playbook(HOST, SCENARIO / "converge.yml", timeout=900)
    assert kept.returncode == 0, kept.stdout[-3000:]
    assert f"{said} kept" in words(kept.stdout), kept.stdout[-3000:]
    assert old in [m["fqdn_listname"] for m in mailman_rest(host, "/lists")["entries"]]
    deleted = ansible_playbook(
        HOST,
        SCENARIO / "converge.yml",
        "--extra-vars",
        json.dumps({"mailman_delete_unlisted_lists": True}),
        timeout=900,
    )
    assert deleted.returncode == 0, deleted.stdout[-3000:]
    assert f"{said} deleted" in words(deleted.stdout), deleted.stdout[-3000:]
    lists = [m["fqdn_listname"] for m in mailman_rest(host, "/lists")["entries"]]
    assert sorted(lists) == [BETA_LIST, ALPHA_LIST]
