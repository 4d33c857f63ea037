"""docs/architecture.md (and its French twin) draw the package's layers as `make lint` checks
them: the modules of each layer in the doc's table are those of the import contract."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "docs" / "architecture.md", ROOT / "docs" / "architecture.fr.md"]


def contract_layers() -> list[set[str]]:
    """The layers of pyproject.toml's `layers` contract, top first, as sets of module names."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "layers"]
    return [{name.strip() for name in re.split(r"[:|]", layer)} for layer in contract["layers"]]


def doc_layers(doc: Path) -> list[set[str]]:
    """The modules named in each row of the doc's layer table, top first."""
    text = doc.read_text(encoding="utf-8")
    table = text.split("\n## ")[1]  # the section after the introduction: the package's layers
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    return [set(re.findall(r"`([a-z0-9_/*]+)`", row.split("|")[2])) for row in rows]


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_the_docs_layers_are_the_checked_ones(doc: Path) -> None:
    layers = contract_layers()
    # The doc shows the command line's two modules on one row, and the commands as commands/*.
    expected = [layers[0] | layers[1], {"commands/*"}, *layers[3:]]
    assert layers[2] == {"commands"}
    assert doc_layers(doc) == expected


def test_every_module_of_the_package_is_in_a_layer() -> None:
    placed = set().union(*contract_layers())
    package = ROOT / "chaton"
    modules = {path.stem for path in package.glob("*.py") if path.stem != "__init__"}
    modules |= {path.name for path in package.iterdir() if (path / "__init__.py").is_file()}
    assert modules == placed
