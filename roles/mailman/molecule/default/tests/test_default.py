"""Verify the mailman role: the REST API holds exactly the converge's domains, lists and owners;
a message posted to a list reaches a member's local mailbox through Postfix and Mailman, From:
the list and DKIM-signed by the list domain (OpenDKIM), and HyperKitty archives it; each
structure's owners own their lists only; nginx serves the web interface."""

import base64
import json
import os
import re
import shlex
import subprocess
import time
from email.header import decode_header, make_header
from email.utils import getaddresses, parseaddr
from pathlib import Path

REST = "http://127.0.0.1:8001/3.1"
REST_AUTH = "restadmin:test-mailman-rest-password-8901"
MEMBER = "camille"
MYHOSTNAME = "chaton-test-mailman.mailman.test"
ALPHA_LIST = "membres@lists.alpha.example"
BETA_LIST = "annonces@lists.beta.example"
# Alpha's list domain signs with the key prepare.yml made on the controller (the tests derive
# its public half from that copy, not from the test host's).
DKIM_DOMAIN = "lists.alpha.example"
DKIM_SELECTOR = "chaton"
DKIM_KEY_FILE = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "dkim-lists.alpha.example.pem"
# Run in the test host with Debian's python3-dkim (dkimpy): finds the message holding a subject
# in a mailbox, and says what its From:, Reply-To: and DKIM-Signature hold, and whether dkimpy
# verifies it as delivered and with its body altered.
DKIM_VERIFY = """
import json, mailbox, sys
import dkim
from dkim.util import parse_tag_value

mailbox_path, subject, record_name, record = sys.argv[1:5]
queries = []


def fake_dns_txt(name, timeout=5):
    \"\"\"Test double of DNS: answers the TXT query of one DKIM record (the test derived it from
    the controller's copy of the key), and nothing else.\"\"\"
    queries.append(name.decode())
    return record.encode() if name.decode() == record_name else None


box = mailbox.mbox(mailbox_path)
found = [key for key in box.keys() if subject.encode() in box.get_bytes(key)]
if len(found) != 1:
    print(json.dumps({"found": len(found)}))
    sys.exit(0)
message = box.get_bytes(found[0])
headers = box.get_message(found[0])
head, _, body = message.partition(b"\\n\\n")
print(json.dumps({
    "found": 1,
    "from": str(headers.get("From")),
    "reply_to": str(headers.get("Reply-To", "")),
    "cc": str(headers.get("Cc", "")),
    "signatures": [
        {k.decode(): v.decode() for k, v in parse_tag_value(value.encode()).items()}
        for value in headers.get_all("DKIM-Signature", [])
    ],
    "verified": dkim.verify(message, dnsfunc=fake_dns_txt),
    "body_altered": dkim.verify(
        head + b"\\n\\n" + body.replace(b"Bonjour", b"Bonsoir"), dnsfunc=fake_dns_txt
    ),
    "queries": queries,
}))
"""
# The subjects HyperKitty has archived, from its database.
ARCHIVED_SUBJECTS = (
    "runuser -u postgres -- psql -d mailman3web -tA -c 'SELECT subject FROM hyperkitty_email'"
)


def rest(host, path, method="GET", data=None):
    command = f"curl -sS -f -u {REST_AUTH} -X {method} {REST}{path}"
    if data is not None:
        command += f" -H 'Content-Type: application/json' -d {shlex.quote(json.dumps(data))}"
    result = host.run(command)
    assert result.rc == 0, (path, result.stderr)
    return json.loads(result.stdout) if result.stdout.strip() else {}


def wait_for(host, command, seconds=60):
    """Run `command` until it succeeds, at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = host.run(command)
        if result.rc == 0 or time.monotonic() > deadline:
            return result
        time.sleep(2)


def dkim_record() -> str:
    """The list domain's DKIM record, its public key derived with openssl on the controller."""
    der = subprocess.run(
        ["openssl", "pkey", "-in", str(DKIM_KEY_FILE), "-pubout", "-outform", "DER"],
        capture_output=True,
        check=True,
    ).stdout
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"


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
    domains = rest(host, "/domains").get("entries", [])
    assert sorted(d["mail_host"] for d in domains) == ["lists.alpha.example", "lists.beta.example"]
    lists = rest(host, "/lists").get("entries", [])
    assert sorted(m["fqdn_listname"] for m in lists) == [BETA_LIST, ALPHA_LIST]
    owners = {
        name: sorted(o["email"] for o in rest(host, f"/lists/{name}/roster/owner")["entries"])
        for name in [ALPHA_LIST, BETA_LIST]
    }
    assert owners == {ALPHA_LIST: ["owner-a@alpha.example"], BETA_LIST: ["owner-b@beta.example"]}


