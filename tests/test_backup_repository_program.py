"""roles/backup/files/chaton-backup-repository, the repository host's program, on repositories
laid out as borg 1.2 lays them out (segments in data/<n>/, index.<n>, the transactions log borg
keeps in append-only mode), made here by hand: which transactions its history shows, what a
rollback moves and when it refuses, when a compaction is refused. borg itself is replaced by a
test double (`borg_double`); the molecule scenario of roles/backup runs the real one, against a
real repository that a server taken over emptied."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

PROGRAM = Path(__file__).resolve().parents[1] / "roles" / "backup" / "files"
PROGRAM = PROGRAM / "chaton-backup-repository"


def load(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("chaton_backup_repository", str(PROGRAM))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    # Its dataclass looks its module up by name.
    monkeypatch.setitem(sys.modules, loader.name, module)
    loader.exec_module(module)
    return module


@pytest.fixture
def program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    module = load(monkeypatch)
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"directory": str(tmp_path / "borg"), "user": "borg"}))
    monkeypatch.setattr(module, "SETTINGS", settings)
    monkeypatch.setattr(module, "STATE_DIR", tmp_path / "state")
    module.borg_calls = []

    def borg_double(where: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        """Test double of borg run as the repositories' account: records the call; `compact`
        drops the segments listed in `module.compact_drops` and writes the index of
        `module.compact_to`; `check` writes the index of the highest segment left."""
        module.borg_calls.append(args)
        path = Path(args[-1])
        if args[0] == "compact":
            for number in getattr(module, "compact_drops", []):
                (path / "data" / "0" / str(number)).unlink()
            for index in path.glob("index.*"):
                index.unlink()
            (path / f"index.{module.compact_to}").write_bytes(b"i")
        if args[0] == "check":
            numbers = [int(p.name) for p in (path / "data" / "0").iterdir()]
            (path / f"index.{max(numbers)}").write_bytes(b"i")
        return subprocess.CompletedProcess(["borg", *args], 0, "", "")

    monkeypatch.setattr(module, "run_borg", borg_double)
    return module


def repository(
    base: Path, server: str, logged: list[tuple[int, str]], segments: int, size: int = 10
) -> Path:
    """A repository at transaction `segments` (segments 1..segments, its index), whose log
    holds `logged` (number, time)."""
    path = base / "borg" / server
    (path / "data" / "0").mkdir(parents=True)
    (path / "config").write_text("[repository]\nversion = 1\n")
    for number in range(1, segments + 1):
        (path / "data" / "0" / str(number)).write_bytes(b"s" * size)
    for kind in ("index", "hints", "integrity"):
        (path / f"{kind}.{segments}").write_bytes(b"x")
    (path / "transactions").write_text(
        "".join(f"transaction {n}, UTC time {t}\n" for n, t in logged)
    )
    return path


NIGHTS = [(5, "2026-12-01T03:20:00"), (9, "2026-12-02T03:21:00"), (13, "2026-12-03T03:19:00")]
# A server taken over, at noon: every archive marked deleted, then a compaction asked for.
ATTACK = [(16, "2026-12-03T12:00:00"), (18, "2026-12-03T12:00:05")]


def served(program: Any, path: Path) -> list[int]:
    return sorted(int(p.name) for p in (path / "data" / "0").iterdir())


def test_the_history_is_the_servers_transactions_in_order(program: Any, tmp_path: Path) -> None:
    path = repository(tmp_path, "srv-1", NIGHTS + ATTACK, 18)
    chain = program.history(program.logged(path), [])
    assert [(e.kind, e.transaction) for e in chain] == [
        ("server", 5), ("server", 9), ("server", 13), ("server", 16), ("server", 18)
    ]  # fmt: skip
    # What each wrote: the segments after the one before (segment 1..5 for the first, 10 B each).
    steps = program.written(chain, program.segments(path))
    assert [n for _e, n in steps] == [50, 40, 40, 30, 20]


def test_a_rollback_moves_aside_what_came_after_and_nothing_else(
    program: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repository(tmp_path, "srv-1", NIGHTS + ATTACK, 18)
    # Without --yes: said, nothing moved.
    assert program.main(["rollback", "srv-1", "--to", "13"]) == 0
    said = capsys.readouterr().out
    assert "undo: 16" in said and "undo: 18" in said and "nothing was changed" in said
    assert served(program, path) == list(range(1, 19)) and (path / "index.18").exists()
    assert program.main(["rollback", "srv-1", "--to", "13", "--yes"]) == 0
    assert served(program, path) == list(range(1, 14))
    assert not [p for p in path.iterdir() if p.name.endswith(".18")]
    (aside,) = (tmp_path / "borg" / ".rolled-back" / "srv-1").iterdir()
    assert aside.name.endswith("-from-18-to-13")
    assert sorted(int(p.name) for p in (aside / "data" / "0").iterdir()) == list(range(14, 19))
    assert sorted(p.name for p in aside.glob("*.18")) == ["hints.18", "index.18", "integrity.18"]
    assert ((tmp_path / "borg" / ".rolled-back").stat().st_mode & 0o777) == 0o700
    # The index rebuilt by borg's check, as the repositories' account, on that repository.
    assert program.borg_calls == [("check", "--repository-only", str(path))]
    assert (path / "index.13").exists()
    # The history now ends at the rollback; the server's 16 and 18 are gone from it.
    chain = program.history(program.logged(path), program.recorded("srv-1"))
    assert [(e.kind, e.transaction) for e in chain][-2:] == [("server", 13), ("rollback", 13)]
    # The lock was released.
    assert not (path / "lock.exclusive").exists()


def test_borg_logging_a_number_again_after_a_rollback_replaces_the_old_transaction(
    program: Any, tmp_path: Path
) -> None:
    path = repository(tmp_path, "srv-1", NIGHTS + ATTACK, 18)
    assert program.main(["rollback", "srv-1", "--to", "13", "--yes"]) == 0
    # The server's next accesses, after the rollback: borg logs 13 again (the index it
    # rebuilt), then reuses the numbers after it.
    with (path / "transactions").open("a") as log:
        log.write("transaction 13, UTC time 2099-01-01T00:00:00\n")
        log.write("transaction 16, UTC time 2099-01-01T00:00:05\n")
    chain = program.history(program.logged(path), program.recorded("srv-1"))
    servers = [(e.transaction, e.time) for e in chain if e.kind == "server"]
    assert servers == [
        (5, NIGHTS[0][1]), (9, NIGHTS[1][1]),
        (13, "2099-01-01T00:00:00"), (16, "2099-01-01T00:00:05"),
    ]  # fmt: skip


def test_a_rollback_is_refused_while_a_server_uses_the_repository(
    program: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repository(tmp_path, "srv-1", NIGHTS + ATTACK, 18)
    # borg serve's exclusive lock, as borg leaves it: a folder holding its process's name.
    (path / "lock.exclusive").mkdir()
    (path / "lock.exclusive" / "repo-1@1234.5678-0").touch()
    assert program.main(["rollback", "srv-1", "--to", "13", "--yes"]) == 1
    assert "is in use" in capsys.readouterr().err
    assert served(program, path) == list(range(1, 19))
    (path / "lock.exclusive" / "repo-1@1234.5678-0").unlink()
    (path / "lock.exclusive").rmdir()
    # A reader: only its line in the roster.
    (path / "lock.roster").write_text(json.dumps({"shared": [["repo-1@1234", 5678, 0]]}))
    assert program.main(["rollback", "srv-1", "--to", "13", "--yes"]) == 1
    assert "is being read" in capsys.readouterr().err
    assert served(program, path) == list(range(1, 19))
    assert not (path / "lock.exclusive").exists()
    assert program.borg_calls == []


def test_a_compaction_needs_the_servers_latest_transaction_read(
    program: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repository(tmp_path, "srv-1", NIGHTS + ATTACK, 18)
    # Read before the attack: refused, nothing compacted.
    assert program.main(["compact", "srv-1", "--reviewed", "13"]) == 1
    assert "its latest transaction is 18" in capsys.readouterr().err
    assert program.borg_calls == []
    program.compact_to, program.compact_drops = 20, [2, 3]
    assert program.main(["compact", "srv-1", "--reviewed", "18"]) == 0
    assert program.borg_calls == [("compact", "--verbose", str(path))]
    (event,) = program.recorded("srv-1")
    assert (event.kind, event.transaction) == ("compaction", 20)
    # Nothing can be rolled back past it: what it rewrote is in its own transaction.
    assert program.main(["rollback", "srv-1", "--to", "13", "--yes"]) == 1
    assert "before the compaction" in capsys.readouterr().err
    assert served(program, path) == [1, *range(4, 19)]


def test_a_transaction_that_slips_in_before_the_compaction_is_reported(
    program: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repository(tmp_path, "srv-1", NIGHTS, 13)
    program.compact_to, program.compact_drops = 22, []
    real_double = program.run_borg

    def server_deletes_first(where: dict[str, str], *args: str) -> Any:
        # The server commits transaction 19 after the check, before borg compact's lock.
        with (path / "transactions").open("a") as log:
            log.write("transaction 19, UTC time 2099-01-01T00:00:00\n")
        return real_double(where, *args)

    program.run_borg = server_deletes_first
    assert program.main(["compact", "srv-1", "--reviewed", "13"]) == 1
    assert "transaction(s) 19 came before the compaction" in capsys.readouterr().out


def test_a_rollback_refuses_what_is_not_in_the_history(
    program: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repository(tmp_path, "srv-1", NIGHTS + ATTACK, 18)
    assert program.main(["rollback", "srv-1", "--to", "14", "--yes"]) == 2
    assert "no transaction 14" in capsys.readouterr().err
    # A repository changed on this host other than by the program (a compaction by hand): its
    # transaction is in no history, and a rollback could drop what it rewrote.
    (path / "index.18").rename(path / "index.25")
    (path / "data" / "0" / "25").write_bytes(b"c")
    assert program.main(["rollback", "srv-1", "--to", "13", "--yes"]) == 1
    assert "not in its history" in capsys.readouterr().err
    assert served(program, path) == [*range(1, 19), 25]


@pytest.mark.parametrize("name", ["../srv-1", "srv-1/..", ".rolled-back", "", "/etc"])
def test_a_server_name_cannot_lead_out_of_the_repositories(
    program: Any, tmp_path: Path, name: str
) -> None:
    repository(tmp_path, "srv-1", NIGHTS, 13)
    assert program.main(["log", name]) == 2
    assert program.main(["rollback", name, "--to", "5", "--yes"]) == 2


def test_the_list_counts_the_transactions_since_the_last_compaction(
    program: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository(tmp_path, "srv-1", NIGHTS, 13)
    repository(tmp_path, "srv-2", [], 1)
    program.compact_to, program.compact_drops = 15, []
    assert program.main(["compact", "srv-1", "--reviewed", "13"]) == 0
    path = tmp_path / "borg" / "srv-1"
    with (path / "transactions").open("a") as log:
        log.write("transaction 19, UTC time 2099-01-01T03:00:00\n")
    capsys.readouterr()
    assert program.main(["list", "--json"]) == 0
    rows = {row["server"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["srv-1"]["since_last_compaction"] == 1
    assert rows["srv-1"]["latest_server_transaction"] == 19
    assert rows["srv-2"]["since_last_compaction"] == 0
    assert rows["srv-2"]["last_compaction"] is None


def test_a_rollback_is_refused_when_the_server_wrote_after_the_listing(
    program: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = repository(tmp_path, "srv-1", NIGHTS + ATTACK, 18)
    listed = program.after

    def after_a_new_segment(where: Path, transaction: int) -> list[Path]:
        """The first listing, then the server writes segment 19 before the lock is taken."""
        found = listed(where, transaction)
        (path / "data" / "0" / "19").write_bytes(b"n")
        monkeypatch.setattr(program, "after", listed)
        return found

    monkeypatch.setattr(program, "after", after_a_new_segment)
    assert program.main(["rollback", "srv-1", "--to", "13", "--yes"]) == 1
    assert "changed since it was listed" in capsys.readouterr().err
    assert served(program, path) == list(range(1, 20))
    assert not (path / "lock.exclusive").exists()
    assert not (tmp_path / "borg" / ".rolled-back").exists()
