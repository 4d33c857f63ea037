"""The control node's cache of upstream release archives, each verified once before use.

Servers never download from upstream: `fetch` downloads a release archive, its checksum file and
its detached OpenPGP signature from the upstream's release folder, checks the checksum, then the
signature with `gpgv` against the project's copy of the upstream's signing key
(`chaton/artifact_keys/`) and that the key that made it is the pinned one; only then is the archive
placed in the cache, with a manifest:

    <cache>/<name>/<version>/<archive file>
    <cache>/<name>/<version>/artifact.json   name, version, file, size, sha512, sha256,
                                             signer_fingerprint, source, fetched_at (UTC)…

Downloads go to a hidden temporary folder inside the cache (same file system); the verified
archive and its manifest are moved into place by one rename of their folder, so the cache never
holds a partial archive or a half-written folder. The roles copy from the cache. The downloads
themselves (limits, digests, the checksum file) are `chaton.downloads`, the signature check
`chaton.openpgp`, the archives and release trees (read, extract, copy, pack) `chaton.releasetrees`.

Each kind of artifact is a row of `KINDS`: its file names, the checksum its upstream publishes,
its signing key and the key's pinned fingerprint. Nextcloud is the only one today (an upstream
that signs its checksum list rather than the archive, or publishes no checksum file, will need a
column saying so).

A Nextcloud release also carries its own code signing (`chaton.codesigning`: every file's
SHA-512, signed by a certificate of the Nextcloud Root Authority, pinned by its fingerprint in
the row's `code_signing_root`). `fetch` unpacks the archive it verified and checks its tree too,
keeping the archive as it is. That check alone is enough to trust a *copy* of a release, wherever
it comes from: `add_release` (`chaton artifacts add nextcloud VERSION SOURCE`) takes the tree of
that version from a folder or an archive, extracts or copies it into a work folder of the cache,
checks it, packs it as `nextcloud-<version>.tar.zst` without the files no signature covers, and
places it the same way. Its manifest has `added_at`, `source` and `source_tree` instead of a
signer and `fetched_at`. Both record what the check found (`code_signing`: the scopes, the files
verified, the signed files absent, the unsigned ones left out).

A Mastodon release is not downloaded as is: a *prepared* release (its source at a tag, its gems
vendored, its assets compiled, and the Ruby and Node.js it needs beyond Debian's in runtime/bin/)
is made where upstream is reachable, then added to the cache from its folder (`chaton.prepared`,
`chaton artifacts add`): a row of `PREPARED`. Its manifest also says which runtimes it needs
(`requires`), which it bundles (`runtimes`) and the Debian packages it links to
(`debian_packages`), and has `prepared_at` instead of a signer and `fetched_at`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chaton import codesigning, releasetrees
from chaton import files as atomic
from chaton.downloads import DEFAULT_TIMEOUT, Progress, digest_label, download, expected_digest
from chaton.errors import BadInput, ChatonError
from chaton.i18n import _
from chaton.openpgp import key_fingerprints, normalize_fingerprint, verify_signature
from chaton.paths import PROJECT_ROOT

CACHE_ENV = "CHATON_ARTIFACTS_DIR"
DEFAULT_CACHE = PROJECT_ROOT / ".cache" / "artifacts"
KEYS_DIR = Path(__file__).resolve().parent / "artifact_keys"
MANIFEST = "artifact.json"
_SMALL_FILE_LIMIT = 64 * 1024  # checksum and signature files
_CHUNK = 1024 * 1024

# Called with what a long step (unpacking, verifying, packing) is about to do.
Step = Callable[[str], None]


@dataclass(frozen=True)
class ArtifactKind:
    """One kind of upstream artifact: where its releases are, how they are named and checked."""

    name: str
    base_url: str  # the upstream's release folder (ends with /)
    archive: str  # the archive's file name, with {version}
    checksum: str  # hashlib name of the digest in the checksum file
    checksum_file: str  # with {archive}: lines "<hex>  <file name>"
    signature_file: str  # with {archive}: a detached OpenPGP signature of the archive
    key_file: str  # the upstream's public key, in KEYS_DIR
    key_source: str  # where the key file comes from
    key_owner: str
    fingerprint: str  # primary key fingerprint that must have made the signature
    version_example: str  # shown when a version is refused
    version_pattern: str = r"[0-9]{1,4}(\.[0-9]{1,4}){1,3}"  # ASCII digits and dots
    max_size: int = 2 * 1024**3
    product: str = ""  # the product's name, for people
    # A release that carries its own code signing (Nextcloud's): the SHA-256 fingerprint of the
    # root its certificates chain to. A release tree can then be added from a copy (`add`).
    code_signing_root: str | None = None
    added_archive: str | None = None  # the archive `add` packs, with {version}

    def archive_name(self, version: str) -> str:
        return self.archive.format(version=version)

    def added_archive_name(self, version: str) -> str | None:
        return self.added_archive.format(version=version) if self.added_archive else None


@dataclass(frozen=True)
class PreparedKind:
    """One kind of artifact prepared on the control node side (not downloaded as is): its
    archive's name and its versions."""

    name: str
    archive: str  # the archive's file name, with {version}
    version_example: str
    version_pattern: str
    product: str = ""  # the product's name, for people

    def archive_name(self, version: str) -> str:
        return self.archive.format(version=version)


