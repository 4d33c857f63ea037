"""Writing files atomically: a reader sees the old file or the new one, never half of one.

Each file is written to a temporary file in its own folder (same file system), flushed to disk
(`fsync`), then renamed over its target, and the folder is synced so the rename itself is durable.
`write_all` prepares every file first and renames only when all are ready: a failure while
preparing (a full disk, an error in the caller's data) leaves every target as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from chaton.errors import ChatonError
from chaton.i18n import _


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def prepare(path: Path, data: bytes, mode: int = 0o644) -> Path:
    """Write `data` to a new temporary file next to `path` (flushed to disk); return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        temporary.chmod(mode)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` atomically."""
    write_all({path: data}, mode=mode)


def write_all(
    files: Mapping[Path, bytes],
    remove: Iterable[Path] = (),
    mode: int = 0o644,
    modes: Mapping[Path, int] | None = None,
) -> None:
    """Write every file of `files` and remove `remove`, all or nothing as far as the system allows:
    all temporary files are written first; if any fails, they are deleted and no target changes.
    `modes` gives some files another mode than `mode`."""
    modes = modes or {}
    prepared: list[tuple[Path, Path]] = []
    try:
        for path in sorted(files):
            prepared.append((prepare(path, files[path], modes.get(path, mode)), path))
    except BaseException:
        for temporary, _target in prepared:
            temporary.unlink(missing_ok=True)
        raise
    folders = set()
    for temporary, target in prepared:
        temporary.replace(target)
        folders.add(target.parent)
    for path in sorted(remove):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        folders.add(path.parent)
    for folder in sorted(folders):
        _fsync_dir(folder)


def create_new(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Create `path` atomically, refusing (ChatonError) if it already exists — even if another
    process creates it at the same moment: the complete file is hard-linked into place, which
    fails when the name is taken."""
    temporary = prepare(path, data, mode)
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise ChatonError(_("{path} already exists: it is left as it is", path=str(path))) from None
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_dir(path.parent)
