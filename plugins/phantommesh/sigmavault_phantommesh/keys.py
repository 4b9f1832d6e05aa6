"""WireGuard keys: X25519 key pairs and the base64 / hex forms the two driver APIs speak."""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

KEY_LEN = 32


class InvalidKey(ValueError):
    """A key is not 32 bytes of base64 (the message says which)."""


def decode(key_b64: str, what: str = "key") -> bytes:
    """Decode a base64 WireGuard key to its 32 raw bytes, or raise ``ValueError``."""
    try:
        raw = base64.b64decode(key_b64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKey(f"{what} is not valid base64") from None
    if len(raw) != KEY_LEN:
        raise InvalidKey(f"{what} must decode to {KEY_LEN} bytes, got {len(raw)}")
    return raw


def encode(raw: bytes) -> str:
    """The base64 form of a raw 32-byte key."""
    if len(raw) != KEY_LEN:
        raise InvalidKey(f"key must be {KEY_LEN} bytes, got {len(raw)}")
    return base64.b64encode(raw).decode()


def to_hex(key_b64: str) -> str:
    """Base64 key → the lowercase hex the UAPI protocol uses."""
    return decode(key_b64).hex()


def from_hex(key_hex: str) -> str:
    """UAPI hex key → base64."""
    return encode(bytes.fromhex(key_hex))


def is_valid(key_b64: str) -> bool:
    try:
        decode(key_b64)
        return True
    except ValueError:
        return False


@dataclass(frozen=True)
class KeyPair:
    private_key: str  # base64
    public_key: str   # base64


def public_from_private(private_b64: str) -> str:
    """The X25519 public key of a base64 private key."""
    priv = X25519PrivateKey.from_private_bytes(decode(private_b64, "private key"))
    return encode(priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def generate() -> KeyPair:
    """A fresh X25519 key pair (clamping is done by X25519 itself, as ``wg genkey`` does)."""
    priv = X25519PrivateKey.generate()
    raw = priv.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return KeyPair(encode(raw), encode(priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)))


def generate_psk() -> str:
    """A random 32-byte pre-shared key (``wg genpsk``)."""
    return encode(os.urandom(KEY_LEN))
