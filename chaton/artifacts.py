"""The control node's cache of upstream release archives, each verified once before use.

Servers never download from upstream: `fetch` downloads a release archive, its checksum file and
its detached OpenPGP signature from the upstream's release folder, checks the checksum, then the
signature with `gpgv` against the project's copy of the upstream's signing key
(`chaton/artifact_keys/`) and that the key that made it is the pinned one; only then is the archive
placed in the cache, with a manifest:

    <cache>/<name>/<version>/<archive file>
    <cache>/<name>/<version>/artifact.json   name, version, file, size, sha512, sha256,
                                             signer_fingerprint, source, fetched_at (UTC)

Downloads go to a hidden temporary folder inside the cache (same file system); the verified
archive and its manifest are moved into place by one rename of their folder, so the cache never
holds a partial archive or a half-written folder. The roles copy from the cache.

Each kind of artifact is a row of `KINDS`: its file names, the checksum its upstream publishes,
its signing key and the key's pinned fingerprint. Nextcloud is the only one today (an upstream
that signs its checksum list rather than the archive, or publishes no checksum file, will need a
column saying so).

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
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chaton import __version__
from chaton import files as atomic
from chaton.errors import BadInput, ChatonError
from chaton.i18n import _
from chaton.paths import PROJECT_ROOT

CACHE_ENV = "CHATON_ARTIFACTS_DIR"
DEFAULT_CACHE = PROJECT_ROOT / ".cache" / "artifacts"
KEYS_DIR = Path(__file__).resolve().parent / "artifact_keys"
MANIFEST = "artifact.json"
DEFAULT_TIMEOUT = 30.0  # seconds without an answer (connect, or between two reads)
_SMALL_FILE_LIMIT = 64 * 1024  # checksum and signature files
_CHUNK = 1024 * 1024
_GPG_TIMEOUT = 600
_STATUS = "[GNUPG:] "
_USER_AGENT = f"chaton-toolkit/{__version__}"
# Status keywords of gpgv that refuse a signature, whatever else it says.
_REFUSING = ("BADSIG", "ERRSIG", "NO_PUBKEY", "EXPSIG", "EXPKEYSIG", "REVKEYSIG", "NODATA")

# (url, bytes so far, total bytes or None): called with 0 when a download starts.
Progress = Callable[[str, int, int | None], None]


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


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

    def archive_name(self, version: str) -> str:
        return self.archive.format(version=version)


@dataclass(frozen=True)
class PreparedKind:
    """One kind of artifact prepared on the control node side (not downloaded as is): its
    archive's name and its versions."""

    name: str
    archive: str  # the archive's file name, with {version}
    version_example: str
    version_pattern: str

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
    ),
}


PREPARED: dict[str, PreparedKind] = {
    "mastodon": PreparedKind(
        name="mastodon",
        archive="mastodon-{version}.tar.gz",
        version_example="4.3.1",
        version_pattern=r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}",
    ),
}


