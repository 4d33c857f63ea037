"""The cost sheets and the catalogue as HTML pages (Jinja2 templates in `templates/costs/`), and
as PDF (WeasyPrint renders the same HTML). The templates draw their charts as inline SVG."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import cache, partial
from typing import Any

import jinja2

from chaton.costs.formatting import money, number, percent
from chaton.costs.labels import key_label, pool_label
from chaton.costs.model import COST_CATEGORIES, CostReport, Pool
from chaton.errors import ChatonError
from chaton.i18n import _, n_
from chaton.paths import PROJECT_ROOT

TEMPLATES = PROJECT_ROOT / "templates" / "costs"
COLORS = {
    "purchase": "#1f5f8b",
    "hosting": "#3f8fc4",
    "energy": "#e0a100",
    "recurring": "#6a9f3a",
    "admin": "#8e4a9e",
    "moderation": "#c8587a",
}
VOLUNTEER_COLOR = "#9aa6b2"


@cache
def environment(lang: str) -> jinja2.Environment:
    """The templates' environment in `lang`: their `_("…")` is `chaton.i18n._` (plain messages,
    no placeholders; the translation is escaped like any other value)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=partial(_, lang=lang), ngettext=partial(n_, lang=lang), newstyle=False
    )
    return env


def render(template: str, **context: Any) -> str:
    """`template` rendered with `context`, in the language of its `lang`."""
    return environment(context["lang"]).get_template(template).render(**context)


def page_context(report: CostReport, t: Mapping[str, str], lang: str) -> dict[str, Any]:
    collective = report.collective
    return {
        "lang": lang,
        "t": t,
        "colon": "\u00a0: " if lang == "fr" else ": ",
        "collective": {"name": collective.name, "association": collective.hosting_association.name},
        "period": {
            "label": report.period.label,
            "start": report.period.start.isoformat(),
            "last_day": report.period.last_day.isoformat(),
        },
    }


def _quantity(pool: Pool, value: int, lang: str) -> str:
    if pool.unit == "cents":
        return money(value, lang)
    unit = "kWh" if pool.unit == "Wh" else "kgCO2e"
    exact = (Decimal(value) / 1000).normalize()
    exponent = exact.as_tuple().exponent
    places = min(3, max(0, -exponent)) if isinstance(exponent, int) else 3
    return f"{number(exact, places, lang)} {unit}"


def structure_html(report: CostReport, slug: str, t: Mapping[str, str], lang: str) -> str:
    party = report.parties.index(slug)
    item = report.structures[party]
    tier = report.collective.tiers[item.tier]
    status = t["status_" + item.status]
    pay = [
        {"label": t["fair_share"], "text": money(item.fair_share, lang), "css": ""},
        {
            "label": f"{t['paid']} ({percent(tier.share_paid, lang)})",
            "text": money(item.paid, lang),
            "css": "",
        },
        {
            "label": f"{t['contribution']} (+{percent(tier.solidarity_contribution, lang)})",
            "text": money(item.contribution, lang),
            "css": "",
        },
        {"label": t["billed"], "text": money(item.billed, lang), "css": "total"},
        {"label": t["volunteer_value"], "text": money(item.volunteer_value, lang), "css": "muted"},
        {
            "label": t["energy_kwh"],
            "text": number(Decimal(item.energy_wh) / 1000, 1, lang),
            "css": "",
        },
        {
            "label": t["carbon_kg"],
            "text": number(Decimal(item.carbon_g) / 1000, 1, lang),
            "css": "",
        },
    ]
    chart = [
        {
            "label": t["cat_" + category],
            "value": item.by_category[category],
            "text": money(item.by_category[category], lang),
            "color": COLORS[category],
            "hatched": False,
        }
        for category in COST_CATEGORIES
    ]
    chart.append(
        {
            "label": t["volunteer_short"],
            "value": item.volunteer_value,
            "text": money(item.volunteer_value, lang),
            "color": VOLUNTEER_COLOR,
            "hatched": True,
        }
    )
    pools = [
        {
            "label": pool_label(pool, t),
            "key": key_label(pool, t),
            "amount": _quantity(pool, pool.amount, lang),
            "weight": f"{number(pool.weights[party], 0, lang)} / "
            f"{number(sum(pool.weights), 0, lang)}",
            "share": _quantity(pool, pool.shares[party], lang),
            "volunteer": pool.volunteer,
        }
        for pool in report.pools
    ]
    resources = [
        {
            "name": name,
            "ram": number(reserved.ram_mb, 1, lang),
            "disk": number(reserved.disk_gb, 1, lang),
            "cpu": number(reserved.cpu_share, 3, lang),
            "ppm": number(item.ppm[name], 0, lang),
        }
        for name, reserved in item.reserved.items()
    ]
    return render(
        "structure.html.j2",
        **page_context(report, t, lang),
        structure={
            "name": item.name,
            "slug": item.slug,
            "tier": tier.label,
            "status": status,
            "status_note": t["status_note"].format(status=status)
            if item.status != "active"
            else "",
            "accounts": item.accounts,
        },
        pay=pay,
        chart=chart,
        pools=pools,
        resources=resources,
    )


