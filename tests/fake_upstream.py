"""Test doubles of an upstream's release folder (plain HTTP on 127.0.0.1) and of its signing keys.

`FakeUpstream` stands in for a release server such as Nextcloud's: it serves the files it is given,
counts the requests, answers 404 for anything else and can stall on a path (a timeout).
`TestSigners` stands in for an upstream's release-signing keys: OpenPGP keys made by the test suite
in a throw-away GnuPG home. `test_release_archive` is a small tar.bz2 built by the test suite that
stands in for a release archive: a tree under nextcloud/ signed by the test suite's code-signing
authority (fake_codesigning), as Nextcloud's release trees are by theirs; it is not Nextcloud.
"""

from __future__ import annotations

import http.server
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from fake_codesigning import tar_of, test_release_tree


class FakeUpstream:
    """A test double of an upstream's release folder at http://127.0.0.1:<port>/releases/."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}  # path under /releases/ -> body
        self.stalled: set[str] = set()  # paths that get no answer until the server stops
        self.requests: list[str] = []  # every path asked for, in order
        self._stopping = threading.Event()
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                upstream.requests.append(self.path)
                name = self.path.removeprefix("/releases/")
                if name in upstream.stalled:
                    upstream._stopping.wait(30)
                    return
                body = upstream.files.get(name) if self.path.startswith("/releases/") else None
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/releases/"

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def test_release_archive(version: str) -> bytes:
    """A small tar.bz2 built by the test suite, standing in for a release archive: a tree signed by
    the test code-signing authority, under nextcloud/."""
    with tempfile.TemporaryDirectory(prefix="chaton-test-release-") as folder:
        tree = test_release_tree(Path(folder) / "nextcloud", version)
        return tar_of(tree, "nextcloud")


test_release_archive.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


class TestSigners:
    """Test doubles of release-signing keys: ed25519 keys without passphrase, made once in a
    short temporary GnuPG home (its agent's socket path must stay short)."""

    __test__ = False  # not a test class for pytest

    def __init__(self) -> None:
        self.home = tempfile.mkdtemp(prefix="chaton-gpg-test-")
        self.fingerprints: dict[str, str] = {}

    def _gpg(self, *args: str, data: bytes | None = None) -> bytes:
        result = subprocess.run(
            ["gpg", "--homedir", self.home, "--batch", "--pinentry-mode", "loopback",
             "--passphrase", "", *args],
            input=data, capture_output=True, check=True,
        )  # fmt: skip
        return result.stdout

    def generate(self, label: str) -> str:
        """A new key for `label`; returns its fingerprint, as gpg reports it when creating it."""
        status = self._gpg(
            "--status-fd", "1", "--quick-gen-key",
            f"Test Release Signer {label} <{label}@test.invalid>", "ed25519", "sign", "never",
        ).decode()  # fmt: skip
        created = [line.split()[3] for line in status.splitlines() if "KEY_CREATED" in line]
        self.fingerprints[label] = created[0]
        return created[0]

    def sign(self, label: str, data: bytes) -> bytes:
        """An armored detached signature of `data` by `label`'s key."""
        fingerprint = self.fingerprints[label]
        return self._gpg("--local-user", fingerprint, "--armor", "--detach-sign", data=data)

    def export(self, *labels: str) -> bytes:
        """The armored public keys of `labels`, as an upstream publishes its key file."""
        return self._gpg("--armor", "--export", *(self.fingerprints[label] for label in labels))

    def close(self) -> None:
        subprocess.run(
            ["gpgconf", "--homedir", self.home, "--kill", "gpg-agent"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.home, ignore_errors=True)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
