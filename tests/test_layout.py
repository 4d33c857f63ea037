"""The test of `chaton/x/y.py` is `tests/x/test_y.py`: a test file named after a module of the
package sits at that module's mirrored place, so that a newcomer finds it there.

A test file named after no module (a topic, such as tests/costs/test_worked_example.py or
tests/test_deploy_lifecycle.py) is not concerned. Two modules may share a name (chaton/render.py,
chaton/commands/render.py): a test file of that name is at the place of one of them."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chaton"
TESTS = ROOT / "tests"

# Test files allowed away from their module's mirrored place, each with its reason:
# {"tests/where/test_y.py": "why it is not at tests/x/test_y.py"}. None for now: add one only
# when a file really cannot be at its place (and say why), never to silence this test.
MISPLACED_ON_PURPOSE: dict[str, str] = {}


def mirrored_places() -> dict[str, set[str]]:
    """For each module name of the package, its test file's places: tests/x/test_y.py for
    chaton/x/y.py (tests/test_y.py for chaton/y.py); __init__ and __main__ have none."""
    places: dict[str, set[str]] = defaultdict(set)
    for module in PACKAGE.rglob("*.py"):
        if module.stem.startswith("_"):
            continue
        folder = module.parent.relative_to(PACKAGE)
        places[module.stem].add((Path("tests") / folder / f"test_{module.stem}.py").as_posix())
    return places


def test_a_modules_test_file_is_at_the_modules_mirrored_place() -> None:
    places = mirrored_places()
    misplaced = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        name = path.stem.removeprefix("test_")
        where = path.relative_to(ROOT).as_posix()
        if name in places and where not in places[name]:
            misplaced[where] = sorted(places[name])
    unexplained = {k: v for k, v in misplaced.items() if k not in MISPLACED_ON_PURPOSE}
    assert not unexplained, f"move each test file to its module's place (git mv): {unexplained}"
    stale = sorted(set(MISPLACED_ON_PURPOSE) - set(misplaced))
    assert not stale, f"no longer misplaced (or gone): remove from MISPLACED_ON_PURPOSE: {stale}"
