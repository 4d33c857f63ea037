"""A test double of a web server: HTTPS on 127.0.0.1 for one name, with a CA of its own."""

from __future__ import annotations

import contextlib
import datetime
import http.server
import ssl
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PAGE = b"<!DOCTYPE html><title>site</title><h1>The test site</h1>"


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    signer: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None = None,
    days: int = 1,
) -> x509.Certificate:
    """A test certificate: a CA when `issuer` is None, else a leaf for `subject` signed by it."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days, hours=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), False)
    return builder.sign(signer, hashes.SHA256())


@contextlib.contextmanager
def https_server(
    folder: Path,
    *,
    name: str = "site.localhost",
    page: bytes = PAGE,
    days: int = 90,
    path: str = "/",
    pages: Mapping[str, bytes] | None = None,
) -> Iterator[tuple[int, Path, Path]]:
    """Serve `page` at https://`name``path` (or each of `pages`, {path: page}; 404 elsewhere)
    on 127.0.0.1, with a certificate valid for `days` days from a CA of its own. Yields (port,
    that CA's file, another CA's file)."""
    served = dict(pages) if pages is not None else {path: page}
    ca_key, other_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _certificate("test CA", ca_key, ca_key, days=days + 30)
    other = _certificate("other CA", other_key, other_key)
    leaf = _certificate(name, leaf_key, ca_key, ca, days=days)
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "other.pem").write_bytes(other.public_bytes(pem))
    (folder / "leaf.pem").write_bytes(
        leaf.public_bytes(pem)
        + leaf_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        # As nginx answers a page PHP-FPM makes: chunked to an HTTP/1.1 client, whole to 1.0.
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            found = self.path in served
            body = served.get(self.path, b"")
            self.send_response(200 if found else 404)
            chunked = self.request_version == "HTTP/1.1"
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if chunked:
                self.wfile.write(
                    b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
                )
            else:
                self.wfile.write(body)
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "leaf.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], folder / "ca.pem", folder / "other.pem"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
