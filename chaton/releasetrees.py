"""Release trees and their archives: a tar archive (plain, gzip, bzip2, xz, zstd) read as a
stream with every member checked, the release trees (folders with a version.php) it or a folder
holds, one extracted or copied, a tree packed as a reproducible tar.zst, and a fetched archive's
tree verified by Nextcloud's code signing. `chaton.artifacts` puts the results in the cache."""

from __future__ import annotations

import lzma
import os
import shutil
import stat
import subprocess
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal, cast

from chaton import codesigning
from chaton.errors import BadInput, ChatonError
from chaton.i18n import _

# What a long step says as it goes (the command line prints it).
Step = Callable[[str], None]
# Archives are read and written in chunks of this size; version.php is read up to its limit.
_CHUNK = 1024 * 1024
_VERSION_FILE_LIMIT = 64 * 1024

# The archives `add` reads a release tree from, and how tarfile reads each as a stream (zstd:
# through its program).
ARCHIVE_MODES: dict[str, Literal["r|", "r|bz2", "r|gz", "r|xz"]] = {
    ".tar.zst": "r|", ".tar.bz2": "r|bz2", ".tar.gz": "r|gz", ".tar.xz": "r|xz", ".tar": "r|",
}  # fmt: skip

_ZSTD_LEVEL = 3


def archive_suffix(path: Path) -> str | None:
    """Which of ARCHIVE_MODES a file name ends with."""
    return next((suffix for suffix in ARCHIVE_MODES if path.name.endswith(suffix)), None)


def _zstd(arguments: list[str], **options: Any) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(["zstd", *arguments], **options)
    except FileNotFoundError:
        raise ChatonError(
            _(
                "{program} is not installed (Debian package {package})",
                program="zstd",
                package="zstd",
            )
        ) from None


def _unreadable(archive: Path, reason: object) -> BadInput:
    return BadInput(
        _("{path}: cannot read the archive: {reason}", path=str(archive), reason=reason)
    )


def _said(process: subprocess.Popen[bytes]) -> str:
    """What a finished program wrote on its error output."""
    stream = process.stderr
    return stream.read().decode(errors="replace").strip() if stream is not None else ""


_READ_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError)


