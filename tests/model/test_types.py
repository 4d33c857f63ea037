"""The constrained field types, one by one."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import TypeAdapter, ValidationError

from chaton.model.types import (
    TEMPLATE_KEY,
    Domain,
    Email,
    GitRef,
    HttpsUrl,
    Identifier,
    Money,
    Ratio,
    domain_to_ascii,
)


def _template(adapter: TypeAdapter[object], value: object) -> str:
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python(value)
    (error,) = caught.value.errors()
    context = error.get("ctx") or {}
    return str(context.get(TEMPLATE_KEY, error["type"]))


IDENTIFIER: TypeAdapter[object] = TypeAdapter(Identifier)
DOMAIN: TypeAdapter[object] = TypeAdapter(Domain)
EMAIL: TypeAdapter[object] = TypeAdapter(Email)
URL: TypeAdapter[object] = TypeAdapter(HttpsUrl)
REF: TypeAdapter[object] = TypeAdapter(GitRef)
MONEY: TypeAdapter[object] = TypeAdapter(Money)
RATIO: TypeAdapter[object] = TypeAdapter(Ratio)


@pytest.mark.parametrize("value", ["ab", "velo-cite", "a" + "b" * 30, "x1-2"])
def test_identifiers_accepted(value: str) -> None:
    assert IDENTIFIER.validate_python(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "a",  # too short
        "a" + "b" * 31,  # 32 characters
        "1abc",
        "-abc",
        "Abc",
        "vélo",
        "velo_cite",
        "velo cite",
        "velo\n",  # `$` in a regex would let this through; fullmatch does not
        "{{ lookup('pipe','id') }}",
        "{% raw %}",
    ],
)
def test_identifiers_refused(value: str) -> None:
    assert "not a valid identifier" in _template(IDENTIFIER, value)


def test_identifier_must_be_text() -> None:
    assert _template(IDENTIFIER, 42) == "string_type"


@pytest.mark.parametrize(
    "value",
    [
        "velo-cite.fr",
        "a.b.c.example.org",
        "théâtre-du-lien.fr",
        "xn--caf-dma.org",
        "x1.io",
        # One script a part, or the scripts a language writes together.
        "\u043c\u043e\u0441\u043a\u0432\u0430.\u0440\u0444",  # москва.рф
        "\u03b5\u03bb\u03bb\u03ac\u03b4\u03b1.gr",  # ελλάδα.gr
        "\u3072\u3089\u304c\u306a\u6f22\u5b57.jp",  # hiragana and kanji
        "\u30e4\u30d5\u30fcyahoo.jp",  # katakana and Latin
        "\ud55c\uad6d\uc5b4.kr",  # hangul
    ],
)
def test_domains_accepted(value: str) -> None:
    assert DOMAIN.validate_python(value) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("velo-cite", "two parts"),
        ("velo-cite.fr.", "final dot"),
        ("Velo-Cite.fr", "lowercase"),
        ("velo_cite.fr", "each part"),
        ("-velo.fr", "each part"),
        ("velo..fr", "each part"),
        ("a" * 64 + ".fr", "each part"),
        (".".join(["a" * 60] * 5) + ".fr", "253"),
        ("10.0.0.1", "top-level"),
        ("velo.f", "top-level"),
        ("xn--abc.fr", "IDNA"),
        ("ab--cd.fr", "each part"),  # `--` in 3rd-4th position is reserved for xn--
        ("velo cite.fr", "each part"),
        ("{{x}}.fr", "each part"),
        # Look-alikes: a Cyrillic a (U+0430) in a Latin word, in Unicode and in punycode; a Greek
        # alpha (U+03B1) in a Latin word.
        ("p\u0430ypal.fr", "mixes scripts"),
        ("xn--pypal-4ve.fr", "mixes scripts"),  # p\u0430ypal.fr
        ("velo-cit\u03b1.fr", "mixes scripts"),
    ],
)
def test_domains_refused(value: str, reason: str) -> None:
    assert reason in _template(DOMAIN, value)


def test_a_look_alike_domain_is_refused_naming_its_scripts() -> None:
    with pytest.raises(ValidationError) as caught:
        DOMAIN.validate_python("p\u0430ypal.fr")
    assert "'p\u0430ypal' mixes scripts (CYRILLIC, LATIN)" in str(caught.value)


def test_domain_ascii_form() -> None:
    # The punycode form (the same in IDNA 2003 and 2008 for these letters).
    assert domain_to_ascii("théâtre-du-lien.fr") == "xn--thtre-du-lien-jeb8h.fr"
    assert domain_to_ascii("velo-cite.fr") == "velo-cite.fr"


# Where IDNA 2008 with UTS #46 non-transitional processing (today's check) differs from IDNA 2003
# (Python's `encodings.idna`, the check before). The punycode forms are those of UTS #46's own
# examples of deviation characters (section 1.3.2 and its conformance data), not this code's output.
@pytest.mark.parametrize(
    ("value", "ascii_form"),
    [
        # ß and ς are letters of their own; IDNA 2003 folded them into "ss" (xn--fa-hia was even
        # an invalid label) and the ordinary sigma (xn--nxasmq6b).
        ("faß.de", "xn--fa-hia.de"),
        ("xn--fa-hia.de", "xn--fa-hia.de"),
        ("\u03b2\u03cc\u03bb\u03bf\u03c2.gr", "xn--nxasmm1c.gr"),  # βόλος
        # ZWJ after a virama (Sinhala "ශ්‍රී") and ZWNJ between joining Arabic letters (Persian
        # "نامه‌ای") are kept; IDNA 2003 dropped them (xn--10cl1a0b, xn--mgba3gch31f).
        ("\u0dc1\u0dca\u200d\u0dbb\u0dd3.lk", "xn--10cl1a0b660p.lk"),
        ("\u0646\u0627\u0645\u0647\u200c\u0627\u06cc.ir", "xn--mgba3gch31f060k.ir"),
    ],
)
def test_idna_2008_domains_and_their_ascii_form(value: str, ascii_form: str) -> None:
    assert DOMAIN.validate_python(value) == value
    assert domain_to_ascii(value) == ascii_form


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        # A joiner where no script needs it: IDNA 2003 dropped it silently (and so asked for
        # "velocite.fr"), IDNA 2008's CONTEXTJ rule refuses it.
        ("velo\u200dcite.fr", "IDNA"),
        ("velo\u200ccite.fr", "IDNA"),
        # Symbols and emoji: valid in IDNA 2003 (☃.net is xn--n3h.net), not letters, marks or
        # digits for IDNA 2008, in Unicode or in punycode.
        ("\u2603.net", "IDNA"),
        ("xn--n3h.net", "IDNA"),
        ("i\u2665ny.fr", "IDNA"),
        ("\U0001f600.fr", "IDNA"),
        # UTS #46 maps the ideographic full stop to a dot: a separator, not part of one label
        # (IDNA 2003 encoded "a。b" as the single label xn--ab-r13a).
        ("a\u3002b.fr", "IDNA"),
    ],
)
def test_idna_2008_refuses_what_idna_2003_let_through(value: str, reason: str) -> None:
    assert reason in _template(DOMAIN, value)


def test_the_canonical_form_asked_for_keeps_the_sharp_s() -> None:
    # UTS #46 lowercases FAß into faß (IDNA 2003's nameprep gave "fass").
    with pytest.raises(ValidationError) as caught:
        DOMAIN.validate_python("FAß.de")
    assert "write it in lowercase, as 'faß.de'" in str(caught.value)


@pytest.mark.parametrize(
    "value",
    ["a@b.fr", "Camille.Martin@velo-cite.fr", "x+tag@EXAMPLE.org", "a_b-c%d@x.fr", "z@café.fr"],
)
def test_emails_accepted(value: str) -> None:
    assert EMAIL.validate_python(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "a.fr",
        "@a.fr",
        "a@",
        "a@@b.fr",
        ".a@b.fr",
        "a.@b.fr",
        "a b@c.fr",
        "a@b",
        "é@x.fr",
        "a@b.fr\n",
        "<a@b.fr>",
        "a" * 65 + "@b.fr",
    ],
)
def test_emails_refused(value: str) -> None:
    assert "not a valid email address" in _template(EMAIL, value)


@pytest.mark.parametrize(
    "value",
    ["https://framagit.org/a/b.git", "https://git.example.org:8443/x", "https://codeberg.org"],
)
def test_urls_accepted(value: str) -> None:
    assert URL.validate_python(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "http://framagit.org/a.git",
        "git@framagit.org:a/b.git",
        "file:///etc/passwd",
        "ext::sh -c id",
        "https://user:pw@framagit.org/a.git",
        "https://framagit.org/a b",
        "https://framagit.org/a?x=1",
        "https://-bad.org/x",
        "https://framagit.org:99999/x",
    ],
)
def test_urls_refused(value: str) -> None:
    assert "address" in _template(URL, value)


@pytest.mark.parametrize("value", ["main", "v1.2.0", "release/2024"])
def test_git_refs_accepted(value: str) -> None:
    assert REF.validate_python(value) == value


@pytest.mark.parametrize("value", ["-x", "--upload-pack=id", "a..b", "main/", "a b", "a;b"])
def test_git_refs_refused(value: str) -> None:
    assert "git branch" in _template(REF, value)


def test_money_is_exact() -> None:
    assert MONEY.validate_python(29.99) == Decimal("29.99")
    exact: TypeAdapter[Decimal] = TypeAdapter(Money)
    assert exact.validate_python(0.1) + exact.validate_python(0.2) == Decimal("0.3")
    assert MONEY.validate_python(1500) == Decimal(1500)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (True, "true/false"),
        ("12", "without quotes"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (1.005, "digits after"),
        (-1, "greater_than_equal"),
        (2_000_000, "less_than_equal"),
    ],
)
def test_money_refused(value: object, reason: str) -> None:
    assert reason in _template(MONEY, value)


def test_ratio_bounds() -> None:
    assert RATIO.validate_python(0.15) == Decimal("0.15")
    assert "less_than_equal" in _template(RATIO, 1.01)