def summary_html(report: CostReport, t: Mapping[str, str], lang: str) -> str:
    def line(label: str, cents: int, css: str = "") -> dict[str, str]:
        return {"label": label, "text": money(cents, lang), "css": css}

    totals = [
        line(t["total_cost"], report.total_cost, "total"),
        line(t["of_which_volunteer"], report.volunteer_value, "muted"),
        line(t["fair_total"], report.fair_total),
        line(t["carried"], report.carried),
        line(t["billed_total"], report.billed_total, "total"),
        line(t["waived_total"], report.waived_total),
        line(t["contributions_total"], report.contributions_total),
        line(t["solidarity_balance"], report.solidarity_balance, "total"),
        *(line(item.label, item.amount) for item in report.funding),
        line(t["remaining"], report.remaining, "total"),
        {
            "label": t["energy_kwh"],
            "text": number(Decimal(report.energy_wh) / 1000, 1, lang),
            "css": "",
        },
        {
            "label": t["carbon_kg"],
            "text": number(Decimal(report.carbon_g) / 1000, 1, lang),
            "css": "",
        },
    ]
    chart = [
        {
            "label": t["cat_" + category],
            "value": report.total(category),
            "text": money(report.total(category), lang),
            "color": COLORS[category],
            "hatched": False,
        }
        for category in COST_CATEGORIES
    ]
    chart.append(
        {
            "label": t["volunteer_short"],
            "value": report.volunteer_value,
            "text": money(report.volunteer_value, lang),
            "color": VOLUNTEER_COLOR,
            "hatched": True,
        }
    )
    stack = [
        {
            "label": item.name if len(item.name) <= 32 else item.name[:31] + "…",
            "text": money(item.fair_share, lang),
            "segments": [
                {"value": item.by_category[category], "color": COLORS[category]}
                for category in COST_CATEGORIES
            ],
        }
        for item in report.structures
    ]
    association = len(report.parties)
    if report.carried:
        stack.append(
            {
                "label": t["association"],
                "text": money(report.carried, lang),
                "segments": [
                    {"value": report.total(category, association), "color": COLORS[category]}
                    for category in COST_CATEGORIES
                ],
            }
        )
    legend = [{"label": t["cat_" + c], "color": COLORS[c]} for c in COST_CATEGORIES]
    structures = [
        {
            "name": item.name,
            "status": "" if item.status == "active" else t["status_" + item.status],
            "tier": report.collective.tiers[item.tier].label,
            "fair": money(item.fair_share, lang),
            "billed": money(item.billed, lang),
            "waived": money(item.waived, lang),
            "contribution": money(item.contribution, lang),
            "energy": number(Decimal(item.energy_wh) / 1000, 1, lang),
            "carbon": number(Decimal(item.carbon_g) / 1000, 1, lang),
            "css": "",
        }
        for item in report.structures
    ]
    structures.append(
        {
            "name": t["total"],
            "status": "",
            "tier": "",
            "fair": money(report.fair_total, lang),
            "billed": money(report.billed_total, lang),
            "waived": money(report.waived_total, lang),
            "contribution": money(report.contributions_total, lang),
            "energy": number(Decimal(report.energy_wh) / 1000, 1, lang),
            "carbon": number(Decimal(report.carbon_g) / 1000, 1, lang),
            "css": "total",
        }
    )
    return render(
        "summary.html.j2",
        **page_context(report, t, lang),
        totals=totals,
        chart=chart,
        stack=stack,
        legend=legend,
        structures=structures,
    )


def pdf(html: str) -> bytes:
    """The HTML page as PDF (WeasyPrint, imported only when asked for)."""
    try:
        from weasyprint import HTML  # type: ignore[import-untyped]
    except ImportError:
        raise ChatonError(
            _(
                "PDF sheets need WeasyPrint (pip install weasyprint, with Debian's pango "
                "libraries); or choose other formats with --format ods,csv,html"
            )
        ) from None

    result: bytes = HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
    return result