KINDS: dict[str, ArtifactKind] = {
    "nextcloud": ArtifactKind(
        name="nextcloud",
        base_url="https://download.nextcloud.com/server/releases/",
        archive="nextcloud-{version}.tar.bz2",
        checksum="sha512",
        checksum_file="{archive}.sha512",
        signature_file="{archive}.asc",
        key_file="nextcloud.asc",
        key_source="https://nextcloud.com/nextcloud.asc",
        key_owner="Nextcloud Security <security@nextcloud.com>",
        fingerprint="28806A878AE423A28372792ED75899B9A724937A",
        version_example="30.0.4",
        product="Nextcloud",
        code_signing_root=codesigning.ROOT_FINGERPRINT,
        added_archive="nextcloud-{version}.tar.zst",
    ),
}


PREPARED: dict[str, PreparedKind] = {
    "mastodon": PreparedKind(
        name="mastodon",
        archive="mastodon-{version}.tar.gz",
        version_example="4.3.1",
        version_pattern=r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}",
        product="Mastodon",
    ),
}
# The runtimes a prepared release may need and bundle, as they are named in messages.
RUNTIME_NAMES = {"ruby": "Ruby", "node": "Node.js"}


class CodeSigning(BaseModel):
    """What the check of a release's own code signing found (Nextcloud's: `chaton.codesigning`),
    when it was fetched or added."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root_fingerprint: str = Field(pattern=r"^[0-9A-F]{2}(:[0-9A-F]{2}){31}$")
    scopes: int = Field(ge=1)  # signatures checked: core and each app
    files: int = Field(ge=0)  # signed files present with the digest their signature lists
    absent: list[str]  # signed files the release lacks, sorted
    left_out: list[str]  # files no signature covers, not packed (empty for a fetched archive)
    verified_at: str


class Manifest(BaseModel):
    """What `artifact.json` records of a verified archive: a fetched one names the key that
    signed it and when it was fetched; a prepared one what it needs, what it bundles and when it
    was added (`prepared_at`); a release tree added from a copy (`added_at`) where it comes
    from. A release with code signing of its own (Nextcloud) records what its check found
    (`code_signing`). The test suite's test releases say so (`test_release`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}$")
    version: str = Field(pattern=r"^[0-9]+(\.[0-9]+)*$")
    file: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
    size: int = Field(ge=0)
    sha512: str = Field(pattern=r"^[0-9a-f]{128}$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    signer_fingerprint: str | None = Field(default=None, pattern=r"^[0-9A-F]{40}$")
    source: str
    source_tree: str | None = None  # an added release: its tree's folder in `source`
    fetched_at: str | None = None
    prepared_at: str | None = None
    added_at: str | None = None
    requires: dict[str, str] | None = None
    runtimes: dict[str, str] | None = None
    debian_packages: list[str] | None = None
    test_release: bool | None = None
    product_name: str | None = None
    code_signing: CodeSigning | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> Manifest:
        stamps = [s for s in (self.fetched_at, self.prepared_at, self.added_at) if s is not None]
        if len(stamps) > 1:
            raise ValueError("fetched_at, prepared_at and added_at exclude each other")
        return self

    def dump(self) -> dict[str, object]:
        """The manifest as artifact.json holds it (the fields it has)."""
        return self.model_dump(exclude_none=True)


@dataclass(frozen=True)
class FetchResult:
    manifest: Manifest
    path: Path  # the archive in the cache
    downloaded: bool  # False: the cache already held it, intact
    replaced: tuple[str, ...] = ()  # what was wrong with a cached copy this fetch replaced


@dataclass(frozen=True)
class AddedRelease:
    manifest: Manifest
    path: Path  # the archive in the cache
    added: bool  # False: the cache already held it, intact
    replaced: tuple[str, ...] = ()  # what was wrong with a cached copy it replaced


@dataclass(frozen=True)
class CheckResult:
    name: str
    version: str
    folder: Path
    problems: tuple[str, ...]
    manifest: Manifest | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Entry:
    """One folder of the cache, as its manifest describes it (not re-hashed: see `check`)."""

    name: str
    version: str
    folder: Path
    manifest: Manifest | None
    problem: str | None


# --- inputs ---------------------------------------------------------------------------------


def default_cache() -> Path:
    """$CHATON_ARTIFACTS_DIR, else `.cache/artifacts` at the project's root (git-ignored)."""
    value = os.environ.get(CACHE_ENV, "")
    return Path(value) if value else DEFAULT_CACHE


def artifact_kind(name: str) -> ArtifactKind | PreparedKind:
    kind = KINDS.get(name) or PREPARED.get(name)
    if kind is None:
        raise BadInput(
            _(
                "unknown artifact {name} (known: {known})",
                name=name,
                known=", ".join(sorted({*KINDS, *PREPARED})),
            )
        )
    return kind


def fetched_kind(name: str) -> ArtifactKind:
    """The kind `fetch` downloads; BadInput for a prepared one, saying how it gets in."""
    prepared = PREPARED.get(name)
    if prepared is not None:
        raise BadInput(
            _(
                "{name} releases are prepared (source at its tag, gems vendored, assets "
                "compiled, runtimes in runtime/bin/), not downloaded as they are: add one with "
                "`chaton artifacts add {name} VERSION FOLDER`",
                name=name,
            )
        )
    if name not in KINDS:
        artifact_kind(name)  # unknown: raises, saying which are known
    return KINDS[name]


def check_version(kind: ArtifactKind | PreparedKind, version: str) -> str:
    """`version` when it is a version number of `kind` (ASCII digits and dots), else BadInput."""
    if not re.fullmatch(kind.version_pattern, version):
        raise BadInput(
            _(
                "{version} is not a valid {name} version: digits separated by dots, like {example}",
                version=version,
                name=kind.name,
                example=kind.version_example,
            )
        )
    return version


def check_base_url(url: str) -> str:
    """The release folder's address, ending with /; BadInput unless http(s)://host/…"""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise BadInput(_("{url} is not an http:// or https:// folder address", url=url))
    return url if url.endswith("/") else url + "/"


def key_path(kind: ArtifactKind, key_file: Path | None) -> Path:
    """The key file to check signatures with; BadInput saying how to get it when missing."""
    if key_file is not None:
        if not key_file.is_file():
            raise BadInput(_("{path}: no such key file", path=str(key_file)))
        return key_file
    path = KEYS_DIR / kind.key_file
    if not path.is_file():
        raise BadInput(
            _(
                "{path} is missing: {name} archives are checked against the signing key of "
                "{owner}. Download it from {source}, check that `gpg --show-keys` on the file "
                "shows the fingerprint {fingerprint}, save it as {path} and commit it.",
                path=str(path),
                name=kind.name,
                owner=kind.key_owner,
                source=kind.key_source,
                fingerprint=kind.fingerprint,
            )
        )
    return path


# --- the cache ---------------------------------------------------------------------------------


def artifact_folder(cache: Path, name: str, version: str) -> Path:
    return cache / name / version


def file_digests(path: Path) -> tuple[int, str, str]:
    """(size, sha512, sha256) of a file."""
    sha512, sha256 = hashlib.sha512(), hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            sha512.update(chunk)
            sha256.update(chunk)
    return size, sha512.hexdigest(), sha256.hexdigest()


def read_manifest(folder: Path) -> Manifest:
    """The manifest of a cache folder; ChatonError saying why it cannot be read."""
    path = folder / MANIFEST
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise ChatonError(_("{path} is missing", path=str(path))) from None
    except (OSError, ValidationError) as error:
        reason = (
            "; ".join(f"{'.'.join(map(str, e['loc'])) or '-'}: {e['msg']}" for e in error.errors())
            if isinstance(error, ValidationError)
            else str(error)
        )
        raise ChatonError(
            _("{path} cannot be read: {reason}", path=str(path), reason=reason)
        ) from None


def check(name: str, version: str, cache: Path | None = None) -> CheckResult:
    """Re-verify a cached artifact against its manifest: size, SHA-512 and SHA-256."""
    kind = artifact_kind(name)
    check_version(kind, version)
    folder = artifact_folder(cache or default_cache(), name, version)
    if not folder.is_dir():
        problem = (
            _(
                "not in the cache {path}: run `chaton artifacts fetch {name} {version}`",
                path=str(folder),
                name=name,
                version=version,
            )
            if isinstance(kind, ArtifactKind) and kind.added_archive is None
            else _(
                "not in the cache {path}: run `chaton artifacts fetch {name} {version}`, or "
                "`chaton artifacts add {name} {version} SOURCE` for a copy of the release",
                path=str(folder),
                name=name,
                version=version,
            )
            if isinstance(kind, ArtifactKind)
            else _(
                "not in the cache {path}: add a prepared release with "
                "`chaton artifacts add {name} {version} FOLDER`",
                path=str(folder),
                name=name,
                version=version,
            )
        )
        return CheckResult(name, version, folder, (problem,))
    try:
        manifest = read_manifest(folder)
    except ChatonError as error:
        return CheckResult(name, version, folder, (error.message,))
    # A release tree added from a copy is packed by `add`, under another name than upstream's.
    added = isinstance(kind, ArtifactKind) and manifest.added_at is not None
    archive_name: str | None = kind.archive_name(version)
    if isinstance(kind, ArtifactKind) and added:
        archive_name = kind.added_archive_name(version)
    if (manifest.name, manifest.version, manifest.file) != (name, version, archive_name):
        problem = _(
            "its manifest describes {file} ({name} {version}), not this folder's artifact",
            file=manifest.file,
            name=manifest.name,
            version=manifest.version,
        )
        return CheckResult(name, version, folder, (problem,), manifest)
    if isinstance(kind, ArtifactKind) and not added and manifest.signer_fingerprint is None:
        problem = _("its manifest names no signing key: it was not fetched and verified")
        return CheckResult(name, version, folder, (problem,), manifest)
    if isinstance(kind, ArtifactKind) and kind.code_signing_root and not manifest.code_signing:
        problem = _(
            "not verified by {product}'s code signing: fetch or add it again",
            product=kind.product,
        )
        return CheckResult(name, version, folder, (problem,), manifest)
    if isinstance(kind, PreparedKind) and not (
        manifest.requires and {"ruby", "node"} <= manifest.requires.keys()
    ):
        problem = _("its manifest does not say which Ruby and Node.js it needs (requires)")
        return CheckResult(name, version, folder, (problem,), manifest)
    archive = folder / manifest.file
    if not archive.is_file():
        problem = _("the archive {path} is missing", path=str(archive))
        return CheckResult(name, version, folder, (problem,), manifest)
    size, sha512, sha256 = file_digests(archive)
    problems = []
    if size != manifest.size:
        problems.append(
            _(
                "the archive is {actual} bytes, the manifest says {expected}",
                actual=size,
                expected=manifest.size,
            )
        )
    for label, actual, recorded in (
        ("SHA-512", sha512, manifest.sha512),
        ("SHA-256", sha256, manifest.sha256),
    ):
        if actual != recorded:
            problems.append(
                _(
                    "the archive's {digest} is {actual}, the manifest says {expected}",
                    digest=label,
                    actual=actual,
                    expected=recorded,
                )
            )
    return CheckResult(name, version, folder, tuple(problems), manifest)


# The cache's folders sort by version within an artifact: PEP 440's order (`packaging`) for every
# name it reads, which includes every version `check_version` lets in (digits and dots: 30.0.10
# after 30.0.9); then the folders it does not read ("notes", left there by hand), by name. Names
# that PEP 440 reads but `check_version` refuses keep its meaning ("30.0.4-rc1", a pre-release,
# comes before 30.0.4); the name settles ties ("30.0" and "30.0.0" are one version to PEP 440).
_NOT_A_VERSION = Version("0")


def _version_key(version: str) -> tuple[int, Version, str]:
    try:
        return (0, Version(version), version)
    except InvalidVersion:
        return (1, _NOT_A_VERSION, version)


def list_cache(cache: Path | None = None) -> list[Entry]:
    """Every artifact folder of the cache (hidden work folders aside), by name and version."""
    root = cache or default_cache()
    entries = []
    folders = sorted(
        (folder for folder in root.glob("*/*") if folder.is_dir()),
        key=lambda f: (f.parent.name, _version_key(f.name)),
    )
    for folder in folders:
        name, version = folder.parent.name, folder.name
        if name.startswith(".") or version.startswith("."):
            continue
        try:
            entries.append(Entry(name, version, folder, read_manifest(folder), None))
        except ChatonError as error:
            entries.append(Entry(name, version, folder, None, error.message))
    return entries


# --- fetch -------------------------------------------------------------------------------------


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def remove_if_empty(*folders: Path) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def fetch(
    name: str,
    version: str,
    *,
    cache: Path | None = None,
    base_url: str | None = None,
    key_file: Path | None = None,
    fingerprint: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
    root_fingerprint: str | None = None,
    step: Step | None = None,
) -> FetchResult:
    """Download, verify and cache one release archive; nothing is downloaded when the cache holds
    it intact. A release with code signing of its own (Nextcloud's) is unpacked after its
    signature is checked and its tree verified too (`chaton.codesigning`); the archive is kept as
    it is. `key_file` and `fingerprint` replace the project's key and its pinned fingerprint,
    `root_fingerprint` the code-signing root's (for tests). On any failure the cache is left as it
    was."""
    kind = fetched_kind(name)
    check_version(kind, version)
    base = check_base_url(base_url or kind.base_url)
    pinned = normalize_fingerprint(fingerprint or kind.fingerprint)
    signing_root = root_fingerprint or kind.code_signing_root
    if signing_root is not None:
        signing_root = codesigning.normalize_fingerprint(signing_root)
    root = cache or default_cache()
    target = artifact_folder(root, name, version)

    present = check(name, version, root)
    if present.ok and present.manifest is not None:
        return FetchResult(present.manifest, target / present.manifest.file, downloaded=False)

    keys = key_path(kind, key_file)
    held = key_fingerprints(keys)
    if pinned not in held:
        raise BadInput(
            _(
                "{path} does not hold the key {fingerprint} (it holds {found})",
                path=str(keys),
                fingerprint=pinned,
                found=", ".join(held),
            )
        )

    archive_name = kind.archive_name(version)
    urls = {
        "archive": base + archive_name,
        "checksum": base + kind.checksum_file.format(archive=archive_name),
        "signature": base + kind.signature_file.format(archive=archive_name),
    }
    with work_folder(root, target, ".fetch-") as work:
        ready = work / version
        ready.mkdir()
        archive = ready / archive_name
        # The small files first: a missing signature is found before a long download.
        download(urls["checksum"], work / "checksum", limit=_SMALL_FILE_LIMIT, timeout=timeout)
        download(urls["signature"], work / "signature", limit=_SMALL_FILE_LIMIT, timeout=timeout)
        sha512, sha256 = hashlib.sha512(), hashlib.sha256()
        upstream = hashlib.new(kind.checksum)
        size = download(
            urls["archive"],
            archive,
            limit=kind.max_size,
            timeout=timeout,
            digests=(sha512, sha256, upstream),
            progress=progress,
        )
        checksum_text = (work / "checksum").read_text(encoding="utf-8", errors="replace")
        expected = expected_digest(checksum_text, archive_name, kind.checksum)
        if upstream.hexdigest() != expected:
            raise ChatonError(
                _(
                    "{file}: checksum mismatch: its {algorithm} is {actual}, the checksum file "
                    "says {expected}: refused",
                    file=archive_name,
                    algorithm=digest_label(kind.checksum),
                    actual=upstream.hexdigest(),
                    expected=expected,
                )
            )
        signer = verify_signature(archive, work / "signature", keys, pinned)
        signing = None
        if signing_root is not None:
            try:
                report = releasetrees.unpacked_and_verified(
                    archive, version, work / "tree", signing_root, step
                )
            except BadInput as error:  # the archive is refused, as for a bad signature
                raise ChatonError(error.message) from None
            signing = code_signing_record(report, signing_root, left_out=())
        manifest = Manifest(
            name=name,
            version=version,
            file=archive_name,
            size=size,
            sha512=sha512.hexdigest(),
            sha256=sha256.hexdigest(),
            signer_fingerprint=signer,
            source=urls["archive"],
            fetched_at=utc_now(),
            product_name=kind.product or None,
            code_signing=signing,
        )
        replaced = place_release(ready, manifest, target, work)
    if replaced is None:  # another fetch placed an intact copy meanwhile: it is kept
        return FetchResult(read_manifest(target), target / archive_name, downloaded=True)
    return FetchResult(manifest, target / archive_name, downloaded=True, replaced=replaced)


def archive_manifest(archive: Path, name: str, version: str, **fields: Any) -> Manifest:
    """The manifest of an archive made in a work folder: its size and digests, and `fields`."""
    size, sha512, sha256 = file_digests(archive)
    return Manifest(
        name=name,
        version=version,
        file=archive.name,
        size=size,
        sha512=sha512,
        sha256=sha256,
        **fields,
    )


def place_release(
    ready: Path, manifest: Manifest, target: Path, work: Path
) -> tuple[str, ...] | None:
    """Write `manifest` beside its archive in the folder `ready`, then place it (`place`)."""
    text = json.dumps(manifest.dump(), indent=2, sort_keys=True) + "\n"
    atomic.write(ready / MANIFEST, text.encode("utf-8"))
    (ready / manifest.file).chmod(0o644)
    ready.chmod(0o755)
    return place(ready, target, work)


@contextlib.contextmanager
def work_folder(root: Path, target: Path, prefix: str) -> Iterator[Path]:
    """A hidden folder of the cache `root` to make `target` in (the same file system: one rename
    puts it in place), removed afterwards. On failure the folders made for `target` go too, and
    an OSError (a full disk, a permission) is said as such, not as a traceback."""
    root_existed = root.is_dir()
    kind_existed = target.parent.is_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    except OSError as error:
        raise ChatonError(
            _("cannot write to the cache {path}: {reason}", path=str(root), reason=error)
        ) from None
    try:
        yield work
    except BaseException as error:
        shutil.rmtree(work, ignore_errors=True)
        if not kind_existed:
            remove_if_empty(target.parent)
        if not root_existed:
            remove_if_empty(root)
        if isinstance(error, OSError):
            raise ChatonError(
                _("cannot write to the cache {path}: {reason}", path=str(root), reason=error)
            ) from error
        raise
    shutil.rmtree(work, ignore_errors=True)


def place(ready: Path, target: Path, work: Path) -> tuple[str, ...] | None:
    """Rename the verified folder `ready` to `target`. A copy already there that fails its check
    is moved aside into `work` first (and back if the rename fails); an intact one is kept and
    None returned. Return the problems of the copy replaced."""
    target.parent.mkdir(parents=True, exist_ok=True)
    replaced: tuple[str, ...] = ()
    aside = work / "replaced"
    if target.exists():
        present = check(target.parent.name, target.name, target.parent.parent)
        if present.ok:
            return None
        replaced = present.problems
        target.rename(aside)
    try:
        ready.rename(target)
    except OSError as error:
        if aside.exists():
            aside.rename(target)
        raise ChatonError(
            _("cannot write to the cache {path}: {reason}", path=str(target), reason=error)
        ) from None
    descriptor = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return replaced


# --- release trees: `add`, and the code signing of a fetched archive ---------------------------


def code_signing_record(
    report: codesigning.Report, root_fingerprint: str, left_out: Iterable[str]
) -> CodeSigning:
    """What the manifest records of a tree's code-signing check."""
    return CodeSigning(
        root_fingerprint=root_fingerprint,
        scopes=report.scopes,
        files=report.files,
        absent=list(report.absent),
        left_out=sorted(left_out),
        verified_at=utc_now(),
    )


def add_release(
    name: str,
    version: str,
    source: Path,
    *,
    cache: Path | None = None,
    root_fingerprint: str | None = None,
    step: Step | None = None,
) -> AddedRelease:
    """Put a copy of a release that carries its own code signing (Nextcloud's) in the cache: its
    tree of `version` is taken from `source` (the tree, a folder of trees, or a .tar.zst,
    .tar.bz2, .tar.gz, .tar.xz or .tar archive holding it), copied or extracted into a work folder
    of the cache, verified (`chaton.codesigning`), packed without the files no signature covers,
    and placed with its manifest by one rename. A copy already cached and intact is kept (nothing
    redone). `root_fingerprint` replaces the pinned code-signing root's (for tests). On any
    failure the cache is left as it was."""
    kind = fetched_kind(name)  # a prepared or unknown one: raises, saying how it gets in
    if kind.code_signing_root is None or kind.added_archive is None:
        raise BadInput(
            _(
                "{name} releases cannot be added from a copy: "
                "`chaton artifacts fetch {name} VERSION`",
                name=name,
            )
        )
    check_version(kind, version)
    signing_root = codesigning.normalize_fingerprint(root_fingerprint or kind.code_signing_root)
    root = cache or default_cache()
    target = artifact_folder(root, name, version)
    if not source.exists():
        raise BadInput(_("{path}: no such file or folder", path=str(source)))
    present = check(name, version, root)
    if present.ok and present.manifest is not None:
        return AddedRelease(present.manifest, target / present.manifest.file, added=False)

    archive_name = kind.added_archive_name(version) or ""
    with work_folder(root, target, ".add-") as work:
        tree, inside = releasetrees.release_tree(kind.product, source, version, work, step)
        label = str(source if inside == "." else source / inside)
        if step:
            step(_("verifying {product}'s code signing of {path}", product=kind.product,
                   path=label))  # fmt: skip
        report = codesigning.verify_tree(
            tree, version=version, root_fingerprint=signing_root, label=label
        )
        ready = work / version
        ready.mkdir()
        if step:
            step(_("packing {file}", file=archive_name))
        releasetrees.pack_tree(tree, ready / archive_name, kind.name, report.unsigned)
        shutil.rmtree(tree)
        manifest = archive_manifest(
            ready / archive_name,
            name,
            version,
            source=str(source.resolve()),
            source_tree=inside,
            added_at=utc_now(),
            product_name=kind.product,
            code_signing=code_signing_record(report, signing_root, report.unsigned),
        )
        replaced = place_release(ready, manifest, target, work)
    if replaced is None:  # another run placed an intact copy meanwhile: it is kept
        kept = read_manifest(target)
        return AddedRelease(kept, target / kept.file, added=False)
    return AddedRelease(manifest, target / archive_name, added=True, replaced=replaced)


# --- describing a cached release ---------------------------------------------------------------


def runtimes_text(values: dict[str, str] | None) -> str:
    """{"ruby": ">= 3.2.0", "node": ">= 20"} -> "Ruby >= 3.2.0, Node.js >= 20"."""
    rank = {name: index for index, name in enumerate(RUNTIME_NAMES)}
    items = sorted((values or {}).items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))
    return ", ".join(f"{RUNTIME_NAMES.get(k, k)} {v}" for k, v in items)


