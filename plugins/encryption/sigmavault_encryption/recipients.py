"""age recipients and identities: X25519 (``age1…``) and MLKEM768-X25519 (``age1pq1…``).

A recipient wraps a 16-byte file key into stanzas; an identity recognises its stanzas and
unwraps the file key. Encodings and stanza rules follow c2sp.org/age.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from . import bech32, hpke, xwing
from .errors import HeaderError, RecipientError
from .header import Stanza, b64decode, b64encode, hkdf_sha256

FILE_KEY_SIZE = 16
X25519_LABEL = b"age-encryption.org/v1/X25519"
PQ_INFO = b"age-encryption.org/mlkem768x25519"
ZERO_NONCE = bytes(12)

X25519_KIND = "x25519"
HYBRID_KIND = "mlkem768x25519"


def _fingerprint(public: bytes) -> str:
    return "SHA256:" + b64encode(hashlib.sha256(public).digest())


@dataclass(frozen=True)
class X25519Recipient:
    """A classic age recipient (``age1…``)."""

    public: bytes
    kind: str = field(default=X25519_KIND, init=False)
    post_quantum: bool = field(default=False, init=False)

    def __str__(self) -> str:
        return bech32.encode("age", self.public)

    @property
    def fingerprint(self) -> str:
        return _fingerprint(self.public)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        eph = X25519PrivateKey.generate()
        share = eph.public_key().public_bytes_raw()
        secret = eph.exchange(X25519PublicKey.from_public_bytes(self.public))
        key = hkdf_sha256(secret, share + self.public, X25519_LABEL)
        body = ChaCha20Poly1305(key).encrypt(ZERO_NONCE, file_key, None)
        return [Stanza("X25519", [b64encode(share)], body)]


@dataclass(frozen=True)
class HybridRecipient:
    """A post-quantum hybrid recipient (``age1pq1…``), X-Wing public key inside."""

    public: bytes
    kind: str = field(default=HYBRID_KIND, init=False)
    post_quantum: bool = field(default=True, init=False)

    def __str__(self) -> str:
        return bech32.encode("age1pq", self.public)

    @property
    def fingerprint(self) -> str:
        return _fingerprint(self.public)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        enc, body = hpke.seal_base(self.public, PQ_INFO, b"", file_key)
        return [Stanza("mlkem768x25519", [b64encode(enc)], body)]


class X25519Identity:
    """The private half of an :class:`X25519Recipient` (``AGE-SECRET-KEY-1…``)."""

    kind = X25519_KIND

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise RecipientError("an X25519 identity is 32 bytes")
        self._secret = secret
        self._key = X25519PrivateKey.from_private_bytes(secret)
        self.recipient = X25519Recipient(self._key.public_key().public_bytes_raw())

    @classmethod
    def generate(cls) -> "X25519Identity":
        return cls(os.urandom(32))

    def __str__(self) -> str:
        return bech32.encode("AGE-SECRET-KEY-", self._secret)

    def unwrap(self, stanzas: list[Stanza]) -> bytes | None:
        """Return the file key from the first stanza addressed to us, or None."""
        for s in stanzas:
            if s.type != "X25519":
                continue
            if len(s.args) != 1:
                raise HeaderError("X25519 stanza must have exactly one argument")
            share = b64decode(s.args[0])
            if len(share) != 32:
                raise HeaderError("X25519 stanza share must be 32 bytes")
            if len(s.body) != FILE_KEY_SIZE + 16:
                raise HeaderError("X25519 stanza body must be 32 bytes")
            try:
                secret = self._key.exchange(X25519PublicKey.from_public_bytes(share))
            except ValueError:
                raise HeaderError("X25519 stanza uses a low-order share") from None
            if secret == bytes(32):
                raise HeaderError("X25519 shared secret is zero")
            key = hkdf_sha256(secret, share + self.recipient.public, X25519_LABEL)
            try:
                return ChaCha20Poly1305(key).decrypt(ZERO_NONCE, s.body, None)
            except InvalidTag:
                continue
        return None


class HybridIdentity:
    """The private half of a :class:`HybridRecipient` (``AGE-SECRET-KEY-PQ-1…``)."""

    kind = HYBRID_KIND

    def __init__(self, seed: bytes) -> None:
        if len(seed) != xwing.SEED_SIZE:
            raise RecipientError("a hybrid identity is a 32-byte seed")
        self._seed = seed
        self._key = xwing.expand(seed)
        self.recipient = HybridRecipient(self._key.public_key)

    @classmethod
    def generate(cls) -> "HybridIdentity":
        return cls(os.urandom(xwing.SEED_SIZE))

    def __str__(self) -> str:
        return bech32.encode("AGE-SECRET-KEY-PQ-", self._seed)

    def unwrap(self, stanzas: list[Stanza]) -> bytes | None:
        for s in stanzas:
            if s.type != "mlkem768x25519":
                continue
            if len(s.args) != 1:
                raise HeaderError("mlkem768x25519 stanza must have exactly one argument")
            enc = b64decode(s.args[0])
            if len(enc) != xwing.CIPHERTEXT_SIZE:
                raise HeaderError("mlkem768x25519 stanza enc must be 1120 bytes")
            if len(s.body) != FILE_KEY_SIZE + 16:
                raise HeaderError("mlkem768x25519 stanza body must be 32 bytes")
            try:
                return hpke.open_base(self._key, enc, PQ_INFO, b"", s.body)
            except xwing.LowOrderPoint as exc:
                raise HeaderError(f"mlkem768x25519 stanza refused: {exc}") from None
            except hpke.OpenError:
                continue
        return None


def parse_recipient(text: str) -> KeyRecipient:
    """Parse ``age1…`` or ``age1pq1…``."""
    text = text.strip()
    try:
        hrp, data = bech32.decode(text)
    except bech32.Bech32Error as exc:
        raise RecipientError(f"invalid recipient: {exc}") from None
    if text != text.lower():
        raise RecipientError("recipients are lowercase")
    if hrp == "age" and len(data) == 32:
        return X25519Recipient(data)
    if hrp == "age1pq" and len(data) == xwing.PUBLIC_KEY_SIZE:
        return HybridRecipient(data)
    raise RecipientError(f"unsupported recipient type {hrp!r}")


def parse_identity(text: str) -> KeyIdentity:
    """Parse ``AGE-SECRET-KEY-1…`` or ``AGE-SECRET-KEY-PQ-1…``."""
    text = text.strip()
    try:
        hrp, data = bech32.decode(text)
    except bech32.Bech32Error as exc:
        raise RecipientError(f"invalid identity: {exc}") from None
    if text != text.upper():
        raise RecipientError("identities are uppercase")
    if hrp == "AGE-SECRET-KEY-":
        return X25519Identity(data)
    if hrp == "AGE-SECRET-KEY-PQ-":
        return HybridIdentity(data)
    raise RecipientError(f"unsupported identity type {hrp!r}")


def parse_identity_file(text: str) -> list[KeyIdentity]:
    """Parse an age identity file (one key per line, ``#`` comments)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(parse_identity(line))
    return out


SCRYPT_LABEL = b"age-encryption.org/v1/scrypt"
MAX_SCRYPT_LOG_N = 22


def _scrypt_key(passphrase: str, salt: bytes, log_n: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
    return Scrypt(salt=SCRYPT_LABEL + salt, length=32, n=1 << log_n, r=8, p=1).derive(
        passphrase.encode())


@dataclass(frozen=True)
class ScryptRecipient:
    """age's passphrase recipient (an scrypt stanza); must be the only stanza of a file."""

    passphrase: str = field(repr=False)
    log_n: int = 15
    kind: str = field(default="scrypt", init=False)
    post_quantum: bool = field(default=False, init=False)

    @property
    def fingerprint(self) -> str:
        return "passphrase"  # nothing derived from the secret

    def wrap(self, file_key: bytes) -> list[Stanza]:
        salt = os.urandom(16)
        body = ChaCha20Poly1305(_scrypt_key(self.passphrase, salt, self.log_n)).encrypt(
            ZERO_NONCE, file_key, None)
        return [Stanza("scrypt", [b64encode(salt), str(self.log_n)], body)]


class ScryptIdentity:
    """Unwraps scrypt stanzas with a passphrase (work factor capped at ``max_log_n``)."""

    kind = "scrypt"

    def __init__(self, passphrase: str, max_log_n: int = MAX_SCRYPT_LOG_N) -> None:
        self._passphrase = passphrase
        self.max_log_n = max_log_n

    def unwrap(self, stanzas: list[Stanza]) -> bytes | None:
        for s in stanzas:
            if s.type != "scrypt":
                continue
            if len(s.args) != 2:
                raise HeaderError("scrypt stanza must have exactly two arguments")
            salt = b64decode(s.args[0])
            if len(salt) != 16:
                raise HeaderError("scrypt salt must be 16 bytes")
            if not s.args[1].isdigit() or s.args[1].startswith("0"):
                raise HeaderError("scrypt work factor must be a decimal without leading zeros")
            log_n = int(s.args[1])
            if not 1 <= log_n <= self.max_log_n:
                raise HeaderError(f"scrypt work factor {log_n} is outside 1..{self.max_log_n}")
            if len(s.body) != FILE_KEY_SIZE + 16:
                raise HeaderError("scrypt stanza body must be 32 bytes")
            try:
                return ChaCha20Poly1305(_scrypt_key(self._passphrase, salt, log_n)).decrypt(
                    ZERO_NONCE, s.body, None)
            except InvalidTag:
                return None
        return None


KeyRecipient = X25519Recipient | HybridRecipient
KeyIdentity = X25519Identity | HybridIdentity
Recipient = KeyRecipient | ScryptRecipient
Identity = KeyIdentity | ScryptIdentity