def test_list_settings_follow_the_variables_and_defaults(host):
    alpha = rest(host, f"/lists/{ALPHA_LIST}/config")
    assert alpha["description"] == "Les membres d'Alpha"
    assert alpha["subscription_policy"] == "confirm_then_moderate"
    assert alpha["archive_policy"] == "private"
    assert alpha["emergency"] is False
    beta = rest(host, f"/lists/{BETA_LIST}/config")
    assert beta["description"] == ""
    assert beta["subscription_policy"] == "moderate"
    assert beta["archive_policy"] == "public"
    # Every list rewrites the posts' From: to its own address (mailman_dmarc_munge_from_enabled).
    for settings in [alpha, beta]:
        assert settings["dmarc_mitigate_action"] == "munge_from"
        assert settings["dmarc_mitigate_unconditionally"] is True


def test_owner_b_has_no_role_on_alpha(host):
    for role in ["owner", "moderator"]:
        roster = rest(host, f"/lists/{ALPHA_LIST}/roster/{role}").get("entries", [])
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
        m["email"] for m in rest(host, f"/lists/{ALPHA_LIST}/roster/member").get("entries", [])
    ]
    if member not in subscribed:
        rest(
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
    checked = host.run(
        f"python3 -c {shlex.quote(DKIM_VERIFY)} /var/mail/{MEMBER} {shlex.quote(subject)} "
        f"{shlex.quote(record_name)} {shlex.quote(dkim_record())}"
    )
    assert checked.rc == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert report["found"] == 1, report
    display_name, address = parseaddr(report["from"])
    assert address == ALPHA_LIST, report["from"]
    assert "Camille" in str(make_header(decode_header(display_name))), report["from"]
    poster = [a for _, a in getaddresses([report["reply_to"], report["cc"]])]
    assert member in poster, report
    assert [(s["d"], s["s"]) for s in report["signatures"]] == [(DKIM_DOMAIN, DKIM_SELECTOR)]
    assert report["verified"] is True, report
    assert report["queries"][0] == record_name
    assert report["body_altered"] is False
    archived = wait_for(
        host,
        f"{ARCHIVED_SUBJECTS} | grep -F {shlex.quote(subject)}",
        60,
    )
    assert archived.rc == 0, host.run("tail -n 30 /var/log/mailman3/web/mailman-web.log").stdout


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
# The scenario's test password of owner-b's Postorius account.
OWNER_B_PASSWORD = "test-owner-b-web-password-0123"  # noqa: S105
DJANGO_ADMIN = (
    "runuser -u www-data -- python3 /usr/bin/django-admin shell --no-color "
    "--pythonpath /usr/share/mailman3-web --settings settings -c "
)


def postorius_status(host, jar, path, host_name="lists.alpha.example"):
    return host.check_output(
        f"curl -sk --resolve {host_name}:443:127.0.0.1 -b {jar} -c {jar} -o /dev/null "
        f"-w '%{{http_code}}' https://{host_name}{path}"
    )


def test_postorius_refuses_owner_b_on_alpha(host):
    """owner-b, logged in to Postorius with a verified address, manages beta's list only."""
    create = (
        "from django.contrib.auth.models import User\n"
        "from allauth.account.models import EmailAddress\n"
        "u, _ = User.objects.get_or_create(username='owner-b',"
        f" defaults={{'email': {OWNER_B!r}}})\n"
        f"u.set_password({OWNER_B_PASSWORD!r}); u.save()\n"
        f"EmailAddress.objects.update_or_create(user=u, email={OWNER_B!r},"
        " defaults={'verified': True, 'primary': True})\n"
    )
    made = host.run(DJANGO_ADMIN + shlex.quote(create))
    assert made.rc == 0, made.stderr
    jar = "/root/owner-b.cookies"
    host.run(f"rm -f {jar}")
    login = "https://lists.alpha.example/accounts/login/"
    page = host.check_output(
        f"curl -sk --resolve lists.alpha.example:443:127.0.0.1 -b {jar} -c {jar} {login}"
    )
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = f"csrfmiddlewaretoken={token}&login={OWNER_B}&password={OWNER_B_PASSWORD}"
    logged_in = host.check_output(
        f"curl -sk --resolve lists.alpha.example:443:127.0.0.1 -b {jar} -c {jar} -e {login} "
        f"-o /dev/null -w '%{{http_code}}' --data-raw {shlex.quote(form)} {login}"
    )
    assert logged_in == "302", logged_in
    # One Postorius serves every domain: beta's list is reached from alpha's host too.
    assert postorius_status(
        host, jar, "/postorius/lists/annonces.lists.beta.example/settings/"
    ) == ("200")
    assert postorius_status(
        host, jar, "/postorius/lists/membres.lists.alpha.example/settings/"
    ) == ("403")
