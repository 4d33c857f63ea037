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

import yaml
from scenario_tools import (
    DJANGO_SHELL,
    ansible_playbook,
    assert_list_post_signed_and_archived,
    connects,
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
        ("/etc/mailman3/mailman-web.py", "mailman-web"),
    ]:
        config = host.file(path)
        assert (config.user, config.group, config.mode) == ("root", group, 0o640), path
    assert "postgresql://mailman3:" in host.file("/etc/mailman3/mailman.cfg").content_string
    assert "postgresql" in host.file("/etc/mailman3/mailman-web.py").content_string
    # No SQLite database was set up by the packages.
    assert not host.file("/var/lib/mailman3/data/mailman.db").exists
    assert not host.file("/var/lib/mailman3/web/mailman3web.db").exists


# Where a secret could be left on disk, and the processes' environments and command lines.
SEARCHED = (
    "/etc /var /srv /run /home /root /opt /usr/local /tmp /proc/[0-9]*/environ /proc/[0-9]*/cmdline"
)


def converge_secrets() -> list[str]:
    """Every secret the converge gave the host: its test values, and a line of the DKIM key."""
    play = yaml.safe_load((SCENARIO / "converge.yml").read_text())[0]
    values = [v for v in play["vars"]["chaton_secrets"].values() if "lookup(" not in v]
    key_lines = DKIM_KEY_FILE.read_text().splitlines()
    values.append(key_lines[len(key_lines) // 2])
    assert len(values) == 7, values
    return values


def files_holding(host, user: str, secrets: list[str]) -> list[str]:
    """The files `user` can read that hold one of `secrets`. The secrets reach grep in a file
    of /dev/shm (not searched), never on a command line: every process's is world-readable."""
    patterns = "/dev/shm/chaton-test-patterns"
    text = "".join(f"{s}\n" for s in secrets)
    host.check_output(f"install -m 0600 -o {user} /dev/null {patterns}")
    host.check_output(f"printf %s {shlex.quote(text)} > {patterns}")
    try:
        found = host.run(
            f"runuser -u {user} -- sh -c 'grep -rlsF -D skip -f {patterns} {SEARCHED}'"
        )
    finally:
        host.check_output(f"rm -f {patterns}")
    return found.stdout.split()


def test_the_web_servers_account_reads_no_secret(host):
    """nginx's workers run as www-data: nothing they can read holds a secret (Mailman's web
    settings included, which Debian gives to www-data), nor does a process of theirs."""
    secrets = converge_secrets()
    # The search itself works: root finds the settings that hold them.
    assert "/etc/mailman3/mailman-web.py" in files_holding(host, "root", secrets)
    found = files_holding(host, "www-data", secrets)
    assert found == [], "\n".join(found)


def test_the_web_interface_runs_as_its_own_account(host):
    uid = host.check_output("id -u mailman-web")
    assert uid != host.check_output("id -u www-data")
    assert host.check_output("id -nG mailman-web").split() == ["mailman-web"]
    uids = set(host.check_output("ps -o uid= -C uwsgi").split())
    assert uids == {uid}, uids
    socket = host.file("/run/mailman3-web/uwsgi.sock")
    assert (socket.user, socket.group, socket.mode) == ("mailman-web", "www-data", 0o660)


def test_the_archives_full_text_index_is_the_web_interfaces_alone(host):
    """HyperKitty's index holds the text of every list's archive, private lists too: no other
    local user (a structure's PHP, say) may enter it."""
    index = host.file("/var/lib/mailman3/web/fulltext_index")
    assert (index.user, index.group, index.mode) == ("mailman-web", "mailman-web", 0o750)
    for user in [MEMBER, "www-data", "list"]:
        listing = host.run(f"runuser -u {user} -- ls /var/lib/mailman3/web/fulltext_index")
        assert listing.rc != 0 and "Permission denied" in listing.stderr, user
    owners = host.check_output(
        "find /var/lib/mailman3/web/fulltext_index ! -user mailman-web -printf '%p\\n'"
    )
    assert owners == "", owners


def test_the_periodic_jobs_run_as_the_web_interfaces_account_and_work(host):
    jobs = [
        line
        for line in host.file("/etc/cron.d/mailman3-web").content_string.splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert len(jobs) == 7, jobs
    for job in jobs:
        fields = job.split()
        user = fields[1] if job.startswith("@") else fields[5]
        assert user == "mailman-web", job
    minutely = next(job for job in jobs if job.startswith("*"))
    command = minutely.split(None, 6)[6]
    run = host.run(f"cd / && runuser -u mailman-web -- sh -c {shlex.quote(command)}")
    assert run.rc == 0, run.stderr


def test_a_package_upgrade_keeps_the_settings_the_web_interfaces_own(host):
    """mailman3-web's scripts give its settings back to www-data on every upgrade: apt's hook
    gives them back at once, and the web interface keeps answering."""
    reinstall = host.run(
        "DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1 apt-get install --reinstall -y "
        "-o Dpkg::Options::=--force-confold mailman3-web"
    )
    assert reinstall.rc == 0, reinstall.stdout[-2000:] + reinstall.stderr[-2000:]
    settings = host.file("/etc/mailman3/mailman-web.py")
    assert (settings.user, settings.group, settings.mode) == ("root", "mailman-web", 0o640)
    assert files_holding(host, "www-data", converge_secrets()) == []
    page = wait_for(
        host,
        "test $(curl -sk --resolve lists.alpha.example:443:127.0.0.1 -o /dev/null "
        "-w '%{http_code}' https://lists.alpha.example/postorius/lists/) = 200",
        60,
    )
    assert page.rc == 0, host.run("tail -n 30 /var/log/mailman3/web/mailman-web.log").stdout


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


# An SMTP session as the local user argv[1]: From the list's address to the member, through
# port argv[2], logged in as argv[3] with argv[4] when given; prints the server's refusal if any.
FORGE = """
import smtplib, sys
from email.message import EmailMessage
port, user, password, sender, recipient, subject = sys.argv[1:7]
m = EmailMessage()
m["From"], m["To"], m["Subject"] = sender, recipient, subject
m.set_content("Pas de la liste.")
try:
    with smtplib.SMTP("127.0.0.1", int(port), timeout=30) as s:
        if user:
            s.login(user, password)
        s.send_message(m)
except (smtplib.SMTPException, OSError) as refusal:
    print(f"refused: {refusal!r}")
"""


def forge(host, user: str, port: int, login: tuple[str, str] = ("", "")) -> tuple[str, str]:
    """A local user's mail From alpha's list address to the member: (subject, refusal or "")."""
    subject = f"Forged {time.time_ns()}"
    args = [str(port), *login, ALPHA_LIST, f"{MEMBER}@{MYHOSTNAME}", subject]
    sent = host.run(
        f"runuser -u {user} -- python3 -c {shlex.quote(FORGE)} "
        + " ".join(shlex.quote(a) for a in args)
    )
    assert sent.rc == 0, sent.stderr
    return subject, sent.stdout.strip()


def test_a_local_user_gets_no_list_signature(host):
    """Any local process (here the user camille) may send mail From a list's address; only what
    Mailman submits with its account is signed with the list domain's key."""
    subject, refusal = forge(host, MEMBER, 25)
    assert refusal == ""
    delivered = wait_for(host, f"grep -F {shlex.quote(subject)} /var/mail/{MEMBER}", 60)
    assert delivered.rc == 0, host.run("journalctl -u postfix@- -n 20 -o cat").stdout
    record_name = f"{DKIM_SELECTOR}._domainkey.{DKIM_DOMAIN}."
    report = dkim_report(
        host, f"/var/mail/{MEMBER}", subject, record_name, public_key_record(DKIM_KEY_FILE)
    )
    assert report["found"] == 1, report
    assert report["signatures"] == [], report


def test_the_signing_listener_takes_mail_from_its_accounts_only(host):
    """Without Mailman's login, or with a wrong password, nothing is taken there."""
    for login in [("", ""), ("mailman", "not-the-password-0123"), ("camille", "anything-0123")]:
        _, refusal = forge(host, MEMBER, 10587, login)
        assert refusal.startswith("refused:"), (login, refusal)


def test_no_local_user_can_ask_the_signer_itself(host):
    """OpenDKIM listens on a Unix socket only Postfix's group may use, on no TCP port."""
    assert host.run("ss -Hltnp | grep -q opendkim").rc != 0
    socket_path = "/var/spool/postfix/opendkim/opendkim.sock"
    socket = host.file(socket_path)
    assert socket.is_socket
    assert (socket.user, socket.group) == ("opendkim", "postfix")
    assert socket.mode & 0o007 == 0
    assert connects(host, "postfix", socket_path).rc == 0
    for user in [MEMBER, "www-data", "list"]:
        assert "PermissionError" in connects(host, user, socket_path).stderr, user


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
BETA = "lists.beta.example"
# The scenario's test password of owner-b's Postorius account.
OWNER_B_PASSWORD = "test-owner-b-web-password-0123"  # noqa: S105


def test_postorius_refuses_owner_b_on_alpha(host):
    """owner-b, logged in to Postorius with a verified address, manages beta's list only."""
    jar = postorius_login(host, BETA, OWNER_B, OWNER_B_PASSWORD)
    settings = "/postorius/lists/{}/settings/"
    assert postorius_status(host, jar, BETA, settings.format("annonces.lists.beta.example")) == (
        "200"
    )
    # Alpha's list, on alpha's own host (where it is served), as owner-b.
    jar = postorius_login(host, ALPHA, OWNER_B, OWNER_B_PASSWORD)
    assert postorius_status(host, jar, ALPHA, settings.format("membres.lists.alpha.example")) == (
        "403"
    )


def fetch_page(host, name, path):
    """The status and body nginx answers on vhost `name` for `path`."""
    url = shlex.quote(f"https://{name}{path}")
    answer = host.check_output(
        f"curl -sk --resolve {name}:443:127.0.0.1 -w '\\n%{{http_code}}' {url}"
    )
    body, _, status = answer.rpartition("\n")
    return status, body


def test_a_list_domain_shows_its_own_lists_only(host):
    """Each list domain's indexes (Postorius's, HyperKitty's) name its own lists and none of the
    other domain's; another domain's list pages are not found on its vhost, but are on their
    own (by list id, by address, HyperKitty's pages and API)."""
    # HyperKitty knows a list once a first message is archived (its row), then takes its
    # settings (archive policy) from Mailman: beta's list's row is made as the archiver does,
    # then synced.
    made = host.run(
        DJANGO_SHELL
        + shlex.quote(
            "from hyperkitty.models import MailingList\n"
            "MailingList.objects.get_or_create(name='annonces@lists.beta.example')\n"
        )
    )
    assert made.rc == 0, made.stderr
    host.run_expect(
        [0],
        "runuser -u mailman-web -- python3 /usr/bin/django-admin mailman_sync "
        "--pythonpath /usr/share/mailman3-web --settings settings",
    )
    own = {ALPHA: "membres@lists.alpha.example", BETA: "annonces@lists.beta.example"}
    other = {ALPHA: BETA, BETA: ALPHA}
    for name, address in own.items():
        status, index = fetch_page(host, name, "/postorius/lists/")
        assert status == "200", index[-500:]
        assert address in index, (name, index[-2000:])
        assert own[other[name]] not in index, name
    # The archives of beta's public list, in HyperKitty's index (alpha's list is private).
    status, archives = fetch_page(host, BETA, "/hyperkitty/")
    assert status == "200" and "annonces@lists.beta.example" in archives, archives[-2000:]
    status, archives = fetch_page(host, ALPHA, "/hyperkitty/")
    assert status == "200" and "annonces@lists.beta.example" not in archives, archives[-2000:]
    pages = [
        "/postorius/lists/annonces.lists.beta.example/",
        "/postorius/lists/annonces@lists.beta.example/",
        "/postorius/lists/annonces%40lists.beta.example/",
        "/hyperkitty/list/annonces@lists.beta.example/",
        "/hyperkitty/list/annonces.lists.beta.example/",
        "/hyperkitty/api/list/annonces@lists.beta.example/",
        "/hyperkitty/listinfo/annonces",
    ]
    for path in pages:
        assert fetch_page(host, ALPHA, path)[0] == "404", path
    for path in pages[:2] + pages[3:4] + pages[5:6]:
        assert fetch_page(host, BETA, path)[0] == "200", path


def test_hyperkittys_pages_across_lists_keep_to_the_vhosts_domain(host):
    """HyperKitty's search and a sender's posts answer on a vhost for one list of its own domain
    only; its list finder names that domain's lists only; its API across lists is not served; a
    client's own X-Chaton-List-Domain header changes nothing. Runs after
    test_a_list_domain_shows_its_own_lists_only (beta's public list known to HyperKitty)."""
    status, found = fetch_page(host, BETA, "/hyperkitty/find-list?term=annonces")
    assert status == "200" and [i["value"] for i in json.loads(found)] == [BETA_LIST], found
    status, found = fetch_page(host, ALPHA, "/hyperkitty/find-list?term=annonces")
    assert status == "200" and json.loads(found) == [], found
    on_beta = [
        f"/hyperkitty/search?mlist={BETA_LIST}&q=vide",
        f"/hyperkitty/users/0123456789abcdef/posts?list={BETA_LIST}",
    ]
    for path in on_beta:
        assert fetch_page(host, BETA, path)[0] == "200", path
        assert fetch_page(host, ALPHA, path)[0] == "404", path
    for path in [
        "/hyperkitty/search?q=vide",  # every list
        f"/hyperkitty/search?mlist={BETA_LIST.replace('@', '%40')}&q=vide",
        f"/hyperkitty/search?mlist={ALPHA_LIST}&mlist={BETA_LIST}&q=vide",
        "/hyperkitty/users/0123456789abcdef/posts",
    ]:
        assert fetch_page(host, ALPHA, path)[0] == "404", path
    forged = host.check_output(
        f"curl -sk -o /dev/null -w '%{{http_code}}' -H 'X-Chaton-List-Domain: {BETA}'"
        f" --resolve {ALPHA}:443:127.0.0.1 'https://{ALPHA}{on_beta[0]}'"
    )
    assert forged == "404"
    for path in ["/hyperkitty/api/lists/", "/hyperkitty/api/tags/",
                 "/hyperkitty/api/sender/0123456789abcdef/emails/"]:  # fmt: skip
        for name in (ALPHA, BETA):
            assert fetch_page(host, name, path)[0] == "404", (name, path)


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
