"""What `chaton deploy` hands to Ansible: hosts.yml, then the rendered inventory and secrets."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support import ROOT, tool_env

from chaton.attribution import StructureIndex
from chaton.deploying import read_rendered
from chaton.errors import BadInput
from chaton.generated import render_inventory
from chaton.vault import init_password_file
from chaton.yamlio import load_vars

EXAMPLE = ROOT / "inventories" / "example"


def copy_example(tmp_path: Path) -> Path:
    root = tmp_path / "example"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("generated"))
    return root


def test_before_render_only_hosts_yml(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    inputs = read_rendered(root)
    assert inputs.inventories == (root / "hosts.yml",)
    assert inputs.extra_args == ()


def test_missing_hosts_yml_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such inventory file"):
        read_rendered(tmp_path)


def test_after_render_generated_inventory_and_secrets(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    password = root / "generated" / ".vault-password"
    password.parent.mkdir()
    init_password_file(password)
    render_inventory(root)
    inputs = read_rendered(root)
    assert inputs.inventories == (root / "hosts.yml", root / "generated" / "inventory.yml")
    assert inputs.extra_args == (
        "--extra-vars",
        f"@{root / 'generated' / 'secrets.vault.yml'}",
        "--vault-password-file",
        str(password),
    )
    # Ansible itself reads them: the host keeps its connection from hosts.yml, gets its
    # instances from the generated host_vars and the decrypted secrets from the vault.
    reference = "nextcloud/velo-cite/db_password"
    command = ["ansible", "fabrique-1"]
    for inventory in inputs.inventories:
        command += ["-i", str(inventory)]
    command += [*inputs.extra_args, "-m", "ansible.builtin.debug", "-a"]
    command.append(
        "msg={{ {'conn': ansible_connection, "
        "'clouds': nextcloud_instances | map(attribute='name') | list, "
        f"'has_secret': (chaton_secrets['{reference}'] | length) == 32}} | to_json }}}}"
    )
    result = subprocess.run(
        command,
        env=tool_env(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json"),
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    msg = json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"]["fabrique-1"]["msg"]
    value = json.loads(msg) if isinstance(msg, str) else msg
    # The example's structures with a Nextcloud (structures/*.yml, `services.nextcloud`).
    assert value == {
        "conn": "podman",
        "clouds": ["epicerie-coop", "monnaie-locale", "theatre-du-lien", "velo-cite"],
        "has_secret": True,
    }


def test_secrets_without_password_is_bad_input(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    password = root / "generated" / ".vault-password"
    password.parent.mkdir()
    init_password_file(password)
    render_inventory(root)
    password.unlink()
    with pytest.raises(BadInput, match="no vault password file"):
        read_rendered(root)


def rendered_example(tmp_path: Path, local_suffix: str | None = None) -> Path:
    root = copy_example(tmp_path)
    password = root / "generated" / ".vault-password"
    password.parent.mkdir()
    init_password_file(password)
    render_inventory(root, local_suffix=local_suffix)
    return root


def test_stale_generated_files_are_refused(tmp_path: Path) -> None:
    root = rendered_example(tmp_path)
    structure = root / "structures" / "velo-cite.yml"
    structure.write_text(
        structure.read_text(encoding="utf-8").replace("name: Vélo-Cité", "name: Vélo-Cité 2"),
        encoding="utf-8",
    )
    with pytest.raises(BadInput, match=r"stale \(host_vars/fabrique-1\.yml\).*chaton render`"):
        read_rendered(root)
    render_inventory(root)
    assert read_rendered(root).inventories[-1] == root / "generated" / "inventory.yml"


def test_a_render_with_local_suffix_is_checked_with_it(tmp_path: Path) -> None:
    root = rendered_example(tmp_path, local_suffix="localhost")
    inventory = (root / "generated" / "inventory.yml").read_text(encoding="utf-8")
    assert "chaton_local_suffix: 'localhost'" in inventory
    read_rendered(root)  # up to date with the same option
    render_inventory(root)  # without it: the vhosts lose their .localhost names
    assert "chaton_local_suffix" not in (root / "generated" / "inventory.yml").read_text()
    read_rendered(root)
    structure = root / "structures" / "velo-cite.yml"
    structure.write_text(structure.read_text(encoding="utf-8") + "\n# edited\n")
    read_rendered(root)  # a comment changes nothing rendered


def test_a_command_reads_and_renders_the_collective_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`chaton restore --yes` runs two playbooks (the restore, then a deploy of the structure):
    the inventory is loaded, placed and rendered once for both, and the host_vars Ansible's runs
    are told about are that render's."""
    import chaton.deploying
    import chaton.generated
    from chaton.cli import main
    from chaton.runner import HostStats, RunResult

    root = rendered_example(tmp_path)
    calls: dict[str, int] = {"load_inventory": 0, "render": 0}

    def counted(name: str) -> Any:
        real = getattr(chaton.generated, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)

        return wrapper

    for name in calls:
        monkeypatch.setattr(chaton.generated, name, counted(name))
    runs: list[tuple[str, str | None, dict[str, Any] | None]] = []

    def fake_run_playbook(playbook: Path, inventory: Any, **options: Any) -> RunResult:
        """A test double of run_playbook: records the run, has each server succeed."""
        indexes = options.get("indexes")
        runs.append((playbook.name, options.get("limit"), indexes))
        if playbook.name == "restore.yml":
            plan = load_vars(Path(inventory[-1]).read_text(encoding="utf-8"))
            folder = Path(plan["all"]["hosts"]["fabrique-1"]["chaton_restore"]["report_dir"])
            outcome = {"rc": 0, "server": "fabrique-1", "instance": "nextcloud-velo-cite"}
            (folder / "fabrique-1.json").write_text(json.dumps(outcome), encoding="utf-8")
        return RunResult("successful", 0, {"fabrique-1": HostStats(ok=1)})

    monkeypatch.setattr(chaton.deploying, "run_playbook", fake_run_playbook)
    password = root / "generated" / ".vault-password"
    args = ["restore", "velo-cite", "--yes", "--inventory", str(root)]
    assert main([*args, "--vault-password-file", str(password)]) == 0
    assert [(name, limit) for name, limit, _indexes in runs] == [
        ("restore.yml", "fabrique-1"),
        ("site.yml", "fabrique-1"),
    ]
    assert calls == {"load_inventory": 1, "render": 1}
    # The deploy's changes are told per structure from the servers' host_vars as rendered.
    golden = ROOT / "tests" / "render" / "golden" / "example" / "host_vars" / "fabrique-1.yml"
    expected = StructureIndex.from_host_vars(load_vars(golden.read_text(encoding="utf-8")))
    assert runs[1][2] == {"fabrique-1": expected}
