"""Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): a browser that
has signed in as a user gets a signed, user-bound cookie; presenting it again at login marks the
client as one of that user's known devices, which failures from elsewhere cannot lock out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

DEVICE_COOKIE = "sigmavault_device"
_VERSION = "v1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class DeviceCookies:
    """Issues and checks ``v1.<nonce>.<HMAC-SHA256(key, user, nonce)>`` values."""

    def __init__(self, key: bytes):
        self._key = key

    def _sign(self, username: str, nonce: str) -> str:
        message = f"{_VERSION}\0{username}\0{nonce}".encode()
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest())

    def issue(self, username: str) -> str:
        nonce = secrets.token_urlsafe(16)
        return f"{_VERSION}.{nonce}.{self._sign(username, nonce)}"

    def device_of(self, value: str | None, username: str) -> str | None:
        """The device id (nonce) of a valid cookie issued to ``username``; None otherwise."""
        if not value or value.count(".") != 2:
            return None
        version, nonce, signature = value.split(".")
        if version != _VERSION or not hmac.compare_digest(signature, self._sign(username, nonce)):
            return None
        return nonce
