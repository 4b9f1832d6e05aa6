"""RELAY: deliver a JSON payload to a webhook with an HMAC signature, retry and backoff."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp

SIGNATURE_HEADER = "X-SigmaVault-Signature"


class DeliveryError(Exception):
    """Every attempt failed, or the target refused the payload (a 4xx other than 408/429)."""

    def __init__(self, message: str, attempts: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.attempts = attempts


def check_url(url: str) -> str:
    """Accept only absolute http(s) URLs with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"webhook URL must be http(s)://host/...: {url!r}")
    return url


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of body>``, as GitHub-style receivers expect."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _retryable(status: int) -> bool:
    return status >= 500 or status in (408, 429)


async def deliver(url: str, payload: Any, *, event: str = "message", secret: str | None = None,
                  attempts: int = 5, backoff: float = 0.5, max_backoff: float = 30.0,
                  timeout: float = 10.0, session: aiohttp.ClientSession | None = None,
                  sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> dict[str, Any]:
    """POST ``payload`` as JSON to ``url``; retry network errors, 5xx, 408 and 429 with
    exponential backoff (``backoff * 2**n``, capped, ``Retry-After`` honoured up to the cap).

    Returns the delivery record; raises :class:`DeliveryError` when it could not be delivered.
    """
    check_url(url)
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    delivery = uuid.uuid4().hex
    headers = {"Content-Type": "application/json", "X-SigmaVault-Event": event,
               "X-SigmaVault-Delivery": delivery, "User-Agent": "SigmaVault-RELAY/1"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    own = session is None
    session = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
    log: list[dict[str, Any]] = []
    try:
        for n in range(attempts):
            started = time.monotonic()
            wait = min(max_backoff, backoff * 2 ** n)
            try:
                async with session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
                    await resp.read()
                    log.append({"attempt": n + 1, "status": resp.status,
                                "seconds": round(time.monotonic() - started, 4)})
                    if resp.status < 300:
                        return {"url": url, "delivered": True, "delivery": delivery, "status": resp.status,
                                "attempts": log}
                    if not _retryable(resp.status):
                        raise DeliveryError(f"{url} refused the payload with HTTP {resp.status}", log)
                    retry_after = resp.headers.get("Retry-After", "")
                    if retry_after.isdigit():
                        wait = min(max_backoff, float(retry_after))
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                log.append({"attempt": n + 1, "error": f"{type(exc).__name__}: {exc}",
                            "seconds": round(time.monotonic() - started, 4)})
            if n + 1 < attempts:
                log[-1]["retry_in"] = wait
                await sleep(wait)
    finally:
        if own:
            await session.close()
    last = log[-1]
    raise DeliveryError(f"{url} not reached after {attempts} attempts "
                        f"(last: {last.get('error') or 'HTTP ' + str(last.get('status'))})", log)
