"""One delivery attempt per channel type: a webhook POST or an SMTP mail.

Each sender returns a short description of what the receiver answered, or raises
:class:`SendError` with a machine-readable ``reason`` (``connection_refused``, ``auth_failed``,
``tls_failed``, ``http_status``, ``timeout`` …), a message a person can act on, and whether
trying again later may help (``retryable``). Retries and backoff are the caller's business.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import hmac
import json
import socket
import ssl
import uuid
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import aiohttp
import aiosmtplib

SIGNATURE_HEADER = "X-SigmaVault-Signature"
EVENT_HEADER = "X-SigmaVault-Event"
DELIVERY_HEADER = "X-SigmaVault-Delivery"
USER_AGENT = "SigmaVault-Notifications/1"


class SendError(Exception):
    def __init__(self, reason: str, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retryable = retryable


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of body>`` (the same scheme as RELAY and GitHub webhooks)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def _network_error(exc: BaseException, where: str) -> SendError:
    """A connection-level failure, named for what it is."""
    chain = _causes(exc)
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain):
        cert = next(e for e in chain if isinstance(e, ssl.SSLCertVerificationError))
        return SendError("tls_failed", f"TLS failed with {where}: the certificate was not accepted "
                         f"({getattr(cert, 'verify_message', None) or cert})", False)
    if any(isinstance(e, (ssl.SSLError, aiohttp.ClientSSLError)) for e in chain):
        ssl_exc = next(e for e in chain if isinstance(e, (ssl.SSLError, aiohttp.ClientSSLError)))
        return SendError("tls_failed", f"TLS failed with {where}: {ssl_exc}", False)
    if any(isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED
           for e in chain) or "Connection refused" in str(exc):
        return SendError("connection_refused", f"connection refused by {where}: nothing listens there", True)
    if any(isinstance(e, socket.gaierror) for e in chain):
        return SendError("unknown_host", f"cannot resolve the host of {where}", True)
    if any(isinstance(e, (asyncio.TimeoutError, TimeoutError)) for e in chain):
        return SendError("timeout", f"{where} did not answer in time", True)
    return SendError("unreachable", f"cannot reach {where}: {exc}", True)


async def send_webhook(settings: dict[str, Any], payload: dict[str, Any], *, event: str,
                       timeout: float, session: aiohttp.ClientSession | None = None) -> str:
    """POST ``payload`` as JSON to the webhook's URL (one attempt)."""
    url = settings["url"]
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    headers = {"Content-Type": "application/json", EVENT_HEADER: event,
               DELIVERY_HEADER: uuid.uuid4().hex, "User-Agent": USER_AGENT}
    if settings.get("secret"):
        headers[SIGNATURE_HEADER] = sign(settings["secret"], body)
    own = session is None
    client = session or aiohttp.ClientSession()
    try:
        async with client.post(url, data=body, headers=headers, allow_redirects=False,
                               timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            text = (await resp.text(errors="replace"))[:200]
            if resp.status < 300:
                return f"HTTP {resp.status}"
            retryable = resp.status >= 500 or resp.status in (408, 429)
            raise SendError("http_status", f"{url} answered HTTP {resp.status} {resp.reason or ''}"
                            .rstrip() + (f": {text.strip()}" if text.strip() else ""), retryable)
    except SendError:
        raise
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        raise _network_error(exc, url) from exc
    finally:
        if own:
            await client.close()


def build_email(settings: dict[str, Any], subject: str, text: str) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))  # a subject is one line
    msg["From"] = settings["sender"]
    msg["To"] = ", ".join(settings["to"])
    msg["Subject"] = subject.replace("\r", " ").replace("\n", " ")[:250]
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="sigmavault")
    msg["X-Mailer"] = USER_AGENT
    msg.set_content(text)
    return msg


async def send_email(settings: dict[str, Any], subject: str, text: str, *, timeout: float) -> str:
    """Send one mail through the channel's SMTP server (one attempt)."""
    host, port, security = settings["host"], int(settings["port"]), settings["security"]
    where = f"SMTP server {host}:{port}"
    context = ssl.create_default_context()
    if not settings.get("verify_tls", True):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    msg = build_email(settings, subject, text)
    password = settings.get("password")
    try:
        errors, answer = await aiosmtplib.send(
            msg, hostname=host, port=port, username=settings.get("username") or None,
            password=password if settings.get("username") else None,
            use_tls=security == "tls", start_tls=security == "starttls",
            tls_context=context if security != "none" else None, timeout=timeout)
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise SendError("auth_failed", f"{where} refused the login for {settings.get('username')!r}: "
                        f"{exc.code} {exc.message}", False) from exc
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = ", ".join(f"{r.recipient} ({r.code} {r.message})" for r in exc.recipients)
        raise SendError("recipients_refused", f"{where} refused every recipient: {refused}", False) from exc
    except aiosmtplib.SMTPSenderRefused as exc:
        raise SendError("sender_refused", f"{where} refused the sender {exc.sender}: {exc.code} "
                        f"{exc.message}", exc.code < 500) from exc
    except aiosmtplib.SMTPNotSupported as exc:
        reason = "tls_failed" if "STARTTLS" in str(exc).upper() else "smtp_error"
        raise SendError(reason, f"{where}: {exc}", False) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise SendError("smtp_error", f"{where} answered {exc.code} {exc.message}", exc.code < 500) from exc
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected,
            aiosmtplib.SMTPTimeoutError, ssl.SSLError, OSError) as exc:
        raise _network_error(exc, where) from exc
    except aiosmtplib.SMTPException as exc:
        text_ = str(exc)
        if "auth" in text_.lower():
            raise SendError("auth_failed", f"{where}: {text_}", False) from exc
        raise SendError("smtp_error", f"{where}: {text_}", False) from exc
    if errors:
        refused = ", ".join(f"{addr} ({code} {why})" for addr, (code, why) in errors.items())
        return f"accepted, except for {refused}: {answer}"
    return f"accepted: {answer}"