class Manifest(BaseModel):
    """What `artifact.json` records of a verified archive: a fetched one names the key that
    signed it and when it was fetched; a prepared one what it needs, what it bundles and when it
    was added. The test suite's test releases say so (`test_release`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,30}$")
    version: str = Field(pattern=r"^[0-9]+(\.[0-9]+)*$")
    file: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
    size: int = Field(ge=0)
    sha512: str = Field(pattern=r"^[0-9a-f]{128}$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    signer_fingerprint: str | None = Field(default=None, pattern=r"^[0-9A-F]{40}$")
    source: str
    fetched_at: str | None = None
    prepared_at: str | None = None
    requires: dict[str, str] | None = None
    runtimes: dict[str, str] | None = None
    debian_packages: list[str] | None = None
    test_release: bool | None = None
    product_name: str | None = None

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


def normalize_fingerprint(value: str) -> str:
    fingerprint = value.replace(" ", "").upper()
    if not re.fullmatch(r"[0-9A-F]{40}", fingerprint):
        raise BadInput(_("{value} is not an OpenPGP fingerprint (40 hex digits)", value=value))
    return fingerprint


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


# --- OpenPGP ---------------------------------------------------------------------------------


def _run(command: list[str], package: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=_GPG_TIMEOUT
        )
    except FileNotFoundError:
        raise ChatonError(
            _(
                "{program} is not installed (Debian package {package})",
                program=command[0],
                package=package,
            )
        ) from None
    except subprocess.TimeoutExpired:
        raise ChatonError(
            _(
                "{program} did not finish within {seconds} s",
                program=command[0],
                seconds=_GPG_TIMEOUT,
            )
        ) from None


def _gpg(home: str, *args: str) -> subprocess.CompletedProcess[str]:
    """gpg in a throw-away home folder: it reads only the files it is given, starts no agent."""
    return _run(["gpg", "--homedir", home, "--batch", "--no-autostart", *args], "gpg")


def key_fingerprints(key_file: Path) -> list[str]:
    """The primary key fingerprints a key file holds (armored or binary)."""
    with tempfile.TemporaryDirectory(prefix="chaton-gpg-") as home:
        result = _gpg(home, "--with-colons", "--show-keys", str(key_file))
    found: list[str] = []
    primary = False
    for line in result.stdout.splitlines():
        fields = line.split(":")
        if fields[0] in ("pub", "sub"):
            primary = fields[0] == "pub"
        elif fields[0] == "fpr" and primary and len(fields) > 9:
            found.append(fields[9].upper())
            primary = False
    if result.returncode != 0 or not found:
        raise BadInput(_("{path} holds no OpenPGP public key", path=str(key_file)))
    return found


def _status(output: str) -> list[tuple[str, list[str]]]:
    lines = []
    for line in output.splitlines():
        words = line[len(_STATUS) :].split() if line.startswith(_STATUS) else []
        if words:
            lines.append((words[0], words[1:]))
    return lines


def _refusal(status: list[tuple[str, list[str]]], detail: str) -> str:
    keywords = {keyword: args for keyword, args in status}
    if "BADSIG" in keywords:
        return _("bad signature: the archive or its signature was altered")
    if "NO_PUBKEY" in keywords or "ERRSIG" in keywords:
        key = (keywords.get("NO_PUBKEY") or keywords.get("ERRSIG") or ["?"])[0]
        return _("made by the key {key}, which is not in the key file", key=key)
    if "EXPKEYSIG" in keywords:
        return _("made by an expired key")
    if "REVKEYSIG" in keywords:
        return _("made by a revoked key")
    if "EXPSIG" in keywords:
        return _("the signature has expired")
    if "NODATA" in keywords:
        return _("no signature in the file")
    return detail or _("gpgv found no valid signature")


def verify_signature(archive: Path, signature: Path, key_file: Path, fingerprint: str) -> str:
    """Check the detached `signature` of `archive` with gpgv against `key_file` only, and that
    the primary key that made it has `fingerprint`; return that fingerprint or raise."""
    with tempfile.TemporaryDirectory(prefix="chaton-gpg-") as home:
        keyring = Path(home) / "keyring.gpg"  # gpgv reads binary keyrings only
        if _gpg(home, "--dearmor", "--output", str(keyring), str(key_file)).returncode != 0:
            raise BadInput(_("{path} holds no OpenPGP public key", path=str(key_file)))
        command = ["gpgv", "--homedir", home, "--status-fd", "1", "--keyring", str(keyring)]
        result = _run([*command, str(signature), str(archive)], "gpgv")
    status = _status(result.stdout)
    signers = [
        (args[9] if len(args) >= 10 else args[0]).upper()
        for keyword, args in status
        if keyword == "VALIDSIG" and args
    ]
    refused = any(keyword in _REFUSING for keyword, _args in status)
    if result.returncode != 0 or refused or not signers:
        detail = result.stderr.strip().splitlines()[-1:] or [""]
        raise ChatonError(
            _(
                "{file}: the signature does not verify: {reason}",
                file=archive.name,
                reason=_refusal(status, detail[0]),
            )
        )
    wrong = sorted({signer for signer in signers if signer != fingerprint})
    if wrong:
        raise ChatonError(
            _(
                "{file}: signed by the key {found}, not by the pinned key {fingerprint}: refused",
                file=archive.name,
                found=", ".join(wrong),
                fingerprint=fingerprint,
            )
        )
    return fingerprint


# --- downloads -------------------------------------------------------------------------------


def _content_length(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.isdigit() else None


def download(
    url: str,
    target: Path,
    *,
    limit: int,
    timeout: float,
    digests: Iterable[_Digest] = (),
    progress: Progress | None = None,
) -> int:
    """Stream `url` into `target` (flushed to disk), feeding `digests`; return its size."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise BadInput(_("{url} is not an http:// or https:// folder address", url=url))
    # http(s) only (just checked): no file:// or custom scheme reaches urlopen.
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})  # noqa: S310
    too_large = _("{url}: larger than {limit} bytes: refused", url=url, limit=limit)
    digests = list(digests)
    try:
        with (
            urllib.request.urlopen(request, timeout=timeout) as response,  # noqa: S310
            target.open("wb") as stream,
        ):
            total = _content_length(response)
            if total is not None and total > limit:
                raise ChatonError(too_large)
            done = 0
            if progress:
                progress(url, 0, total)
            while chunk := response.read(_CHUNK):
                done += len(chunk)
                if done > limit:
                    raise ChatonError(too_large)
                stream.write(chunk)
                for digest in digests:
                    digest.update(chunk)
                if progress:
                    progress(url, done, total)
            if total is not None and done != total:
                raise ChatonError(
                    _(
                        "{url}: the download broke off after {done} of {total} bytes",
                        url=url,
                        done=done,
                        total=total,
                    )
                )
            stream.flush()
            os.fsync(stream.fileno())
    except urllib.error.HTTPError as error:
        raise ChatonError(
            _(
                "{url}: the server answered HTTP {status} {reason}",
                url=url,
                status=error.code,
                reason=error.reason,
            )
        ) from None
    except TimeoutError:
        raise ChatonError(_timed_out(url, timeout)) from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise ChatonError(_timed_out(url, timeout)) from None
        raise ChatonError(
            _("{url}: cannot download: {reason}", url=url, reason=error.reason)
        ) from None
    except (OSError, http.client.HTTPException) as error:
        raise ChatonError(_("{url}: cannot download: {reason}", url=url, reason=error)) from None
    return done


