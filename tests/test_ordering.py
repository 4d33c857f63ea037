"""The order the suite runs its tests in (tests/conftest.py `spread`): the slow role scenarios
first, shared out over pytest-xdist's workers so that none is left with a long one at the end."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from conftest import SCENARIO_SECONDS, UNMEASURED_SCENARIO_SECONDS, spread


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


def parts(items: list[Any], workers: int) -> list[list[Any]]:
    """The contiguous parts xdist's worksteal hands out first, as its check_schedule does."""
    out, rest = [], list(items)
    for k in range(workers):
        size = len(rest) // (workers - k)
        out.append(rest[:size])
        rest = rest[size:]
    return out


def test_one_worker_runs_the_slowest_first_then_the_rest_in_order() -> None:
    items = [quick(1), scenario("redis"), quick(2), scenario("nextcloud"), scenario("new-role")]
    assert names(spread(items, 1)) == [
        "test_role_scenario[nextcloud]",  # 761 s
        "test_role_scenario[new-role]",  # not measured: counted as 200 s
        "test_role_scenario[redis]",  # 86 s
        "test_quick_1",
        "test_quick_2",
    ]
    assert SCENARIO_SECONDS["redis"] < UNMEASURED_SCENARIO_SECONDS


def test_two_workers_each_start_with_half_the_slow_work() -> None:
    roles = ["sshd", "nextcloud", "redis", "mailman", "backup", "mastodon"]
    items = [quick(n) for n in range(10)] + [scenario(r) for r in roles]
    ordered = spread(items, 2)
    assert sorted(names(ordered)) == sorted(names(items))  # nothing lost, nothing twice
    first, second = parts(ordered, 2)
    # By hand, longest first to the least loaded part: mastodon 867 → A; mailman 805 → B;
    # nextcloud 761 → B (805 < 867: B 1566); backup 498 → A (1365); sshd 89 → A (1454);
    # redis 86 → A (1540). A = 1540 s, B = 1566 s; 16 tests, 8 in each part.
    assert names(first)[:4] == [
        "test_role_scenario[mastodon]",
        "test_role_scenario[backup]",
        "test_role_scenario[sshd]",
        "test_role_scenario[redis]",
    ]
    assert names(second)[:2] == ["test_role_scenario[mailman]", "test_role_scenario[nextcloud]"]
    # The quick tests fill both parts, in their own order.
    assert names(first)[4:] == ["test_quick_0", "test_quick_1", "test_quick_2", "test_quick_3"]
    assert names(second)[2:] == [f"test_quick_{n}" for n in range(4, 10)]


def test_with_only_slow_tests_each_part_keeps_its_size() -> None:
    roles = ["nextcloud", "mailman", "mastodon", "backup", "website"]
    first, second = parts(spread([scenario(r) for r in roles], 2), 2)
    # Two places in the first part, three in the second: mastodon → A, mailman → B,
    # nextcloud → B (805 < 867), backup → A (A is then full), website → B.
    assert names(first) == ["test_role_scenario[mastodon]", "test_role_scenario[backup]"]
    assert names(second) == [
        "test_role_scenario[mailman]",
        "test_role_scenario[nextcloud]",
        "test_role_scenario[website]",
    ]
