"""A test double of Nextcloud's code-signing authority and of the signing of a release tree.

`TestAuthority` stands in for the Nextcloud Root Authority and its Code Signing Intermediate
Authority: RSA keys and X.509 certificates made with `cryptography` when the tests run (never
Nextcloud's), and leaf certificates for `core` and for apps as Nextcloud issues them. Its root's
fingerprint is what the tests pin instead of Nextcloud's. `sign_tree` signs a tree as Nextcloud's
release build does (`Checker::writeCoreSignature` and `writeAppSignature` in
lib/private/IntegrityCheck/Checker.php, 31.0.11): the hashes of every file of the scope, sorted,
signed with RSA-PSS (SHA-1, MGF1 SHA-512, salt 0) over their PHP json_encode.
`test_release_tree` writes a small tree (core, a few apps, config/, themes/, updater/) standing in
for a Nextcloud release tree; it is not Nextcloud.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import io
import json
import re
import tarfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

# What Checker's folder iterator leaves out (ExcludeFoldersByPathFilterIterator,
# ExcludeFileByNameFilterIterator), written out again here, from the PHP, for the signing side.
SKIPPED_TOP_FOLDERS = {"data", "themes", "config", "apps", "assets", "lost+found", "updater",
                       "_oc_upgrade"}  # fmt: skip
SKIPPED_NAMES = {".DS_Store", ".directory", ".rnd", ".webapp", "Thumbs.db",
                 "nextcloud-init-sync.lock"}  # fmt: skip
SKIPPED_PATTERN = re.compile(r"\.webapp-nextcloud-(\d+\.){2}(\d+)(-r\d+)?")
MARKER = b"#### DO NOT CHANGE ANYTHING ABOVE THIS LINE ####"
APPS = ("files", "dav", "viewer")


def new_key() -> rsa.RSAPrivateKey:
    """A new RSA key (2048 bits: enough for a test, quick to make)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "chaton-toolkit test suite"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def certificate(
    common_name: str,
    key: rsa.RSAPrivateKey,
    issuer: tuple[rsa.RSAPrivateKey, x509.Certificate] | None = None,
    *,
    authority: bool = False,
) -> x509.Certificate:
    """A certificate for `key`, issued by `issuer` (key, certificate) or self-signed."""
    now = datetime.datetime.now(datetime.UTC)
    signing_key, issuer_name = (issuer[0], issuer[1].subject) if issuer else (key, None)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer_name or _name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
    )
    if authority:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    return builder.sign(signing_key, hashes.SHA256())


