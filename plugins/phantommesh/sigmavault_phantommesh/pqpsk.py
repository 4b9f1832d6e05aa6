"""Post-quantum pre-shared keys: an ML-KEM-768 exchange whose secret fills WireGuard's PSK slot.

WireGuard's handshake mixes the PSK in, so a quantum attacker who later breaks X25519 still
cannot decrypt recorded traffic. The initiator sends an encapsulation key, the responder
encapsulates and answers the ciphertext; both derive the PSK with HKDF-SHA256 bound to both
WireGuard public keys. Only public values travel, so the exchange may run over plain HTTP.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import keys

INFO = b"sigmavault phantommesh ML-KEM-768 psk v1"
EK_BYTES, CT_BYTES = 1184, 1088


def _context(pub_a: str, pub_b: str) -> bytes:
    a, b = sorted((keys.decode(pub_a, "public key"), keys.decode(pub_b, "public key")))
    return INFO + b"|" + a + b


def derive_psk(shared_secret: bytes, pub_a: str, pub_b: str) -> str:
    """The WireGuard PSK (base64) from a KEM shared secret, bound to both peers' keys."""
    okm = HKDF(algorithm=hashes.SHA256(), length=keys.KEY_LEN, salt=None,
               info=_context(pub_a, pub_b)).derive(shared_secret)
    return keys.encode(okm)


@dataclass
class Initiator:
    """One exchange in flight: keep it until the responder's ciphertext arrives."""

    decapsulation_key: MLKEM768PrivateKey

    @classmethod
    def start(cls) -> "Initiator":
        return cls(MLKEM768PrivateKey.generate())

    @property
    def encapsulation_key(self) -> str:
        """Base64 of the 1184-byte ML-KEM-768 public key to send to the responder."""
        return base64.b64encode(self.decapsulation_key.public_key().public_bytes_raw()).decode()

    def finish(self, ciphertext_b64: str, own_pub: str, peer_pub: str) -> str:
        """Decapsulate the responder's ciphertext and derive the PSK."""
        ct = _b64(ciphertext_b64, CT_BYTES, "ML-KEM ciphertext")
        return derive_psk(self.decapsulation_key.decapsulate(ct), own_pub, peer_pub)


def respond(encapsulation_key_b64: str, own_pub: str, peer_pub: str) -> tuple[str, str]:
    """Encapsulate to the initiator's key: returns ``(ciphertext_b64, psk_b64)``."""
    ek = MLKEM768PublicKey.from_public_bytes(_b64(encapsulation_key_b64, EK_BYTES,
                                                  "ML-KEM encapsulation key"))
    shared, ct = ek.encapsulate()
    return base64.b64encode(ct).decode(), derive_psk(shared, own_pub, peer_pub)


def _b64(value: str, size: int, what: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raise ValueError(f"{what} is not valid base64") from None
    if len(raw) != size:
        raise ValueError(f"{what} must be {size} bytes, got {len(raw)}")
    return raw
