"""Small collectives and structures built in code, for the placement and render tests."""

from __future__ import annotations

from typing import Any

from chaton.model import Collective, Structure


def server(name: str, cores: int, ram_mb: int, disk_gb: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "resources": {"cores": cores, "ram_mb": ram_mb, "disk_gb": disk_gb},
        "costs": {
            "purchase_price": 1000,
            "lifetime_years": 5,
            "monthly_hosting": 20,
            "power_draw_watts": 50,
        },
        **extra,
    }


def collective(
    *servers: dict[str, Any], offers: dict[str, Any] | None = None, **extra: Any
) -> Collective:
    """A collective of `servers` with two small people costs, one tier, and `offers` (by default
    the placement tests': small limits of accounts and lists); `extra`: more of its fields."""
    return Collective.model_validate(
        {
            "name": "Test",
            "domain": "collectif.org",
            "hosting_association": {"name": "Asso", "contact_email": "admin@collectif.org"},
            "electricity_price_per_kwh": 0.25,
            "servers": list(servers),
            "people": {
                "admin_hours_per_month": 1,
                "moderation_hours_per_month": 1,
                "hourly_rate": 20,
                "volunteer_share": 0.5,
            },
            "offers": offers
            or {
                "nextcloud": {
                    "instance": {"ram_mb": 1000, "disk_gb": 10, "cpu_share": 0.5},
                    "per_account": {"ram_mb": 10, "disk_gb": 0, "cpu_share": 0.01},
                    "max_accounts": 100,
                    "max_storage_gb": 100000,
                },
                "mastodon_shared": {
                    "instance": {"ram_mb": 2000, "disk_gb": 50, "cpu_share": 1},
                    "per_account": {"ram_mb": 10, "disk_gb": 1, "cpu_share": 0.01},
                    "max_accounts": 50,
                },
                "mailing_lists": {
                    "instance": {"ram_mb": 500, "disk_gb": 2, "cpu_share": 0.1},
                    "per_list": {"ram_mb": 0, "disk_gb": 0.5, "cpu_share": 0},
                    "max_lists": 10,
                },
                "website": {"instance": {"ram_mb": 1024, "disk_gb": 10, "cpu_share": 1}},
            },
            "tiers": {"member": {"label": "Membre", "share_paid": 1}},
            **extra,
        }
    )


def structure(slug: str, **services: Any) -> Structure:
    placement = services.pop("placement", None)
    status = services.pop("status", "active")
    name = services.pop("name", slug.title())
    return Structure.model_validate(
        {
            "name": name,
            "slug": slug,
            "contacts": [{"name": "Contact", "email": f"contact@{slug}.org"}],
            "tier": "member",
            "status": status,
            "domains": [f"{slug}.org"],
            "services": services,
            "placement": placement,
        }
    )


WEBSITE: dict[str, Any] = {"source": "none"}
