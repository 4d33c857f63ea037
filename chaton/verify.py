"""Checks of a deployed collective from the outside, as a visitor sees it.

Every vhost of a checked kind in the generated host_vars answers over HTTPS, on its server's
address, with status 200, a certificate valid for its main name (against the given CAs) for more
than `MIN_CERT_DAYS` days, and content that is its own:
- website: the home page names the structure;
- nextcloud: status.php says installed, not in maintenance, no upgrade pending; the check also
  says which release answers, as the control node's artifact cache knows it ("Nextcloud 31.0.11,
  verified by Nextcloud's code signing, 28 files absent"), or the test suite's test release;
- mailman: Postorius's list index names the structure's list domain;
- mastodon: the instance API (/api/v2/instance) names the vhost's domain as the instance's, and
  the streaming server answers its health check through the same vhost.

Given a way to run a command on each server (podman exec for a local container, ssh otherwise),
the systemd units each structure's services run on are checked too: `systemctl is-active` must
say "active" for every one (see `expected_units`).
"""

from __future__ import annotations

import html
import json
import os
import re
import shlex
import socket
import ssl
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaton import artifacts
from chaton.errors import ChatonError
from chaton.i18n import N_, _, n_
from chaton.render import HOST_VARS
from chaton.units import INSTANCE_LISTS, instance_units
from chaton.yamlio import load_vars

MIN_CERT_DAYS = 14
# The pages each checked kind is asked for, in order (the first problem is the one reported).
CHECK_PATHS: dict[str, tuple[str, ...]] = {
    "website": ("/",),
    "nextcloud": ("/status.php",),
    "mailman": ("/postorius/lists/",),
    "mastodon": ("/api/v2/instance", "/api/v1/streaming/health"),
}
CHECKED_KINDS = tuple(CHECK_PATHS)
_BODY_LIMIT = 1_000_000
# The structure column of the units every structure of a server relies on (nginx, Postfix…): not a
# structure's slug, which has no parentheses.
SERVER_UNITS = N_("(server)")
UNITS_KIND = "units"
# Debian 12's PostgreSQL cluster and PHP-FPM units (the postgresql and php_fpm roles' own).
POSTGRESQL_UNIT = "postgresql@15-main.service"
PHP_FPM_UNIT = "php8.2-fpm.service"


@dataclass(frozen=True)
class Address:
    """Where a server's HTTPS is reached: a host and a port."""

    host: str
    port: int = 443


