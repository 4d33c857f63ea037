"""Detached OpenPGP signatures, checked against one key file and one pinned key.

`key_fingerprints(key_file)` lists the primary keys a key file holds; `verify_signature` checks a
detached signature with `gpgv` against that key file only, reads gpgv's status lines, and accepts
it only when the primary key that made it is the pinned one (a bad, expired or revoked signature,
or one made by another key, is refused and said why). gpg and gpgv run in a throw-away home
folder: they read only the files they are given and start no agent.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from chaton.errors import BadInput, ChatonError
from chaton.i18n import _

_GPG_TIMEOUT = 600
_STATUS = "[GNUPG:] "
# Status keywords of gpgv that refuse a signature, whatever else it says.
_REFUSING = ("BADSIG", "ERRSIG", "NO_PUBKEY", "EXPSIG", "EXPKEYSIG", "REVKEYSIG", "NODATA")


def normalize_fingerprint(value: str) -> str:
    """`value` as an OpenPGP fingerprint: 40 hex digits, upper case, spaces removed; else
    BadInput."""
    fingerprint = value.replace(" ", "").upper()
    if not re.fullmatch(r"[0-9A-F]{40}", fingerprint):
        raise BadInput(_("{value} is not an OpenPGP fingerprint (40 hex digits)", value=value))
    return fingerprint


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
