"""The I/O edge of `chaton costs` and `chaton catalog`: from an inventory to files.

`report_for_inventory` loads the inventory, places the instances (keeping those an earlier render
recorded where they are, as `chaton plan` does) and computes the cost report; `write_sheets`
writes the requested formats into a folder; `write_catalog` writes the catalogue page.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from chaton.costs.catalog import catalog
from chaton.costs.formatting import money, percent
from chaton.costs.labels import texts
from chaton.costs.model import CostReport, Period, compute
from chaton.costs.usage import usage_from_plan
from chaton.costs.writers import csvfiles, ods
from chaton.costs.writers.html import page_context, pdf, render, structure_html, summary_html
from chaton.generated import plan_inventory
from chaton.model import Structure

FORMATS = ("ods", "csv", "html", "pdf")
SUMMARY = "summary"


def report_for_inventory(root: Path, period: Period) -> tuple[CostReport, Mapping[str, Structure]]:
    """The cost report of the inventory at `root` (raises BadInput, DoesNotFit)."""
    inventory, plan, _recorded = plan_inventory(root)
    usage = usage_from_plan(plan, inventory.structures)
    report = compute(inventory.collective, inventory.structures, usage, period)
    return report, inventory.structures


def write_sheets(
    report: CostReport,
    out: Path,
    formats: Sequence[str] = FORMATS,
    lang: str = "en",
    cached: bool = True,
) -> list[Path]:
    """Write the summary and one sheet per structure in each format; the paths written."""
    t = texts(lang)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def text(name: str, content: str) -> None:
        path = out / name
        path.write_text(content, encoding="utf-8")
        written.append(path)

    def binary(name: str, content: bytes) -> None:
        path = out / name
        path.write_bytes(content)
        written.append(path)

    if "ods" in formats:
        ods.save(ods.collective_sheets(report, t, cached), out / f"{SUMMARY}.ods")
        written.append(out / f"{SUMMARY}.ods")
        for slug in report.parties:
            ods.save(ods.structure_sheets(report, slug, t, cached), out / f"{slug}.ods")
            written.append(out / f"{slug}.ods")
    if "csv" in formats:
        text(f"{SUMMARY}.csv", csvfiles.summary_csv(report, t))
        text("totals.csv", csvfiles.totals_csv(report, t))
        text("pools.csv", csvfiles.pools_csv(report, t))
        for slug in report.parties:
            text(f"{slug}.csv", csvfiles.structure_csv(report, slug, t))
    if "html" in formats or "pdf" in formats:
        pages = {SUMMARY: summary_html(report, t, lang)}
        for slug in report.parties:
            pages[slug] = structure_html(report, slug, t, lang)
        if "html" in formats:
            for name, page in pages.items():
                text(f"{name}.html", page)
        if "pdf" in formats:
            for name, content in zip(pages, _pdfs(list(pages.values())), strict=True):
                binary(f"{name}.pdf", content)
    return written


def _pdfs(pages: list[str]) -> list[bytes]:
    """The pages as PDF; WeasyPrint takes a few seconds a page, so on several processes when
    there are many pages and several processors."""
    workers = min(os.cpu_count() or 1, 8)
    if len(pages) < 4 or workers < 2:
        return [pdf(page) for page in pages]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(pdf, pages, chunksize=4))


def catalog_html(report: CostReport, structures: Mapping[str, Structure], lang: str) -> str:
    t = texts(lang)
    units = {
        "membership": t["unit_membership"],
        "instance": t["unit_instance"],
        "account": t["unit_account"],
        "storage": t["unit_storage"],
        "list": t["unit_list"],
        "site": t["unit_site"],
    }
    tiers = report.collective.tiers
    rows = [
        {
            "offer": row.offer,
            "unit": units[row.unit],
            "prices": [money(row.prices[name], lang) for name in tiers],
        }
        for row in catalog(report, structures)
    ]
    return render(
        "catalog.html.j2",
        **page_context(report, t, lang),
        tiers=[
            {
                "label": tier.label,
                "description": tier.description or "",
                "rule": f"{percent(tier.share_paid, lang)}"
                + (
                    f" + {percent(tier.solidarity_contribution, lang)}"
                    if tier.solidarity_contribution
                    else ""
                ),
            }
            for tier in tiers.values()
        ],
        rows=rows,
    )
