"""The order the suite runs its tests in (tests/conftest.py `spread`): the slow role scenarios
first, shared out over pytest-xdist's workers so that none is left with a long one at the end.

Each test gives its own invented times, round so that the expected order can be worked out by
hand (as the comments do); only the last one reads the measured times, to check that the suite's
collection hook is the one that orders by them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from conftest import (
    SCENARIO_SECONDS,
    UNMEASURED_SCENARIO_SECONDS,
    pytest_collection_modifyitems,
    spread,
)

# Invented times for the tests below: {role: seconds}.
SECONDS = {"a": 500, "b": 400, "c": 300, "d": 100, "e": 50}


def scenario(role: str) -> Any:
    """A test double of a collected role scenario: what `spread` reads of a pytest item."""
    return SimpleNamespace(
        originalname="test_role_scenario",
        callspec=SimpleNamespace(params={"role": role}),
        name=f"test_role_scenario[{role}]",
    )


def quick(n: int) -> Any:
    return SimpleNamespace(originalname=f"test_quick_{n}", name=f"test_quick_{n}")


def names(items: list[Any]) -> list[str]:
    return [item.name for item in items]


def roles(items: list[Any]) -> list[str]:
    """The roles of the scenarios among `items`, the other tests as "q<n>"."""
    return [
        item.callspec.params["role"]
        if hasattr(item, "callspec")
        else "q" + item.name.removeprefix("test_quick_")
        for item in items
    ]


def parts(items: list[Any], workers: int) -> list[list[Any]]:
    """The contiguous parts xdist's worksteal hands out first, as its check_schedule does."""
    out, rest = [], list(items)
    for k in range(workers):
        size = len(rest) // (workers - k)
        out.append(rest[:size])
        rest = rest[size:]
    return out


def test_one_worker_runs_the_slowest_first_then_the_rest_in_order() -> None:
    items = [quick(1), scenario("d"), quick(2), scenario("a"), scenario("new")]
    # a 500, the unmeasured "new" counted as 200, d 100; then the quick tests as collected.
    ordered = spread(items, 1, seconds=SECONDS, unmeasured=200)
    assert roles(ordered) == ["a", "new", "d", "q1", "q2"]
    # Counted as 600 the unmeasured one comes first, as 60 after d (100) and before the quick.
    assert roles(spread(items, 1, seconds=SECONDS, unmeasured=600)) == ["new", "a", "d", "q1", "q2"]
    assert roles(spread(items, 1, seconds=SECONDS, unmeasured=60)) == ["a", "d", "new", "q1", "q2"]


def test_two_workers_each_start_with_their_share_of_the_slow_work() -> None:
    items = [quick(n) for n in range(10)] + [scenario(r) for r in ["c", "e", "a", "d", "b"]]
    ordered = spread(items, 2, seconds=SECONDS, unmeasured=200)
    assert sorted(names(ordered)) == sorted(names(items))  # nothing lost, nothing twice
    first, second = parts(ordered, 2)
    # 15 tests: 15 // 2 = 7 in part A, the other 8 in part B. By hand, longest first to the least
    # loaded part (A on a tie): a 500 → A (A 500); b 400 → B (400); c 300 → B (400 < 500: B 700);
    # d 100 → A (500 < 700: A 600); e 50 → A (600 < 700: A 650). Handing them out in turn
    # would have given A a, c, e and B b, d instead.
    assert roles(first) == ["a", "d", "e", "q0", "q1", "q2", "q3"]
    # The quick tests fill both parts, in their own order: q0-q3 end A, q4-q9 end B.
    assert roles(second) == ["b", "c", "q4", "q5", "q6", "q7", "q8", "q9"]


def test_unmeasured_scenarios_are_shared_out_with_the_default_time() -> None:
    items = [scenario(r) for r in ["new", "b", "other"]] + [quick(n) for n in range(3)]
    # The unmeasured "new" and "other" counted as 300 each, b 400; 6 tests, 3 in each part:
    # b 400 → A; new 300 → B; other 300 → B (300 < 400: B 600).
    first, second = parts(spread(items, 2, seconds=SECONDS, unmeasured=300), 2)
    assert roles(first) == ["b", "q0", "q1"]
    assert roles(second) == ["new", "other", "q2"]
    # Counted as 500 each: new 500 → A; other 500 → B; b 400 → A (tie 500 = 500: A 900).
    first, second = parts(spread(items, 2, seconds=SECONDS, unmeasured=500), 2)
    assert roles(first) == ["new", "b", "q0"]
    assert roles(second) == ["other", "q1", "q2"]


def test_with_only_slow_tests_each_part_keeps_its_size() -> None:
    items = [scenario(r) for r in ["c", "b", "a", "d", "e"]]
    first, second = parts(spread(items, 2, seconds=SECONDS, unmeasured=200), 2)
    # Two places in part A (5 // 2), three in part B: a 500 → A (A 500); b 400 → B (400);
    # c 300 → B (400 < 500: B 700); d 100 → A (500 < 700: A 600, now full); e 50 → B, although
    # A is the less loaded (600 < 700).
    assert roles(first) == ["a", "d"]
    assert roles(second) == ["b", "c", "e"]


@pytest.mark.parametrize("workers", [None, "1", "2", "3"])
def test_the_suite_orders_by_the_measured_times(
    monkeypatch: pytest.MonkeyPatch, workers: str | None
) -> None:
    """The collection hook orders for xdist's worker count (1 without xdist) by the measured
    times, an unmeasured scenario counted as UNMEASURED_SCENARIO_SECONDS."""
    if workers is None:
        monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    else:
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", workers)
    unmeasured = "no-such-role"
    assert unmeasured not in SCENARIO_SECONDS
    items = [quick(0), scenario(unmeasured), quick(1)]
    items += [scenario(role) for role in sorted(SCENARIO_SECONDS)] + [quick(2)]
    ordered = list(items)
    pytest_collection_modifyitems(ordered)
    assert ordered == spread(
        items,
        int(workers or 1),
        seconds=SCENARIO_SECONDS,
        unmeasured=UNMEASURED_SCENARIO_SECONDS,
    )
    if workers in (None, "1"):
        # One worker: every scenario, slowest first by the measured times, then the quick tests.
        scenarios = [item for item in items if hasattr(item, "callspec")]
        scenarios.sort(
            key=lambda item: SCENARIO_SECONDS.get(
                item.callspec.params["role"], UNMEASURED_SCENARIO_SECONDS
            ),
            reverse=True,
        )
        assert ordered == [*scenarios, *(item for item in items if item not in scenarios)]