def archive_members(archive: Path) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
    """Each member of a tar archive, in order, read as a stream (a .tar.zst through the zstd
    program, with the long window such archives may need). The caller may stop at any member."""
    mode = ARCHIVE_MODES[archive_suffix(archive) or ".tar"]
    process = None
    try:
        if archive.name.endswith(".tar.zst"):
            process = _zstd(
                ["-d", "-c", "-q", "--long=31", "--", str(archive)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        with (
            tarfile.open(fileobj=process.stdout, mode=mode, bufsize=_CHUNK)
            if process is not None
            else tarfile.open(archive, mode=mode, bufsize=_CHUNK)
        ) as tar:
            while (member := tar.next()) is not None:
                yield tar, member
        if process is not None and process.wait() != 0:
            raise _unreadable(archive, _said(process) or process.returncode)
    except _READ_ERRORS as error:
        said = _said(process) if process is not None and process.poll() is not None else ""
        raise _unreadable(archive, said or error) from None
    finally:
        if process is not None:
            if process.poll() is None:  # stopped early
                process.kill()
            process.wait()
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()


def trees_in_archive(archive: Path, version: str) -> tuple[str | None, dict[str, str]]:
    """The folder of `archive` holding the release tree of `version` ("" for the archive's root;
    None when none does), and the version of each tree seen (folder -> version, "?" when its
    version.php does not say). The archive is read up to that tree's version.php."""
    found: dict[str, str] = {}
    for tar, member in archive_members(archive):
        parts = PurePosixPath(member.name).parts
        if parts[-1:] != (codesigning.VERSION_FILE,) or len(parts) > 2 or not member.isfile():
            continue
        top = parts[0] if len(parts) == 2 else ""
        stream = tar.extractfile(member)
        text = stream.read(_VERSION_FILE_LIMIT).decode("utf-8", "replace") if stream else ""
        found[top] = codesigning.version_from_php(text) or "?"
        if found[top] == version:
            return top, found
    return None, found


def extract_folder(archive: Path, top: str, into: Path) -> None:
    """Extract the members of `archive` in its folder `top` (all for "") into `into`, as
    tarfile's 'data' filter allows: no absolute path, no .., no link out, no device. Folders
    get their time from the archive, as files do."""
    into.mkdir(parents=True, exist_ok=True)
    folders: list[tarfile.TarInfo] = []
    for tar, member in archive_members(archive):
        if top and PurePosixPath(member.name).parts[:1] != (top,):
            continue
        try:
            tar.extract(member, into, filter="data")
            if member.isdir():
                folders.append(member)
        except tarfile.FilterError as error:
            raise BadInput(
                _(
                    "{path}: {member} is refused: {reason}",
                    path=str(archive),
                    member=member.name,
                    reason=error,
                )
            ) from None
        except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError) as error:
            raise _unreadable(archive, error) from None
    for member in reversed(folders):  # what was written in a folder changed its time
        os.utime(into / member.name, (member.mtime, member.mtime))


def release_trees(folder: Path) -> dict[Path, str]:
    """The release trees of a folder: itself when it holds version.php, else those of its
    sub-folders that do; each with the version its version.php states ("?" when it does not)."""
    candidates = [folder] if (folder / codesigning.VERSION_FILE).is_file() else sorted(
        path for path in folder.iterdir() if (path / codesigning.VERSION_FILE).is_file()
    )  # fmt: skip
    trees = {}
    for tree in candidates:
        text = (tree / codesigning.VERSION_FILE).read_text(encoding="utf-8", errors="replace")
        trees[tree] = codesigning.version_from_php(text) or "?"
    return trees


def no_such_tree(where: str, version: str, held: dict[str, str], product: str) -> BadInput:
    return BadInput(
        _(
            "{path} holds no {product} {version} release tree; it holds: {found}",
            path=where,
            product=product,
            version=version,
            found=", ".join(f"{v} ({folder or '.'}/)" for folder, v in sorted(held.items()))
            or _("none"),
        )
    )


def _copy_tree(source: Path, target: Path) -> None:
    """Copy a release tree (its links as links, refused later; anything but a file refused)."""

    def copy_file(from_path: str, to_path: str) -> object:
        if not stat.S_ISREG(os.lstat(from_path).st_mode):
            raise BadInput(_("{path} is neither a file nor a folder", path=from_path))
        return shutil.copy2(from_path, to_path)

    try:
        shutil.copytree(source, target, symlinks=True, copy_function=copy_file)
    except shutil.Error as error:
        failures = error.args[0] if error.args and isinstance(error.args[0], list) else [error]
        raise BadInput(
            _("{path} cannot be copied: {reason}", path=str(source), reason=failures[0])
        ) from None


def release_tree(
    product: str, source: Path, version: str, work: Path, step: Step | None
) -> tuple[Path, str]:
    """The release tree of `version` in `source` (a tree, a folder of trees, an archive), copied
    or extracted into the folder `work`; and its folder in `source` ("." for `source` itself)."""
    say = step or (lambda _text: None)
    if source.is_dir():
        held = {("" if t == source else t.name): v for t, v in release_trees(source).items()}
        inside = next((folder for folder, v in held.items() if v == version), None)
        if inside is None:
            raise no_such_tree(str(source), version, held, product)
        say(_("copying {path}", path=str(source / inside)))
        _copy_tree(source / inside, work / "tree")
        return work / "tree", inside or "."
    if source.is_file() and archive_suffix(source):
        say(_("looking for {product} {version} in {path}", product=product,
              version=version, path=str(source)))  # fmt: skip
        top, held = trees_in_archive(source, version)
        if top is None:
            raise no_such_tree(str(source), version, held, product)
        where = str(source / top) if top else str(source)
        say(_("unpacking {path}", path=where))
        extract_folder(source, top, work / "tree")
        return work / "tree" / top, top or "."
    if not source.exists():
        raise BadInput(_("{path}: no such file or folder", path=str(source)))
    raise BadInput(
        _(
            "{path} is neither a release tree (a folder with version.php), a folder of release "
            "trees, nor an archive ({suffixes})",
            path=str(source),
            suffixes=", ".join(ARCHIVE_MODES),
        )
    )


def unpacked_and_verified(
    archive: Path, version: str, into: Path, root_fingerprint: str, step: Step | None
) -> codesigning.Report:
    """A fetched archive's tree, unpacked into `into`, verified by its code signing, removed."""
    if step:
        step(_("unpacking {path} to verify its code signing", path=archive.name))
    try:
        extract_folder(archive, "", into)
        held = {t.name: v for t, v in release_trees(into).items()}
        top = next((folder for folder, v in held.items() if v == version), None)
        if top is None:
            raise no_such_tree(archive.name, version, held, "Nextcloud")
        return codesigning.verify_tree(
            into / top, version=version, root_fingerprint=root_fingerprint,
            label=f"{archive.name}/{top}",
        )  # fmt: skip
    finally:
        shutil.rmtree(into, ignore_errors=True)


def pack_tree(tree: Path, archive: Path, top: str, leave_out: Iterable[str]) -> None:
    """`tree` as a tar.zst under one folder `top`: members sorted, owned by root, folders 0755,
    files 0644, without the files `leave_out` (paths in the tree). Every folder stays, emptied
    or not: Nextcloud lists `themes/` (its integrity check fails without it) and reads
    `config/`."""
    left_out = set(leave_out)
    folders: list[str] = []
    files: list[str] = []
    for folder, _dirs, names in os.walk(tree):
        relative = Path(folder).relative_to(tree).as_posix()
        prefix = "" if relative == "." else relative + "/"
        if prefix:
            folders.append(relative)
        files.extend(prefix + name for name in names)
    kept = [path for path in files if path not in left_out]
    # Sorted folder by folder: a folder, then what it holds.
    members = sorted([*folders, *kept], key=lambda p: p.split("/"))

    def root_owned(name: str, path: Path) -> tarfile.TarInfo:
        status = path.stat()
        info = tarfile.TarInfo(name)
        info.mtime = int(status.st_mtime)
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        if stat.S_ISDIR(status.st_mode):
            info.type, info.mode = tarfile.DIRTYPE, 0o755
        else:
            info.size, info.mode = status.st_size, 0o644
        return info

    level = f"-{_ZSTD_LEVEL}"
    process = _zstd(
        ["-T0", level, "-q", "-o", str(archive)], stdin=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdin = cast(IO[bytes], process.stdin)
    try:
        with tarfile.open(
            fileobj=stdin, mode="w|", format=tarfile.PAX_FORMAT, bufsize=_CHUNK
        ) as tar:
            tar.addfile(root_owned(top, tree))
            for relative in members:
                info = root_owned(f"{top}/{relative}", tree / relative)
                if info.isdir():
                    tar.addfile(info)
                    continue
                with (tree / relative).open("rb") as stream:
                    tar.addfile(info, stream)
        stdin.close()
        if process.wait() != 0:
            raise ChatonError(
                _("zstd failed: {reason}", reason=_said(process) or process.returncode)
            )
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for pipe in (process.stdin, process.stderr):
            if pipe is not None:
                pipe.close()
