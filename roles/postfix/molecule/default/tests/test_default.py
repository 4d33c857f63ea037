"""The postfix role on its test host: local delivery, mail through the test double smarthost
(verified TLS, AUTH), list mail through the transport map, no open relay, a refused main.cf that
changes nothing. Checked from inside the host."""

from __future__ import annotations

import json
import shlex
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from scenario_tools import ansible_playbook

HOST = "chaton-test-postfix"
SCENARIO = Path(__file__).resolve().parents[1]
VARS = yaml.safe_load((SCENARIO / "fixtures" / "mail.yml").read_text(encoding="utf-8"))
MYHOSTNAME = f"{HOST}.{VARS['test_mydomain']}"
MAILBOX_USER = VARS["test_mailbox_user"]
SMARTHOST = VARS["fake_smarthost_name"]
SPOOL = VARS["fake_smarthost_spool"]
PASSWORD = VARS["fake_smarthost_password"]
SASL_MAP = "/etc/postfix/sasl_passwd"
WAIT = 30  # seconds a message may take to arrive

# An SMTP session with the test host's postfix on 127.0.0.1:25. With --remote, the client first
# says through XCLIENT (allowed from loopback in this scenario only) that it is 192.0.2.10, a
# host outside mynetworks. Prints the reply code to each RCPT TO.
SMTP_SESSION = """
import json, smtplib, sys
remote = sys.argv[1] == "--remote"
smtp = smtplib.SMTP("127.0.0.1", 25, local_hostname="client.example.net", timeout=20)
smtp.ehlo()
codes = {}
if remote:
    codes["xclient"] = smtp.docmd("XCLIENT", "ADDR=192.0.2.10 NAME=client.example.net")[0]
    smtp.ehlo()
smtp.mail("sender@example.net")
for recipient in sys.argv[2:]:
    codes[recipient] = smtp.rcpt(recipient)[0]
smtp.quit()
print(json.dumps(codes))
"""


def send(host, recipient: str) -> str:
    """Submit a message with sendmail, as a service or cron does; return its unique token."""
    token = f"chaton-test-{uuid.uuid4().hex}"
    message = f"Subject: test {token}\n\nThe body of {token}.\n"
    result = host.run(
        f"printf %s {shlex.quote(message)} | /usr/sbin/sendmail -i {shlex.quote(recipient)}"
    )
    assert result.rc == 0, result.stderr
    return token


