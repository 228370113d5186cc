"""The example webapp (the first document's product form): store a product name and a product id
in ``ProductDetails.products`` and list the rows.

Runs on the official ``python`` image as is: standard library only. That image ships no MySQL
driver and this project has no image build step (and no pod may reach PyPI: the namespace denies
egress), so the module speaks the MySQL client/server protocol itself -- the small part a form
needs: handshake, TLS, ``caching_sha2_password`` (MySQL 8.4's default) and
``mysql_native_password`` (MariaDB's) authentication, and text-protocol queries.

This exact file is shipped in a ConfigMap and run by the tests against a real MariaDB server.

Settings (environment): DB_HOST (the MySQL Service's DNS name; the server's certificate must name it),
DB_PORT, DB_NAME, DB_USER, DB_PASSWORD_FILE (a mounted Secret file: the password never sits in the
environment), DB_CA_FILE (the CA that signed the server's certificate), LISTEN_HOST, LISTEN_PORT.

The database session is always TLS and always verified: certificate chain to DB_CA_FILE and host name
DB_HOST (a server without TLS, or with another certificate, is refused before any credential is sent).
Database errors go to the log (stderr), never to the client: a page or /readyz says only that the
database is unavailable.
"""

from __future__ import annotations

import hashlib
import html
import os
import signal
import socket
import ssl
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

# Column sizes of ProductDetails.products (init.sql); VARCHAR(n) counts characters, not bytes.
FIELDS = (("product_name", "Product name", 10), ("product_id", "Product id", 11))
MAX_BODY = 4096

# Capability flags of the MySQL client/server protocol.
LONG_PASSWORD, CONNECT_WITH_DB, PROTOCOL_41, SSL_FLAG = 0x1, 0x8, 0x200, 0x800
TRANSACTIONS, SECURE_CONNECTION, PLUGIN_AUTH = 0x2000, 0x8000, 0x80000
UTF8MB4_GENERAL_CI = 45  # a collation id both MySQL and MariaDB know
ER_DATA_TOO_LONG = 1406


class DatabaseError(Exception):
    def __init__(self, code: int, message: str):
        self.code = code
        super().__init__(f"MySQL error {code}: {message}")


def scramble(plugin: str, password: str, nonce: bytes) -> bytes:
    """The authentication response for ``plugin`` (what the server checks against its stored hash)."""
    if not password:
        return b""
    secret = password.encode()
    if plugin == "mysql_native_password":
        h = hashlib.sha1
    elif plugin == "caching_sha2_password":
        h = hashlib.sha256
    else:
        raise DatabaseError(2059, f"authentication plugin {plugin!r} is not supported")
    stage1 = h(secret).digest()
    stage2 = h(stage1).digest()
    # native: SHA1(nonce + SHA1(SHA1(pw))); caching_sha2: SHA256(SHA256(SHA256(pw)) + nonce)
    mix = h(nonce[:20] + stage2).digest() if h is hashlib.sha1 else h(stage2 + nonce[:20]).digest()
    return bytes(a ^ b for a, b in zip(stage1, mix))


