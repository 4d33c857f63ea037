"""The corpus of invalid inputs: each must produce exactly the errors written next to it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chaton.loader import check_inventory

HERE = Path(__file__).parent
CORPUS = HERE / "invalid"
EXAMPLE = HERE.parents[1] / "inventories" / "example"

FILE_CASES = sorted(CORPUS.glob("*.yml"))
DIR_CASES = sorted(path for path in CORPUS.iterdir() if path.is_dir())


def _expected(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return sorted(line for line in lines if line.strip())


def _actual(root: Path) -> list[str]:
    result = check_inventory(root)
    assert not result.valid
    return sorted(str(error).removeprefix(f"{root}/") for error in result.errors)


def _example_copy(tmp_path: Path) -> Path:
    root = tmp_path / "inventory"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("generated", "hosts.yml"))
    return root


def test_corpus_is_large_enough() -> None:
    assert len(FILE_CASES) + len(DIR_CASES) >= 40


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda path: path.stem)
def test_invalid_file(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGUAGE", "en")
    text = case.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert first.startswith("# target: "), f"{case.name}: first line must be `# target: …`"
    target = first.removeprefix("# target: ").strip()
    root = _example_copy(tmp_path)
    if target == "collective.yml":
        shutil.rmtree(root / "structures")
    (root / target).write_text(text, encoding="utf-8")
    assert _actual(root) == _expected(case.with_suffix(".expected"))


@pytest.mark.parametrize("case", DIR_CASES, ids=lambda path: path.name)
def test_invalid_folder(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGUAGE", "en")
    root = _example_copy(tmp_path)
    for source in case.rglob("*"):
        if source.is_file() and source.name != "expected":
            destination = root / source.relative_to(case)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
    assert _actual(root) == _expected(case / "expected")
