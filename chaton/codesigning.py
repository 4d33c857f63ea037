"""Nextcloud's own code signing, checked on a release tree (a folder) before it enters the cache.

A Nextcloud release carries its own proof of origin: `core/signature.json` and one
`apps/<app>/appinfo/signature.json` per shipped app, each a map of file paths to SHA-512 digests
signed by a certificate of Nextcloud's code-signing authority. `occ integrity:check-core` and
`integrity:check-app` check them on a running server; `verify_tree` makes the same check on a tree
on disk, so a copy of a release is trusted because its signatures and hashes check out, whoever
handed it over. Each rule, and the Nextcloud 31.0.11 file it follows (read there; none of its code
is copied):

- *Scopes* (`lib/private/IntegrityCheck/Checker.php`, `runInstanceVerification`,
  `verifyCoreSignature`, `verifyAppSignature`): core, signed by `core/signature.json`, and each
  app folder `apps/<id>/`, signed by its `appinfo/signature.json` with paths relative to the app
  folder. Checker checks every shipped app and any app that has a signature; here every folder of
  `apps/` must be listed as shipped in `core/shipped.json` (`shippedApps`) and have a signature:
  a release tree holds nothing else.
- *The certificate* (`Checker.php`, `verify`): it must be issued by a certificate of
  `resources/codesigning/root.crt`, and its CN must be `core` for core, the app's id or `core` for
  an app. Stricter than Checker, which trusts whatever that file holds: the root is pinned by the
  SHA-256 fingerprint of its DER certificate (`ROOT_FINGERPRINT`, the Nextcloud Root Authority),
  looked up in root.crt by that fingerprint; another certificate of root.crt is an intermediate
  authority only when the pinned root signed it and it is a CA (basicConstraints); the leaf must be
  signed by such an intermediate or by the root. Like Checker (phpseclib's `validateSignature`
  checks the issuer's signature only), validity dates are not checked: a release stays what
  Nextcloud signed after its certificate's end date (core's, in 30.0.1 and 31.0.11, runs from 2016
  to 2041). Nor is `resources/codesigning/root.crl` read (Checker does not read it either).
- *The signature* (`Checker.php`, `createSignatureData` and `verify`): RSA-PSS with SHA-1 as the
  message hash, MGF1 with SHA-512 and a salt length of 0 (phpseclib 2's settings), over PHP's
  `json_encode` of the hashes sorted by path (`ksort`): no spaces, `/` written `\\/`, non-ASCII
  written `\\uXXXX` (`signed_message`).
- *Which files a scope holds* (`Checker.php`, `getFolderIterator` and `generateHashes`;
  `lib/private/IntegrityCheck/Iterator/ExcludeFoldersByPathFilterIterator.php`;
  `lib/private/IntegrityCheck/Iterator/ExcludeFileByNameFilterIterator.php`): every file under the
  scope's folder, except its own signature.json (Checker leaves out `appinfo/signature.json` and
  `core/signature.json` relative to any scope; here only the scope's own: another is refused as
  added); core leaves out the top-level folders `data/`,
  `themes/`, `config/`, `apps/`, `assets/`, `lost+found/`, `updater/` and `_oc_upgrade/`; every
  scope leaves out the files named `.DS_Store`, `.directory`, `.rnd`, `.webapp`, `Thumbs.db`,
  `nextcloud-init-sync.lock` and `.webapp-nextcloud-X.Y.Z(-rN)`.
- *Digests* (`Checker.php`, `generateHashes`): the SHA-512 of each file, except the root
  `.htaccess`, hashed on its part before `#### DO NOT CHANGE ANYTHING ABOVE THIS LINE ####` when
  that line splits it in two. (`core/js/mimetypelist.js` is hashed as a server with custom MIME
  aliases would regenerate it; a release tree has none, so it is hashed as it is.)
- *The comparison* (`Checker.php`, `verify`): core's expected `updater/…` entries are ignored (the
  updater replaces itself); a listed file missing is *absent*, reported, not refused (the shared
  copies of 30.0.1 and 31.0.11 lack the files of 4 MiB or more); a file whose digest differs
  (*modified*) or that its scope's signature does not list (*added*) is refused.

Beyond Checker, on the tree as a whole: a file outside every scope (in `data/`, `assets/`,
directly in `apps/`…) is refused unless it is in `config/`, `themes/` or `updater/` (Nextcloud
signs none of those); a file Checker leaves out by its name is not refused either. Those files
are *unsigned*: reported, and never deployed. A link or a special file is refused (a release tree
holds none). The version is `$OC_VersionString` of `version.php`.

Reading and hashing the files is this module's only I/O (a few threads: hashlib releases the
interpreter's lock); a tree of 26,000 files is verified in a few seconds.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from chaton.errors import BadInput
from chaton.i18n import _

# The Nextcloud Root Authority: SHA-256 of its DER certificate.
ROOT_FINGERPRINT = (
    "FB:41:87:11:E0:CD:2C:AE:9B:E3:32:CD:61:A1:53:82:"
    "14:F5:54:48:B4:01:70:31:3F:1C:08:B0:92:FF:CB:FD"
)
CORE = "core"
CORE_SIGNATURE = "core/signature.json"
APP_SIGNATURE = "appinfo/signature.json"
ROOT_CERTIFICATES = "resources/codesigning/root.crt"
SHIPPED = "core/shipped.json"
VERSION_FILE = "version.php"
# Top-level folders outside core's scope (apps/ is checked app by app).
CORE_LEFT_OUT = (
    "data",
    "themes",
    "config",
    "apps",
    "assets",
    "lost+found",
    "updater",
    "_oc_upgrade",
)
# Top-level folders Nextcloud signs nothing in: what they hold is reported, not refused.
UNSIGNED_AREAS = ("config", "themes", "updater")
IGNORED_NAMES = frozenset(
    {".DS_Store", ".directory", ".rnd", ".webapp", "Thumbs.db", "nextcloud-init-sync.lock"}
)
IGNORED_NAME_PATTERN = re.compile(r"\.webapp-nextcloud-([0-9]+\.){2}[0-9]+(-r[0-9]+)?")
HTACCESS_MARKER = b"#### DO NOT CHANGE ANYTHING ABOVE THIS LINE ####"
VERSION_PATTERN = re.compile(r"[0-9]{1,4}(\.[0-9]{1,4}){1,3}")
_VERSION_LINE = re.compile(r"^\s*\$OC_VersionString\s*=\s*'([^']*)'\s*;", re.MULTILINE)
_SHA512_HEX = re.compile(r"[0-9a-f]{128}")
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=0)
_HASHING_THREADS = min(4, os.cpu_count() or 1)
_BATCH = 256  # files per hashing task
_SHOWN = 10  # problems spelled out in a refusal; the others are counted


class CodeSigningError(BadInput):
    """A tree Nextcloud's code signing refuses: the message names each file or scope and why."""

    def __init__(self, tree: str, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        shown = list(self.problems[:_SHOWN])
        if len(self.problems) > _SHOWN:
            shown.append(_("and {count} more", count=len(self.problems) - _SHOWN))
        super().__init__(
            _(
                "{path}: refused by Nextcloud's code signing: {problems}",
                path=tree,
                problems="; ".join(shown),
            )
        )


@dataclass(frozen=True)
class Scope:
    """Core, or one app: the folder its signature covers."""

    name: str  # "core" or the app's id
    folder: str  # its folder in the tree, ending with "/" ("" for core)

    @property
    def is_core(self) -> bool:
        return self.folder == ""

    @property
    def signature(self) -> str:
        """Its signature.json, relative to the tree."""
        return CORE_SIGNATURE if self.is_core else self.folder + APP_SIGNATURE


@dataclass(frozen=True)
class Signature:
    """One signature.json, read."""

    scope: Scope
    hashes: dict[str, str]  # path relative to the scope's folder -> SHA-512 hex
    signature: bytes
    certificate: x509.Certificate


@dataclass(frozen=True)
class Report:
    """What the check of a tree found (it passed)."""

    tree: Path
    version: str
    scopes: int
    files: int  # signed files present with the digest their signature lists
    absent: tuple[str, ...]  # signed files missing from the tree (paths in the tree), sorted
    unsigned: tuple[str, ...]  # files outside every signature (config/, themes/, updater/…)


# --- pure rules -----------------------------------------------------------------------------


def normalize_fingerprint(value: str) -> str:
    """A SHA-256 fingerprint as colon hex ("FB:41:…"), from any case, with or without colons."""
    digits = value.replace(":", "").replace(" ", "").upper()
    if not re.fullmatch(r"[0-9A-F]{64}", digits):
        raise BadInput(_("{value} is not a SHA-256 fingerprint (64 hex digits)", value=value))
    return ":".join(digits[i : i + 2] for i in range(0, 64, 2))


def fingerprint(certificate: x509.Certificate) -> str:
    """The SHA-256 fingerprint of a certificate's DER encoding, colon hex."""
    return normalize_fingerprint(certificate.fingerprint(hashes.SHA256()).hex())


def version_from_php(text: str) -> str | None:
    """The `$OC_VersionString` a version.php sets, when it is a version number."""
    found = _VERSION_LINE.search(text)
    if found and VERSION_PATTERN.fullmatch(found.group(1)):
        return found.group(1)
    return None


def signed_message(hashes_: Mapping[str, str]) -> bytes:
    """What a signature signs: PHP's json_encode of the hashes sorted by key (ksort)."""
    if not hashes_:
        return b"[]"  # json_encode of an empty PHP array
    text = json.dumps(dict(sorted(hashes_.items())), separators=(",", ":"), ensure_ascii=True)
    return text.replace("/", "\\/").encode("ascii")


def is_ignored_name(name: str) -> bool:
    """A file name every scope leaves out (ExcludeFileByNameFilterIterator)."""
    return name in IGNORED_NAMES or IGNORED_NAME_PATTERN.fullmatch(name) is not None


def scope_of(relative: str) -> Scope | None:
    """The scope a file of the tree (path relative to it, with /) belongs to by where it is;
    None outside every scope."""
    parts = relative.split("/")
    if parts[0] == "apps":
        return Scope(parts[1], f"apps/{parts[1]}/") if len(parts) > 2 else None
    if len(parts) > 1 and parts[0] in CORE_LEFT_OUT:
        return None
    return Scope(CORE, "")


def is_unsigned(relative: str) -> bool:
    """A file Nextcloud signs in no scope and does not mind either: in config/, themes/ or
    updater/, or named as the name filter leaves out."""
    parts = relative.split("/")
    return (len(parts) > 1 and parts[0] in UNSIGNED_AREAS) or is_ignored_name(parts[-1])


def common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return ", ".join(str(name.value) for name in names) or "?"


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_authority(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def authorities(
    certificates: Iterable[x509.Certificate], pinned: str, where: str
) -> list[x509.Certificate]:
    """The pinned root, found among `certificates` by its fingerprint, then the intermediate
    authorities it signed; BadInput when the root is not there."""
    found = list(certificates)
    roots = [c for c in found if fingerprint(c) == pinned]
    if not roots:
        raise BadInput(
            _(
                "{path} holds no certificate with the pinned fingerprint {fingerprint} (the "
                "Nextcloud Root Authority); it holds {found}",
                path=where,
                fingerprint=pinned,
                found=", ".join(f"CN={common_name(c)} {fingerprint(c)}" for c in found)
                or _("none"),
            )
        )
    root = roots[0]
    return [root] + [c for c in found if c != root and _is_authority(c) and _issued_by(c, root)]


def signature_problems(signature: Signature, trusted: list[x509.Certificate]) -> list[str]:
    """Why a signature.json is not to be trusted (its chain, its CN, its signature): none
    when it is."""
    where = signature.scope.signature
    certificate = signature.certificate
    if not any(_issued_by(certificate, authority) for authority in trusted):
        return [
            _(
                "{path}: its certificate (CN={cn}, issued by {issuer}) is not issued by the "
                "pinned Nextcloud Root Authority nor by an intermediate authority it signed",
                path=where,
                cn=common_name(certificate),
                issuer=certificate.issuer.rfc4514_string(),
            )
        ]
    cn = common_name(certificate)
    if cn not in (signature.scope.name, CORE):
        return [
            _(
                "{path}: its certificate is for {cn}, not for {scope} (needs CN={scope} or core)",
                path=where,
                cn=cn,
                scope=signature.scope.name,
            )
            if not signature.scope.is_core
            else _("{path}: its certificate is for {cn}, not for core", path=where, cn=cn)
        ]
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return [_("{path}: its certificate's key is not an RSA key", path=where)]
    try:
        # Nextcloud signs with SHA-1 as PSS's message hash: checked, never used to sign here.
        message = signed_message(signature.hashes)
        key.verify(signature.signature, message, _PSS, hashes.SHA1())  # noqa: S303
    except InvalidSignature:
        return [
            _(
                "{path}: its signature does not verify with its certificate: the hashes or the "
                "signature were altered",
                path=where,
            )
        ]
    return []


def compare(
    scope: Scope, expected: Mapping[str, str], actual: Mapping[str, str | None]
) -> tuple[list[str], list[str], list[str]]:
    """(problems, absent, verified) of one scope, paths in the tree: `actual` maps each file of
    the scope present in the tree (path in the scope) to its SHA-512, None when not hashed (not
    listed)."""
    if scope.is_core:
        expected = {p: h for p, h in expected.items() if not p.startswith("updater/")}
    problems, verified = [], []
    for path in sorted(actual):
        where = scope.folder + path
        if path not in expected:
            problems.append(
                _(
                    "{path}: added (not listed in {signature})",
                    path=where,
                    signature=scope.signature,
                )
            )
        elif actual[path] != expected[path]:
            problems.append(
                _(
                    "{path}: modified (its SHA-512 is not the one {signature} lists)",
                    path=where,
                    signature=scope.signature,
                )
            )
        else:
            verified.append(where)
    absent = [scope.folder + path for path in sorted(set(expected) - set(actual))]
    return problems, absent, verified


# --- reading the tree ------------------------------------------------------------------------
# Messages name files by their path in the tree; `verify_tree` says which tree.


def _read(tree: Path, relative: str) -> bytes:
    try:
        return (tree / relative).read_bytes()
    except FileNotFoundError:
        raise BadInput(_("{path} is missing", path=relative)) from None
    except OSError as error:
        raise BadInput(
            _("{path} cannot be read: {reason}", path=relative, reason=error.strerror)
        ) from None


def tree_version(tree: Path) -> str:
    """The version a tree's version.php states ($OC_VersionString)."""
    version = version_from_php(_read(tree, VERSION_FILE).decode("utf-8", errors="replace"))
    if version is None:
        raise BadInput(_("{path}: its $OC_VersionString cannot be read", path=VERSION_FILE))
    return version


def shipped_apps(tree: Path) -> set[str]:
    """The apps core/shipped.json lists as shipped."""
    try:
        apps = json.loads(_read(tree, SHIPPED))["shippedApps"]
        if not all(isinstance(app, str) for app in apps):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise BadInput(_("{path}: no list shippedApps can be read", path=SHIPPED)) from None
    return set(apps)


def read_signature(tree: Path, scope: Scope) -> Signature:
    """A scope's signature.json: its hashes, signature and certificate."""
    where = scope.signature
    try:
        data: Any = json.loads(_read(tree, where))
        hashes_, signature, certificate = data["hashes"], data["signature"], data["certificate"]
    except (ValueError, KeyError, TypeError):
        raise BadInput(
            _(
                "{path}: not a signature (a JSON object with hashes, signature and certificate)",
                path=where,
            )
        ) from None
    if not (
        isinstance(hashes_, dict)
        and all(isinstance(h, str) and _SHA512_HEX.fullmatch(h) for h in hashes_.values())
    ):
        raise BadInput(_("{path}: its hashes are not a map of SHA-512 digests", path=where))
    try:
        raw = base64.b64decode(signature, validate=True)
        loaded = x509.load_pem_x509_certificate(str(certificate).encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError):
        raise BadInput(
            _("{path}: its signature or its certificate cannot be read", path=where)
        ) from None
    return Signature(scope, dict(hashes_), raw, loaded)


def root_certificates(tree: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(_read(tree, ROOT_CERTIFICATES))
    except ValueError:
        raise BadInput(_("{path} holds no readable certificate", path=ROOT_CERTIFICATES)) from None


def walk(tree: Path) -> Iterator[str]:
    """The files of the tree (paths relative to it, with /); BadInput for a link or a special
    file."""
    pending = [""]
    while pending:
        prefix = pending.pop()
        with os.scandir(tree / prefix) as entries:
            for entry in entries:
                relative = prefix + entry.name
                if entry.is_symlink():
                    raise BadInput(_("{path} is a link: a release tree holds none", path=relative))
                if entry.is_dir(follow_symlinks=False):
                    pending.append(relative + "/")
                elif entry.is_file(follow_symlinks=False):
                    yield relative
                else:
                    raise BadInput(_("{path} is neither a file nor a folder", path=relative))


def app_folders(tree: Path) -> list[str]:
    """The folders of apps/, sorted."""
    apps = tree / "apps"
    return sorted(p.name for p in apps.iterdir() if p.is_dir()) if apps.is_dir() else []


def file_sha512(path: Path, root_htaccess: bool = False) -> str:
    """A file's SHA-512 as Checker computes it (the root .htaccess: up to its marker line)."""
    if root_htaccess:
        parts = path.read_bytes().split(HTACCESS_MARKER)
        if len(parts) == 2:
            return hashlib.sha512(parts[0]).hexdigest()
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha512").hexdigest()


def hash_files(tree: Path, relatives: list[str]) -> dict[str, str]:
    """The SHA-512 of each file (paths relative to the tree), a few threads at a time."""

    def batch(paths: list[str]) -> list[tuple[str, str]]:
        found = []
        for path in paths:
            try:
                found.append((path, file_sha512(tree / path, root_htaccess=path == ".htaccess")))
            except OSError as error:
                raise BadInput(
                    _("{path} cannot be read: {reason}", path=path, reason=error.strerror)
                ) from None
        return found

    batches = [relatives[i : i + _BATCH] for i in range(0, len(relatives), _BATCH)]
    with ThreadPoolExecutor(max_workers=_HASHING_THREADS) as pool:
        return dict(pair for done in pool.map(batch, batches) for pair in done)


# --- the check -------------------------------------------------------------------------------


def verify_tree(
    tree: Path,
    *,
    version: str | None = None,
    root_fingerprint: str | None = None,
    label: str | None = None,
) -> Report:
    """Check a Nextcloud release tree as `occ integrity:check-core` and `integrity:check-app` do
    (see the module's docstring); return what it found, or raise CodeSigningError (BadInput)
    naming each file or scope refused and why. `version`: the one version.php must state.
    `root_fingerprint` replaces the pinned root's (for tests). `label` names the tree in messages
    (default: its path)."""
    pinned = normalize_fingerprint(root_fingerprint or ROOT_FINGERPRINT)
    name = label or str(tree)
    if not (tree / VERSION_FILE).is_file():
        raise BadInput(_("{path} is not a Nextcloud release tree (no version.php)", path=name))
    with _refused_as(name):
        found = tree_version(tree)
    if version is not None and found != version:
        raise BadInput(
            _("{path} holds Nextcloud {found}, not {version}", path=name, found=found,
              version=version)
        )  # fmt: skip
    with _refused_as(name):
        trusted = authorities(root_certificates(tree), pinned, ROOT_CERTIFICATES)
        shipped = shipped_apps(tree)
        files = sorted(walk(tree))
        signatures = _signatures(tree, shipped, trusted)
        by_scope, outside, unsigned = _place_files(files, [s.scope for s in signatures])
        listed = [
            s.scope.folder + path
            for s in signatures
            for path in by_scope[s.scope.folder]
            if path in s.hashes
        ]
        digests = hash_files(tree, listed)
    problems = list(outside)
    absent: list[str] = []
    verified = 0
    for signature in signatures:
        scope = signature.scope
        actual = {p: digests.get(scope.folder + p) for p in by_scope[scope.folder]}
        scope_problems, scope_absent, scope_verified = compare(scope, signature.hashes, actual)
        problems.extend(scope_problems)
        absent.extend(scope_absent)
        verified += len(scope_verified)
    if problems:
        raise CodeSigningError(name, sorted(problems))
    return Report(tree, found, len(signatures), verified, tuple(sorted(absent)), tuple(unsigned))


@contextlib.contextmanager
def _refused_as(name: str) -> Iterator[None]:
    """A refusal inside, as CodeSigningError naming the tree `name`."""
    try:
        yield
    except CodeSigningError as error:
        raise CodeSigningError(name, error.problems) from None
    except BadInput as error:
        raise CodeSigningError(name, [error.message]) from None


def _signatures(tree: Path, shipped: set[str], trusted: list[x509.Certificate]) -> list[Signature]:
    """The signature of core and of each app, read and checked (chain, CN, signature);
    CodeSigningError with every problem found."""
    problems: list[str] = []
    scopes = [Scope(CORE, "")]
    for app in app_folders(tree):
        scope = Scope(app, f"apps/{app}/")
        if not (tree / scope.signature).is_file():
            problems.append(
                _("{path}: an app without {signature}", path=scope.folder, signature=APP_SIGNATURE)
            )
        elif app not in shipped:
            problems.append(
                _(
                    "{path}: the app {app} is not listed as shipped in {shipped}",
                    path=scope.folder,
                    app=app,
                    shipped=SHIPPED,
                )
            )
        else:
            scopes.append(scope)
    signatures = []
    for scope in scopes:
        try:
            signature = read_signature(tree, scope)
        except BadInput as error:
            problems.append(error.message)
            continue
        signatures.append(signature)
        problems.extend(signature_problems(signature, trusted))
    if problems:
        raise CodeSigningError("", problems)
    return signatures


def _place_files(
    files: Iterable[str], scopes: Iterable[Scope]
) -> tuple[dict[str, dict[str, str | None]], list[str], list[str]]:
    """(the files of each scope by its folder, paths in the scope -> None; a problem for each
    file outside every scope; the unsigned files), the signatures themselves aside."""
    by_scope: dict[str, dict[str, str | None]] = {scope.folder: {} for scope in scopes}
    outside, unsigned = [], []
    for relative in files:
        home = scope_of(relative)
        if home is not None and relative == home.signature:
            continue
        if is_unsigned(relative):
            unsigned.append(relative)
        elif home is None:
            outside.append(
                _(
                    "{path}: added (outside every signed scope: only config/, themes/ and "
                    "updater/ may hold unsigned files)",
                    path=relative,
                )
            )
        else:
            by_scope[home.folder][relative.removeprefix(home.folder)] = None
    return by_scope, outside, unsigned
