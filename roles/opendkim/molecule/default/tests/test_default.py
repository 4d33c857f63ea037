"""The opendkim role with Postfix on its test host: mail From a listed domain, submitted to
Postfix's signing listener with its account, is delivered with a DKIM signature that dkimpy
accepts, the public key coming from the controller's copy of the key (through a test double of
DNS); an altered message fails; mail From an unlisted domain, from a remote client, or submitted
on the host any other way (sendmail, port 25) carries no signature; no local user can reach the
signer; the keys are readable by root and opendkim only, and a key openssl refuses changes
nothing."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from scenario_tools import ansible_playbook, connects, dkim_report, public_key_record

HOST = "chaton-test-opendkim"
SCENARIO = Path(__file__).resolve().parents[1]
VARS = yaml.safe_load((SCENARIO / "fixtures" / "test.yml").read_text(encoding="utf-8"))
# The key prepare.yml made on the controller, which the converge gave the role through
# chaton_secrets: the tests derive the public key from this copy, not from the test host's.
KEY_FILE = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / Path(VARS["test_key_file"]).name
MYHOSTNAME = f"{HOST}.{VARS['test_mydomain']}"
MAILBOX_USER = VARS["test_mailbox_user"]
MAILBOX = f"/var/mail/{MAILBOX_USER}"
SIGNED = VARS["test_signed_domain"]
EXTRA = VARS["test_extra_domain"]
UNSIGNED = VARS["test_unsigned_domain"]
SELECTOR = VARS["test_selector"]
KEY_DIR = "/etc/opendkim/keys"
# The body of the vault value refuse_bad_key.yml gives the role.
BAD_KEY_BODY = "Y2hhdG9uLXRlc3Qtbm90LWEta2V5LWJ1dC1pdC1sb29rcy1saWtlLW9uZQ=="
WAIT = 30  # seconds a message may take to arrive
SIGNING_PORT = 10587  # the postfix role's signing listener (its default)
SIGNING_LOGIN = (VARS["test_signing_user"], VARS["test_signing_password"])
SOCKET = "/var/spool/postfix/opendkim/opendkim.sock"
MILTER = f"unix:{SOCKET}"

# An SMTP session with postfix on 127.0.0.1, port argv[1], From: and envelope sender argv[3],
# to argv[4]. With --remote, the client first says through XCLIENT (allowed from loopback in
# this scenario) that it is 192.0.2.10, a host of elsewhere; with --login, it logs in as
# argv[6] with the password argv[7] (the signing listener's account).
SMTP_SESSION = """
import smtplib, sys
port, mode, sender, recipient, token = int(sys.argv[1]), sys.argv[2], *sys.argv[3:6]
smtp = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.net", timeout=20)
smtp.ehlo()
if mode == "--remote":
    assert smtp.docmd("XCLIENT", "ADDR=192.0.2.10 NAME=client.example.net")[0] == 220
    smtp.ehlo()
if mode == "--login":
    smtp.login(sys.argv[6], sys.argv[7])
