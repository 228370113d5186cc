"""The webapp's code, for real: the exact file shipped in the ConfigMap, run with the system's
Python against Debian's MariaDB server (started here on a temporary data directory, with a real user
and password), the form posted over HTTP and the row read back.

TLS as the program deploys it (issue 13): the server serves the certificate and key the program
generates (the engine runs the dev stack; its pulumi-tls model makes real keys) and refuses plaintext
(``--require-secure-transport=ON``, as mysqld's args); the client verifies the chain against the CA the
program mounts and the host name it connects to (the webapp's DB_HOST, resolved to this server here).

Needs `mariadbd`, `mariadb-install-db`, `mariadb` and `openssl` (.ci/run installs them). Skipped,
with the reason, only when those binaries are missing.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from k8snet.app.manifests import APP_FILES, TLS_SECRET
from offline.checks import scan
from offline import tls as tls_provider

NEEDED = ("mariadbd", "mariadb-install-db", "mariadb", "openssl")
_missing = [b for b in NEEDED if not (shutil.which(b) or shutil.which(b, path="/usr/sbin:/usr/bin"))]
pytestmark = pytest.mark.skipif(bool(_missing), reason=f"{', '.join(_missing)} not installed "
                                "(apt-get install mariadb-server mariadb-client openssl; .ci/run does)")


def _bin(name: str) -> str:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except Exception as exc:  # noqa: BLE001 -- retried until the deadline
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} did not come up: {exc}") from exc
            time.sleep(0.05)


def _load_app():
    spec = importlib.util.spec_from_file_location("shipped_app", APP_FILES / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def program_tls(tmp_path_factory, variant_records):
    """What the program registers for the database's TLS: the ``mysql-tls`` Secret's CA, certificate and
    key, and the webapp's DB_HOST (from the offline run of the dev stack), written to files."""
    objects = scan.kubernetes_objects(variant_records["dev"])
    (secret,) = [o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == TLS_SECRET]
    (webapp,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "webapp"]
    env = {e["name"]: e.get("value") for c in webapp["spec"]["template"]["spec"]["containers"] for e in c.get("env") or []}
    base = tmp_path_factory.mktemp("tls")
    files = {}
    for key in ("ca.crt", "tls.crt", "tls.key"):
        files[key] = base / key
        files[key].write_text(secret["stringData"][key])
    files["tls.key"].chmod(0o600)
    return {**files, "host": env["DB_HOST"], "base": base}


