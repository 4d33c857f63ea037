"""Rewrite the golden files from the example inventory: `python tests/render/update_golden.py`.
Read the diff before committing it: golden files are reviewed by a person."""

from __future__ import annotations

from pathlib import Path

from chaton.loader import load_inventory
from chaton.placement import place
from chaton.render import render

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parents[1] / "inventories" / "example"
GOLDEN = HERE / "golden" / "example"


def rendered_example() -> dict[str, str]:
    inventory = load_inventory(EXAMPLE)
    plan = place(inventory.collective, inventory.structures)
    return dict(render(inventory, plan).files)


if __name__ == "__main__":
    for name, text in rendered_example().items():
        path = GOLDEN / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        print(path)
