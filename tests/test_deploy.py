"""What `chaton deploy` hands to Ansible: hosts.yml, then the rendered inventory and secrets."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from support import ROOT, tool_env

from chaton.deploying import deploy_inputs
from chaton.errors import BadInput
from chaton.generated import render_inventory
from chaton.secrets import init_password_file

EXAMPLE = ROOT / "inventories" / "example"


def copy_example(tmp_path: Path) -> Path:
    root = tmp_path / "example"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("generated"))
    return root


def test_before_render_only_hosts_yml(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    inputs = deploy_inputs(root)
    assert inputs.inventories == [root / "hosts.yml"]
    assert inputs.extra_args == []


def test_missing_hosts_yml_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such inventory file"):
        deploy_inputs(tmp_path)


def test_after_render_generated_inventory_and_secrets(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    password = root / "generated" / ".vault-password"
    password.parent.mkdir()
    init_password_file(password)
    render_inventory(root)
    inputs = deploy_inputs(root)
    assert inputs.inventories == [root / "hosts.yml", root / "generated" / "inventory.yml"]
    assert inputs.extra_args == [
        "--extra-vars",
        f"@{root / 'generated' / 'secrets.vault.yml'}",
        "--vault-password-file",
        str(password),
    ]
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
        deploy_inputs(root)


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
        deploy_inputs(root)
    render_inventory(root)
    assert deploy_inputs(root).inventories[-1] == root / "generated" / "inventory.yml"


def test_a_render_with_local_suffix_is_checked_with_it(tmp_path: Path) -> None:
    root = rendered_example(tmp_path, local_suffix="localhost")
    inventory = (root / "generated" / "inventory.yml").read_text(encoding="utf-8")
    assert "chaton_local_suffix: 'localhost'" in inventory
    deploy_inputs(root)  # up to date with the same option
    render_inventory(root)  # without it: the vhosts lose their .localhost names
    assert "chaton_local_suffix" not in (root / "generated" / "inventory.yml").read_text()
    deploy_inputs(root)
    structure = root / "structures" / "velo-cite.yml"
    structure.write_text(structure.read_text(encoding="utf-8") + "\n# edited\n")
    deploy_inputs(root)  # a comment changes nothing rendered
