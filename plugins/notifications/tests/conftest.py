"""Real receivers on loopback: an SMTP server (aiosmtpd, STARTTLS with a self-signed certificate
made here, AUTH required) and an aiohttp webhook receiver that checks the HMAC signature."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import hmac
import ipaddress
import ssl
import time
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sigmavault.testing import free_port

SMTP_USER = "nas-mailer"
SMTP_PASSWORD = "smtp-pass-7f3e1c"
WEBHOOK_SECRET = "hook-secret-91ab44"


def self_signed(dir: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = dir / "smtp.crt", dir / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Mailbox:
    """What the SMTP server received (filled from the server's thread)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[dict[str, Any]] = []
        self.logins: list[tuple[str, bool]] = []
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                               "tls": session.ssl is not None, "auth": session.authenticated})
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content, policy=policy.default))
        return "250 OK queued"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == SMTP_USER
              and auth_data.password.decode() == SMTP_PASSWORD)
        self.logins.append((auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?", ok))
        return AuthResult(success=ok, handled=False)

    async def wait(self, count: int, timeout: float = 10) -> list[Message]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            assert time.monotonic() < deadline, f"{len(self.messages)} mails arrived, not {count}"
            await asyncio.sleep(0.05)
        return self.messages


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[Mailbox]:
    """aiosmtpd on 127.0.0.1: STARTTLS required before AUTH, AUTH required before mail."""
    cert, key = self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    box = Mailbox()
    box.port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port, tls_context=ctx, require_starttls=True,
                            authenticator=box.authenticate, auth_required=True, auth_require_tls=True)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


class Hooks:
    """What the webhook receiver got; ``status`` is what it answers next (a list pops per call)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.statuses: list[int] = []
        self.url = ""

    async def wait(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count:
            assert time.monotonic() < deadline, f"{len(self.calls)} webhook calls, not {count}"
            await asyncio.sleep(0.05)
        return self.calls


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[Hooks]:
    hooks = Hooks()

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-SigmaVault-Signature", ""), expected):
            hooks.bad_signatures += 1
            return web.json_response({"error": "bad signature"}, status=401)
        status = hooks.statuses.pop(0) if hooks.statuses else 200
        if status < 300:
            hooks.calls.append({"headers": dict(request.headers), "json": await request.json()})
        return web.json_response({"ok": status < 300}, status=status)

    web_app = web.Application()
    web_app.router.add_post("/hook", receive)
    runner = web.AppRunner(web_app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    hooks.url = f"http://127.0.0.1:{port}/hook"
    yield hooks
    await runner.cleanup()


def email_channel(port: int, password: str = SMTP_PASSWORD, **over: Any) -> dict[str, Any]:
    return {"name": over.pop("name", "on-call mail"), "min_severity": over.pop("min_severity", "warning"),
            "settings": {"type": "email", "host": "127.0.0.1", "port": port, "security": "starttls",
                         "verify_tls": False, "username": SMTP_USER, "password": password,
                         "sender": "nas@example.net", "to": ["ops@example.net", "admin@example.net"], **over}}


def webhook_channel(url: str, secret: str | None = WEBHOOK_SECRET, **over: Any) -> dict[str, Any]:
    return {"name": over.pop("name", "ops hook"), "min_severity": over.pop("min_severity", "info"),
            "settings": {"type": "webhook", "url": url, "secret": secret, **over}}


class Bodies:
    email = staticmethod(email_channel)
    webhook = staticmethod(webhook_channel)
    SMTP_USER, SMTP_PASSWORD, WEBHOOK_SECRET = SMTP_USER, SMTP_PASSWORD, WEBHOOK_SECRET


@pytest.fixture
def bodies() -> type[Bodies]:
    """Channel bodies for the loopback receivers, and their credentials."""
    return Bodies


@pytest.fixture
def make() -> Callable[..., Any]:
    """``await make(client, path, body)``: POST and return the JSON, asserting 201."""
    async def post(client: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = await client.post(f"/api/v1{path}", json=body)
        assert resp.status == 201, await resp.text()
        return await resp.json()
    return post
