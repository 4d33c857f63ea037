"""Each role's meta/argument_specs.yml and defaults/main.yml declare the same variables with the
same default values, and follow the naming conventions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from support import ROOT

ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_spec_matches_defaults(role: Path) -> None:
    defaults = load(role / "defaults" / "main.yml") or {}
    spec = load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(spec) == sorted(defaults), "variables in the spec and in defaults differ"
    for name, value in defaults.items():
        assert "default" in spec[name], f"{name}: the spec has no default"
        assert spec[name]["default"] == value, f"{name}: spec default != defaults/main.yml"
        if "choices" in spec[name]:
            assert value in spec[name]["choices"] or (
                isinstance(value, list) and set(value) <= set(spec[name]["choices"])
            ), name


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_variables_are_prefixed(role: Path) -> None:
    defaults = load(role / "defaults" / "main.yml") or {}
    prefix = f"{role.name}_"
    assert all(name.startswith(prefix) for name in defaults), sorted(defaults)


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_secret_options_are_no_log(role: Path) -> None:
    spec = load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    for name, option in spec.items():
        # A switch (sshd_sftp_password_authentication_enabled) holds no secret.
        if option.get("type") == "bool":
            continue
        if any(word in name for word in ("password", "secret", "token")):
            assert option.get("no_log") is True, f"{name} must be declared no_log"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_templates_start_with_ansible_managed(role: Path) -> None:
    for template in (role / "templates").rglob("*.j2"):
        lines = template.read_text(encoding="utf-8").splitlines()
        # after an interpreter line, or the opening tag of a PHP file
        first = lines[1] if lines[0].startswith(("#!", "<?php")) else lines[0]
        assert first.startswith("{{ ansible_managed | comment"), template


def test_spec_check_would_catch_a_drift(tmp_path: Path) -> None:
    """The comparison above fails on a role whose spec default differs from defaults/main.yml."""
    role = tmp_path / "drifted"
    (role / "defaults").mkdir(parents=True)
    (role / "meta").mkdir()
    (role / "defaults" / "main.yml").write_text("drifted_port: 22\n")
    (role / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    options:\n      drifted_port:\n        type: int\n"
        "        default: 2222\n"
    )
    with pytest.raises(AssertionError, match="spec default"):
        test_spec_matches_defaults(role)