def _other_ca(base) -> str:
    """A CA of its own (made like the program's, by the engine's tls model) that signed nothing we serve."""
    _, key = tls_provider.private_key(None, "other-ca-key", {"algorithm": "RSA", "rsaBits": 2048})
    _, cert = tls_provider.self_signed_cert(None, "other-ca", {
        "privateKeyPem": key["privateKeyPem"], "isCaCertificate": True, "validityPeriodHours": 24,
        "subject": {"commonName": "another CA"}, "allowedUses": ["cert_signing", "digital_signature"]})
    path = base / "other-ca.crt"
    path.write_text(cert["certPem"])
    return str(path)


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory, program_tls):
    """A MariaDB server as the mysql image and mysqld's args leave it: init.sql applied, user `webapp` with
    a random password and all rights on ProductDetails, the program's certificate, plaintext refused."""
    base = tmp_path_factory.mktemp("mariadb")
    data, sock, port = base / "data", base / "mysqld.sock", _free_port()
    as_root = ["--user=root"] if os.geteuid() == 0 else []  # mariadbd refuses root unless told
    subprocess.run([_bin("mariadb-install-db"), "--no-defaults", f"--datadir={data}", "--skip-test-db",
                    "--auth-root-authentication-method=normal", *as_root],
                   check=True, capture_output=True)
    server = subprocess.Popen([
        _bin("mariadbd"), "--no-defaults", f"--datadir={data}", f"--socket={sock}", f"--port={port}",
        "--bind-address=127.0.0.1", "--skip-name-resolve", f"--pid-file={base / 'mysqld.pid'}",
        f"--log-error={base / 'error.log'}", "--require-secure-transport=ON",
        f"--ssl-ca={program_tls['ca.crt']}", f"--ssl-cert={program_tls['tls.crt']}",
        f"--ssl-key={program_tls['tls.key']}", *as_root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def sql(statements: str, database: str = "") -> str:
        args = [_bin("mariadb"), "--no-defaults", f"--socket={sock}", "-uroot", "--batch", "--skip-column-names"]
        out = subprocess.run([*args, *([database] if database else [])], input=statements, text=True,
                             capture_output=True, check=True)
        return out.stdout

    try:
        _wait(lambda: sql("SELECT 1"), "mariadbd")
        password = secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")  # alphanumeric, as generated
        # What the mysql image's entrypoint does with MYSQL_DATABASE/MYSQL_USER, then the shipped init.sql.
        sql("CREATE DATABASE ProductDetails;"
            f"CREATE USER 'webapp'@'%' IDENTIFIED BY '{password}';"
            "GRANT ALL ON ProductDetails.* TO 'webapp'@'%';")
        sql((APP_FILES / "init.sql").read_text())
        yield {"port": port, "password": password, "sql": sql, "dir": base, "tls": program_tls}
    finally:
        server.kill()  # its data directory is thrown away: no clean shutdown needed (terminate() takes ~1 s)
        server.wait(timeout=30)


# Runs the shipped app.py unchanged, with only the program's DB_HOST resolving to this machine (as the
# cluster's DNS resolves it to the mysql pod); every other name resolves as usual.
_RESOLVER = """
import runpy, socket, sys
real, name = socket.getaddrinfo, sys.argv.pop(1)
socket.getaddrinfo = lambda host, *a, **k: real("127.0.0.1" if host == name else host, *a, **k)
sys.argv[0] = sys.argv[1]
runpy.run_path(sys.argv.pop(1), run_name="__main__")
"""


def _start_webapp(mariadb, base, password: str, log):
    secret = base / "password"
    secret.write_text(password)
    port = _free_port()
    tls = mariadb["tls"]
    env = {"PATH": os.environ.get("PATH", ""), "DB_HOST": tls["host"], "DB_PORT": str(mariadb["port"]),
           "DB_NAME": "ProductDetails", "DB_USER": "webapp", "DB_PASSWORD_FILE": str(secret),
           "DB_CA_FILE": str(tls["ca.crt"]), "LISTEN_HOST": "127.0.0.1", "LISTEN_PORT": str(port),
           "PYTHONDONTWRITEBYTECODE": "1"}
    python = shutil.which("python3", path="/usr/bin") or sys.executable  # the system's runtime, stdlib only
    proc = subprocess.Popen([python, "-c", _RESOLVER, tls["host"], str(APP_FILES / "app.py")], env=env,
                            stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    _wait(lambda: urllib.request.urlopen(f"{url}/healthz", timeout=2).read(), "the webapp")
    return proc, url, secret


@pytest.fixture(scope="session")
def webapp(mariadb, tmp_path_factory):
    base = tmp_path_factory.mktemp("webapp")
    with open(base / "stderr.log", "w") as log:
        proc, url, secret = _start_webapp(mariadb, base, mariadb["password"], log)
        try:
            yield {"url": url, "secret": secret, "proc": proc, "log": base / "stderr.log"}
        finally:
            proc.send_signal(15)
            proc.wait(timeout=10)


def _post(url: str, **form) -> tuple[int, str]:
    data = urllib.parse.urlencode(form).encode()
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url + "/", data=data), timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _rows(mariadb) -> list[list[str]]:
    out = mariadb["sql"]("SELECT product_name, product_id FROM products", "ProductDetails")
    return [line.split("\t") for line in out.splitlines()]


def test_ready_only_when_the_database_answers(webapp):
    assert urllib.request.urlopen(webapp["url"] + "/readyz", timeout=10).status == 200


def test_form_stores_the_row_and_lists_it(webapp, mariadb):
    status, _ = _post(webapp["url"], product_name="Widget", product_id="PRD-0000001")
    assert status == 303
    assert ["Widget", "PRD-0000001"] in _rows(mariadb)  # read back from the database itself
    page = urllib.request.urlopen(webapp["url"] + "/", timeout=10).read().decode()
    assert "<td>Widget</td><td>PRD-0000001</td>" in page


def test_limits_count_characters_and_markup_is_escaped(webapp, mariadb):
    assert _post(webapp["url"], product_name="Grüße-äöü!", product_id="<b>x</b>")[0] == 303  # 10 chars
    assert ["Grüße-äöü!", "<b>x</b>"] in _rows(mariadb)
    page = urllib.request.urlopen(webapp["url"] + "/", timeout=10).read().decode()
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page


def test_quotes_are_data_not_sql(webapp, mariadb):
    assert _post(webapp["url"], product_name="x'); --", product_id="a\\'b")[0] == 303
    assert ["x'); --", "a\\\\'b"] in _rows(mariadb)  # --batch escapes the backslash in its output


def test_over_long_input_is_refused_with_a_clear_message(webapp, mariadb):
    before = _rows(mariadb)
    status, body = _post(webapp["url"], product_name="ElevenChars", product_id="123456789012")
    assert status == 400
    assert "Product name is too long: 11 characters, at most 10 are allowed." in body
    assert "Product id is too long: 12 characters, at most 11 are allowed." in body
    status, body = _post(webapp["url"], product_name="", product_id="1")
    assert status == 400 and "Product name is required." in body
    assert _rows(mariadb) == before


def _connect(app, mariadb, password=None, ca_file=None, server_name=None):
    tls = mariadb["tls"]
    return app.Connection("127.0.0.1", mariadb["port"], "webapp", password or mariadb["password"], "ProductDetails",
                          ca_file=ca_file or str(tls["ca.crt"]), server_name=server_name or tls["host"])


def test_the_server_enforces_the_column_sizes_too(mariadb):
    """Strict mode is the backstop behind validate(): the shipped client sees error 1406."""
    app = _load_app()
    conn = _connect(app, mariadb)
    try:
        with pytest.raises(app.DatabaseError) as err:
            conn.query(f"INSERT INTO products VALUES ({app.literal('x' * 11)}, {app.literal('1')})")
        assert err.value.code == app.ER_DATA_TOO_LONG
    finally:
        conn.close()


def test_the_session_is_tls_encrypted_and_the_server_verified(mariadb):
    app = _load_app()
    conn = _connect(app, mariadb)
    try:
        assert conn.tls
        ((name, version),) = conn.query("SHOW SESSION STATUS LIKE 'Ssl_version'")
        assert version.startswith("TLSv1.")
        peer = conn.sock.getpeercert()  # verified: the chain ends at the program's CA
        assert ("DNS", mariadb["tls"]["host"]) in peer["subjectAltName"]
    finally:
        conn.close()


def test_a_plaintext_client_is_refused(mariadb):
    """require_secure_transport: the server refuses a TCP client that does not start TLS (MariaDB answers
    1045 at authentication; MySQL 8.4 answers 3159), even with the right password."""
    out = subprocess.run([_bin("mariadb"), "--no-defaults", "--skip-ssl", "--protocol=TCP", "-h127.0.0.1",
                          f"-P{mariadb['port']}", "-uwebapp", f"-p{mariadb['password']}", "ProductDetails",
                          "-e", "SELECT 1"], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "ERROR 1045" in out.stderr or "ERROR 3159" in out.stderr, out.stderr


def test_a_client_trusting_another_ca_refuses_the_server(mariadb):
    import ssl

    app = _load_app()
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        _connect(app, mariadb, ca_file=_other_ca(mariadb["tls"]["base"]))


def test_a_name_the_certificate_does_not_carry_is_refused(mariadb):
    import ssl

    app = _load_app()
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        _connect(app, mariadb, server_name="mysql.other-namespace.svc.cluster.local")


def test_wrong_password_is_refused(mariadb):
    app = _load_app()
    with pytest.raises(app.DatabaseError) as err:
        _connect(app, mariadb, password=mariadb["password"] + "x")
    assert err.value.code == 1045  # ER_ACCESS_DENIED_ERROR


def test_database_errors_are_logged_not_shown(mariadb, tmp_path):
    """A failing database (here: a wrong password) gives clients a fixed message; the details (error code
    and server text) are in the app's log only."""
    with open(tmp_path / "stderr.log", "w") as log:
        proc, url, _ = _start_webapp(mariadb, tmp_path, mariadb["password"] + "x", log)
        try:
            bodies = []
            for path in ("/readyz", "/"):
                with pytest.raises(urllib.error.HTTPError) as err:
                    urllib.request.urlopen(url + path, timeout=10)
                assert err.value.code == 503
                bodies.append(err.value.read().decode())
            status, body = _post(url, product_name="Widget", product_id="1")
            assert status == 503
            bodies.append(body)
        finally:
            proc.send_signal(15)
            proc.wait(timeout=10)
    assert bodies[0] == "database unavailable\n"
    for body in bodies:
        assert "1045" not in body and "denied" not in body.lower()
    logged = (tmp_path / "stderr.log").read_text()
    assert logged.count("MySQL error 1045") == 3  # readyz, GET /, POST /


def test_caching_sha2_scramble_matches_its_definition():
    """MariaDB has no caching_sha2_password; check the response against the formula MySQL documents:
    XOR(SHA256(pw), SHA256(SHA256(SHA256(pw)) || nonce))."""
    import hashlib

    app = _load_app()
    pw, nonce = "secret", bytes(range(1, 21))
    s1 = hashlib.sha256(pw.encode()).digest()
    expected = bytes(a ^ b for a, b in zip(s1, hashlib.sha256(hashlib.sha256(s1).digest() + nonce).digest()))
    assert app.scramble("caching_sha2_password", pw, nonce) == expected
    assert len(app.scramble("mysql_native_password", pw, nonce)) == 20
    assert app.scramble("caching_sha2_password", "", nonce) == b""
