"""A collective's life on one test host, through the CLI as an operator runs it: a first deploy
killed midway, run again; a structure onboarded and deployed alone; a whole deploy after it.

`chaton render` and `chaton deploy` run in processes of their own, for a collective of one
structure with a website and a mailing list. A deploy in check mode on the fresh host runs and
changes nothing. The first deploy is killed (SIGKILL to its whole
process group: chaton, ansible-playbook and their workers) a while after the mail play started,
when packages are being installed and configuration files written. The second deploy must
succeed without help, `chaton verify` must find the website and the lists answering as their
own, and the vault must be the one rendered before. Then a second structure (a website and a
list: Mailman, the Postfix maps and the DKIM tables are shared) is added and deployed with
`--structure`: its pieces change, the first structure's do not (the per-structure table), both
answer, and a whole deploy afterwards changes nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from collectives import (
    CHATON,
    COMMAND_TIMEOUT,
    add_structure,
    chaton,
    collective,
    container_server,
)

from chaton import containers

pytestmark = [pytest.mark.container, pytest.mark.site]

SERVER = "lifecycle-1"
HOST = containers.TestHost(
    name="chaton-test-lifecycle", hostname=SERVER, publish=("127.0.0.1:18444:443",)
)
# When the first deploy is killed: this long after its mail play started.
KILL_AFTER_PLAY = "Mail and mailing lists"
KILL_DELAY = 20.0

STRUCTURE = """\
name: {name}
slug: {slug}
contacts:
  - name: {contact}
    email: {email}
tier: member
status: active
domains:
  - {domain}
services:
  lists:
    - name: infos
      description: Les nouvelles
      owners: [{email}]
  website:
    source: none
"""
FIRST = {
    "name": "Les Amis du Lavoir",
    "slug": "amis-du-lavoir",
    "contact": "Jeanne Roux",
    "email": "jeanne@amis-du-lavoir.fr",
    "domain": "amis-du-lavoir.fr",
}
SECOND = {
    "name": "Le Fournil Solidaire",
    "slug": "fournil-solidaire",
    "contact": "Malik Perrin",
    "email": "malik@fournil-solidaire.fr",
    "domain": "fournil-solidaire.fr",
}


def structure(fields: dict[str, str]) -> tuple[str, str]:
    return fields["slug"], STRUCTURE.format(**fields)


def inventory(folder: Path) -> Path:
    """The example's collective, server renamed, with one structure; its host is the test
    container, certificates from a CA of the test's own."""
    server = container_server(HOST.name, folder)
    hosts = {"all": {"children": {"chaton_servers": {"hosts": {SERVER: server}}}}}
    return collective(folder, SERVER, hosts, dict([structure(FIRST)]))


def killed_deploy(root: Path, password: Path) -> str:
    """Start `chaton deploy`, kill its process group KILL_DELAY seconds after KILL_AFTER_PLAY
    starts; return what it printed. Fails if the deploy ended on its own first."""
    process = subprocess.Popen(
        [str(CHATON), "deploy", "--inventory", str(root), "--vault-password-file", str(password)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "LANG": "C.UTF-8"},
    )
    assert process.stdout is not None
    printed = []
    deadline = time.monotonic() + COMMAND_TIMEOUT
    for line in process.stdout:
        printed.append(line)
        if f"play: {KILL_AFTER_PLAY}" in line or time.monotonic() > deadline:
            break
    time.sleep(KILL_DELAY)
    ended_first = process.poll() is not None
    os.killpg(process.pid, signal.SIGKILL)
    rest, _ = process.communicate(timeout=60)
    output = "".join(printed) + rest
    assert not ended_first, f"the deploy ended before it could be killed:\n{output}"
    assert f"play: {KILL_AFTER_PLAY}" in output, output
    return output


def verify(root: Path, ca: Path, code: int = 0) -> list[dict[str, object]]:
    checked = chaton("verify", "--inventory", str(root), "--ca-file", str(ca), "--json")
    assert checked.returncode == code, checked.stdout + checked.stderr
    return list(json.loads(checked.stdout))


def deploy(root: Path, password: Path, *options: str) -> dict[str, object]:
    run = chaton("deploy", "--inventory", str(root), "--json", *options, password=password)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return dict(json.loads(run.stdout))


def test_a_collectives_life_killed_deploy_onboarding_and_whole_deploy(tmp_path: Path) -> None:
    root = inventory(tmp_path)
    ca = tmp_path / "ca" / "ca.pem"
    password = tmp_path / "vault-password"
    password.write_text("test-lifecycle-vault-password\n")
    rendered = chaton("render", "--inventory", str(root), password=password)
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    vault = root / "generated" / "secrets.vault.yml"
    vault_before = vault.read_bytes()
    with containers.running(HOST):
        # 0. In check mode on the fresh host: it says what it would change, and changes nothing.
        checked = deploy(root, password, "--check")
        hosts = checked["hosts"]
        assert isinstance(hosts, dict) and hosts[SERVER]["changed"] > 0, checked
        for path in ("/etc/nginx", "/etc/mailman3", "/etc/chaton", "/srv/www"):
            absent = containers.exec_in(HOST.name, "test", "-e", path, check=False)
            assert absent.returncode == 1, f"{path} exists after a deploy in check mode"

        # 1. Killed midway, run again: it converges, with the vault rendered before.
        killed_deploy(root, password)
        deploy(root, password)
        assert vault.read_bytes() == vault_before
        checks = verify(root, ca)
        # The site is not built from git: the structure has no unit of its own, the server's
        # (nginx, Postfix, PostgreSQL, OpenDKIM, Mailman's two) are checked.
        assert sorted((c["structure"], c["kind"]) for c in checks) == [
            ("(server)", "units"),
            ("amis-du-lavoir", "mailman"),
            ("amis-du-lavoir", "website"),
        ]
        assert checks[0]["name"] == "6 systemd units", checks

        # A stopped unit is found and named (the lists still answer: only the signer stopped).
        containers.exec_in(HOST.name, "systemctl", "stop", "opendkim.service")
        try:
            (failed,) = [c for c in verify(root, ca, code=1) if not c["ok"]]
        finally:
            containers.exec_in(HOST.name, "systemctl", "start", "opendkim.service")
        assert failed["problem"] == "not active: opendkim.service (inactive)", failed

        # 2. A second structure, deployed alone: the first one's pieces are not touched.
        add_structure(root, *structure(SECOND))
        rendered = chaton("render", "--inventory", str(root), password=password)
        assert rendered.returncode == 0, rendered.stdout + rendered.stderr
        alone = deploy(root, password, "--structure", "fournil-solidaire")
        changed = alone["changed_by_structure"]
        assert isinstance(changed, dict)
        assert set(changed) == {SERVER}, alone
        assert "fournil-solidaire" in changed[SERVER], alone
        assert set(changed[SERVER]) <= {"fournil-solidaire", ""}, alone
        checks = verify(root, ca)
        assert sorted((c["structure"], c["kind"]) for c in checks) == [
            ("(server)", "units"),
            ("amis-du-lavoir", "mailman"),
            ("amis-du-lavoir", "website"),
            ("fournil-solidaire", "mailman"),
            ("fournil-solidaire", "website"),
        ]

        # 3. A whole deploy finds nothing left to do.
        whole = deploy(root, password)
        hosts = whole["hosts"]
        assert isinstance(hosts, dict)
        assert hosts[SERVER]["changed"] == 0, whole["changed_tasks"]
