"""What the scenarios' testinfra tests share. The verifier puts this folder on PYTHONPATH
(.config/molecule/config.yml, and molecule/*/molecule.yml for the project's scenarios)."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DKIM_VERIFY = (Path(__file__).parent / "dkim_verify.py").read_text(encoding="utf-8")


def ansible_playbook(
    host_name: str, playbook: Path, *options: str, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """Run `playbook` on the scenario's test host, with the project's ansible.cfg and roles."""
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    env["ANSIBLE_ROLES_PATH"] = str(ROOT / "roles")
    env["ANSIBLE_NOCOLOR"] = "1"
    env.pop("ANSIBLE_FORCE_COLOR", None)  # molecule's: it would win over NOCOLOR
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            f"{host_name},",
            "-c",
            "podman",  # the name Mitogen knows: much faster than the FQCN
            *options,
            str(playbook),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def converge(
    host_name: str, scenario: Path, *options: str, timeout: int = 900, **extra_vars: Any
) -> subprocess.CompletedProcess[str]:
    """The scenario's converge.yml again on its test host, with extra variables (another version
    for an instance, a chaton_selection); `options`: more ansible-playbook options (--tags)."""
    return ansible_playbook(
        host_name,
        scenario / "converge.yml",
        "--extra-vars",
        json.dumps(extra_vars),
        *options,
        timeout=timeout,
    )


def occ(host: Any, name: str, *args: str, check: bool = True) -> Any:
    """occ of Nextcloud instance `name`, as the nextcloud role runs it: as the instance's user,
    with its configuration folder, from its release link (/srv/nextcloud/<name>)."""
    command = shlex.join(
        [
            "runuser", "-u", f"nextcloud-{name}", "--", "env",
            f"NEXTCLOUD_CONFIG_DIR=/srv/nextcloud/{name}/config/",
            "php", f"/srv/nextcloud/{name}/release/occ", *args,
        ]
    )  # fmt: skip
    result = host.run(command)
    if check:
        assert result.rc == 0, result.stdout + result.stderr
    return result


def wait_for(host: Any, command: str, seconds: float = 60) -> Any:
    """Run `command` on the test host until it succeeds, at most `seconds`; its last result."""
    deadline = time.monotonic() + seconds
    while True:
        result = host.run(command)
        if result.rc == 0 or time.monotonic() > deadline:
            return result
        time.sleep(1)


# Run in a test host: connect to the Unix socket argv[1] (a PermissionError when refused).
CONNECT = (
    "import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print('ok')"
)


def connects(host: Any, user: str, socket_path: str) -> Any:
    """`user` connecting to a Unix socket on the test host: the command's result."""
    return host.run(f"runuser -u {user} -- python3 -c {shlex.quote(CONNECT)} {socket_path}")


def assert_database_refused(
    host: Any, role: str, password: str, own_database: str, their_database: str
) -> None:
    """`role` opens its own database over TCP with its password, not another instance's."""

    def psql(database: str) -> Any:
        return host.run(
            f"PGPASSWORD={shlex.quote(password)} psql -h 127.0.0.1 -U {role} -d {database} "
            "-tAc 'select 1'"
        )

    assert psql(own_database).stdout.strip() == "1"
    refused = psql(their_database)
    assert refused.rc != 0 and "no pg_hba.conf entry" in refused.stderr, refused.stderr


def public_key_record(key_file: Path) -> str:
    """The DKIM record of a private key, its public half derived with openssl on this machine."""
    der = subprocess.run(
        ["openssl", "pkey", "-in", str(key_file), "-pubout", "-outform", "DER"],
        capture_output=True,
        check=True,
    ).stdout
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"


def dkim_report(
    host: Any,
    mailbox: str,
    token: str,
    record_name: str,
    record: str,
    alter: tuple[str, str] = ("", ""),
) -> dict[str, Any]:
    """What dkim_verify.py says of the message of `mailbox` holding `token` (see its docstring);
    `alter`: (old, new) replaced once in the body for the `body_altered` verification."""
    args = [mailbox, token, record_name, record, *(alter if alter[0] else ())]
    result = host.run(
        f"python3 -c {shlex.quote(DKIM_VERIFY)} {' '.join(shlex.quote(a) for a in args)}"
    )
    assert result.rc == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def mailman_rest(
    host: Any, path: str, method: str = "GET", data: dict[str, Any] | None = None
) -> Any:
    """Mailman's REST API on the test host, with the credentials its configuration holds."""
    config = host.file("/etc/mailman3/mailman.cfg").content_string
    found = {
        key: re.search(rf"^{key}: (\S+)$", config, re.MULTILINE)
        for key in ("port", "admin_user", "admin_pass")
    }
    assert all(found.values()), "no [webservice] port/admin_user/admin_pass in mailman.cfg"
    port, user, password = (match.group(1) for match in found.values() if match)
    command = f"curl -sS -f -u {shlex.quote(user + ':' + password)} -X {method} "
    command += f"http://127.0.0.1:{port}/3.1{path}"
    if data is not None:
        command += f" -H 'Content-Type: application/json' -d {shlex.quote(json.dumps(data))}"
    result = host.run(command)
    assert result.rc == 0, (path, result.stderr)
    return json.loads(result.stdout) if result.stdout.strip() else {}


# The subjects HyperKitty has archived, from its database (the mailman role's mailman3web).
ARCHIVED_SUBJECTS = (
    "runuser -u postgres -- psql -d mailman3web -tA -c 'SELECT subject FROM hyperkitty_email'"
)


