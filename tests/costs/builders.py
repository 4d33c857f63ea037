"""Small collectives built in code for the cost tests: tests/builders.py's, with offers whose
limits never bind (the cost tests weigh structures, they do not place them)."""

from __future__ import annotations

from typing import Any

import builders
from builders import server

from chaton.model import Collective

__all__ = ["collective", "server"]

COST_OFFERS: dict[str, Any] = {
    "nextcloud": {
        "instance": {"ram_mb": 1000, "disk_gb": 10, "cpu_share": 0.5},
        "per_account": {"ram_mb": 10, "disk_gb": 0, "cpu_share": 0.01},
        "max_accounts": 1000,
        "max_storage_gb": 100000,
    },
    "mastodon_shared": {
        "instance": {"ram_mb": 2000, "disk_gb": 50, "cpu_share": 1},
        "per_account": {"ram_mb": 10, "disk_gb": 1, "cpu_share": 0.01},
        "max_accounts": 1000,
    },
    "mailing_lists": {
        "instance": {"ram_mb": 500, "disk_gb": 2, "cpu_share": 0.1},
        "per_list": {"ram_mb": 0, "disk_gb": 0.5, "cpu_share": 0},
        "max_lists": 20,
    },
    "website": {"instance": {"ram_mb": 64, "disk_gb": 1, "cpu_share": 0.05}},
}


def collective(*servers: dict[str, Any], **extra: Any) -> Collective:
    return builders.collective(*servers, offers=COST_OFFERS, **extra)