headers = f"From: {sender}\\r\\nTo: {recipient}\\r\\nSubject: test {token}\\r\\n"
message = f"{headers}\\r\\nThe body of {token}.\\r\\n"
smtp.sendmail(sender, [recipient], message)
smtp.quit()
"""


RECORD = public_key_record(KEY_FILE)


def record_name(domain: str) -> str:
    return f"{SELECTOR}._domainkey.{domain}."


def send(host, sender: str) -> str:
    """Submit a message From: sender to the local mailbox with sendmail; return its token."""
    token = f"chaton-test-{uuid.uuid4().hex}"
    message = f"From: {sender}\nTo: {MAILBOX_USER}\nSubject: test {token}\n\nThe body of {token}.\n"
    result = host.run(
        f"printf %s {shlex.quote(message)} | /usr/sbin/sendmail -i -f {shlex.quote(sender)} "
        f"{MAILBOX_USER}"
    )
    assert result.rc == 0, result.stderr
    return token


def send_smtp(host, sender: str, remote: bool = False) -> str:
    """Over SMTP on port 25, from this host (or, remote, as a client of elsewhere)."""
    return _smtp(host, 25, "--remote" if remote else "--local", sender)


def send_signed(host, sender: str) -> str:
    """Through the signing listener, logged in with its account (as Mailman submits)."""
    return _smtp(host, SIGNING_PORT, "--login", sender, *SIGNING_LOGIN)


def _smtp(host, port: int, mode: str, sender: str, *login: str) -> str:
    token = f"chaton-test-{uuid.uuid4().hex}"
    args = [str(port), mode, sender, f"{MAILBOX_USER}@{MYHOSTNAME}", token, *login]
    result = host.run(
        f"python3 -c {shlex.quote(SMTP_SESSION)} {' '.join(shlex.quote(a) for a in args)}"
    )
    assert result.rc == 0, result.stderr
    return token


def delivered(host, token: str, domain: str = SIGNED, record: str = RECORD) -> dict[str, Any]:
    """Wait for the message holding token in the mailbox; what dkim_verify.py says of it."""
    deadline = time.monotonic() + WAIT
    while host.run(f"grep -qF {token} {MAILBOX}").rc != 0:
        if time.monotonic() > deadline:
            journal = host.run("journalctl --no-pager -n 30 -o cat").stdout
            pytest.fail(f"{token} was not delivered within {WAIT} s:\n{journal}")
        time.sleep(0.5)
    report = dkim_report(
        host, MAILBOX, token, record_name(domain), record, ("The body", "The bodY")
    )
    assert report["found"] == 1, report
    return report


def test_opendkim_runs_and_only_postfix_can_reach_it(host):
    """A Unix socket Postfix's group alone may use; no TCP port a local process could use."""
    assert host.service("opendkim").is_running
    assert host.service("opendkim").is_enabled
    assert host.run("ss -Hltnp | grep -q opendkim").rc != 0
    folder = host.file(SOCKET.rsplit("/", 1)[0])
    assert (folder.user, folder.group, folder.mode) == ("opendkim", "postfix", 0o2750)
    socket = host.file(SOCKET)
    assert socket.is_socket and socket.group == "postfix" and socket.mode & 0o007 == 0
    assert connects(host, "postfix", SOCKET).rc == 0
    for user in ["nobody", MAILBOX_USER]:
        assert "PermissionError" in connects(host, user, SOCKET).stderr, user


def test_configuration_passes_opendkim_check(host):
    check = host.run("opendkim -n -x /etc/opendkim.conf")
    assert check.rc == 0, check.stderr
    conf = host.file("/etc/opendkim.conf").content_string
    for line in [
        "Mode                    s",
        "Canonicalization        relaxed/simple",
        "OversignHeaders         From",
        f"Socket                  local:{SOCKET}",
    ]:
        assert line in conf.splitlines(), line
    signing = host.file("/etc/opendkim/SigningTable").content_string.splitlines()
    assert f"*@{SIGNED} {SELECTOR}._domainkey.{SIGNED}" in signing
    assert f"*@{EXTRA} {SELECTOR}._domainkey.{EXTRA}" in signing
    keys = host.file("/etc/opendkim/KeyTable").content_string.splitlines()
    assert (
        f"{SELECTOR}._domainkey.{SIGNED} {SIGNED}:{SELECTOR}:"
        f"{KEY_DIR}/{SELECTOR}._domainkey.{SIGNED}.private"
    ) in keys


def test_only_the_signing_listener_goes_through_the_milter(host):
    assert host.check_output("postconf -h smtpd_milters") == ""
    assert host.check_output("postconf -h non_smtpd_milters") == ""
    service = f"127.0.0.1:{SIGNING_PORT}/inet"
    assert host.check_output(f"postconf -Ph '{service}/smtpd_milters'") == MILTER
    assert host.check_output(f"postconf -Ph '{service}/smtpd_sasl_auth_enable'") == "yes"
    assert host.socket(f"tcp://127.0.0.1:{SIGNING_PORT}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{SIGNING_PORT}").is_listening


def test_keys_are_readable_by_root_and_opendkim_only(host):
    folder = host.file(KEY_DIR)
    assert (folder.user, folder.group, folder.mode) == ("root", "opendkim", 0o750)
    files = sorted(host.check_output(f"ls -A {KEY_DIR}").split())
    assert files == sorted(f"{SELECTOR}._domainkey.{d}.private" for d in [SIGNED, EXTRA])
    for name in files:
        key = host.file(f"{KEY_DIR}/{name}")
        assert (key.user, key.group, key.mode) == ("root", "opendkim", 0o640), name
        assert key.mode & 0o007 == 0, name
        # The key the controller made, not another one.
        public = host.check_output(
            f"openssl pkey -in {KEY_DIR}/{name} -pubout -outform DER | base64 -w0"
        )
        assert RECORD.endswith(f"p={public}"), name
    # Another user cannot read them.
    assert host.run(f"runuser -u nobody -- cat {KEY_DIR}/{files[0]}").rc != 0
    assert host.run(f"runuser -u opendkim -- cat {KEY_DIR}/{files[0]}").rc == 0