def assert_list_post_signed_and_archived(
    host: Any, report: dict[str, Any], domain: str, selector: str, record_name: str, subject: str
) -> None:
    """What a list's post must show once delivered (`report`: dkim_report's): one signature, by
    the list domain, that verifies (and fails once the body is altered); then HyperKitty
    archives it."""
    assert report["found"] == 1, report
    assert [(s["d"], s["s"]) for s in report["signatures"]] == [(domain, selector)], report
    assert report["verified"] is True, report
    assert report["queries"][0] == record_name, report
    assert report["body_altered"] is False, report
    archived = wait_for(host, f"{ARCHIVED_SUBJECTS} | grep -qF {shlex.quote(subject)}", 90)
    assert archived.rc == 0, host.run("tail -n 30 /var/log/mailman3/web/mailman-web.log").stdout


# Django's shell in Mailman's web interface (Postorius, HyperKitty), as its account runs it.
DJANGO_SHELL = (
    "runuser -u mailman-web -- python3 /usr/bin/django-admin shell --no-color "
    "--pythonpath /usr/share/mailman3-web --settings settings -c "
)


def postorius_login(host: Any, host_name: str, email: str, password: str) -> str:
    """Create (or reset) a Postorius account with a verified address on the test host, log it in
    through nginx on `host_name` with curl, and return the cookie jar of its session."""
    create = (
        "from django.contrib.auth.models import User\n"
        "from allauth.account.models import EmailAddress\n"
        f"u, _ = User.objects.get_or_create(username={email.split('@')[0]!r},"
        f" defaults={{'email': {email!r}}})\n"
        f"u.set_password({password!r}); u.save()\n"
        f"EmailAddress.objects.update_or_create(user=u, email={email!r},"
        " defaults={'verified': True, 'primary': True})\n"
    )
    made = host.run(DJANGO_SHELL + shlex.quote(create))
    assert made.rc == 0, made.stderr
    jar = f"/root/{email}.cookies"
    host.run(f"rm -f {shlex.quote(jar)}")
    curl = f"curl -sk --resolve {host_name}:443:127.0.0.1 -b {jar} -c {jar}"
    login = f"https://{host_name}/accounts/login/"
    page = host.check_output(f"{curl} {login}")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, page[-2000:]
    form = f"csrfmiddlewaretoken={token.group(1)}&login={email}&password={password}"
    logged_in = host.check_output(
        f"{curl} -e {login} -o /dev/null -w '%{{http_code}}' --data-raw {shlex.quote(form)} {login}"
    )
    assert logged_in == "302", logged_in
    return jar


def postorius_status(host: Any, jar: str, host_name: str, path: str) -> str:
    """The HTTP status Postorius answers the session of `jar` for `path`."""
    return str(
        host.check_output(
            f"curl -sk --resolve {host_name}:443:127.0.0.1 -b {jar} -c {jar} -o /dev/null "
            f"-w '%{{http_code}}' https://{host_name}{path}"
        )
    )


# ---------------------------------------------------------------------------------------------
# Nextcloud over HTTPS, as its users reach it: through nginx and TLS on the test host, the
# certificate checked against the vhost's own (the nginx role's self-signed placeholder).


def nextcloud_set_password(host: Any, name: str, user: str, password: str) -> None:
    """Give account `user` of instance `name` a known password (occ reads it from OC_PASS), as an
    administrator would for the test: the role creates accounts with random passwords."""
    command = shlex.join(
        [
            "runuser", "-u", f"nextcloud-{name}", "--", "env", f"OC_PASS={password}",
            f"NEXTCLOUD_CONFIG_DIR=/srv/nextcloud/{name}/config/",
            "php", f"/srv/nextcloud/{name}/release/occ",
            "user:resetpassword", "--password-from-env", user,
        ]
    )  # fmt: skip
    result = host.run(command)
    assert result.rc == 0, result.stdout + result.stderr


def nextcloud_https(
    host: Any,
    name: str,
    path: str,
    *curl_args: str,
    domain: str | None = None,
    cacert: str | None = None,
) -> tuple[int, str]:
    """(HTTP status, body) of a request to `path` on instance `name`'s domain
    (cloud.<name>.example unless `domain`), reached on the host's nginx with the vhost's own
    certificate (the nginx role's placeholder of vhost nextcloud-<name>) as the only trusted one,
    or the CA file `cacert` (a path on the host)."""
    domain = domain or f"cloud.{name}.example"
    certificate = cacert or f"/etc/ssl/chaton/nextcloud-{name}/fullchain.pem"
    command = (
        f"body=$(mktemp) && curl -sS --max-time 60 --cacert {certificate} "
        f"--resolve {domain}:443:127.0.0.1 -o \"$body\" -w '%{{http_code}}' "
        f"{' '.join(shlex.quote(a) for a in curl_args)} {shlex.quote('https://' + domain + path)}"
        ' && cat "$body"; code=$?; rm -f "$body"; exit $code'
    )
    result = host.run(command)
    assert result.rc == 0, result.stderr
    return int(result.stdout[:3]), result.stdout[3:]


def dav(
    host: Any,
    name: str,
    user: str,
    password: str,
    method: str,
    path: str,
    *curl_args: str,
    domain: str | None = None,
    cacert: str | None = None,
) -> tuple[int, str]:
    """A WebDAV request (files, calendars, address books) of account `user` to instance `name`:
    `path` under /remote.php/dav/ (see nextcloud_https for `domain` and `cacert`)."""
    return nextcloud_https(
        host,
        name,
        f"/remote.php/dav/{path}",
        "-u", f"{user}:{password}", "-X", method, *curl_args,
        domain=domain, cacert=cacert,
    )  # fmt: skip
