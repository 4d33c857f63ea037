"""Shared test helpers: where the project is, and the environment its tools run in."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from chaton.paths import CONTAINERS_CONF, PROJECT_ROOT

ROOT = PROJECT_ROOT
BIN = Path(sys.executable).parent


def tool_env(**extra: str) -> dict[str, str]:
    """The environment `make` gives the tools: the virtualenv first on PATH, our configs."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    env.update(extra)
    return env