def test_the_key_of_a_domain_no_longer_listed_is_removed(host):
    assert not host.file(VARS["test_stale_key"]).exists


def test_mail_from_a_signed_domain_verifies(host):
    report = delivered(host, send_signed(host, f"someone@{SIGNED}"))
    assert len(report["signatures"]) == 1, report
    signature = report["signatures"][0]
    assert signature["d"] == SIGNED
    assert signature["s"] == SELECTOR
    assert signature["a"] == "rsa-sha256"
    assert signature["c"] == "relaxed/simple"
    # From is signed, and oversigned (named once more than there are From: fields).
    assert [h.strip().lower() for h in signature["h"].split(":")].count("from") == 2
    assert report["verified"] is True
    assert report["queries"][0] == record_name(SIGNED)


def test_the_verification_can_fail(host):
    token = send_signed(host, f"someone@{SIGNED}")
    report = delivered(host, token)
    assert report["verified"] is True
    assert report["body_altered"] is False
    assert report["from_added"] is False
    # The same message against the record of another key (made here, on the controller).
    other_key = KEY_FILE.with_name("chaton-test-other-key.pem")
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-out", str(other_key)],
        capture_output=True,
        check=True,
    )
    try:
        other_record = public_key_record(other_key)
    finally:
        other_key.unlink(missing_ok=True)
    assert other_record != RECORD
    assert delivered(host, token, record=other_record)["verified"] is False


def test_mail_from_the_extra_domain_is_signed(host):
    report = delivered(host, send_signed(host, f"news@{EXTRA}"), domain=EXTRA)
    assert [s["d"] for s in report["signatures"]] == [EXTRA]
    assert report["verified"] is True
    assert report["queries"][0] == record_name(EXTRA)


def test_mail_from_an_unlisted_domain_is_not_signed(host):
    report = delivered(host, send_signed(host, f"someone@{UNSIGNED}"))
    assert report["signatures"] == []
    assert report["queries"] == []


@pytest.mark.parametrize("how", ["sendmail", "smtp"])
def test_mail_submitted_on_this_host_without_the_account_is_not_signed(host, how):
    """Any local process may write From: a signed domain; only the signing listener's account
    gets a signature."""
    token = send(host, f"someone@{SIGNED}") if how == "sendmail" else send_smtp(host, f"x@{SIGNED}")
    assert delivered(host, token)["signatures"] == []


def test_the_signing_listener_takes_nothing_without_its_account(host):
    for login in [(), ("--login-as", VARS["test_signing_user"], "not-the-password-01234")]:
        mode = "--local" if not login else "--login"
        args = [
            str(SIGNING_PORT),
            mode,
            f"x@{SIGNED}",
            f"{MAILBOX_USER}@{MYHOSTNAME}",
            "t",
            *login[1:],
        ]
        result = host.run(
            f"python3 -c {shlex.quote(SMTP_SESSION)} {' '.join(shlex.quote(a) for a in args)}"
        )
        assert result.rc != 0
        assert (
            "SMTPRecipientsRefused" in result.stderr or "SMTPAuthenticationError" in result.stderr
        )


def test_mail_from_a_remote_client_is_not_signed(host):
    """A client from elsewhere writing From: the signed domain gets no signature of ours."""
    report = delivered(host, send_smtp(host, f"someone@{SIGNED}", remote=True))
    assert report["signatures"] == []


def _opendkim_pid(host) -> str:
    return host.check_output("systemctl show -p MainPID --value opendkim.service")


def test_a_key_openssl_refuses_changes_nothing(host):
    """Runs last: the role applied with a vault value that only looks like a PEM key."""
    key = f"{KEY_DIR}/{SELECTOR}._domainkey.{SIGNED}.private"
    before = host.file(key).sha256sum
    pid = _opendkim_pid(host)
    playbook = ansible_playbook(HOST, SCENARIO / "refuse_bad_key.yml")
    output = playbook.stdout + playbook.stderr
    assert playbook.returncode == 0, output[-3000:]
    assert "rescued=1" in playbook.stdout, playbook.stdout[-3000:]
    assert BAD_KEY_BODY not in output
    assert host.file(key).sha256sum == before
    assert _opendkim_pid(host) == pid
    # No candidate left beside the keys.
    assert sorted(host.check_output(f"ls -A {KEY_DIR}").split()) == sorted(
        f"{SELECTOR}._domainkey.{d}.private" for d in [SIGNED, EXTRA]
    )
    report = delivered(host, send_signed(host, f"someone@{SIGNED}"))
    assert report["verified"] is True
