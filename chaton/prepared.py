"""Prepared releases: a Mastodon release made where upstream is reachable, added to the cache.

A prepared Mastodon release is Mastodon's source at its tag with its gems vendored in deployment
mode (vendor/bundle, the binstubs bin/puma and bin/sidekiq), its assets compiled into public/, and,
when Debian's are too old for it, the Ruby and Node.js it runs on in runtime/bin/ (`ruby`,
`node`). `add` reads such a folder and puts it in the artifact cache with its manifest:

- its version, from lib/mastodon/version.rb, must be the one asked for;
- what it needs (`requires`), as it states it: the `ruby` line of its Gemfile, the `engines.node`
  of its package.json;
- what it bundles (`runtimes`): each program of runtime/bin/ is asked its version (`--version`)
  and must satisfy what the release needs;
- the Debian packages its vendored gems link to (`debian_packages`), as the operator names them.

The archive (one top folder `mastodon/`, owner root, tmp/ and log/ empty) and its manifest are
written in a hidden folder of the cache and renamed into place at once, as `fetch` does; on any
failure the cache is left as it was. The mastodon role reads the manifest, checks the runtimes
again on the server, and runs the release on them.
"""

from __future__ import annotations

import json
import re
import stat
import subprocess
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from chaton import artifacts, versions
from chaton.errors import BadInput, ChatonError
from chaton.i18n import _

# What every prepared Mastodon release holds (programs: executable).
PROGRAMS = ("bin/tootctl", "bin/rails", "bin/puma", "bin/sidekiq")
FILES = ("streaming/index.js", "Gemfile", "package.json", "lib/mastodon/version.rb")
# The runtimes a release may bundle, where, and how they are named in messages.
RUNTIMES = {"ruby": "runtime/bin/ruby", "node": "runtime/bin/node"}
RUNTIME_NAMES = artifacts.RUNTIME_NAMES
# Folders whose content stays out of the archive (each instance has its own), and what never goes.
EMPTIED = ("tmp", "log")
LEFT_OUT = (".git",)
_RUNTIME_TIMEOUT = 30
_DEBIAN_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]{1,62}$")


@dataclass(frozen=True)
class AddResult:
    manifest: artifacts.Manifest
    path: Path  # the archive in the cache
    replaced: tuple[str, ...] = ()  # what was wrong with a cached copy it replaced


def _requirement(clauses: Iterable[str], where: str) -> str:
    """Clauses as the role reads them (">= 3.2.0, < 3.5"); BadInput for one it cannot."""
    found = []
    for clause in clauses:
        match = versions.CLAUSE.match(clause.strip())
        if not match:
            raise BadInput(
                _(
                    "{where}: {clause!r} is not a requirement chaton reads (>=, <=, ==, !=, >, < "
                    "and a version, separated by commas)",
                    where=where,
                    clause=clause,
                )
            )
        found.append(f"{match.group(1) or '>='} {match.group(2)}")
    if not found:
        raise BadInput(_("{where}: no requirement found", where=where))
    return ", ".join(found)


def tree_version(tree: Path) -> str:
    """The version lib/mastodon/version.rb states (its major, minor and patch methods)."""
    path = tree / "lib" / "mastodon" / "version.rb"
    text = path.read_text(encoding="utf-8", errors="replace")
    numbers = []
    for part in ("major", "minor", "patch"):
        found = re.search(rf"def {part}\s*\n\s*([0-9]+)\s*\n\s*end", text)
        if not found:
            raise BadInput(
                _("{path}: its {part} version cannot be read", path=str(path), part=part)
            )
        numbers.append(found.group(1))
    return ".".join(numbers)


def tree_requires(tree: Path) -> dict[str, str]:
    """What the release needs, as it states it: the `ruby` line of its Gemfile and the
    `engines.node` of its package.json."""
    gemfile = tree / "Gemfile"
    line = re.search(
        r"^\s*ruby\s+(.+)$", gemfile.read_text(encoding="utf-8", errors="replace"), re.MULTILINE
    )
    if not line:
        raise BadInput(_("{path}: no `ruby` line says which Ruby it needs", path=str(gemfile)))
    ruby_clauses = re.findall(r"""['"]([^'"]*)['"]""", line.group(1))
    package = tree / "package.json"
    try:
        node = json.loads(package.read_text(encoding="utf-8"))["engines"]["node"]
    except (ValueError, KeyError, TypeError):
        raise BadInput(
            _("{path}: no engines.node says which Node.js it needs", path=str(package))
        ) from None
    if not isinstance(node, str):
        raise BadInput(_("{path}: no engines.node says which Node.js it needs", path=str(package)))
    return {
        "ruby": _requirement(ruby_clauses, str(gemfile)),
        # npm writes ">=18" or ">=18 <24"; "||" (either of two ranges) is not read.
        "node": _requirement(re.split(r",|\s+(?=[<>=!])", node.strip()), str(package)),
    }


def runtime_version(program: Path, name: str) -> str:
    """The version a bundled runtime answers to `--version`; ChatonError when it does not."""
    try:
        answer = subprocess.run(
            [str(program), "--version"],
            capture_output=True,
            text=True,
            timeout=_RUNTIME_TIMEOUT,
            check=False,
        )
        output = answer.stdout.strip() or answer.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as error:
        output = str(error)
    found = versions.runtime_version(output, name)
    if not found:
        raise ChatonError(
            _(
                "{path} does not answer its version to --version (it said: {output})",
                path=str(program),
                output=output[:300] or _("nothing"),
            )
        )
    return found