def product_name(manifest: Manifest) -> str:
    """The product a manifest describes, as people name it."""
    kind = KINDS.get(manifest.name) or PREPARED.get(manifest.name)
    return manifest.product_name or (kind.product if kind else "") or manifest.name


def absent_text(count: int) -> str:
    if count == 0:
        return _("no file absent")
    if count == 1:
        return _("1 file absent")
    return _("{count} files absent", count=count)


def origin(manifest: Manifest) -> str:
    """Where a cached archive comes from and what verified it (`chaton artifacts list`)."""
    if manifest.test_release:
        return _("a test release (test double)")
    signing = manifest.code_signing
    if signing is not None:
        verified = _(
            "verified by {product}'s code signing ({scopes} scopes), {absent}",
            product=product_name(manifest),
            scopes=signing.scopes,
            absent=absent_text(len(signing.absent)),
        )
        if manifest.signer_fingerprint:
            return _(
                "signed by {fingerprint}, {verified}",
                fingerprint=manifest.signer_fingerprint,
                verified=verified,
            )
        return _("added from {source}, {verified}", source=manifest.source, verified=verified)
    if manifest.signer_fingerprint:
        return _("signed by {fingerprint}", fingerprint=manifest.signer_fingerprint)
    return _(
        "prepared, needs {requires}, bundles {runtimes}",
        requires=runtimes_text(manifest.requires) or "?",
        runtimes=runtimes_text(manifest.runtimes) or _("no runtime"),
    )


def describe_release(manifest: Manifest) -> str:
    """A cached release in one line, for people: "Nextcloud 31.0.11, verified by Nextcloud's
    code signing, 28 files absent"; a test release says so."""
    product = product_name(manifest)
    if manifest.test_release:
        return _("{product} {version}, a test release (test double)", product=product,
                 version=manifest.version)  # fmt: skip
    if manifest.code_signing is not None:
        return _(
            "{product} {version}, verified by {product}'s code signing, {absent}",
            product=product,
            version=manifest.version,
            absent=absent_text(len(manifest.code_signing.absent)),
        )
    return f"{product} {manifest.version}, {origin(manifest)}"
