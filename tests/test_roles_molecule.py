"""Every molecule scenario, step by step, with idempotence judged from Ansible's stats.

The scenarios are each role's `default` (run from roles/<role>/) and the project's own under
molecule/ (run from the project's root with `-s <name>`: the whole site).

Molecule's own `idempotence` step reads Ansible's text output; here the second converge writes
its stats as JSON (the project's `chaton_stats` callback) and the test requires changed == 0 on
every host. The test host is destroyed whatever happens.

Each run keeps molecule's state in a folder of its own (MOLECULE_EPHEMERAL_DIRECTORY), so that
no `molecule reset` is needed and two checkouts never share it; the test hosts are removed by
the project's container harness directly (what the scenarios' destroy playbook runs, without
starting molecule and Ansible for it).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support import ROOT, STEP_TIMES, run_group, tool_env

from chaton import artifacts, containers

ROLES = sorted(p.parents[2].name for p in ROOT.glob("roles/*/molecule/default/molecule.yml"))
PROJECT_SCENARIOS = sorted(p.parent.name for p in ROOT.glob("molecule/*/molecule.yml"))
SCENARIOS = ROLES + [f"molecule/{name}" for name in PROJECT_SCENARIOS]
# Seconds one molecule step may take: a role's, and the whole site's (its first converge installs
# every service of the example collective, on a machine that runs another scenario beside it).
ROLE_STEP_TIMEOUT = 1200
PROJECT_STEP_TIMEOUT = 3000
# The real releases a scenario runs, which must be in the control node's artifact cache (`make
# test` adds the project's copies of Nextcloud's): {scenario: [(kind, version)]}.
REAL_RELEASES = {"nextcloud": [("nextcloud", "30.0.1"), ("nextcloud", "31.0.11")]}


def missing_real_releases(role: str) -> list[str]:
    """The real releases `role`'s scenario needs that the artifact cache does not hold intact
    (as `chaton artifacts check` finds them: verified, not a test release)."""
    missing = []
    for kind, version in REAL_RELEASES.get(role, []):
        result = artifacts.check(kind, version)
        if not result.ok or result.manifest is None or result.manifest.test_release:
            missing.append(f"{kind} {version}")
    return missing


@contextlib.contextmanager
def timed(steps: dict[str, float], step: str) -> Iterator[None]:
    """Record in `steps` the seconds the block took (also when it fails)."""
    start = time.monotonic()
    try:
        yield
    finally:
        steps[step] = round(time.monotonic() - start, 1)


def scenario_file(role: str) -> Path:
    """The molecule.yml of `role`'s scenario (a role's name, or molecule/<scenario>)."""
    if role.startswith("molecule/"):
        return ROOT / role / "molecule.yml"
    return ROOT / "roles" / role / "molecule" / "default" / "molecule.yml"


def scenario_platforms(role: str) -> list[dict[str, object]]:
    """The test hosts of `role`'s scenario (its molecule.yml's, else the shared config's)."""
    base = yaml.safe_load((ROOT / ".config" / "molecule" / "config.yml").read_text())
    scenario = yaml.safe_load(scenario_file(role).read_text()) or {}
    platforms: list[dict[str, object]] = scenario.get("platforms", base["platforms"])
    return platforms


