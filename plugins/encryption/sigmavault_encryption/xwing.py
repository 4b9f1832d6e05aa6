"""X-Wing: the hybrid ML-KEM-768 + X25519 KEM (draft-connolly-cfrg-xwing-kem-10).

This is the KEM age calls MLKEM768-X25519 (HPKE KEM id 0x647a). ML-KEM-768 comes from the
``cryptography`` package (OpenSSL); :func:`supported` says whether this backend has it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

if TYPE_CHECKING:  # pragma: no cover  (imported lazily at run time: older backends lack it)
    from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey

SEED_SIZE = 32
ESEED_SIZE = 64
PUBLIC_KEY_SIZE = 1216
CIPHERTEXT_SIZE = 1120
MLKEM_PK_SIZE = 1184
MLKEM_CT_SIZE = 1088
LABEL = b"\\.//^\\"
KEM_ID = 0x647A


class UnsupportedBackend(RuntimeError):
    """The installed cryptography/OpenSSL has no ML-KEM-768."""


def supported() -> tuple[bool, str]:
    """Return (supported, reason) for ML-KEM-768 on the active backend."""
    try:
        from cryptography.hazmat.backends.openssl.backend import backend
        from cryptography.hazmat.primitives.asymmetric import mlkem  # noqa: F401
    except ImportError as exc:
        return False, f"cryptography has no ML-KEM module ({exc}); cryptography >= 48 is required"
    if not backend.mlkem_supported():
        return False, f"{backend.openssl_version_text()} does not provide ML-KEM-768"
    return True, f"ML-KEM-768 provided by {backend.openssl_version_text()}"


def _mlkem() -> ModuleType:
    ok, reason = supported()
    if not ok:
        raise UnsupportedBackend(reason)
    from cryptography.hazmat.primitives.asymmetric import mlkem
    return mlkem


def _combiner(ss_m: bytes, ss_x: bytes, ct_x: bytes, pk_x: bytes) -> bytes:
    return hashlib.sha3_256(ss_m + ss_x + ct_x + pk_x + LABEL).digest()


@dataclass
class DecapsulationKey:
    """An expanded X-Wing private key (the 32-byte seed plus its derived parts)."""

    seed: bytes
    mlkem_key: MLKEM768PrivateKey
    x25519_key: X25519PrivateKey
    public_key: bytes

    @property
    def pk_x(self) -> bytes:
        return self.public_key[MLKEM_PK_SIZE:]


def expand(seed: bytes) -> DecapsulationKey:
    """``expandDecapsulationKey``: SHAKE256(seed, 96) → ML-KEM (d||z) and the X25519 scalar."""
    if len(seed) != SEED_SIZE:
        raise ValueError("an X-Wing private key is 32 bytes")
    mlkem = _mlkem()
    expanded = hashlib.shake_256(seed).digest(96)
    sk_m = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
    sk_x = X25519PrivateKey.from_private_bytes(expanded[64:96])
    pk = sk_m.public_key().public_bytes_raw() + sk_x.public_key().public_bytes_raw()
    return DecapsulationKey(seed, sk_m, sk_x, pk)


def generate() -> DecapsulationKey:
    """A fresh random key pair."""
    return expand(os.urandom(SEED_SIZE))


MLKEMEncaps = Callable[[Any, bytes], tuple[bytes, bytes]]
"""``ML-KEM-768.EncapsDerand``: (public key, 32-byte randomness m) → (ss_M, ct_M)."""


def _openssl_encaps(pk_m: Any, m: bytes) -> tuple[bytes, bytes]:
    # OpenSSL exposes no derandomized ML-KEM encapsulation: it draws its own m, so ``m`` is
    # unused here (it is random anyway on this path).
    return pk_m.encapsulate()


def encapsulate(public_key: bytes) -> tuple[bytes, bytes]:
    """Return ``(shared_secret, ciphertext)`` for a 1216-byte X-Wing public key."""
    return encapsulate_derand(public_key, os.urandom(ESEED_SIZE), _openssl_encaps)


def encapsulate_derand(public_key: bytes, eseed: bytes,
                       mlkem_encaps: MLKEMEncaps = _openssl_encaps) -> tuple[bytes, bytes]:
    """The draft's ``EncapsulateDerand(pk, eseed)``: the X25519 ephemeral is ``eseed[32:64]``,
    the ML-KEM half is ``mlkem_encaps(pk_M, eseed[0:32])``; returns ``(ss, ct_M || ct_X)``."""
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise ValueError("an X-Wing public key is 1216 bytes")
    if len(eseed) != ESEED_SIZE:
        raise ValueError("an X-Wing encapsulation seed is 64 bytes")
    mlkem = _mlkem()
    pk_m = mlkem.MLKEM768PublicKey.from_public_bytes(public_key[:MLKEM_PK_SIZE])  # FIPS 203 §7.2 check
    pk_x = public_key[MLKEM_PK_SIZE:]
    ek_x = X25519PrivateKey.from_private_bytes(eseed[32:64])
    ct_x = ek_x.public_key().public_bytes_raw()
    ss_x = ek_x.exchange(X25519PublicKey.from_public_bytes(pk_x))
    ss_m, ct_m = mlkem_encaps(pk_m, eseed[:32])
    if len(ss_m) != 32 or len(ct_m) != MLKEM_CT_SIZE:
        raise ValueError("ML-KEM-768 encapsulation returned a malformed secret or ciphertext")
    return _combiner(ss_m, ss_x, ct_x, pk_x), ct_m + ct_x


class LowOrderPoint(ValueError):
    """The X25519 half of a ciphertext gives the all-zero shared secret (low-order point)."""


def decapsulate(key: DecapsulationKey, ciphertext: bytes) -> bytes:
    """Recover the shared secret from a 1120-byte ciphertext.

    Raises :class:`LowOrderPoint` when the X25519 share is a low-order point: age refuses such
    stanzas (C2SP CCTV ``hybrid_low_order``/``hybrid_identity``) as it does for X25519 ones.
    """
    if len(ciphertext) != CIPHERTEXT_SIZE:
        raise ValueError("an X-Wing ciphertext is 1120 bytes")
    ct_m, ct_x = ciphertext[:MLKEM_CT_SIZE], ciphertext[MLKEM_CT_SIZE:]
    ss_m = key.mlkem_key.decapsulate(ct_m)
    try:
        ss_x = key.x25519_key.exchange(X25519PublicKey.from_public_bytes(ct_x))
    except ValueError:  # OpenSSL refuses the all-zero result of a low-order point
        raise LowOrderPoint("the X25519 share of the ciphertext is a low-order point") from None
    if ss_x == bytes(32):
        raise LowOrderPoint("the X25519 shared secret is all zero")
    return _combiner(ss_m, ss_x, ct_x, key.pk_x)
