"""HPKE base mode (RFC 9180) for the one suite age's mlkem768x25519 stanza uses.

KEM MLKEM768-X25519 (X-Wing, 0x647a), KDF HKDF-SHA256 (0x0001), AEAD ChaCha20Poly1305 (0x0003);
single-shot Seal/Open with sequence number 0.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from . import xwing

KDF_ID = 0x0001
AEAD_ID = 0x0003
SUITE_ID = b"HPKE" + xwing.KEM_ID.to_bytes(2, "big") + KDF_ID.to_bytes(2, "big") + AEAD_ID.to_bytes(2, "big")
MODE_BASE = b"\x00"


class OpenError(Exception):
    """The HPKE ciphertext did not authenticate."""


def _extract(salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, b"HPKE-v1" + SUITE_ID + label + ikm, hashlib.sha256).digest()


def _expand(prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + SUITE_ID + label + info
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + labeled + bytes([i]), hashlib.sha256).digest()
        out += block
        i += 1
    return out[:length]


def key_schedule(shared_secret: bytes, info: bytes) -> tuple[bytes, bytes]:
    """Return (key, base_nonce) for mode_base with empty PSK."""
    psk_id_hash = _extract(b"", b"psk_id_hash", b"")
    info_hash = _extract(b"", b"info_hash", info)
    context = MODE_BASE + psk_id_hash + info_hash
    secret = _extract(shared_secret, b"secret", b"")
    return _expand(secret, b"key", context, 32), _expand(secret, b"base_nonce", context, 12)


def seal_base(public_key: bytes, info: bytes, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
    """Return ``(enc, ciphertext)``."""
    shared_secret, enc = xwing.encapsulate(public_key)
    key, nonce = key_schedule(shared_secret, info)
    return enc, ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)


def open_base(private_key: xwing.DecapsulationKey, enc: bytes, info: bytes, aad: bytes,
              ciphertext: bytes) -> bytes:
    """Decrypt, raising :class:`OpenError` when authentication fails."""
    shared_secret = xwing.decapsulate(private_key, enc)
    key, nonce = key_schedule(shared_secret, info)
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise OpenError("HPKE open failed") from None