def molecule(
    role: str, step: str, log: Path, *ansible_args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run one molecule step of `role` (a role's name, or molecule/<scenario>), with the
    state folder of this run (MOLECULE_EPHEMERAL_DIRECTORY, in `env`)."""
    if role.startswith("molecule/"):
        cwd, scenario = ROOT, ["--scenario-name", role.removeprefix("molecule/")]
    else:
        cwd, scenario = ROOT / "roles" / role, []
    command = ["molecule", step, *scenario, *(["--", *ansible_args] if ansible_args else [])]
    # Its own process group: a step that outlives the timeout takes its ansible-playbook along.
    timeout = PROJECT_STEP_TIMEOUT if role.startswith("molecule/") else ROLE_STEP_TIMEOUT
    start = time.monotonic()
    result = run_group(command, cwd=cwd, env=tool_env(**env), timeout=timeout)
    seconds = time.monotonic() - start
    with log.open("a", encoding="utf-8") as stream:
        stream.write(f"\n===== molecule {step} (rc={result.returncode}, {seconds:.1f} s)\n")
        stream.write(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        pytest.fail(f"molecule {step} failed for role {role} (log: {log}):\n{tail}")
    return result


def converge_stats(
    role: str, log: Path, stats: Path, *ansible_args: str, **env: str
) -> dict[str, object]:
    stats.unlink(missing_ok=True)
    molecule(role, "converge", log, *ansible_args, CHATON_STATS_FILE=str(stats), **env)
    data: dict[str, object] = json.loads(stats.read_text())
    return data


def assert_no_change(role: str, what: str, stats: dict[str, object]) -> None:
    hosts = stats["hosts"]
    assert isinstance(hosts, dict) and hosts, f"{role}: {what} reached no host"
    for host, counts in hosts.items():
        assert counts["failures"] == 0 and counts["unreachable"] == 0, (role, what, host)
        assert counts["changed"] == 0, (
            f"{role}: {what} changed {counts['changed']} task(s) on {host}: "
            f"{stats['changed_tasks']}"
        )


@pytest.mark.container
@pytest.mark.parametrize(
    "role",
    # The project's scenarios (the whole site) are the long suite: `make test-site`.
    [
        pytest.param(s, marks=pytest.mark.site) if s.startswith("molecule/") else s
        for s in SCENARIOS
    ],
)
def test_role_scenario(role: str, tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    missing = missing_real_releases(role)
    if missing:
        pytest.skip(
            f"{role}: the real releases {', '.join(missing)} are not in the artifact cache "
            f"{artifacts.default_cache()}: `make test` adds the project's copies when "
            "../shared/artifacts/nextcloud/ exists; elsewhere: chaton artifacts fetch (or add) "
            "nextcloud VERSION"
        )
    log = tmp_path / "molecule.log"
    state = {
        "MOLECULE_EPHEMERAL_DIRECTORY": str(tmp_path / "molecule-state"),
        # Where the scenarios find the releases they deploy (the nextcloud role's).
        artifacts.CACHE_ENV: str(artifacts.default_cache()),
    }
    steps: dict[str, float] = {}
    # Where a scenario's time goes, printed at the end of the run (tests/conftest.py).
    record_property(STEP_TIMES, steps)
    try:
        # No `molecule syntax`: ansible-lint (make lint) checks every scenario's playbooks.
        # Molecule's create runs the scenario's prepare playbook too.
        with timed(steps, "create and prepare"):
            molecule(role, "create", log, **state)
        with timed(steps, "converge"):
            first = converge_stats(role, log, tmp_path / "first.json", **state)
        assert first["hosts"], "the converge reached no host"
        # On the strategy the run was given (`make test ACCELERATOR=off`: Ansible's own). The
        # whole site's second converge on the standard strategy alone took 15 minutes here.
        with timed(steps, "second converge"):
            second = converge_stats(role, log, tmp_path / "second.json", **state)
        assert_no_change(role, "the second converge", second)
        # Check mode on the converged host: it runs, and it finds nothing to change. (Not
        # `molecule check`: that command runs a sequence of its own, which destroys the host.)
        with timed(steps, "check mode"):
            checked = converge_stats(role, log, tmp_path / "check.json", "--check", **state)
        assert_no_change(role, "a converge in check mode", checked)
        with timed(steps, "verify"):
            molecule(role, "verify", log, **state)
    finally:
        with timed(steps, "destroy"):
            for platform in scenario_platforms(role):
                containers.stop(str(platform["name"]))


def test_every_scenario_has_its_own_test_host() -> None:
    """make test runs two scenarios at once: two sharing a container name would destroy each
    other's host. A scenario without platforms gets the shared config's."""
    names = []
    for role in SCENARIOS:
        platforms = scenario_platforms(role)
        names += [platform["name"] for platform in platforms]
        path = scenario_file(role)
        scenario = yaml.safe_load(path.read_text()) or {}
        hosts = (scenario.get("verifier", {}).get("options") or {}).get("hosts")
        if hosts is not None:
            # testinfra reaches the scenario's own hosts (a backup scenario has two).
            assert hosts == ",".join(f"podman://{p['name']}" for p in platforms), path
    assert len(names) == len(set(names)), sorted(names)
    assert "chaton-test-host" not in names


def test_every_role_has_a_scenario() -> None:
    roles = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())
    assert roles == ROLES
    assert {"common", "sshd", "firewall"} <= set(roles)
    assert "whole-site" in PROJECT_SCENARIOS
