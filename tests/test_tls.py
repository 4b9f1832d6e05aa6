"""Optional TLS: a self-signed certificate made on request, and Secure session cookies over HTTPS."""

from __future__ import annotations

import json
import ssl
import urllib.request

from sigmavault.testing import ADMIN_PASSWORD, Daemon, require_tool


def test_self_signed_tls(tmp_path):
    require_tool("openssl")
    daemon = Daemon(tmp_path / "data", "tls_self_signed = true\n", scheme="https")
    try:
        daemon.start()
        cert = tmp_path / "data" / "tls" / "selfsigned.crt"
        assert cert.exists() and (tmp_path / "data" / "tls" / "selfsigned.key").stat().st_mode & 0o077 == 0
        ctx = ssl.create_default_context(cafile=str(cert))
        ctx.check_hostname = False
        with urllib.request.urlopen(f"https://127.0.0.1:{daemon.port}/api/v1/health", context=ctx, timeout=5) as r:
            assert json.load(r)["status"] == "ok"
        req = urllib.request.Request(f"https://127.0.0.1:{daemon.port}/api/v1/auth/login", method="POST",
                                     data=json.dumps({"username": "admin", "password": ADMIN_PASSWORD}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            cookie = next(h for h in r.headers.get_all("Set-Cookie") if h.startswith("sigmavault_session="))
        assert "Secure" in cookie and "HttpOnly" in cookie
    finally:
        daemon.kill()
