"""Random documents: the loader ends in success or a clean list of placed errors, never a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaton.loader import CheckResult, check_texts

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "example"
COLLECTIVE = (EXAMPLE / "collective.yml").read_text(encoding="utf-8")
ROOT = Path("inv")

HOSTILE = st.sampled_from(
    ["{{ lookup('pipe','id') }}", "{% raw %}", "!unsafe", "${HOME}", "\u202e", "a\x00b", "é", "--"]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    HOSTILE,
    st.sampled_from(["velo-cite", "member", "fabrique-1", "shared", "a@b.fr", "x.fr", "none"]),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(
                st.sampled_from(
                    [
                        "name",
                        "slug",
                        "contacts",
                        "tier",
                        "status",
                        "domains",
                        "services",
                        "placement",
                        "nextcloud",
                        "mastodon",
                        "lists",
                        "website",
                        "accounts",
                        "storage_gb",
                        "mode",
                        "owners",
                        "email",
                        "source",
                        "branch",
                    ]
                ),
                st.text(max_size=8),
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=25,
)


def _check_clean(result: CheckResult, texts: dict[str, str]) -> None:
    files = {ROOT / "collective.yml"} | {ROOT / "structures" / f"{s}.yml" for s in texts}
    for error in result.errors:
        assert error.file in files
        assert error.line >= 1
        assert error.column >= 1
        assert error.message.strip()
        assert "\n" not in str(error)
    assert result.valid == (not result.errors)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#%@ \n\t,?.0é")), max_size=80))
def test_random_text(text: str) -> None:
    texts = {"zz-case": text}
    _check_clean(check_texts(ROOT, COLLECTIVE, texts), texts)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_random_documents_as_structure_and_collective(document: Any) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    texts = {"zz-case": text}
    _check_clean(check_texts(ROOT, COLLECTIVE, texts), texts)
    _check_clean(check_texts(ROOT, text, {}), {})


VALID = {
    "name": "Zèbre",
    "slug": "zz-case",
    "contacts": [{"name": "Zoé", "email": "zoe@zebre.fr"}],
    "tier": "member",
    "domains": ["zebre.fr"],
    "services": {
        "nextcloud": {"accounts": 3, "storage_gb": 10},
        "mastodon": {"mode": "shared", "accounts": 1},
        "lists": [{"name": "info", "owners": ["zoe@zebre.fr"]}],
        "website": {"source": "none"},
    },
}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


PATHS = [path for path in _paths(VALID) if path]


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: (_replace(v, rest, new) if k == head else v) for k, v in value.items()}
    return [(_replace(v, rest, new) if i == head else v) for i, v in enumerate(value)]


def test_the_unmutated_structure_is_valid() -> None:
    texts = {"zz-case": yaml.safe_dump(VALID, allow_unicode=True)}
    assert check_texts(ROOT, COLLECTIVE, texts).errors == ()


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(PATHS), documents)
def test_one_field_replaced_by_anything(path: tuple[Any, ...], new: Any) -> None:
    text = yaml.safe_dump(_replace(VALID, path, new), allow_unicode=True)
    texts = {"zz-case": text}
    result = check_texts(ROOT, COLLECTIVE, texts)
    _check_clean(result, texts)
    if result.errors:
        # An error about a replaced field points at (or under) that field, or is a cross-field
        # consequence; it never points outside the file.
        assert all(error.file.name == "zz-case.yml" for error in result.errors)
