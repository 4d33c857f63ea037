"""Shared test helpers: where the project is, and the environment its tools run in."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from chaton.paths import CONTAINERS_CONF, PROJECT_ROOT

ROOT = PROJECT_ROOT
BIN = Path(sys.executable).parent
# The property a scenario test records its steps' seconds under (printed by tests/conftest.py).
STEP_TIMES = "step_seconds"
# The vault password of the `vault_inventory` fixture (tests/conftest.py): what a test reads the
# secrets `chaton render` wrote with.
VAULT_PASSWORD = "test-vault-password-not-a-real-one"  # noqa: S105 - the tests' own vault


def tool_env(**extra: str) -> dict[str, str]:
    """The environment `make` gives the tools: the virtualenv first on PATH, our configs."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    env.update(extra)
    return env


def run_group(
    command: list[str], *, timeout: float, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """subprocess.run in a process group of its own, with text output captured: on timeout the
    whole group is killed (molecule's ansible-playbook and its workers too, not molecule alone),
    then TimeoutExpired is raised as subprocess.run does."""
    with subprocess.Popen(
        command,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def run_live_scenario(role: str, env: dict[str, str]) -> None:
    """`molecule test -s live` of `role` (the role against a real release), in a process group
    of its own; fails with the end of its output when the scenario fails."""
    scenario = run_group(
        [str(BIN / "molecule"), "test", "--scenario-name", "live"],
        cwd=ROOT / "roles" / role,
        env=env,
        timeout=3600,
    )
    assert scenario.returncode == 0, (scenario.stdout + scenario.stderr)[-5000:]


def filter_plugin(module: str, function: str) -> Any:
    """A function of one of the project's filter plugins (plugins/filter/<module>.py), loaded
    from its file as Ansible loads it."""
    spec = importlib.util.spec_from_file_location(
        f"{module}_filter", ROOT / "plugins" / "filter" / f"{module}.py"
    )
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return getattr(loaded, function)


def everything_in(folder: Path) -> list[str]:
    """Every file and folder under `folder`, hidden ones included."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def run_artifacts_cli(monkeypatch: Any, *argv: str) -> int:
    """`chaton ARGV` through the real entry point, with the artifacts command registered."""
    from chaton import cli

    if "artifacts" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "artifacts"))
    return cli.main(list(argv))