def wait_for(check, what: str) -> Any:
    """Poll check() until it returns something true, for at most WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {WAIT} s")
        time.sleep(0.5)


def in_mailbox(host, user: str, token: str) -> bool:
    return host.run(f"grep -qF {token} /var/mail/{user}").rc == 0


def smarthost_record(host, token: str) -> dict[str, Any] | None:
    """What the test double wrote for the message holding token, or None (not arrived)."""
    found = host.run(f"grep -lF {token} {SPOOL}/*.json")
    if found.rc != 0:
        return None
    record: dict[str, Any] = json.loads(host.file(found.stdout.split()[0]).content_string)
    return record


def postconf(host) -> dict[str, str]:
    settings = {}
    for line in host.check_output("postconf -n").splitlines():
        name, _, value = line.partition(" =")
        settings[name] = value.strip()
    return settings


def test_configuration_passes_the_checks(host):
    assert host.run("postfix check").rc == 0
    check = host.run("/usr/local/sbin/chaton-postfix-check")
    assert check.rc == 0, check.stderr
    assert host.run("postconf -n").stderr == ""  # no warning: no unknown or repeated parameter


def test_postfix_runs_and_listens_on_loopback_only(host):
    assert host.service("postfix@-").is_running
    assert host.service("postfix").is_enabled
    listening = host.check_output("ss -Hltn 'sport = :25'").splitlines()
    addresses = {line.split()[3].rsplit(":", 1)[0] for line in listening}
    assert "127.0.0.1" in addresses
    assert addresses <= {"127.0.0.1", "[::1]"}


def test_main_cf_is_what_the_settings_ask_for(host):
    expected = {
        "myhostname": MYHOSTNAME,
        "mydomain": VARS["test_mydomain"],
        "myorigin": MYHOSTNAME,
        "mydestination": "$myhostname, localhost.$mydomain, localhost",
        "inet_interfaces": "loopback-only",
        "relayhost": f"[{SMARTHOST}]:{VARS['fake_smarthost_port']}",
        # A relay with mandatory, verified TLS; TLS 1.2 at least wherever TLS is mandatory.
        "smtp_tls_security_level": "secure",
        "smtp_tls_CAfile": f"{VARS['fake_smarthost_dir']}/cert.pem",
        "smtp_tls_mandatory_protocols": ">=TLSv1.2",
        "smtpd_tls_security_level": "may",
        "smtpd_tls_mandatory_protocols": ">=TLSv1.2",
        "smtpd_tls_cert_file": "/etc/ssl/certs/ssl-cert-snakeoil.pem",
        "smtpd_tls_key_file": "/etc/ssl/private/ssl-cert-snakeoil.key",
        "smtp_sasl_auth_enable": "yes",
        "smtp_sasl_password_maps": f"hash:{SASL_MAP}",
        "smtp_sasl_security_options": "noanonymous, noplaintext",
        # The extension points and the extra parameters of vars/postfix.yml.
        "relay_domains": VARS["test_relay_domain"],
        "transport_maps": f"texthash:{VARS['test_transport_map']}",
        "local_recipient_maps": (
            f"proxy:unix:passwd.byname, $alias_maps, texthash:{VARS['test_transport_map']}"
        ),
        "smtpd_milters": "inet:127.0.0.1:8891",
        "non_smtpd_milters": "$smtpd_milters",
        "milter_default_action": "accept",
        "smtp_host_lookup": "native",
        "smtpd_authorized_xclient_hosts": "127.0.0.1",
    }
    settings = postconf(host)
    assert {name: settings.get(name) for name in expected} == expected
    assert host.file("/etc/mailname").content_string == f"{MYHOSTNAME}\n"


def test_relaying_is_for_this_host_only_by_the_settings(host):
    settings = postconf(host)
    assert settings["mynetworks"] == "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128"
    restrictions = settings["smtpd_relay_restrictions"]
    assert restrictions == "permit_mynetworks, reject_unauth_destination"


@pytest.mark.parametrize("client", ["--loopback", "--remote"])
def test_a_remote_client_cannot_relay(host, client):
    """From loopback (mynetworks) anything goes; a remote client may only write to this host's
    own addresses and its relay domains."""
    recipients = [
        "someone@example.org",
        f"{MAILBOX_USER}@{MYHOSTNAME}",
        f"{VARS['test_list_local_part']}@{MYHOSTNAME}",
        f"any-list@{VARS['test_relay_domain']}",
        f"nobody-here@{MYHOSTNAME}",
    ]
    session = host.run(
        f"python3 -c {shlex.quote(SMTP_SESSION)} {client} "
        + " ".join(shlex.quote(r) for r in recipients)
    )
    assert session.rc == 0, session.stderr
    codes = json.loads(session.stdout)
    if client == "--loopback":
        assert codes["someone@example.org"] == 250
        return
    assert codes == {
        "xclient": 220,
        "someone@example.org": 554,  # Relay access denied
        f"{MAILBOX_USER}@{MYHOSTNAME}": 250,
        f"{VARS['test_list_local_part']}@{MYHOSTNAME}": 250,  # in local_recipient_maps
        f"any-list@{VARS['test_relay_domain']}": 250,  # relay_domains
        f"nobody-here@{MYHOSTNAME}": 550,  # unknown in local_recipient_maps
    }


@pytest.mark.parametrize(
    "recipient",
    [MAILBOX_USER, f"{MAILBOX_USER}@{MYHOSTNAME}", "root", "webmaster"],
)
def test_local_mail_is_delivered_to_the_mailbox(host, recipient):
    """Local users, root (postfix_root_alias) and webmaster (postfix_aliases, to root)."""
    token = send(host, recipient)
    wait_for(lambda: in_mailbox(host, MAILBOX_USER, token), f"delivery to {recipient}")


def test_external_mail_goes_through_the_smarthost_over_tls_authenticated(host):
    token = send(host, "someone@example.org")
    record = wait_for(lambda: smarthost_record(host, token), "delivery to the smarthost")
    assert record["port"] == VARS["fake_smarthost_port"]
    assert record["tls"] is True
    assert record["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert record["username"] == VARS["fake_smarthost_username"]
    assert record["mail_from"] == f"root@{MYHOSTNAME}"  # myorigin
    assert record["rcpt_to"] == ["someone@example.org"]
    assert token in record["message"]
    # Level secure: postfix checked the smarthost's certificate and name.
    verified = host.run(
        "journalctl --no-pager -t postfix/smtp"
        f" | grep -F 'Verified TLS connection established to {SMARTHOST}['"
    )
    assert verified.rc == 0, "postfix did not verify the smarthost's certificate"


@pytest.mark.parametrize(
    "recipient",
    [f"any-list@{VARS['test_relay_domain']}", f"{VARS['test_list_local_part']}@{MYHOSTNAME}"],
)
def test_list_mail_follows_the_transport_map(host, recipient):
    token = send(host, recipient)
    record = wait_for(lambda: smarthost_record(host, token), f"delivery of {recipient}")
    assert record["port"] == VARS["fake_smarthost_lists_port"]
    assert record["rcpt_to"] == [recipient]
    assert record["tls"] is True
    assert record["username"] is None  # the credentials are the relayhost's only


SIGNING_PORT = 10587
SIGNING_DB = "/etc/postfix/sasl/chaton-signing.sasldb"
SIGNING_PASSWORD = VARS["test_signing_password"]
# An SMTP session with the signing listener, logged in as argv[1] with argv[2] when argv[1] is
# not empty, to the local mailbox argv[3]; prints "sent" or the refusal.
SIGNING_SESSION = """
import smtplib, sys
user, password, recipient, token = sys.argv[1:5]
try:
    with smtplib.SMTP("127.0.0.1", 10587, timeout=20) as smtp:
        if user:
            smtp.login(user, password)
        smtp.sendmail("app@example.net", [recipient], f"Subject: {token}\\r\\n\\r\\n{token}\\r\\n")
    print("sent")
