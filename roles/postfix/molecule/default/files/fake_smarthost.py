#!/usr/bin/python3
"""fake_smarthost: a TEST DOUBLE standing in for a mail provider's smarthost (submission server).

Run by the postfix role's molecule scenario only, never on a real server. It speaks just enough
ESMTP for Postfix's SMTP client: EHLO/HELO, STARTTLS, AUTH PLAIN and LOGIN (offered under TLS
only, checked against the configured credentials), MAIL, RCPT, DATA, RSET, NOOP, QUIT. Each
message it accepts is written to the spool folder as JSON: the port it came in on, whether TLS
was on and its version, the user name that authenticated, the envelope and the message. The
password is never written nor logged.

Usage: fake_smarthost.py CONFIG.json, where the configuration has `hostname`, `cert` and `key`
(PEM files), `username`, `password`, `spool` (a folder) and `listen`: a list of
{"port": N, "auth_required": true|false}, each port on 127.0.0.1.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import socketserver
import ssl
import sys
import threading
import time
from pathlib import Path
from typing import Any

MAX_LINE = 10_000
MAX_MESSAGE = 10_240_000


class Session(socketserver.StreamRequestHandler):
    """One SMTP session. The class attributes are set per listening port (see serve())."""

    config: dict[str, Any]
    tls: ssl.SSLContext
    port: int
    auth_required: bool

    def handle(self) -> None:
        self.tls_version: str | None = None
        self.user: str | None = None
        self.reset()
        self.reply(f"220 {self.config['hostname']} ESMTP fake smarthost (test double)")
        while True:
            line = self.rfile.readline(MAX_LINE)
            if not line:
                return
            command, _, argument = line.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
            verb = command.upper()
            handler = getattr(self, f"smtp_{verb.lower()}", None) if verb.isalpha() else None
            if handler is None:
                self.reply("502 5.5.2 Command not recognised")
            elif handler(argument.strip()) is False:
                return

    def reply(self, text: str) -> None:
        self.connection.sendall(text.encode() + b"\r\n")

    def log(self, text: str) -> None:
        print(f"port {self.port}: {text}", flush=True)

    def reset(self) -> None:
        self.mail_from: str | None = None
        self.rcpt_to: list[str] = []

    def smtp_ehlo(self, argument: str) -> None:
        self.reset()
        lines = [self.config["hostname"], f"SIZE {MAX_MESSAGE}", "8BITMIME"]
        if self.tls_version is None:
            lines.append("STARTTLS")
        else:
            lines.append("AUTH PLAIN LOGIN")
        self.reply("\r\n".join(f"250-{line}" for line in lines[:-1]) + f"\r\n250 {lines[-1]}")

    def smtp_helo(self, argument: str) -> None:
        self.reset()
        self.reply(f"250 {self.config['hostname']}")

    def smtp_starttls(self, argument: str) -> None:
        if self.tls_version is not None:
            self.reply("503 5.5.1 TLS already active")
            return
        self.reply("220 2.0.0 Ready to start TLS")
        self.connection = self.tls.wrap_socket(self.connection, server_side=True)
        self.rfile = self.connection.makefile("rb")
        self.tls_version = self.connection.version()
        self.user = None
        self.reset()
        self.log(f"TLS on, {self.tls_version}")

    def read_auth_line(self, prompt: str) -> str:
        self.reply(f"334 {prompt}")
        return self.rfile.readline(MAX_LINE).decode("ascii", "replace").strip()

    def smtp_auth(self, argument: str) -> None:
        if self.tls_version is None:
            self.reply("538 5.7.11 Encryption required for requested authentication mechanism")
            return
        if self.user is not None:
            self.reply("503 5.5.1 Already authenticated")
            return
        mechanism, _, initial = argument.partition(" ")
        try:
            if mechanism.upper() == "PLAIN":
                response = initial or self.read_auth_line("")
                _, username, password = base64.b64decode(response).decode().split("\0")
            elif mechanism.upper() == "LOGIN":
                username = base64.b64decode(
                    initial or self.read_auth_line(base64.b64encode(b"Username:").decode())
                ).decode()
                password = base64.b64decode(
                    self.read_auth_line(base64.b64encode(b"Password:").decode())
                ).decode()
            else:
                self.reply("504 5.5.4 Unrecognised authentication mechanism")
                return
        except (ValueError, binascii.Error, UnicodeDecodeError):
            self.reply("501 5.5.2 Cannot decode the response")
            return
        good = hmac.compare_digest(username.encode(), self.config["username"].encode())
        good &= hmac.compare_digest(password.encode(), self.config["password"].encode())
        if not good:
            self.log(f"AUTH {mechanism.upper()} refused for user {username!r}")
            self.reply("535 5.7.8 Authentication credentials invalid")
            return
        self.user = username
        self.log(f"AUTH {mechanism.upper()} accepted for user {username!r}")
        self.reply("235 2.7.0 Authentication successful")

    def smtp_mail(self, argument: str) -> None:
        if self.auth_required and self.user is None:
            self.reply("530 5.7.0 Authentication required")
            return
        if not argument.upper().startswith("FROM:"):
            self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
            return
        self.reset()
        self.mail_from = argument[5:].split()[0].strip("<>") if argument[5:].strip() else ""
        self.reply("250 2.1.0 Ok")

    def smtp_rcpt(self, argument: str) -> None:
        if self.mail_from is None:
            self.reply("503 5.5.1 Need MAIL first")
            return
        if not argument.upper().startswith("TO:") or not argument[3:].strip():
            self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
            return
        self.rcpt_to.append(argument[3:].split()[0].strip("<>"))
        self.reply("250 2.1.5 Ok")

    def smtp_data(self, argument: str) -> None:
        if not self.rcpt_to:
            self.reply("503 5.5.1 Need RCPT first")
            return
        self.reply("354 End data with <CR><LF>.<CR><LF>")
        lines: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(MAX_LINE)
            if not line:
                return
            if line in (b".\r\n", b".\n"):
                break
            size += len(line)
            lines.append(line[1:] if line.startswith(b".") else line)
        if size > MAX_MESSAGE:
            self.reply("552 5.3.4 Message too big")
            return
        self.store(b"".join(lines).decode("utf-8", "replace"))
        self.reset()
        self.reply("250 2.0.0 Ok: queued by the fake smarthost")

    def store(self, message: str) -> None:
        record = {
            "port": self.port,
            "tls": self.tls_version is not None,
            "tls_version": self.tls_version,
            "username": self.user,
            "mail_from": self.mail_from,
            "rcpt_to": self.rcpt_to,
            "message": message,
        }
        spool = Path(self.config["spool"])
        name = f"{time.time_ns()}-{self.port}-{threading.get_ident()}.json"
        partial = spool / f".{name}"
        partial.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        partial.rename(spool / name)  # readers never see half a file
        self.log(f"stored {name}: from {self.mail_from} to {', '.join(self.rcpt_to)}")

    def smtp_rset(self, argument: str) -> None:
        self.reset()
        self.reply("250 2.0.0 Ok")

    def smtp_noop(self, argument: str) -> None:
        self.reply("250 2.0.0 Ok")

    def smtp_quit(self, argument: str) -> bool:
        self.reply("221 2.0.0 Bye")
        return False


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def serve(config: dict[str, Any]) -> None:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(config["cert"], config["key"])
    servers = []
    for listen in config["listen"]:
        handler = type(
            f"Session{listen['port']}",
            (Session,),
            {
                "config": config,
                "tls": tls,
                "port": listen["port"],
                "auth_required": listen["auth_required"],
            },
        )
        server = Server(("127.0.0.1", listen["port"]), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        print(f"listening on 127.0.0.1:{listen['port']}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    os.umask(0o022)
    serve(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")))