class TestAuthority:
    """A test root, an intermediate authority it signed, and the leaf certificates it issues."""

    __test__ = False  # not a test class for pytest

    def __init__(self, label: str = "Test") -> None:
        self.root_key = new_key()
        self.root = certificate(f"{label} Root Authority", self.root_key, authority=True)
        self.intermediate_key = new_key()
        self.intermediate = certificate(
            f"{label} Code Signing Intermediate Authority",
            self.intermediate_key,
            (self.root_key, self.root),
            authority=True,
        )
        self._leaves: dict[str, tuple[rsa.RSAPrivateKey, x509.Certificate]] = {}

    @property
    def fingerprint(self) -> str:
        """The root's SHA-256 fingerprint, colon hex, as the tests pin it."""
        digest = self.root.fingerprint(hashes.SHA256()).hex().upper()
        return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))

    def root_crt(self) -> bytes:
        """resources/codesigning/root.crt as a release holds it: the root and the intermediate."""
        return b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in (self.root, self.intermediate)
        )

    def leaf(self, common_name: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
        """The key and certificate (issued by the intermediate) for `common_name`."""
        if common_name not in self._leaves:
            key = new_key()
            issued = certificate(common_name, key, (self.intermediate_key, self.intermediate))
            self._leaves[common_name] = (key, issued)
        return self._leaves[common_name]


@functools.cache
def test_authority() -> TestAuthority:
    """The test authority the test session shares (its keys take a moment to make)."""
    return TestAuthority()


test_authority.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


def self_signed(common_name: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A key and a self-signed certificate for `common_name`, chained to nothing."""
    key = new_key()
    return key, certificate(common_name, key)


def php_json_encode(hashes_: dict[str, str]) -> bytes:
    """PHP's json_encode of a map of strings, as Checker signs it: no spaces, "/" as "\\/",
    non-ASCII as \\uXXXX."""

    def string(text: str) -> str:
        out = []
        for char in text:
            if char in '"\\':
                out.append("\\" + char)
            elif char == "/":
                out.append("\\/")
            elif ord(char) < 0x20 or ord(char) > 0x7E:
                out.append("".join(f"\\u{unit:04x}" for unit in _utf16(char)))
            else:
                out.append(char)
        return '"' + "".join(out) + '"'

    pairs = ",".join(f"{string(k)}:{string(v)}" for k, v in sorted(hashes_.items()))
    return ("{" + pairs + "}").encode("ascii")


def _utf16(char: str) -> list[int]:
    data = char.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def signature_document(
    hashes_: dict[str, str], key: rsa.RSAPrivateKey, issued: x509.Certificate
) -> bytes:
    """A signature.json: the hashes sorted, their signature and the certificate."""
    signed = key.sign(
        php_json_encode(hashes_),
        padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=0),
        hashes.SHA1(),  # noqa: S303 - what Nextcloud signs with
    )
    document = {
        "hashes": dict(sorted(hashes_.items())),
        "signature": base64.b64encode(signed).decode(),
        "certificate": issued.public_bytes(serialization.Encoding.PEM).decode(),
    }
    # JSON_PRETTY_PRINT: four spaces; json_encode writes "/" as "\/".
    return json.dumps(document, indent=4).replace("/", "\\/").encode()


def scope_hashes(folder: Path, *, core: bool) -> dict[str, str]:
    """Checker::generateHashes of a scope's folder: every file's SHA-512, its own signature and
    the names and (for core) the top folders Checker skips left out; the root .htaccess hashed up
    to its marker line."""
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_dir() or path.name in SKIPPED_NAMES or SKIPPED_PATTERN.fullmatch(path.name):
            continue
        if relative in ("core/signature.json", "appinfo/signature.json"):
            continue
        if core and "/" in relative and relative.split("/")[0] in SKIPPED_TOP_FOLDERS:
            continue
        data = path.read_bytes()
        if core and relative == ".htaccess" and data.count(MARKER) == 1:
            data = data.split(MARKER)[0]
        found[relative] = hashlib.sha512(data).hexdigest()
    return found


def sign_scope(
    tree: Path,
    scope: str,
    signer: tuple[rsa.RSAPrivateKey, x509.Certificate],
    hashes_: dict[str, str] | None = None,
) -> None:
    """Write the signature.json of `scope` ("core" or an app's id) made by `signer`, of the
    scope's files as they are (or of `hashes_`)."""
    if scope == "core":
        target, folder = tree / "core" / "signature.json", tree
    else:
        target, folder = tree / "apps" / scope / "appinfo" / "signature.json", tree / "apps" / scope
    listed = scope_hashes(folder, core=scope == "core") if hashes_ is None else hashes_
    target.write_bytes(signature_document(listed, *signer))


def sign_tree(tree: Path, authority: TestAuthority) -> None:
    """Sign every app of apps/ (CN = its id), then core (CN = core), as a release build does."""
    for app in sorted(p.name for p in (tree / "apps").iterdir()):
        sign_scope(tree, app, authority.leaf(app))
    sign_scope(tree, "core", authority.leaf("core"))


def version_php(version: str) -> str:
    major, minor, patch = version.split(".")
    return (
        "<?php \n"
        f"$OC_Version = array({major},{minor},{patch},0);\n"
        f"$OC_VersionString = '{version}';\n"
        "$OC_Edition = '';\n"
        "$OC_Channel = 'stable';\n"
        "$vendor = 'nextcloud';\n"
    )


def test_release_tree(
    folder: Path, version: str, authority: TestAuthority | None = None, apps: tuple[str, ...] = APPS
) -> Path:
    """Write and sign, in `folder`, a small tree standing in for a Nextcloud release tree: core
    files (a root .htaccess with its marker line, a file with a non-ASCII name), `apps` (each
    shipped), and the unsigned config/, themes/ and updater/."""
    authority = authority or test_authority()
    files = {
        "version.php": version_php(version),
        "index.php": "<?php // test release, not Nextcloud\n",
        "lib/base.php": "<?php class OC {}\n",
        "core/js/app.js": "window.testRelease = true;\n",
        "core/img/café.svg": "<svg/>\n",
        "core/shipped.json": json.dumps({"shippedApps": list(apps), "alwaysEnabled": []}),
        ".htaccess": f"Options -Indexes\n{MARKER.decode()}\nErrorDocument 404 /index.php\n",
        "config/config.sample.php": "<?php $CONFIG = [];\n",
        "config/CAN_INSTALL": "",
        "themes/README": "themes\n",
        "updater/index.php": "<?php // updater\n",
    }
    for app in apps:
        files[f"apps/{app}/appinfo/info.xml"] = f"<info><id>{app}</id></info>\n"
        files[f"apps/{app}/lib/Application.php"] = f"<?php // {app}\n"
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (folder / "resources" / "codesigning").mkdir(parents=True)
    (folder / "resources" / "codesigning" / "root.crt").write_bytes(authority.root_crt())
    sign_tree(folder, authority)
    return folder


test_release_tree.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


def tar_of(folder: Path, top: str, mode: str = "w:bz2") -> bytes:
    """A tar archive of `folder` under the top folder `top` (tar.bz2 by default)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        archive.add(folder, arcname=top)
    return buffer.getvalue()