def _lenenc(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    if first < 0xFB:
        return first, pos + 1
    size = {0xFC: 2, 0xFD: 3, 0xFE: 8}[first]
    return int.from_bytes(data[pos + 1 : pos + 1 + size], "little"), pos + 1 + size


def _error(packet: bytes) -> DatabaseError:
    code = int.from_bytes(packet[1:3], "little")
    message = packet[9:] if packet[3:4] == b"#" else packet[3:]
    return DatabaseError(code, message.decode(errors="replace"))


def tls_context(ca_file: str) -> ssl.SSLContext:
    """Verify the server: its chain ends at ``ca_file`` (and no other CA), its name is the host asked for."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)  # CERT_REQUIRED, check_hostname
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class Connection:
    """One MySQL session over TCP, always TLS with the server verified (``ca_file``, ``server_name``)."""

    def __init__(self, host: str, port: int, user: str, password: str, database: str, ca_file: str,
                 server_name: str | None = None, timeout: float = 5.0):
        self.context = tls_context(ca_file)
        self.server_name = server_name or host  # the name the certificate must carry
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.seq = 0
        self.tls = False
        try:
            self._login(user, password, database)
        except BaseException:
            self.sock.close()
            raise

    def _read(self, n: int) -> bytes:
        chunks, left = [], n
        while left:
            chunk = self.sock.recv(left)
            if not chunk:
                raise DatabaseError(2013, "lost connection to the server")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _read_packet(self) -> bytes:
        payload = b""
        while True:
            header = self._read(4)
            length = int.from_bytes(header[:3], "little")
            self.seq = (header[3] + 1) & 0xFF
            payload += self._read(length)
            if length < 0xFFFFFF:
                return payload

    def _write_packet(self, payload: bytes) -> None:
        self.sock.sendall(len(payload).to_bytes(3, "little") + bytes([self.seq]) + payload)
        self.seq = (self.seq + 1) & 0xFF

    def _login(self, user: str, password: str, database: str) -> None:
        p = self._read_packet()
        if p[0] == 0xFF:
            raise _error(p)
        if p[0] != 10:
            raise DatabaseError(2027, f"unsupported handshake protocol {p[0]}")
        pos = p.index(b"\0", 1) + 1 + 4  # server version, connection id
        nonce = p[pos : pos + 8]
        pos += 9
        caps = int.from_bytes(p[pos : pos + 2], "little")
        pos += 2
        plugin = "mysql_native_password"
        if len(p) > pos:
            caps |= int.from_bytes(p[pos + 3 : pos + 5], "little") << 16
            data_len = p[pos + 5]
            pos += 16
            if caps & SECURE_CONNECTION:
                size = max(13, data_len - 8)
                nonce += p[pos : pos + size].rstrip(b"\0")[:12]
                pos += size
            if caps & PLUGIN_AUTH and pos < len(p):
                end = p.find(b"\0", pos)
                plugin = p[pos : end if end >= 0 else len(p)].decode()
        if not caps & PROTOCOL_41:
            raise DatabaseError(2027, "the server does not speak protocol 4.1")
        if not caps & SSL_FLAG:
            raise DatabaseError(2026, "the server offers no TLS; credentials are never sent in plaintext")
        flags = LONG_PASSWORD | CONNECT_WITH_DB | PROTOCOL_41 | TRANSACTIONS | SECURE_CONNECTION | PLUGIN_AUTH | SSL_FLAG
        self._write_packet(struct.pack("<IIB23x", flags, 1 << 24, UTF8MB4_GENERAL_CI))
        # ssl.SSLCertVerificationError (an OSError) when the chain or the name does not match.
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.server_name)
        self.tls = True
        auth = scramble(plugin, password, nonce)
        self._write_packet(
            struct.pack("<IIB23x", flags, 1 << 24, UTF8MB4_GENERAL_CI)
            + user.encode() + b"\0" + bytes([len(auth)]) + auth
            + database.encode() + b"\0" + plugin.encode() + b"\0"
        )
        while True:
            p = self._read_packet()
            if p[0] == 0x00:
                return
            if p[0] == 0xFF:
                raise _error(p)
            if p[0] == 0xFE:  # auth switch: another plugin, a fresh nonce
                end = p.index(b"\0", 1)
                plugin, nonce = p[1:end].decode(), p[end + 1 :]
                self._write_packet(scramble(plugin, password, nonce[:-1] if nonce.endswith(b"\0") else nonce))
            elif p[0] == 0x01 and plugin == "caching_sha2_password" and p[1:] == b"\x03":
                continue  # fast authentication succeeded; the OK packet follows
            elif p[0] == 0x01 and plugin == "caching_sha2_password" and p[1:] == b"\x04":
                # Full authentication (the server's cache is cold): the password itself, only over TLS.
                if not self.tls:
                    raise DatabaseError(2061, "caching_sha2_password full authentication needs TLS")
                self._write_packet(password.encode() + b"\0")
            else:
                raise DatabaseError(2027, "unexpected packet during authentication")

    def query(self, sql: str) -> list[tuple[str | None, ...]] | int:
        """Rows of a SELECT, or the affected-row count of any other statement."""
        self.seq = 0
        self._write_packet(b"\x03" + sql.encode())
        p = self._read_packet()
        if p[0] == 0xFF:
            raise _error(p)
        if p[0] == 0x00:
            return _lenenc(p, 1)[0]
        columns, _ = _lenenc(p, 0)
        for _ in range(columns + 1):  # column definitions, then EOF
            self._read_packet()
        rows = []
        while True:
            p = self._read_packet()
            if p[0] == 0xFF:
                raise _error(p)
            if p[0] == 0xFE and len(p) < 9:
                return rows
            row, pos = [], 0
            while pos < len(p):
                if p[pos] == 0xFB:
                    row.append(None)
                    pos += 1
                else:
                    size, pos = _lenenc(p, pos)
                    row.append(p[pos : pos + size].decode())
                    pos += size
            rows.append(tuple(row))

    def close(self) -> None:
        try:
            self.seq = 0
            self._write_packet(b"\x01")  # COM_QUIT
        except OSError:
            pass
        self.sock.close()


def literal(text: str) -> str:
    """A SQL string literal that cannot break out of its quotes: the text's UTF-8 bytes in hex."""
    return f"_utf8mb4 X'{text.encode().hex()}'"


def validate(form: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The cleaned values and every problem, each naming the field and the limit."""
    values, problems = {}, []
    for key, label, limit in FIELDS:
        value = form.get(key, "").strip()
        if not value:
            problems.append(f"{label} is required.")
        elif len(value) > limit:
            problems.append(f"{label} is too long: {len(value)} characters, at most {limit} are allowed.")
        values[key] = value
    return values, problems


def connect() -> Connection:
    with open(os.environ["DB_PASSWORD_FILE"], encoding="utf-8") as f:
        password = f.read().rstrip("\r\n")  # read on every connection: a rotated Secret just works
    return Connection(os.environ.get("DB_HOST", "mysql"), int(os.environ.get("DB_PORT", "3306")),
                      os.environ.get("DB_USER", "webapp"), password, os.environ.get("DB_NAME", "ProductDetails"),
                      ca_file=os.environ["DB_CA_FILE"])


def log_error(where: str, exc: BaseException) -> None:
    """The details go to the log; the client only learns that the database is unavailable."""
    sys.stderr.write(f"{where}: {type(exc).__name__}: {exc}\n")


def insert(values: dict[str, str]) -> None:
    conn = connect()
    try:
        conn.query("INSERT INTO products (product_name, product_id) VALUES "
                   f"({literal(values['product_name'])}, {literal(values['product_id'])})")
    finally:
        conn.close()


def products() -> list[tuple[str | None, ...]]:
    conn = connect()
    try:
        return conn.query("SELECT product_name, product_id FROM products LIMIT 1000")
    finally:
        conn.close()


def page(rows, problems=(), status_note: str = "") -> str:
    esc = html.escape
    errors = "".join(f'<p class="error">{esc(p)}</p>' for p in problems)
    inputs = "".join(f'<label>{esc(label)} <input name="{key}" maxlength="{limit}" required></label> '
                     for key, label, limit in FIELDS)
    table = "".join(f"<tr><td>{esc(n or '')}</td><td>{esc(i or '')}</td></tr>" for n, i in rows)
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>Products</title></head><body>"
            f"<h1>Products</h1>{errors}{esc(status_note)}"
            f'<form method="post" action="/">{inputs}<button type="submit">Submit Query</button></form>'
            f"<table><tr><th>Product name</th><th>Product id</th></tr>{table}</table></body></html>")


class Handler(BaseHTTPRequestHandler):
    server_version = "products"
    sys_version = ""

    def _send(self, status: int, body: str, content_type: str = "text/html; charset=utf-8", **headers) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 -- http.server's naming
        path = self.path.split("?", 1)[0]
        if path == "/healthz":  # liveness: the process serves requests
            return self._send(200, "ok\n", "text/plain")
        if path == "/readyz":  # readiness: the database answers
            try:
                conn = connect()
                try:
                    conn.query("SELECT 1")
                finally:
                    conn.close()
            except (OSError, DatabaseError) as exc:
                log_error("readyz", exc)
                return self._send(503, "database unavailable\n", "text/plain")
            return self._send(200, "ready\n", "text/plain")
        if path != "/":
            return self._send(404, "not found\n", "text/plain")
        try:
            rows = products()
        except (OSError, DatabaseError) as exc:
            log_error("GET /", exc)
            return self._send(503, page([], ["The database is unavailable. Please try again later."]))
        self._send(200, page(rows))

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?", 1)[0] != "/":
            return self._send(404, "not found\n", "text/plain")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self._send(413, page([], ["The form is too large."]))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode("utf-8", "replace")).items()}
        values, problems = validate(form)
        if problems:
            return self._send(400, page([], problems))
        try:
            insert(values)
        except DatabaseError as exc:
            if exc.code == ER_DATA_TOO_LONG:  # the server's strict mode agrees with validate()
                return self._send(400, page([], ["A value is too long for its column."]))
            log_error("POST /", exc)
            return self._send(503, page([], ["The database refused the row. Please try again later."]))
        except OSError as exc:
            log_error("POST /", exc)
            return self._send(503, page([], ["The database is unavailable. Please try again later."]))
        self._send(303, "", Location="/")  # post/redirect/get: a reload does not resubmit

    def log_message(self, format: str, *args) -> None:  # noqa: A002 -- the base class's name
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def main() -> None:
    server = ThreadingHTTPServer((os.environ.get("LISTEN_HOST", "127.0.0.1"), int(os.environ.get("LISTEN_PORT", "8080"))),
                                 Handler)
    # SIGTERM (pod shutdown): stop accepting, finish in-flight requests, exit 0.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
