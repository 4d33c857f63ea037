"""Atomic writes: all files or none, no half-written file, never an overwrite by create_new."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaton import files
from chaton.errors import ChatonError


def test_write_all_replaces_every_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yml", tmp_path / "sub" / "b.yml"
    a.write_bytes(b"old a")
    files.write_all({a: b"new a", b: b"new b"}, modes={b: 0o600})
    assert a.read_bytes() == b"new a"
    assert b.read_bytes() == b"new b"
    assert b.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.yml", "b.yml", "sub"]


def test_a_failure_while_preparing_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets = [tmp_path / f"{name}.yml" for name in "abc"]
    for target in targets:
        target.write_bytes(b"old " + target.name.encode())
    real = files.prepare
    prepared: list[Path] = []

    def fail_on_second(path: Path, data: bytes, mode: int = 0o644) -> Path:
        if prepared:
            raise OSError(28, "No space left on device")
        prepared.append(real(path, data, mode))
        return prepared[-1]

    monkeypatch.setattr(files, "prepare", fail_on_second)
    with pytest.raises(OSError):
        files.write_all({target: b"new" for target in targets}, remove=[targets[2]])
    assert [t.read_bytes() for t in targets] == [b"old a.yml", b"old b.yml", b"old c.yml"]
    assert not prepared[0].exists()  # the first temporary file was cleaned up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yml", "b.yml", "c.yml"]


def test_create_new_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "structure.yml"
    files.create_new(target, b"first")
    with pytest.raises(ChatonError, match="already exists"):
        files.create_new(target, b"second")
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["structure.yml"]
