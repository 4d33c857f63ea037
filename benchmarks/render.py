"""Benchmark: `chaton validate` + `chaton render` on 10, 100 and 1,000 generated structures, and
`ansible-inventory --list` on the rendered 1,000, in the same run.

    .venv/bin/python benchmarks/render.py [--sizes 10 100 1000] [--repeat 3]

Each size gets a fresh inventory in a temporary folder: a collective with one server per 50
structures (each large enough), and structures of mixed sizes (Nextcloud for 3 in 5, accounts on
the shared Mastodon for 1 in 2, a dedicated Mastodon for 1 in 20, lists for 1 in 2, a website for
7 in 10). A render is timed from an empty `generated/` folder: placement of every instance,
every secret generated, the vault encrypted, every file written. The best of `--repeat` runs is
kept. Printed: seconds per size, milliseconds per structure (constant when chaton grows
linearly), and chaton's time for the largest size over `ansible-inventory --list`'s on its output
(the target: at most 1).
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from chaton.generated import render_inventory
from chaton.loader import load_inventory

ANSIBLE_INVENTORY = Path(sys.executable).parent / "ansible-inventory"


def collective(servers: int) -> dict[str, Any]:
    return {
        "name": "Banc d'essai",
        "domain": "banc-essai.org",
        "hosting_association": {"name": "Banc", "contact_email": "admin@banc-essai.org"},
        "electricity_price_per_kwh": 0.25,
        "servers": [
            {
                "name": f"server-{index:03d}",
                "resources": {"cores": 256, "ram_mb": 1_048_576, "disk_gb": 100_000},
                "system_reserve": {"ram_mb": 8192, "disk_gb": 200, "cpu_share": 2},
                "costs": {
                    "purchase_price": 9000,
                    "lifetime_years": 5,
                    "monthly_hosting": 200,
                    "power_draw_watts": 400,
                },
            }
            for index in range(servers)
        ],
        "people": {
            "admin_hours_per_month": 40,
            "moderation_hours_per_month": 10,
            "hourly_rate": 25,
            "volunteer_share": 0.5,
        },
        "offers": {
            "nextcloud": {
                "instance": {"ram_mb": 512, "disk_gb": 2, "cpu_share": 0.25},
                "per_account": {"ram_mb": 32, "cpu_share": 0.02},
                "max_accounts": 100,
                "max_storage_gb": 500,
            },
            "mastodon_shared": {
                "instance": {"ram_mb": 3072, "disk_gb": 60, "cpu_share": 1},
                "per_account": {"ram_mb": 4, "disk_gb": 0.5, "cpu_share": 0.002},
                "max_accounts": 20,
            },
            "mastodon_dedicated": {
                "instance": {"ram_mb": 2560, "disk_gb": 40, "cpu_share": 1},
                "per_account": {"ram_mb": 16, "disk_gb": 2, "cpu_share": 0.01},
                "max_accounts": 200,
            },
            "mailing_lists": {
                "instance": {"ram_mb": 512, "disk_gb": 2, "cpu_share": 0.1},
                "per_list": {"disk_gb": 0.2},
                "max_lists": 20,
            },
            "website": {"instance": {"ram_mb": 32, "disk_gb": 1, "cpu_share": 0.02}},
        },
        "tiers": {
            "member": {"label": "Membre", "share_paid": 1},
            "solidarity": {"label": "Solidaire", "share_paid": 0.3},
        },
    }


def structure(index: int) -> dict[str, Any]:
    slug = f"asso-{index:05d}"
    domain = f"{slug}.example.org"
    services: dict[str, Any] = {}
    if index % 5 < 3:
        services["nextcloud"] = {"accounts": 1 + index % 40, "storage_gb": 5 + index % 200}
    if index % 20 == 7:
        services["mastodon"] = {"mode": "dedicated", "accounts": 10 + index % 50}
    elif index % 2 == 0:
        services["mastodon"] = {"mode": "shared", "accounts": 1 + index % 5}
    if index % 2 == 1:
        services["lists"] = [
            {
                "name": f"liste-{n}",
                "description": f"Liste {n} de l'association {index} — {{{{ pas de Jinja }}}}",
                "owners": [f"contact@{domain}"],
            }
            for n in range(1 + index % 3)
        ]
    if index % 10 < 7:
        services["website"] = {"source": "none"}
    return {
        "name": f"Association n°{index}",
        "slug": slug,
        "contacts": [{"name": f"Personne {index}", "email": f"contact@{domain}"}],
        "tier": "member" if index % 3 else "solidarity",
        "domains": [domain],
        "services": services,
    }


def make_inventory(root: Path, size: int) -> Path:
    (root / "structures").mkdir(parents=True)
    servers = max(1, math.ceil(size / 50))
    (root / "collective.yml").write_text(
        yaml.safe_dump(collective(servers), allow_unicode=True, sort_keys=False)
    )
    for index in range(size):
        data = structure(index)
        (root / "structures" / f"{data['slug']}.yml").write_text(
            yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        )
    (root / "generated").mkdir()
    (root / "generated" / ".vault-password").write_text("benchmark\n")
    return root


def time_chaton(root: Path) -> tuple[float, float]:
    """Seconds to validate, seconds to validate and render (from an empty generated/)."""
    for stale in ("host_vars", "inventory.yml", "secrets.vault.yml"):
        target = root / "generated" / stale
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    start = time.perf_counter()
    load_inventory(root)
    validated = time.perf_counter() - start
    start = time.perf_counter()
    render_inventory(root)  # validates again: a render is a complete `chaton render`
    rendered = time.perf_counter() - start
    return validated, rendered


def time_ansible_inventory(root: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        [str(ANSIBLE_INVENTORY), "-i", str(root / "generated" / "inventory.yml"), "--list"],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"ansible-inventory failed: {result.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="chaton-bench-") as tmp:
        largest_root = None
        for size in args.sizes:
            root = make_inventory(Path(tmp) / f"n{size}", size)
            runs = [time_chaton(root) for _run in range(args.repeat)]
            validate = min(run[0] for run in runs)
            total = min(run[1] for run in runs)
            rows.append((size, validate, total))
            largest_root = root
        assert largest_root is not None
        instances = sum(1 for _ in (largest_root / "generated" / "host_vars").glob("*.yml"))
        ansible = min(time_ansible_inventory(largest_root) for _run in range(args.repeat))
    print(f"{'structures':>10}  {'validate s':>10}  {'render s':>9}  {'ms/structure':>12}")
    for size, validate, total in rows:
        print(f"{size:>10}  {validate:>10.3f}  {total:>9.3f}  {1000 * total / size:>12.3f}")
    size, _validate, total = rows[-1]
    base_size, _v, base_total = rows[0]
    print(
        f"growth: render per structure at {size} / at {base_size} = "
        f"{(total / size) / (base_total / base_size):.2f} (1.00 = linear)"
    )
    if len(rows) >= 2:
        mid_size, _v, mid_total = rows[-2]
        print(
            f"growth: render per structure at {size} / at {mid_size} = "
            f"{(total / size) / (mid_total / mid_size):.2f}"
        )
    print(f"ansible-inventory --list on the rendered {size} ({instances} servers): {ansible:.3f} s")
    print(f"chaton validate+render {size} / ansible-inventory {size} = {total / ansible:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
