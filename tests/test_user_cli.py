"""The real ``sigmavault`` CLI as a subprocess: ``user create/list/passwd`` and ``apikey`` against
a temporary data dir, their audit records, and ``serve --tls-cert/--tls-key`` with a certificate
made here (whose log must hold none of the secrets that passed through it)."""

from __future__ import annotations

import getpass
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sigmavault.testing import Daemon, free_port

ROOT_PASSWORD = "cli-root-password-1"
OLD_PASSWORD = "cli-viewer-password-1"
NEW_PASSWORD = "cli-viewer-password-2"


def cli(data_dir: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    config = data_dir.parent / "empty.toml"
    config.touch()
    return subprocess.run([sys.executable, "-m", "sigmavault.cli", *args, "--data-dir", str(data_dir),
                           "--config", str(config)], input=input, capture_output=True, text=True,
                          timeout=60)


def request(url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None,
            context: ssl.SSLContext | None = None) -> tuple[int, dict, dict]:
    """(status, decoded body, headers) of one HTTP(S) request."""
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else {}, resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers


def test_user_commands_change_what_login_accepts_and_are_audited(tmp_path):
    data = tmp_path / "data"
    done = cli(data, "user", "create", "root1", "--role", "admin", "--password-stdin", input=ROOT_PASSWORD + "\n")
    assert done.returncode == 0 and "created admin user root1" in done.stdout, done.stderr
    done = cli(data, "user", "create", "viewer1", "--password-stdin", input=OLD_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    done = cli(data, "user", "create", "viewer1", "--password-stdin", input=OLD_PASSWORD + "\n")
    assert done.returncode == 1 and "already exists" in done.stderr

    done = cli(data, "user", "list")
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines()}
    assert listed == {"root1": "admin", "viewer1": "readonly"}
    assert OLD_PASSWORD not in done.stdout and ROOT_PASSWORD not in done.stdout

    done = cli(data, "user", "passwd", "viewer1", "--password-stdin", input="short\n")
    assert done.returncode == 1 and "at least 8 characters" in done.stderr
    done = cli(data, "user", "passwd", "ghost", "--password-stdin", input=NEW_PASSWORD + "\n")
    assert done.returncode == 1 and "does not exist" in done.stderr
    done = cli(data, "user", "passwd", "viewer1", "--password-stdin", input=NEW_PASSWORD + "\n")
    assert done.returncode == 0 and "password of viewer1 changed" in done.stdout, done.stderr
    done = cli(data, "apikey", "root1", "--name", "ops", "--expires-days", "7")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert key.startswith("svk_")

    daemon = Daemon(data)
    daemon.admin_key = key  # provisioned above: the daemon starts on this data dir as is
    try:
        daemon.start()
        login = f"{daemon.url}/api/v1/auth/login"
        assert request(login, "POST", {"username": "viewer1", "password": OLD_PASSWORD})[0] == 401
        assert request(login, "POST", {"username": "viewer1", "password": NEW_PASSWORD})[0] == 200
        auth = {"Authorization": f"Bearer {key}"}
        status, page, _ = request(f"{daemon.url}/api/v1/audit?action=auth.*&limit=100", headers=auth)
        assert status == 200, page
        cli_rows = [r for r in reversed(page["items"]) if r["actor"].startswith("cli:")]
        assert {r["actor"] for r in cli_rows} == {f"cli:{getpass.getuser()}"}
        assert {r["address"] for r in cli_rows} == {"local"}
        assert [(r["action"], r["target"], r["outcome"]) for r in cli_rows] == [
            ("auth.user.create", "root1", "ok"), ("auth.user.create", "viewer1", "ok"),
            ("auth.user.create", "viewer1", "error 409"), ("auth.user.passwd", "viewer1", "error 422"),
            ("auth.user.passwd", "ghost", "error 404"), ("auth.user.passwd", "viewer1", "ok"),
            ("auth.key.create", "root1", "ok")]
        assert cli_rows[0]["details"] == {"role": "admin"}
        assert cli_rows[-1]["details"]["name"] == "ops" and cli_rows[-1]["details"]["key_id"] in key
        everything = json.dumps(page)
        assert not any(s in everything for s in (ROOT_PASSWORD, OLD_PASSWORD, NEW_PASSWORD, key))
        status, verdict, _ = request(f"{daemon.url}/api/v1/audit/verify", headers=auth)
        assert verdict["ok"] is True and verdict["checked"] >= len(cli_rows) + 2
    finally:
        daemon.kill()


def make_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sigmavault-test")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "test.crt", directory / "test.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def test_serve_with_tls_cert_and_key_and_no_secret_in_its_log(tmp_path):
    data = tmp_path / "data"
    cert, key_file = make_certificate(tmp_path)
    assert cli(data, "user", "create", "root1", "--role", "admin", "--password-stdin",
               input=ROOT_PASSWORD + "\n").returncode == 0
    config = tmp_path / "debug.toml"
    config.write_text('log_level = "DEBUG"\n')
    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "sigmavault.cli", "serve", "--host", "127.0.0.1",
                                 "--port", str(port), "--data-dir", str(data), "--config", str(config),
                                 "--tls-cert", str(cert), "--tls-key", str(key_file)],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"https://127.0.0.1:{port}/api/v1"
        trusting = ssl.create_default_context(cafile=str(cert))  # verifies hostname (IP SAN) too
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                if request(f"{base}/health", context=trusting)[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with trusting.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                served = tls.getpeercert(binary_form=True)
        assert served == x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(serialization.Encoding.DER)
        try:
            request(f"{base}/health", context=ssl.create_default_context())
            raise AssertionError("a client that does not trust the test certificate connected")
        except urllib.error.URLError as exc:
            assert "CERTIFICATE_VERIFY_FAILED" in str(exc)

        wrong = "Wr0ng-password-in-the-log?"
        status, body, _ = request(f"{base}/auth/login", "POST", {"username": "root1", "password": wrong},
                                  context=trusting)
        assert status == 401 and wrong not in json.dumps(body)
        status, body, headers = request(f"{base}/auth/login", "POST",
                                        {"username": "root1", "password": ROOT_PASSWORD}, context=trusting)
        assert status == 200
        cookie = next(h for h in headers.get_all("Set-Cookie") if h.startswith("sigmavault_session="))
        assert "Secure" in cookie and "HttpOnly" in cookie
        session, csrf = cookie.split(";")[0].split("=", 1)[1], body["csrf_token"]
        status, created, _ = request(f"{base}/auth/keys", "POST", {"name": "from-browser"}, context=trusting,
                                     headers={"Cookie": f"sigmavault_session={session}", "X-CSRF-Token": csrf})
        assert status == 201, created
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(15) == 0
        text = log_path.read_text(errors="replace")
        assert "POST /api/v1/auth/login 401" in text and "POST /api/v1/auth/keys 201" in text, text[-2000:]
        for secret in (wrong, ROOT_PASSWORD, session, csrf, created["key"], created["key"].split("_", 2)[2]):
            assert secret not in text, secret[:6]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