except smtplib.SMTPException as refusal:
    print(type(refusal).__name__)
"""


def submit(host, user: str = "", password: str = "") -> tuple[str, str]:
    token = f"chaton-test-{uuid.uuid4().hex}"
    args = [user, password, f"{MAILBOX_USER}@{MYHOSTNAME}", token]
    result = host.run(
        f"python3 -c {shlex.quote(SIGNING_SESSION)} {' '.join(shlex.quote(a) for a in args)}"
    )
    assert result.rc == 0, result.stderr
    return token, result.stdout.strip()


def test_the_signing_listener_takes_mail_from_its_account_only(host):
    assert host.socket(f"tcp://127.0.0.1:{SIGNING_PORT}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{SIGNING_PORT}").is_listening
    token, said = submit(host, VARS["test_signing_user"], SIGNING_PASSWORD)
    assert said == "sent"
    wait_for(lambda: in_mailbox(host, MAILBOX_USER, token), token)
    assert submit(host)[1] == "SMTPRecipientsRefused"
    assert submit(host, VARS["test_signing_user"], "not-the-password-0123")[1] == (
        "SMTPAuthenticationError"
    )
    assert submit(host, "root", SIGNING_PASSWORD)[1] == "SMTPAuthenticationError"


def test_the_signing_password_stays_in_its_database(host):
    database = host.file(SIGNING_DB)
    assert (database.user, database.group, database.mode) == ("root", "postfix", 0o640)
    users = host.check_output(f"sasldblistusers2 -f {SIGNING_DB}")
    assert users.split(":")[0] == f"{VARS['test_signing_user']}@chaton-signing", users
    stamp = host.file("/etc/postfix/sasl/chaton-signing.sha256")
    assert (stamp.user, stamp.mode) == ("root", 0o600)
    found = host.run(
        f"grep -rlF {shlex.quote(SIGNING_PASSWORD)} /etc /var/log /run; "
        "journalctl --no-pager -o cat | grep -cF " + shlex.quote(SIGNING_PASSWORD)
    ).stdout.split()
    assert found == [SIGNING_DB, "0"], found


def test_a_new_password_in_check_mode_is_reported_and_changes_nothing(host):
    before = host.file(SIGNING_DB).sha256sum
    secrets = {"chaton_secrets": {"test/signing/password": "another-signing-password-0123"}}
    playbook = ansible_playbook(
        HOST, SCENARIO / "converge.yml", "--check", "--diff", "-e", json.dumps(secrets)
    )
    assert playbook.returncode == 0, playbook.stdout[-3000:]
    assert (
        "changed: [chaton-test-postfix]"
        in playbook.stdout.split("Write the digest of the accounts now in the database")[1].split(
            "TASK"
        )[0]
    )
    assert "another-signing-password-0123" not in playbook.stdout + playbook.stderr
    assert host.file(SIGNING_DB).sha256sum == before
    assert submit(host, VARS["test_signing_user"], SIGNING_PASSWORD)[1] == "sent"


def test_without_accounts_the_signing_listener_is_removed(host):
    playbook = ansible_playbook(HOST, SCENARIO / "no_signing.yml")
    assert playbook.returncode == 0, playbook.stdout[-3000:]
    assert not host.socket(f"tcp://127.0.0.1:{SIGNING_PORT}").is_listening
    assert "chaton signing listener" not in host.file("/etc/postfix/master.cf").content_string
    for path in [SIGNING_DB, "/etc/postfix/sasl/chaton-signing.conf"]:
        assert not host.file(path).exists, path
    token = send(host, MAILBOX_USER)
    wait_for(lambda: in_mailbox(host, MAILBOX_USER, token), token)


def test_incoming_starttls_offers_the_configured_certificate(host):
    served = host.run(
        "openssl s_client -starttls smtp -connect 127.0.0.1:25 </dev/null 2>/dev/null"
        " | openssl x509 -noout -fingerprint -sha256"
    )
    configured = host.check_output(
        "openssl x509 -in /etc/ssl/certs/ssl-cert-snakeoil.pem -noout -fingerprint -sha256"
    )
    assert served.rc == 0
    assert served.stdout.strip() == configured.strip()


def test_credentials_stay_in_the_root_only_map(host):
    for path in (SASL_MAP, f"{SASL_MAP}.db"):
        file = host.file(path)
        assert (file.user, file.group, file.mode) == ("root", "root", 0o600), path
    pattern = shlex.quote(PASSWORD)
    # The search does find the password where it is, so that its absence elsewhere means something.
    assert host.run(f"grep -qF -- {pattern} {SASL_MAP}").rc == 0
    assert host.run(f"grep -rqF -- {pattern} /etc/postfix/main.cf /etc/aliases").rc == 1
    assert PASSWORD not in host.check_output("postconf -n")
    journal = host.run(f"journalctl --no-pager -o cat | grep -cF -- {pattern}")
    assert journal.stdout.strip() == "0"
    assert host.run(f"grep -rqsF -- {pattern} /var/log").rc != 0


CANDIDATE = "/root/chaton-test-candidate-main.cf"
MISSING_CERTIFICATE = "/etc/ssl/certs/chaton-test-missing.pem"


def _staging_folders(host) -> int:
    """How many mktemp folders there are in /tmp (the check stages a candidate in one)."""
    return int(host.check_output("find /tmp -maxdepth 1 -name 'tmp.*' -type d | wc -l"))


@pytest.mark.parametrize(
    ("edit", "refusal"),
    [
        (None, None),  # the main.cf in force, as a candidate: accepted
        ("$a smtpd_tls_loglevell = 1", "unused parameter: smtpd_tls_loglevell=1"),
        (
            "$a smtpd_relay_restrictions = permit",
            "overriding earlier entry: smtpd_relay_restrictions",
        ),
        (
            "$a default_process_limit = lots",
            "fatal: bad numerical configuration: default_process_limit",
        ),
        (
            f"s|^smtpd_tls_cert_file = .*|smtpd_tls_cert_file = {MISSING_CERTIFICATE}|",
            f"smtpd_tls_cert_file names {MISSING_CERTIFICATE}, which cannot be read",
        ),
    ],
    ids=["in-force", "misspelt", "set-twice", "bad-number", "missing-certificate"],
)
def test_the_check_refuses_a_bad_candidate(host, edit, refusal):
    """chaton-postfix-check on a candidate main.cf: the one in force with one bad line (a
    parameter Postfix does not know, one the role writes, a value postfix check cannot read, a
    certificate that is not there). Nothing in force changes, no staging folder is left."""
    main_cf = host.file("/etc/postfix/main.cf").sha256sum
    staging = _staging_folders(host)
    host.check_output(f"cp /etc/postfix/main.cf {CANDIDATE}")
    if edit is not None:
        host.check_output(f"sed -i -e {shlex.quote(edit)} {CANDIDATE}")
        assert host.file(CANDIDATE).sha256sum != main_cf
    check = host.run(f"/usr/local/sbin/chaton-postfix-check {CANDIDATE}")
    host.run(f"rm -f {CANDIDATE}")
    if refusal is None:
        assert check.rc == 0, check.stderr
    else:
        assert check.rc == 1
        assert refusal in check.stderr
    assert host.file("/etc/postfix/main.cf").sha256sum == main_cf
    assert _staging_folders(host) == staging


def _reloads(host) -> int:
    """How many times postfix's master has started or reloaded (its own log lines)."""
    out = host.run(
        "journalctl --no-pager -o cat -t postfix/master | grep -cE '(reload|daemon started)'"
    )
    return int(out.stdout.strip() or 0)


def test_the_role_refusing_main_cf_changes_nothing(host):
    """Runs last: the role applied with an extra parameter that would open the relay."""
    main_cf = host.file("/etc/postfix/main.cf").sha256sum
    master_pid = host.file("/var/spool/postfix/pid/master.pid").content_string.strip()
    reloads = _reloads(host)
    staging = _staging_folders(host)
    playbook = ansible_playbook(HOST, SCENARIO / "refuse_bad_main_cf.yml")
    output = playbook.stdout + playbook.stderr
    assert playbook.returncode == 0, output[-3000:]
    assert "rescued=1" in playbook.stdout, playbook.stdout[-3000:]
    assert PASSWORD not in output
    # main.cf as it was, postfix neither reloaded nor restarted, no staging folder left.
    assert host.file("/etc/postfix/main.cf").sha256sum == main_cf
    assert host.file("/var/spool/postfix/pid/master.pid").content_string.strip() == master_pid
    assert _reloads(host) == reloads
    assert _staging_folders(host) == staging
    assert host.run("/usr/local/sbin/chaton-postfix-check").rc == 0
    token = send(host, MAILBOX_USER)
    wait_for(lambda: in_mailbox(host, MAILBOX_USER, token), "delivery after the refusals")
