"""What the test suite's test release builders share (tests/*_test_release/build.py): writing
an archive and its artifact.json into the artifact cache's layout, and their command line."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def tar_bytes(
    top: str, entries: dict[str, bytes | None], executable: frozenset[str], mtime: int
) -> bytes:
    """An uncompressed tar of `entries` ({path under top: content, None for a folder}) under the
    folder `top`, deterministic: every parent folder its own entry, members sorted, fixed time,
    root-owned, modes 0755 (folders and `executable`) or 0644."""
    entries = dict(entries)
    for relative in list(entries):
        parts = relative.split("/")
        for depth in range(1, len(parts)):
            entries.setdefault("/".join(parts[:depth]), None)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        folder = tarfile.TarInfo(top)
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, mtime
        tar.addfile(folder)
        for relative in sorted(entries):
            content = entries[relative]
            info = tarfile.TarInfo(f"{top}/{relative}")
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.mode = 0o755 if relative in executable else 0o644
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return raw.getvalue()


def archive_members(archive: Path) -> dict[str, tarfile.TarInfo]:
    """The members of a test release's archive (any compression), by name."""
    with tarfile.open(archive, "r:*") as tar:
        return {member.name: member for member in tar.getmembers()}


def archive_text(archive: Path, name: str) -> str:
    """One file of a test release's archive, as text."""
    with tarfile.open(archive, "r:*") as tar:
        stream = tar.extractfile(name)
        assert stream is not None, name
        return stream.read().decode()


def write_release(
    cache_dir: Path, kind: str, version: str, archive_name: str, data: bytes, **manifest: Any
) -> Path:
    """Write `cache_dir/kind/version/archive_name` and its artifact.json (name, version, file,
    size, SHA-256 and SHA-512 of `data`, test_release, plus `manifest`), each file by one rename;
    return the archive's path."""
    folder = cache_dir / kind / version
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / archive_name
    document = {
        "name": kind,
        "version": version,
        "file": archive.name,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha512": hashlib.sha512(data).hexdigest(),
        "test_release": True,
        **manifest,
    }
    write_atomically(archive, data)
    write_atomically(
        folder / "artifact.json", (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
    )
    return archive


def write_atomically(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        Path(temp).chmod(0o644)
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def main(
    build: Callable[[str, Path], Path],
    description: str,
    example_version: str,
    argv: list[str] | None = None,
) -> int:
    """`build.py VERSION CACHE_DIR`: build one version into the cache, print the archive's path."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("version", help=f"release version, e.g. {example_version}")
    parser.add_argument("cache_dir", type=Path, help="artifact cache folder")
    args = parser.parse_args(argv)
    try:
        archive = build(args.version, args.cache_dir)
    except ValueError as error:
        parser.error(str(error))
    print(archive)
    return 0