@dataclass(frozen=True)
class Shell:
    """How a command runs on a server: an argv prefix (`podman exec NAME`), or an ssh command
    line to which the command is given as one quoted string."""

    prefix: tuple[str, ...]
    ssh: bool = False
    # Variables added to the environment of the command (podman's CONTAINERS_CONF).
    extra_env: tuple[tuple[str, str], ...] = ()

    def run(self, argv: Sequence[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        command = [*self.prefix, shlex.join(argv)] if self.ssh else [*self.prefix, *argv]
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env={**os.environ, **dict(self.extra_env)} if self.extra_env else None,
        )


@dataclass(frozen=True)
class Check:
    """The result of one vhost's check."""

    server: str
    structure: str
    kind: str
    name: str
    status: int | None
    certificate_days: int | None
    # The content is the vhost's own (see the module's docstring).
    content_ok: bool
    problem: str | None
    # What answers, for a Nextcloud: its product, version and where the release comes from.
    release: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Answer:
    status: int | None
    certificate_days: int | None
    body: str
    error: str | None


def fetch(
    name: str, address: Address, ca: Path | None, *, path: str = "/", timeout: float = 10.0
) -> Answer:
    """GET https://`name``path` from `address` (SNI and Host: `name`), the certificate checked
    against `ca` (None: the system's CAs)."""
    try:
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
        with (
            socket.create_connection((address.host, address.port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=name) as tls,
        ):
            certificate = tls.getpeercert() or {}
            # HTTP/1.0: the answer comes whole, never chunked (nginx chunks what PHP makes for
            # an HTTP/1.1 client), and the connection closes after it.
            request = f"GET {path} HTTP/1.0\r\nHost: {name}\r\nConnection: close\r\n\r\n"
            tls.sendall(request.encode("ascii"))
            data = b""
            while len(data) < _BODY_LIMIT and (chunk := tls.recv(65536)):
                data += chunk
    except ssl.SSLCertVerificationError as error:
        return Answer(None, None, "", _("certificate: {reason}", reason=error.verify_message))
    except (OSError, ssl.SSLError) as error:
        return Answer(None, None, "", str(error) or type(error).__name__)
    not_after = certificate.get("notAfter")
    days = (
        int((ssl.cert_time_to_seconds(str(not_after)) - time.time()) // 86400)
        if not_after
        else None
    )
    head, _sep, body = data.partition(b"\r\n\r\n")
    fields = head.split(b"\r\n", 1)[0].split()
    status = int(fields[1]) if len(fields) >= 2 and fields[1].isdigit() else None
    return Answer(status, days, body.decode("utf-8", "replace"), None)


def names(page: str, structure_name: str) -> bool:
    """Whether the page's text holds the structure's name (entities decoded, spaces folded)."""
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    return re.sub(r"\s+", " ", structure_name) in text


def content_problem(
    kind: str, body: str, name: str, structure_name: str, path: str | None = None
) -> str | None:
    """What is wrong with the content a vhost of `kind` answered at `path` (default: the kind's
    first page) (None: it is its own)."""
    path = path or CHECK_PATHS[kind][0]
    if kind == "mastodon":
        return _mastodon_problem(path, body, name)
    if kind == "website":
        return None if names(body, structure_name) else _("the page does not name the structure")
    if kind == "nextcloud":
        try:
            status = json.loads(body)
        except ValueError:
            status = None
        if not isinstance(status, dict):
            return _("status.php did not answer Nextcloud's status")
        if status.get("installed") is not True:
            return _("Nextcloud is not installed")
        if status.get("maintenance") is not False:
            return _("Nextcloud is in maintenance mode")
        if status.get("needsDbUpgrade") is not False:
            return _("Nextcloud waits for its upgrade to finish (occ upgrade)")
        return None
    # mailman: the list index names the lists of the vhost's domain (list@domain).
    return None if f"@{name}" in body else _("Postorius does not show this domain's lists")


def nextcloud_release(body: str, cache: Path | None) -> str | None:
    """Which release a Nextcloud's status.php (`body`) says answers, described from the artifact
    cache `cache` (None: the default one) when it holds that version of that product: "Nextcloud
    31.0.11, verified by Nextcloud's code signing, 28 files absent"; the test suite's test
    release says it is one; another product or version is named as status.php names it."""
    try:
        status = json.loads(body)
    except ValueError:
        return None
    if not isinstance(status, dict) or not isinstance(status.get("versionstring"), str):
        return None
    product = str(status.get("productname") or "Nextcloud")
    version = status["versionstring"]
    folder = artifacts.artifact_folder(cache or artifacts.default_cache(), "nextcloud", version)
    try:
        manifest = artifacts.read_manifest(folder)
    except ChatonError:
        manifest = None
    if manifest is not None and artifacts.product_name(manifest) == product:
        return artifacts.describe_release(manifest)
    return _(
        "{product} {version} (not in the artifact cache {path})",
        product=product,
        version=version,
        path=str(folder.parent),
    )


def _mastodon_problem(path: str, body: str, name: str) -> str | None:
    if path == "/api/v1/streaming/health":
        return None if body.strip() == "OK" else _("the streaming server did not answer")
    try:
        instance = json.loads(body)
    except ValueError:
        instance = None
    if not isinstance(instance, dict) or "domain" not in instance:
        return _("/api/v2/instance did not answer Mastodon's instance")
    if instance["domain"] != name:
        return _("the instance answers as {domain}", domain=instance["domain"])
    return None


def check_server(
    server: str,
    host_vars: Mapping[str, Any],
    address: Address,
    ca: Path | None,
    cache: Path | None = None,
) -> list[Check]:
    """Check every vhost of a CHECKED_KINDS kind of one server; a Nextcloud's release is
    described from the artifact cache `cache` (None: the default one)."""
    structure_names = {
        item["structure"]: item["structure_name"]
        for variable in ("website_sites", "nextcloud_instances", "mailman_domains")
        for item in host_vars.get(variable, [])
    }
    checks = []
    for vhost in host_vars.get("nginx_vhosts", []):
        if vhost["kind"] not in CHECKED_KINDS or not vhost["enabled"]:
            continue
        name = vhost["server_names"][0]
        structure = vhost["structure"] or "shared"
        structure_name = structure_names.get(structure, structure)
        for path in CHECK_PATHS[vhost["kind"]]:
            answer = fetch(name, address, ca, path=path)
            content = content_problem(vhost["kind"], answer.body, name, structure_name, path)
            problem = _answer_problem(answer, path) or content
            if problem is not None:
                break
        release = nextcloud_release(answer.body, cache) if vhost["kind"] == "nextcloud" else None
        checks.append(
            Check(
                server,
                structure,
                vhost["kind"],
                name,
                answer.status,
                answer.certificate_days,
                answer.error is None and content is None,
                problem,
                release,
            )
        )
    return checks


def _answer_problem(answer: Answer, path: str) -> str | None:
    """What is wrong with an answer before its content: no answer, its status, its certificate."""
    if answer.error is not None:
        return answer.error
    if answer.status != 200:
        return _("HTTP status {status} ({path})", status=answer.status, path=path)
    if (answer.certificate_days or 0) < MIN_CERT_DAYS:
        days = answer.certificate_days or 0
        return n_(
            "the certificate is valid for {days} more day only (at least {minimum})",
            "the certificate is valid for {days} more days only (at least {minimum})",
            days,
            days=days,
            minimum=MIN_CERT_DAYS,
        )
    return None


def expected_units(host_vars: Mapping[str, Any]) -> dict[str, list[str]]:
    """{structure (SERVER_UNITS for the server's own): the systemd units that must be active}
    on a server, from its generated host_vars. A suspended structure's units are stopped on
    purpose: not listed."""
    units: dict[str, list[str]] = {}

    def add(structure: str, *names: str) -> None:
        if names:  # a site not built from git runs no unit: no check of none
            units.setdefault(structure, []).extend(names)

    if host_vars.get("nginx_vhosts"):
        add(SERVER_UNITS, "nginx.service")
    add(SERVER_UNITS, "postfix.service")
    if host_vars.get("postgresql_databases"):
        add(SERVER_UNITS, POSTGRESQL_UNIT)
    if host_vars.get("php_fpm_pools"):
        add(SERVER_UNITS, PHP_FPM_UNIT)
    if host_vars.get("opendkim_keys"):
        add(SERVER_UNITS, "opendkim.service")
    if host_vars.get("mailman_domains"):
        add(SERVER_UNITS, "mailman3.service", "mailman3-web.service")
    for kind, own in INSTANCE_LISTS.items():
        for item in host_vars.get(own, []):
            if item["enabled"]:
                add(item["structure"] or "shared", *instance_units(kind, item))
    return units


def unit_states(shell: Shell, units: Sequence[str]) -> dict[str, str]:
    """{unit: what `systemctl is-active` says of it} on the server `shell` reaches. Raises
    OSError (or subprocess.TimeoutExpired) when the server cannot be asked."""
    result = shell.run(["systemctl", "is-active", "--", *units])
    states = result.stdout.split()
    # is-active prints one word a unit and exits 3 when one is not active; anything else is a
    # failure to ask (no such container, ssh refused).
    if len(states) != len(units) or result.returncode not in (0, 3):
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise OSError(detail[-1] if detail else f"exit code {result.returncode}")
    return dict(zip(units, states, strict=True))


def check_units(server: str, host_vars: Mapping[str, Any], shell: Shell) -> list[Check]:
    """One check a structure of the server (and one for the server's own units): every unit of
    `expected_units` active."""
    units = expected_units(host_vars)
    every = [unit for names in units.values() for unit in names]
    try:
        states = unit_states(shell, every)
        error = None
    except (OSError, subprocess.TimeoutExpired) as failure:
        states, error = {}, _("could not ask systemd: {reason}", reason=str(failure))
    checks = []
    for structure, names in units.items():
        inactive = [
            f"{unit} ({states.get(unit)})" for unit in names if states.get(unit) != "active"
        ]
        problem = error or (
            _("not active: {units}", units=", ".join(inactive)) if inactive else None
        )
        label = n_("{count} systemd unit", "{count} systemd units", len(names))
        checks.append(
            Check(server, structure, UNITS_KIND, label, None, None, problem is None, problem)
        )
    return checks


def check_collective(
    generated: Path,
    addresses: Mapping[str, Address],
    ca: Path | None,
    shells: Mapping[str, Shell] | None = None,
    cache: Path | None = None,
) -> list[Check]:
    """Check every server of `addresses` from its generated host_vars: its units first when
    `shells` says how to reach it, then its vhosts (releases described from the artifact cache
    `cache`, None: the default one)."""
    checks: list[Check] = []
    for server, address in sorted(addresses.items()):
        path = generated / HOST_VARS / f"{server}.yml"
        host_vars = load_vars(path.read_text(encoding="utf-8")) or {}
        if shells is not None and server in shells:
            checks += check_units(server, host_vars, shells[server])
        checks += check_server(server, host_vars, address, ca, cache)
    return checks
