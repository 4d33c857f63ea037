"""Constrained field types shared by the collective and structure models.

Every check here is pure (no I/O) and fails with `fail(template, **values)`: a pydantic error whose
English message template and values travel in the error context, so the loader can translate the
message into the operator's language (`chaton.i18n`) and place it at the file, line and column the
value came from.

Amounts of money are `decimal.Decimal` in the collective's currency (euros), never floats: a YAML
number such as `29.99` is read through its decimal text (`Decimal("29.99")`), at most two decimal
places are allowed, so every computation on amounts is exact.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import idna
from pydantic import AfterValidator, BeforeValidator, Field, StrictInt, StrictStr
from pydantic_core import PydanticCustomError

# The context key under which `fail` stores the English template of a chaton error.
TEMPLATE_KEY = "chaton_template"
ERROR_TYPE = "chaton"


def fail(template: str, **values: Any) -> PydanticCustomError:
    """A validation error carrying its English `template` and its `values` for translation."""
    return PydanticCustomError(ERROR_TYPE, template, {TEMPLATE_KEY: template, **values})


def show(value: object, limit: int = 60) -> str:
    """A value quoted for a message: control characters escaped, long values shortened."""
    text = value if isinstance(value, str) else str(value)
    shown = repr(text)
    if len(shown) > limit:
        shown = shown[: limit - 4] + "…" + shown[-1]
    return shown


# ---------------------------------------------------------------------------------------------
# Identifiers: slugs, server names, tier names, list names. They end up in Unix user names, paths,
# database names and Ansible variables, so nothing but lowercase ASCII letters, digits and hyphens.

IDENTIFIER_RE = re.compile(r"[a-z][a-z0-9-]{1,30}")


def check_identifier(value: str) -> str:
    if IDENTIFIER_RE.fullmatch(value) is None:
        raise fail(
            "{value} is not a valid identifier: 2 to 31 characters, lowercase letters a-z, "
            "digits and hyphens, starting with a letter",
            value=show(value),
        )
    return value


Identifier = Annotated[StrictStr, AfterValidator(check_identifier)]

# A Nextcloud login or group, and an app's id: they are occ arguments, so a safe subset of what
# Nextcloud accepts (no spaces, no quotes, never starting with "-").
ACCOUNT_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
APP_RE = re.compile(r"[a-z][a-z0-9_]{1,63}")


def check_account_name(value: str) -> str:
    if ACCOUNT_RE.fullmatch(value) is None:
        raise fail(
            "{value} is not a valid login or group name: 1 to 64 characters, lowercase letters "
            "a-z, digits, dots, hyphens and underscores, starting with a letter or a digit",
            value=show(value),
        )
    return value


def check_app_id(value: str) -> str:
    if APP_RE.fullmatch(value) is None:
        raise fail(
            "{value} is not a valid app id: 2 to 64 characters, lowercase letters a-z, digits "
            "and underscores, starting with a letter (as in the app's appinfo/info.xml)",
            value=show(value),
        )
    return value


AccountName = Annotated[StrictStr, AfterValidator(check_account_name)]
AppId = Annotated[StrictStr, AfterValidator(check_app_id)]

# ---------------------------------------------------------------------------------------------
# Free text (names, labels): anything printable on one line, including strings that look like
# Jinja or YAML. Those are written tagged !unsafe when rendered, never interpreted.

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_one_line(value: str) -> str:
    if not value.strip():
        raise fail("must not be empty")
    if _CONTROL_RE.search(value):
        raise fail("must be a single line of text without control characters")
    return value


FreeText = Annotated[StrictStr, Field(max_length=200), AfterValidator(check_one_line)]

# ---------------------------------------------------------------------------------------------
# Domains, checked with IDNA 2008 after the UTS #46 mapping (the `idna` package; see
# `check_domain`). A domain must be written in its canonical form: lowercase, no final dot, each
# Unicode label already what UTS #46 maps it to. `domain_to_ascii` gives the ASCII (punycode) form
# used to compare domains.

_LDH_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_TLD_RE = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")


def _label_to_ascii(label: str) -> str:
    """One label in ASCII form; raises ValueError with an English template when invalid."""
    if not label:
        raise ValueError("empty label")
    if label.isascii():
        if _LDH_LABEL_RE.fullmatch(label.lower()) is None:
            raise ValueError("ldh")
        if label.lower() != label:
            raise ValueError("uppercase")
        ascii_label = label
    else:
        try:
            mapped = idna.uts46_remap(label, std3_rules=True)
            # strict: only "." separates labels. A character the mapping makes a dot (the
            # ideographic full stop 。) is refused just below, not read as a separator.
            ascii_label = idna.encode(mapped, strict=True).decode("ascii")
        except idna.IDNAError as error:
            raise ValueError("idna") from error
        if "." in mapped:
            raise ValueError("idna")
        if mapped != label:
            raise ValueError("not normalised:" + mapped)
    if _LDH_LABEL_RE.fullmatch(ascii_label) is None:
        raise ValueError("ldh")
    if ascii_label[2:4] == "--":
        if not ascii_label.startswith("xn--"):
            raise ValueError("ldh")
        # The label must decode (punycode, then the IDNA 2008 rules) and encode back to itself.
        try:
            unicode_label = idna.decode(ascii_label, strict=True)
            if idna.encode(unicode_label, strict=True).decode("ascii") != ascii_label:
                raise ValueError("idna")
        except idna.IDNAError as error:
            raise ValueError("idna") from error
    return ascii_label


def _suggested_label(label: str) -> str:
    """How `label` is written in canonical form, for a message: lowercase, UTS #46-mapped (itself
    when it cannot be mapped)."""
    if label.isascii():
        return label.lower()
    try:
        return idna.uts46_remap(label, std3_rules=True)
    except idna.IDNAError:
        return label


def domain_to_ascii(domain: str) -> str:
    """The ASCII form of an already validated domain (for comparisons)."""
    return ".".join(_label_to_ascii(label) for label in domain.split("."))


def check_domain(value: str) -> str:
    """`value` when it is a domain in canonical form, checked as IDNA 2008 (RFC 5890-5893) after
    UTS #46's mapping, as browsers, registries and DNS tools read domains today: each Unicode
    label must be what the mapping makes of it (lowercase, NFC, compatibility forms such as
    full-width letters folded), then a valid IDNA 2008 label; each xn-- label must decode to one
    and encode back to itself. The mapping is UTS #46's non-transitional one, the only one `idna`
    still implements (its `transitional` argument is deprecated and ignored), with the STD3
    rules: after mapping, the only ASCII allowed is lowercase letters, digits and hyphens.

    The check used to be Python's `encodings.idna`, IDNA 2003 (nameprep). IDNA 2008 differs on a
    few characters, so a few domains change meaning or validity:
    - ß and the final sigma ς are letters of their own, no longer folded into "ss" and the
      ordinary sigma: "faß.de" is xn--fa-hia.de (it was refused, to be written "fass.de") and
      "xn--fa-hia" is a valid label; "βόλος" is xn--nxasmm1c, no longer xn--nxasmq6b.
    - The joiners ZWJ (U+200D) and ZWNJ (U+200C) are kept where a script needs them (after a
      virama, between Arabic letters that join: Sinhala "ශ්\u200dරී" is xn--10cl1a0b660p) and refused
      anywhere else; IDNA 2003 silently dropped them.
    - Symbols, punctuation and emoji (☃, ♥, 😀) are refused, in Unicode or in punycode
      ("xn--n3h" is ☃): IDNA 2008 allows letters, marks and digits only.
    - An ideographic full stop (。) inside a label is refused: UTS #46 makes it a dot.
    """
    shown = show(value)
    if value.endswith("."):
        raise fail("{value} is not a valid domain: write it without the final dot", value=shown)
    labels = value.split(".")
    if len(labels) < 2:
        raise fail(
            "{value} is not a valid domain: it needs at least two parts, like example.org",
            value=shown,
        )
    ascii_labels: list[str] = []
    for label in labels:
        try:
            ascii_labels.append(_label_to_ascii(label))
        except ValueError as error:
            reason = str(error)
            if reason == "uppercase" or reason.startswith("not normalised:"):
                lowered = ".".join(_suggested_label(part) for part in labels if part)
                raise fail(
                    "{value} is not a valid domain: write it in lowercase, as {suggestion}",
                    value=shown,
                    suggestion=show(lowered),
                ) from None
            if reason == "idna":
                raise fail(
                    "{value} is not a valid domain: {label} is not a valid internationalised "
                    "(IDNA) name",
                    value=shown,
                    label=show(label),
                ) from None
            raise fail(
                "{value} is not a valid domain: each part between dots must be 1 to 63 letters, "
                "digits or hyphens, not starting or ending with a hyphen",
                value=shown,
            ) from None
    ascii_domain = ".".join(ascii_labels)
    if len(ascii_domain) > 253:
        raise fail("{value} is not a valid domain: longer than 253 characters", value=shown)
    if _TLD_RE.fullmatch(ascii_labels[-1]) is None:
        raise fail(
            "{value} is not a valid domain: it must end with a real top-level domain such as .fr "
            "or .org",
            value=shown,
        )
    for label, ascii_label in zip(labels, ascii_labels, strict=True):
        unicode_label = (
            idna.decode(ascii_label, strict=True) if ascii_label.startswith("xn--") else label
        )
        scripts = _scripts(unicode_label)
        if len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPTS_TOGETHER):
            raise fail(
                "{value} is not a valid domain: {label} mixes scripts ({scripts}), as look-alike "
                "domains do; write each part in one script",
                value=shown,
                label=show(label),
                scripts=", ".join(sorted(scripts)),
            )
    return value


# Scripts written together in one word (Unicode's UTS #39 "highly restrictive" level): Japanese,
# Chinese with Bopomofo, Korean, each with Latin.
_SCRIPTS_TOGETHER = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA"}),
    frozenset({"LATIN", "CJK", "BOPOMOFO"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
)


def _scripts(label: str) -> set[str]:
    """The scripts of the letters of `label`, by their Unicode names (LATIN, CYRILLIC, GREEK…):
    digits and hyphens belong to none. "paypal" with a Cyrillic a (U+0430) for its second
    letter gives {CYRILLIC, LATIN}."""
    return {
        unicodedata.name(char, "UNKNOWN").split(" ")[0]
        for char in label
        if unicodedata.category(char).startswith("L")
    }


Domain = Annotated[StrictStr, AfterValidator(check_domain)]

# ---------------------------------------------------------------------------------------------
# Email addresses. Deliberately narrower than RFC 5322: the local part is letters, digits and
# `. _ % + -` (no quoting, no leading, trailing or doubled dot), the domain follows `check_domain`.

_LOCAL_PART_RE = re.compile(r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*")


def check_email(value: str) -> str:
    shown = show(value)
    local, at, domain = value.rpartition("@")
    if (
        not at
        or len(local) > 64
        or len(value) > 254
        or _LOCAL_PART_RE.fullmatch(local) is None
        or not domain
    ):
        raise fail(
            "{value} is not a valid email address (expected something like name@example.org)",
            value=shown,
        )
    try:
        # Unlike a structure's domains, the domain of an address may be written in any case.
        check_domain(domain.lower())
    except PydanticCustomError:
        raise fail(
            "{value} is not a valid email address: its domain {domain} is not valid",
            value=shown,
            domain=show(domain),
        ) from None
    return value


Email = Annotated[StrictStr, AfterValidator(check_email)]

# ---------------------------------------------------------------------------------------------
# HTTPS URLs (a website's git repository, the association's site). Only https, no user or
# password inside the URL, a valid host, a plain path: no `ext::`, `file://` or `-option` tricks.

_URL_RE = re.compile(
    r"https://(?P<host>[^/:@?#\s]+)(?::(?P<port>[0-9]{1,5}))?(?P<path>/[A-Za-z0-9._~/%+-]*)?"
)


def check_https_url(value: str) -> str:
    shown = show(value)
    if value.startswith("https://") and "@" in value.split("/", 3)[2]:
        raise fail("{value}: the address must not contain a user name or password", value=shown)
    match = _URL_RE.fullmatch(value)
    if match is None:
        raise fail(
            "{value} is not a valid address: expected https://host/path, with no spaces, "
            "query or fragment",
            value=shown,
        )
    try:
        check_domain(match["host"])
    except PydanticCustomError:
        raise fail(
            "{value} is not a valid address: its host {host} is not a valid domain",
            value=shown,
            host=show(match["host"]),
        ) from None
    if match["port"] is not None and not 0 < int(match["port"]) < 65536:
        raise fail("{value} is not a valid address: bad port number", value=shown)
    return value


HttpsUrl = Annotated[StrictStr, AfterValidator(check_https_url)]

# A git branch or tag: no leading hyphen (it would be read as an option), no `..`.
_REF_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,99}")


def check_git_ref(value: str) -> str:
    if _REF_RE.fullmatch(value) is None or ".." in value or value.endswith((".", "/")):
        raise fail(
            "{value} is not a valid git branch or tag name (letters, digits and . _ / -, not "
            "starting with a hyphen)",
            value=show(value),
        )
    return value


GitRef = Annotated[StrictStr, AfterValidator(check_git_ref)]

# ---------------------------------------------------------------------------------------------
# An OpenSSH public key, as a webmaster gives it for SFTP: `<type> <base64> [comment]`, one line,
# no options (`command=`, `from=`…: the role writes the key alone). The base64 must decode to a
# key of the type it claims, and an RSA key must have at least 2048 bits.

SSH_KEY_TYPES = (
    "ssh-ed25519",
    "sk-ssh-ed25519@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-rsa",
)
_SSH_KEY_RE = re.compile(r"(?P<type>\S+) +(?P<blob>[A-Za-z0-9+/]+={0,2})(?: +(?P<comment>.*))?")
_RSA_MIN_BITS = 2048


def _ssh_strings(blob: bytes) -> list[bytes]:
    """The length-prefixed fields of an SSH key blob (RFC 4251); ValueError when malformed."""
    fields = []
    position = 0
    while position < len(blob):
        if position + 4 > len(blob):
            raise ValueError("truncated")
        length = int.from_bytes(blob[position : position + 4], "big")
        position += 4
        if position + length > len(blob):
            raise ValueError("truncated")
        fields.append(blob[position : position + length])
        position += length
    return fields


def check_ssh_public_key(value: str) -> str:
    shown = show(value)
    if _CONTROL_RE.search(value):
        raise fail("{value}: a public key is a single line of text", value=shown)
    match = _SSH_KEY_RE.fullmatch(value.strip())
    if match is None or match["type"] not in SSH_KEY_TYPES:
        raise fail(
            "{value} is not an SSH public key: expected one line `TYPE KEY [comment]`, TYPE one of "
            "{types}, as in the .pub file ssh-keygen made",
            value=shown,
            types=", ".join(SSH_KEY_TYPES),
        )
    try:
        fields = _ssh_strings(base64.b64decode(match["blob"], validate=True))
    except (ValueError, binascii.Error):
        fields = []
    ed25519_ok = match["type"] != "ssh-ed25519" or (len(fields) == 2 and len(fields[1]) == 32)
    if not fields or fields[0] != match["type"].encode() or not ed25519_ok:
        raise fail(
            "{value}: the key is damaged or is not of the type it names ({type})",
            value=shown,
            type=match["type"],
        )
    if match["type"] == "ssh-rsa":
        bits = int.from_bytes(fields[2], "big").bit_length() if len(fields) == 3 else 0
        if bits < _RSA_MIN_BITS:
            raise fail(
                "{value}: an RSA key of {bits} bits is too weak; make one of at least 2048 bits, "
                "or better an ed25519 key (ssh-keygen -t ed25519)",
                value=shown,
                bits=bits,
            )
    return value.strip()


SshPublicKey = Annotated[StrictStr, Field(max_length=16384), AfterValidator(check_ssh_public_key)]

# ---------------------------------------------------------------------------------------------
# Numbers. YAML gives ints and floats; a decimal field reads a float through its shortest text
# (`repr`), so `0.1` is exactly `Decimal("0.1")`. Booleans and strings are refused.


def _to_decimal(value: object) -> object:
    if isinstance(value, bool):
        raise fail("must be a number, not true/false")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise fail("must be a finite number")
        return Decimal(repr(value))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise fail("must be a finite number")
        return value
    raise fail("must be a number (without quotes)")


def _decimal_places(places: int) -> AfterValidator:
    def check(value: Decimal) -> Decimal:
        try:
            exponent = value.normalize().as_tuple().exponent
        except InvalidOperation:  # pragma: no cover - finite decimals always normalise
            raise fail("must be a finite number") from None
        if isinstance(exponent, int) and exponent < -places:
            raise fail("at most {places} digits after the decimal point", places=places)
        return value

    return AfterValidator(check)


# An amount of money in the collective's currency: 0 to 1,000,000, cents at most.
Money = Annotated[
    Decimal, BeforeValidator(_to_decimal), Field(ge=0, le=1_000_000), _decimal_places(2)
]
# A price per kWh: 0 to 100, four decimals at most.
UnitPrice = Annotated[
    Decimal, BeforeValidator(_to_decimal), Field(ge=0, le=100), _decimal_places(4)
]
# A share between 0 and 1 (0.25 is a quarter), four decimals at most.
Ratio = Annotated[Decimal, BeforeValidator(_to_decimal), Field(ge=0, le=1), _decimal_places(4)]
# Hours per month: 0 to 744 (a whole month), two decimals at most.
Hours = Annotated[Decimal, BeforeValidator(_to_decimal), Field(ge=0, le=744), _decimal_places(2)]
# A resource amount that may be fractional (GB of disk, share of a CPU core): 0 to 100,000.
Quantity = Annotated[
    Decimal, BeforeValidator(_to_decimal), Field(ge=0, le=100_000), _decimal_places(3)
]

# Whole numbers with bounds that keep every later computation meaningful.
PositiveInt = Annotated[StrictInt, Field(gt=0, le=10_000_000)]
NonNegativeInt = Annotated[StrictInt, Field(ge=0, le=10_000_000)]