def digest_label(algorithm: str) -> str:
    """How a hashlib name is written for people: sha512 -> SHA-512."""
    return {"sha256": "SHA-256", "sha512": "SHA-512"}.get(algorithm, algorithm.upper())


def _timed_out(url: str, timeout: float) -> str:
    return _("{url}: no answer within {seconds} s (timeout)", url=url, seconds=f"{timeout:g}")


def expected_digest(text: str, file_name: str, algorithm: str) -> str:
    """The hex digest the checksum file gives for `file_name` (lines "<hex>  <name>")."""
    length = hashlib.new(algorithm).digest_size * 2
    for line in text.splitlines():
        parts = line.split()
        if (
            len(parts) == 2
            and parts[1].lstrip("*") == file_name
            and re.fullmatch(rf"[0-9a-fA-F]{{{length}}}", parts[0])
        ):
            return parts[0].lower()
    raise ChatonError(
        _(
            "the checksum file gives no {algorithm} digest for {file}",
            algorithm=digest_label(algorithm),
            file=file_name,
        )
    )


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
    expected = (name, version, kind.archive_name(version))
    if (manifest.name, manifest.version, manifest.file) != expected:
        problem = _(
            "its manifest describes {file} ({name} {version}), not this folder's artifact",
            file=manifest.file,
            name=manifest.name,
            version=manifest.version,
        )
        return CheckResult(name, version, folder, (problem,), manifest)
    if isinstance(kind, ArtifactKind) and manifest.signer_fingerprint is None:
        problem = _("its manifest names no signing key: it was not fetched and verified")
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


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in version.split("."))


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
) -> FetchResult:
    """Download, verify and cache one release archive; nothing is downloaded when the cache holds
    it intact. `key_file` and `fingerprint` replace the project's key and its pinned fingerprint
    (for tests). On any failure the cache is left as it was."""
    kind = fetched_kind(name)
    check_version(kind, version)
    base = check_base_url(base_url or kind.base_url)
    pinned = normalize_fingerprint(fingerprint or kind.fingerprint)
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
        )
        text = json.dumps(manifest.dump(), indent=2, sort_keys=True) + "\n"
        atomic.write(ready / MANIFEST, text.encode("utf-8"))
        archive.chmod(0o644)
        ready.chmod(0o755)
        replaced = place(ready, target, work)
    if replaced is None:  # another fetch placed an intact copy meanwhile: it is kept
        return FetchResult(read_manifest(target), target / archive_name, downloaded=True)
    return FetchResult(manifest, target / archive_name, downloaded=True, replaced=replaced)


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
