"""Every word the cost sheets and the catalogue show, in the reader's language.

One table, name → gettext message, for the ODS, CSV and HTML writers; the HTML templates
translate their own words with `_("…")` (the same messages: one translation in the catalogue).
"""

from __future__ import annotations

from collections.abc import Mapping

from chaton.costs.model import Pool
from chaton.i18n import _


def texts(lang: str) -> dict[str, str]:
    """Name → text in `lang` (`en` or `fr`)."""
    return {
        # Titles and sheets
        "cost_sheet": _("Cost sheet", lang=lang),
        "cost_summary": _("Cost summary", lang=lang),
        "sheet_summary": _("Summary", lang=lang),
        "sheet_structures": _("Structures", lang=lang),
        "sheet_inputs": _("Inputs", lang=lang),
        "sheet_pools": _("Pools", lang=lang),
        "sheet_keys": _("Keys", lang=lang),
        "sheet_allocation": _("Allocation", lang=lang),
        "sheet_sheet": _("Sheet", lang=lang),
        "period": _("Period", lang=lang),
        "period_start": _("Start of the period", lang=lang),
        "period_end": _("Last day of the period", lang=lang),
        "months": _("Months", lang=lang),
        "hours": _("Hours", lang=lang),
        "hosted_by": _("Hosted by", lang=lang),
        "collective": _("Collective", lang=lang),
        "structure": _("Structure", lang=lang),
        "slug": _("Identifier", lang=lang),
        "name": _("Name", lang=lang),
        "tier": _("Tier", lang=lang),
        "status": _("Status", lang=lang),
        "status_active": _("active", lang=lang),
        "status_suspended": _("suspended", lang=lang),
        "status_leaving": _("leaving", lang=lang),
        "status_note": _(
            "This structure is {status}: its instances and data stay on the servers until it "
            "is offboarded, so it keeps its share of the costs.",
            lang=lang,
        ),
        "association": _("Hosting association", lang=lang),
        "carried_row": _("Carried by the hosting association", lang=lang),
        "total": _("Total", lang=lang),
        "generated_by": _("Written by chaton costs from the collective's inventory.", lang=lang),
        # Inputs
        "electricity_price": _("Electricity price per kWh (€)", lang=lang),
        "grid_intensity": _("Grid carbon intensity (gCO2e per kWh)", lang=lang),
        "weight_ram": _("Weight of RAM in the resources key", lang=lang),
        "weight_disk": _("Weight of disk in the resources key", lang=lang),
        "weight_cpu": _("Weight of CPU in the resources key", lang=lang),
        "headroom_carried": _(
            "Headroom carried by the hosting association (1 = yes, 0 = shared out)", lang=lang
        ),
        "admin_hours": _("Administration hours per month", lang=lang),
        "moderation_hours": _("Moderation hours per month", lang=lang),
        "hourly_rate": _("Hourly rate (€)", lang=lang),
        "volunteer_share": _("Volunteer share of the hours", lang=lang),
        "servers": _("Servers", lang=lang),
        "server": _("Server", lang=lang),
        "purchase_price": _("Purchase price (€)", lang=lang),
        "lifetime_years": _("Lifetime (years)", lang=lang),
        "monthly_hosting": _("Hosting per month (€)", lang=lang),
        "power_draw": _("Power draw (W)", lang=lang),
        "pue": _("PUE", lang=lang),
        "embodied": _("Embodied emissions (kgCO2e)", lang=lang),
        "capacity_ram": _("Capacity: RAM (MB)", lang=lang),
        "capacity_disk": _("Capacity: disk (GB)", lang=lang),
        "capacity_cpu": _("Capacity: CPU (cores)", lang=lang),
        "recurring_costs": _("Recurring costs", lang=lang),
        "label": _("Label", lang=lang),
        "amount": _("Amount (€)", lang=lang),
        "times_per_year": _("Times per year", lang=lang),
        "key": _("Key", lang=lang),
        "tiers": _("Tiers", lang=lang),
        "share_paid": _("Share paid", lang=lang),
        "solidarity_rate": _("Solidarity contribution (rate)", lang=lang),
        "funding": _("Grants and donations", lang=lang),
        # Pools and keys
        "pool": _("Pool", lang=lang),
        "category": _("Category", lang=lang),
        "cat_purchase": _("Server purchase", lang=lang),
        "cat_hosting": _("Server hosting", lang=lang),
        "cat_energy": _("Server energy", lang=lang),
        "cat_recurring": _("Recurring costs", lang=lang),
        "cat_admin": _("Administration time", lang=lang),
        "cat_moderation": _("Moderation time", lang=lang),
        "cat_energy_wh": _("Energy", lang=lang),
        "cat_carbon_grid_g": _("Carbon of the energy", lang=lang),
        "cat_carbon_embodied_g": _("Embodied carbon", lang=lang),
        "paid_time": _("paid", lang=lang),
        "volunteer_time": _("volunteer (valued, not billed)", lang=lang),
        "total_time": _("all hours", lang=lang),
        "volunteer_short": _("Volunteer time (not billed)", lang=lang),
        "key_server": _("resources on the server", lang=lang),
        "key_resources": _("resources on all servers", lang=lang),
        "key_accounts": _("accounts", lang=lang),
        "key_structures": _("equally per structure", lang=lang),
        "key_association": _("carried by the association (nobody else weighs)", lang=lang),
        "amount_unit": _("Amount (cents, Wh or g)", lang=lang),
        "amount_shown": _("Amount (€, kWh or kg)", lang=lang),
        "unit": _("Unit", lang=lang),
        "accounts": _("Accounts", lang=lang),
        "per_structure": _("Per structure", lang=lang),
        "ram_mb": _("RAM (MB)", lang=lang),
        "disk_gb": _("disk (GB)", lang=lang),
        "cpu_share": _("CPU (cores)", lang=lang),
        "ppm": _("Share of the server (ppm)", lang=lang),
        "weight": _("Weight", lang=lang),
        "resources_ppm": _("All servers (ppm)", lang=lang),
        "remainder": _("Remainder", lang=lang),
        "floor": _("Rounded down (cents)", lang=lang),
        "share": _("Share", lang=lang),
        "left_over": _("Left over", lang=lang),
        "lr_cent": _("Largest-remainder unit", lang=lang),
        "your_weight": _("Your weight", lang=lang),
        "all_weights": _("All weights", lang=lang),
        "exact_share": _("Proportional share", lang=lang),
        "your_share": _("Your share", lang=lang),
        "lr_note": _(
            "Each pool is shared in proportion to the weights; every party gets the rounded-down "
            "cents of its share, and the cents left over go one each to the largest remainders, so "
            "that the shares add up to the pool exactly.",
            lang=lang,
        ),
        # Results
        "fair_share": _("Fair share of the costs", lang=lang),
        "paid": _("Paid under the tier", lang=lang),
        "contribution": _("Solidarity contribution", lang=lang),
        "billed": _("Billed", lang=lang),
        "waived": _("Not billed (tier)", lang=lang),
        "volunteer_value": _("Volunteer time given (valued, not billed)", lang=lang),
        "energy_kwh": _("Energy (kWh)", lang=lang),
        "carbon_kg": _("Carbon (kgCO2e)", lang=lang),
        "total_cost": _("Total cost of the period", lang=lang),
        "of_which_volunteer": _("of which volunteer time (valued, not billed)", lang=lang),
        "fair_total": _("Fair shares of the structures", lang=lang),
        "carried": _("Carried by the hosting association (headroom, unshared pools)", lang=lang),
        "billed_total": _("Billed to the structures", lang=lang),
        "waived_total": _("Not billed to the lower tiers", lang=lang),
        "contributions_total": _("Solidarity contributions", lang=lang),
        "solidarity_balance": _(
            "Solidarity balance (not billed + carried - contributions)", lang=lang
        ),
        "check": _("Check: billed + solidarity balance + volunteer time = total cost", lang=lang),
        "funding_total": _("Grants and donations", lang=lang),
        "remaining": _("Left to cover after grants and donations (negative: a surplus)", lang=lang),
        "breakdown": _("Breakdown of the costs", lang=lang),
        "what_you_pay": _("What you pay", lang=lang),
        "your_resources": _("Your resources", lang=lang),
        "your_footprint": _("Energy and carbon", lang=lang),
        "per_year_note": _("Amounts for the period, in euros.", lang=lang),
        "how_to_read": _(
            "Your fair share is what your services cost the collective: your share of each cost "
            "pool. Your tier sets what part of it you pay, plus a solidarity contribution for "
            "the standard tier.",
            lang=lang,
        ),
        "summary_intro": _(
            "What running the collective's services cost over the period, how it is shared "
            "between the structures, and what the solidarity between tiers amounts to.",
            lang=lang,
        ),
        # Catalogue
        "catalog": _("Offers and prices", lang=lang),
        "catalog_intro": _(
            "Each price is the yearly cost of one unit, computed from the collective's real costs "
            "(servers, recurring costs, people's time) with the same rules as the cost sheets; "
            "each tier pays its share of it, plus its solidarity contribution.",
            lang=lang,
        ),
        "offer": _("Offer", lang=lang),
        "per_year": _("per year", lang=lang),
        "unit_membership": _("Membership of the collective (per structure)", lang=lang),
        "unit_instance": _("per instance", lang=lang),
        "unit_account": _("per account", lang=lang),
        "unit_storage": _("per GB of storage", lang=lang),
        "unit_list": _("per list", lang=lang),
        "unit_site": _("per site", lang=lang),
        "catalog_example": _(
            "Example: a Nextcloud with 10 accounts and 20 GB costs the instance, 10 accounts "
            "and 20 GB.",
            lang=lang,
        ),
    }


# A pool's and a key's names, as every writer shows them (`t`: the texts of `texts(lang)`).
def pool_label(pool: Pool, t: Mapping[str, str]) -> str:
    base = t["cat_" + pool.category]
    if pool.server is not None:
        return f"{base} — {pool.server}"
    if pool.category == "recurring":
        return pool.label
    if pool.category in ("admin", "moderation"):
        return f"{base} — {t['volunteer_time'] if pool.volunteer else t['paid_time']}"
    return base


def key_label(pool: Pool, t: Mapping[str, str]) -> str:
    if pool.basis == "association":
        return t["key_association"]
    if pool.basis.startswith("server:"):
        return t["key_server"]
    return t["key_" + pool.basis]
