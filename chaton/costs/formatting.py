"""Numbers for people, in English or French. Pure."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

NARROW_NBSP = "\u202f"


def _group(integer: str, separator: str) -> str:
    groups: list[str] = []
    while len(integer) > 3:
        groups.insert(0, integer[-3:])
        integer = integer[:-3]
    groups.insert(0, integer)
    return separator.join(groups)


def number(value: Decimal | int, places: int, lang: str) -> str:
    """`1,234.57` in English, `1 234,57` in French (narrow no-break spaces)."""
    quantized = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if quantized < 0 else ""
    text = f"{abs(quantized):f}"
    integer, _, fraction = text.partition(".")
    if lang == "fr":
        grouped = _group(integer, NARROW_NBSP)
        return sign + grouped + ("," + fraction if fraction else "")
    return sign + _group(integer, ",") + ("." + fraction if fraction else "")


def money(cents: int, lang: str) -> str:
    """`€1,234.56` in English, `1 234,56 €` in French."""
    amount = number(Decimal(cents) / 100, 2, lang)
    if lang == "fr":
        return f"{amount}{NARROW_NBSP}€"
    return f"-€{amount[1:]}" if amount.startswith("-") else f"€{amount}"


def euros(cents: int) -> str:
    """`1234.56`: machine-readable euros (CSV, JSON)."""
    return f"{Decimal(cents) / 100:.2f}"


def thousandths(value: int) -> str:
    """`788.400`: Wh as kWh, grams as kg, machine-readable."""
    return f"{Decimal(value) / 1000:.3f}"


def percent(ratio: Decimal, lang: str) -> str:
    """`30%` in English, `30 %` in French (no decimals unless needed)."""
    value = (ratio * 100).normalize()
    exponent = value.as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 0
    text = number(value, min(places, 2), lang)
    return f"{text}\u202f%" if lang == "fr" else f"{text}%"