def tree_runtimes(tree: Path, requires: dict[str, str]) -> dict[str, str]:
    """The runtimes of runtime/bin/, each asked its version, which must be what it needs."""
    found = {}
    for name, relative in RUNTIMES.items():
        program = tree / relative
        if not (program.exists() or program.is_symlink()):  # a dangling link is asked too
            continue
        version = runtime_version(program, name)
        if not versions.satisfies(version, requires[name]):
            raise BadInput(
                _(
                    "{path} is {runtime} {version}; the release needs {requirement}",
                    path=str(program),
                    runtime=RUNTIME_NAMES[name],
                    version=version,
                    requirement=requires[name],
                )
            )
        found[name] = version
    return found


def check_tree(tree: Path, version: str) -> None:
    """BadInput unless `tree` is a prepared Mastodon release of `version`."""
    if not tree.is_dir():
        raise BadInput(_("{path} is not a folder", path=str(tree)))
    missing = [p for p in (*PROGRAMS, *FILES) if not (tree / p).is_file()]
    if missing:
        raise BadInput(
            _(
                "{path} is not a prepared Mastodon release: {missing} missing",
                path=str(tree),
                missing=", ".join(missing),
            )
        )
    for program in PROGRAMS:
        if not (tree / program).stat().st_mode & stat.S_IXUSR:
            raise BadInput(_("{path} is not executable", path=str(tree / program)))
    found = tree_version(tree)
    if found != version:
        raise BadInput(
            _(
                "{path} holds Mastodon {found}, not {version}",
                path=str(tree),
                found=found,
                version=version,
            )
        )


def _members(tree: Path) -> list[Path]:
    """The paths of the tree that go into the archive, sorted; BadInput for a link that leads out
    of it or a file that is neither a file, a folder nor a link."""
    kept = []
    root = tree.resolve()
    for path in sorted(tree.rglob("*")):
        relative = path.relative_to(tree)
        if relative.parts[0] in LEFT_OUT:
            continue
        if relative.parts[0] in EMPTIED and len(relative.parts) > 1:
            continue
        if path.is_symlink():
            target = Path(path.readlink())
            if target.is_absolute() or not (path.parent / target).resolve().is_relative_to(root):
                raise BadInput(
                    _("{path} is a link out of the release ({target})", path=str(path),
                      target=str(target))
                )  # fmt: skip
        elif not (path.is_file() or path.is_dir()):
            raise BadInput(_("{path} is neither a file nor a folder", path=str(path)))
        kept.append(path)
    return kept


def write_archive(tree: Path, archive: Path) -> None:
    """The tar.gz of the tree under one top folder `mastodon/`, owned by root."""

    def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        top = tar.gettarinfo(str(tree), arcname="mastodon")
        tar.addfile(owned_by_root(top))
        for path in _members(tree):
            info = tar.gettarinfo(str(path), arcname=f"mastodon/{path.relative_to(tree)}")
            info = owned_by_root(info)
            if info.isfile():
                with path.open("rb") as stream:
                    tar.addfile(info, stream)
            else:
                tar.addfile(info)


def _already_cached(name: str, version: str, target: Path) -> BadInput:
    return BadInput(
        _(
            "{name} {version} is already in the cache and intact ({path}): nothing added; "
            "remove that folder first to replace it",
            name=name,
            version=version,
            path=str(target),
        )
    )


def add(
    name: str,
    version: str,
    tree: Path,
    *,
    cache: Path | None = None,
    debian_packages: Iterable[str] = (),
) -> AddResult:
    """Check the prepared release `tree`, pack it and place it in the cache with its manifest.
    A copy already cached and intact is refused (BadInput); a damaged one is replaced."""
    kind = artifacts.PREPARED.get(name)
    if kind is None:
        if name in artifacts.KINDS:
            raise BadInput(
                _(
                    "{name} archives are downloaded and verified: "
                    "`chaton artifacts fetch {name} VERSION`",
                    name=name,
                )
            )
        artifacts.artifact_kind(name)  # says which are known
        raise AssertionError(name)  # pragma: no cover - artifact_kind raised
    artifacts.check_version(kind, version)
    packages = sorted(set(debian_packages))
    for package in packages:
        if not _DEBIAN_PACKAGE.match(package):
            raise BadInput(_("{package} is not a Debian package name", package=package))
    root = cache or artifacts.default_cache()
    target = artifacts.artifact_folder(root, name, version)
    if target.exists() and artifacts.check(name, version, root).ok:
        raise _already_cached(name, version, target)
    check_tree(tree, version)
    requires = tree_requires(tree)
    runtimes = tree_runtimes(tree, requires)

    archive_name = kind.archive_name(version)
    with artifacts.work_folder(root, target, ".add-") as work:
        ready = work / version
        ready.mkdir()
        archive = ready / archive_name
        write_archive(tree, archive)
        manifest = artifacts.archive_manifest(
            archive,
            name,
            version,
            source=str(tree.resolve()),
            prepared_at=artifacts.utc_now(),
            requires=requires,
            runtimes=runtimes,
            debian_packages=packages,
        )
        replaced = artifacts.place_release(ready, manifest, target, work)
    if replaced is None:  # another run placed an intact copy meanwhile: it is kept
        raise _already_cached(name, version, target)
    return AddResult(manifest, target / archive_name, replaced)
