"""Benchmark: the cost sheets of a generated collective of 1,000 structures.

Run: .venv/bin/python benchmarks/costs.py [--structures N] [--formats ods,csv,html,pdf]
Prints the time of the model and of each format, in total and per structure. PDF is rendered for
a sample of structures (WeasyPrint is the slow part) and extrapolated, unless --full-pdf.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from chaton.costs.labels import texts
from chaton.costs.model import Period, Reserved, compute
from chaton.costs.writers import csvfiles, ods
from chaton.costs.writers.html import pdf, structure_html, summary_html
from chaton.model import Collective, Structure

SERVERS = 8


def collective() -> Collective:
    return Collective.model_validate(
        {
            "name": "Bench",
            "domain": "bench.org",
            "hosting_association": {"name": "Bench", "contact_email": "a@bench.org"},
            "electricity_price_per_kwh": 0.2516,
            "grid_carbon_intensity_g_per_kwh": 52,
            "servers": [
                {
                    "name": f"server-{index}",
                    "resources": {"cores": 64, "ram_mb": 524288, "disk_gb": 40000},
                    "costs": {
                        "purchase_price": 9000,
                        "lifetime_years": 5,
                        "monthly_hosting": 120,
                        "power_draw_watts": 350,
                        "pue": 1.4,
                        "embodied_kgco2e": 1500,
                    },
                }
                for index in range(SERVERS)
            ],
            "recurring_costs": [
                {"label": "Domains", "amount": 900, "period": "yearly"},
                {"label": "Backups", "amount": 200, "period": "monthly", "allocation": "resources"},
                {"label": "Bank", "amount": 15, "period": "monthly", "allocation": "accounts"},
            ],
            "people": {
                "admin_hours_per_month": 80,
                "moderation_hours_per_month": 40,
                "hourly_rate": 30,
                "volunteer_share": 0.4,
            },
            "offers": {
                "nextcloud": {
                    "instance": {"ram_mb": 512, "disk_gb": 2, "cpu_share": 0.25},
                    "per_account": {"ram_mb": 32, "cpu_share": 0.02},
                    "max_accounts": 500,
                    "max_storage_gb": 1000,
                }
            },
            "tiers": {
                "member": {"label": "Member", "share_paid": 1},
                "standard": {"label": "Standard", "share_paid": 1, "solidarity_contribution": 0.15},
                "solidarity": {"label": "Solidarity", "share_paid": 0.3},
            },
            "allocation": {"headroom": "carried"},
        }
    )


def structures(count: int) -> tuple[dict[str, Structure], dict[str, dict[str, Reserved]]]:
    found: dict[str, Structure] = {}
    usage: dict[str, dict[str, Reserved]] = {f"server-{i}": {} for i in range(SERVERS)}
    tiers = ("member", "standard", "solidarity")
    for index in range(count):
        slug = f"structure-{index:05d}"
        accounts = 1 + index % 40
        found[slug] = Structure.model_validate(
            {
                "name": f"Structure {index}",
                "slug": slug,
                "contacts": [{"name": "X", "email": f"x@s{index}.org"}],
                "tier": tiers[index % 3],
                "domains": [f"s{index}.org"],
                "services": {"nextcloud": {"accounts": accounts, "storage_gb": 5 + index % 100}},
            }
        )
        usage[f"server-{index % SERVERS}"][slug] = Reserved(
            Decimal(512 + 32 * accounts),
            Decimal(7 + index % 100),
            Decimal("0.25") + Decimal("0.02") * accounts,
        )
    return found, usage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--structures", type=int, default=1000)
    parser.add_argument("--formats", default="ods,csv,html,pdf")
    parser.add_argument("--pdf-sample", type=int, default=50)
    parser.add_argument("--full-pdf", action="store_true")
    args = parser.parse_args()
    formats = args.formats.split(",")
    count = args.structures
    built, usage = structures(count)
    t = texts("en")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    report = compute(collective(), built, usage, Period.year(2025))
    timings["model"] = time.perf_counter() - start
    assert all(sum(pool.shares) == pool.amount for pool in report.pools)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        if "ods" in formats:
            start = time.perf_counter()
            ods.save(ods.collective_sheets(report, t), out / "summary.ods")
            timings["ods summary"] = time.perf_counter() - start
            start = time.perf_counter()
            for slug in report.parties:
                ods.save(ods.structure_sheets(report, slug, t), out / f"{slug}.ods")
            timings["ods sheets"] = time.perf_counter() - start
        if "csv" in formats:
            start = time.perf_counter()
            (out / "summary.csv").write_text(csvfiles.summary_csv(report, t), encoding="utf-8")
            (out / "pools.csv").write_text(csvfiles.pools_csv(report, t), encoding="utf-8")
            for slug in report.parties:
                text = csvfiles.structure_csv(report, slug, t)
                (out / f"{slug}.csv").write_text(text, encoding="utf-8")
            timings["csv"] = time.perf_counter() - start
        pages: dict[str, str] = {}
        if "html" in formats or "pdf" in formats:
            start = time.perf_counter()
            pages["summary"] = summary_html(report, t, "en")
            for slug in report.parties:
                pages[slug] = structure_html(report, slug, t, "en")
            for name, page in pages.items():
                (out / f"{name}.html").write_text(page, encoding="utf-8")
            timings["html"] = time.perf_counter() - start
        if "pdf" in formats:
            sample = report.parties if args.full_pdf else report.parties[: args.pdf_sample]
            start = time.perf_counter()
            (out / "summary.pdf").write_bytes(pdf(pages["summary"]))
            timings["pdf summary"] = time.perf_counter() - start
            start = time.perf_counter()
            for slug in sample:
                (out / f"{slug}.pdf").write_bytes(pdf(pages[slug]))
            elapsed = time.perf_counter() - start
            timings["pdf sheets"] = elapsed * count / len(sample)
            if len(sample) < count:
                print(f"(pdf sheets: {len(sample)} rendered, extrapolated to {count})")
    total = sum(timings.values())
    print(f"{count} structures, {SERVERS} servers, {len(report.pools)} pools")
    for name, seconds in timings.items():
        print(f"  {name:12s} {seconds:8.2f} s   {1000 * seconds / count:8.2f} ms/structure")
    print(f"  {'all':12s} {total:8.2f} s   {1000 * total / count:8.2f} ms/structure")


if __name__ == "__main__":
    main()
