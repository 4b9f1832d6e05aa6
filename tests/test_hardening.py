"""Hardening of the HTTP server: security headers on the UI, slow request heads, clients that go
away mid-request, HSTS only over TLS."""

from __future__ import annotations

import re
import socket
import ssl
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from sigmavault.config import CHECKOUT
from sigmavault.testing import Daemon, require_tool


@pytest.fixture
def sv_config_overrides(tmp_path: Path) -> dict[str, Any]:
    ui = tmp_path / "ui"
    ui.mkdir()
    (ui / "index.html").write_text('<!doctype html><script src="./boot.js"></script>')
    return {"ui_dir": ui}


async def test_the_web_ui_is_served_with_security_headers(anon_client):
    resp = await anon_client.get("/")
    assert resp.status == 200 and "boot.js" in await resp.text()
    csp = dict(part.strip().split(" ", 1) for part in resp.headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"


def test_the_web_ui_has_no_inline_script():
    """The CSP allows only script files: index.html (the source of the build) must not inline one."""
    html = (CHECKOUT / "webui" / "index.html").read_text()
    tags = re.findall(r"<script\b[^>]*>", html)
    assert tags and all("src=" in tag for tag in tags), tags


def test_a_client_that_disconnects_mid_request_is_not_an_error(sv_daemon):
    daemon = sv_daemon(config='log_level = "DEBUG"\n')
    started = len(daemon.log_path.read_text(errors="replace"))

    def log() -> str:  # what the daemon logged since it started serving
        return daemon.log_path.read_text(errors="replace")[started:]

    with socket.create_connection((daemon.host, daemon.port)) as sock:
        sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     b"\r\nContent-Length: 1000\r\n\r\n{\"username\": ")
        time.sleep(0.3)  # the handler is now waiting for the rest of the body
    deadline = time.monotonic() + 5
    while "client disconnected" not in log():
        assert time.monotonic() < deadline, log()
        time.sleep(0.05)
    line = next(ln for ln in log().splitlines() if "client disconnected" in ln)
    assert "DEBUG" in line and "POST /api/v1/auth/login" in line
    assert "ERROR" not in log() and "Traceback" not in log(), log()


def _closed_within(sock: socket.socket, seconds: float, dribble: bytes) -> bool:
    """Whether the server closes ``sock`` within ``seconds`` while it keeps sending ``dribble``."""
    deadline = time.monotonic() + seconds
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            if sock.recv(1024) == b"":
                return True
        except socket.timeout:
            pass
        except ConnectionResetError:
            return True
        try:
            sock.sendall(dribble)
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def test_connections_without_a_request_head_are_closed(sv_daemon):
    daemon = sv_daemon(config="header_timeout_seconds = 1\n")
    socks = []
    try:
        for _ in range(50):
            sock = socket.create_connection((daemon.host, daemon.port))
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
            socks.append(sock)
        started = time.monotonic()
        assert _closed_within(socks[0], 4, b"X-Slow: 1\r\n"), "a dribbled request head kept its socket"
        assert time.monotonic() - started < 4
        assert all(_closed_within(s, 1, b"") for s in socks[1:])
        # a request that arrives whole is answered as ever
        with urllib.request.urlopen(f"{daemon.url}/api/v1/health", timeout=5) as r:
            assert r.status == 200
    finally:
        for sock in socks:
            sock.close()


def test_hsts_only_over_tls(tmp_path, sv_daemon):
    require_tool("openssl")
    plain = sv_daemon(name="plain")
    with urllib.request.urlopen(f"{plain.url}/api/v1/health", timeout=5) as r:
        assert "Strict-Transport-Security" not in r.headers
    daemon = Daemon(tmp_path / "tls", "tls_self_signed = true\n", scheme="https")
    try:
        daemon.start()
        with urllib.request.urlopen(f"{daemon.url}/api/v1/health", timeout=5,
                                    context=ssl._create_unverified_context()) as r:
            assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        daemon.kill()
