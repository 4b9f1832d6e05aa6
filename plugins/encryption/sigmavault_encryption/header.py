"""The textual age v1 header: stanzas, canonical base64, the HMAC-SHA-256 header MAC.

Follows c2sp.org/age. Reading is bounded (line length, stanza count, header size) so a hostile
file cannot make us do unbounded work before the MAC can be checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import HeaderError, HeaderMACError

VERSION_PREFIX = b"age-encryption.org/"
VERSION_LINE = b"age-encryption.org/v1\n"
MAC_PREFIX = b"--- "
STANZA_PREFIX = b"-> "
COLUMNS = 64
MAX_STANZAS = 128
MAX_LINE = 4096
MAX_HEADER = 1 << 20
_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def b64encode(data: bytes) -> str:
    """Standard base64 without ``=`` padding."""
    return base64.b64encode(data).decode().rstrip("=")


def b64decode(text: str | bytes) -> bytes:
    """Decode unpadded standard base64, rejecting padding and non-canonical encodings."""
    raw = text.encode() if isinstance(text, str) else bytes(text)
    if any(c not in _B64 for c in raw):
        raise HeaderError("invalid base64 character")
    if len(raw) % 4 == 1:
        raise HeaderError("invalid base64 length")
    try:
        data = base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except binascii.Error as exc:
        raise HeaderError(f"invalid base64: {exc}") from None
    if b64encode(data).encode() != raw:
        raise HeaderError("non-canonical base64")
    return data


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA-256 (RFC 5869) with the given salt (empty salt allowed)."""
    return HKDF(hashes.SHA256(), length, salt or None, info).derive(ikm)


@dataclass
class Stanza:
    """One recipient stanza: ``-> type arg...`` followed by a base64 body."""

    type: str
    args: list[str] = field(default_factory=list)
    body: bytes = b""

    def encode(self) -> bytes:
        for word in (self.type, *self.args):
            if not word or any(not 33 <= ord(c) <= 126 for c in word):
                raise HeaderError(f"invalid stanza argument {word!r}")
        out = [b"-> " + " ".join((self.type, *self.args)).encode() + b"\n"]
        text = b64encode(self.body)
        lines = [text[i:i + COLUMNS] for i in range(0, len(text), COLUMNS)]
        if not lines or len(lines[-1]) == COLUMNS:
            lines.append("")
        out.extend(line.encode() + b"\n" for line in lines)
        return b"".join(out)


@dataclass
class Header:
    """A parsed header: the stanzas, the bytes the MAC covers, and the MAC."""

    stanzas: list[Stanza]
    mac_input: bytes
    mac: bytes
    raw: bytes

    def verify_mac(self, file_key: bytes) -> None:
        """Raise :class:`HeaderMACError` unless the MAC matches ``file_key``."""
        if not hmac.compare_digest(compute_mac(file_key, self.mac_input), self.mac):
            raise HeaderMACError("header MAC mismatch: the header was modified or the key is wrong")


def compute_mac(file_key: bytes, mac_input: bytes) -> bytes:
    """HMAC-SHA-256 keyed with HKDF(file key, "header") over the header up to ``---``."""
    key = hkdf_sha256(file_key, b"", b"header")
    return hmac.new(key, mac_input, hashlib.sha256).digest()


def encode_header(stanzas: list[Stanza], file_key: bytes) -> bytes:
    """Serialize a complete header, MAC line included."""
    if not stanzas:
        raise HeaderError("a header needs at least one stanza")
    mac_input = VERSION_LINE + b"".join(s.encode() for s in stanzas) + b"---"
    return mac_input + b" " + b64encode(compute_mac(file_key, mac_input)).encode() + b"\n"


def _readline(src: BinaryIO, total: int) -> bytes:
    line = src.readline(MAX_LINE + 1)
    if not line:
        raise HeaderError("unexpected end of file in header")
    if not line.endswith(b"\n"):
        raise HeaderError("header line too long or truncated")
    if total + len(line) > MAX_HEADER:
        raise HeaderError("header too large")
    if b"\r" in line:
        raise HeaderError("carriage return in header")
    return line


def read_header(src: BinaryIO) -> Header:
    """Parse the header from ``src``, leaving it positioned at the first payload byte."""
    raw = bytearray()
    line = src.readline(MAX_LINE + 1)
    if not line.startswith(VERSION_PREFIX):
        raise HeaderError("not an age file")
    if line != VERSION_LINE:
        raise HeaderError("unsupported age version")
    raw += line
    stanzas: list[Stanza] = []
    line = _readline(src, len(raw))
    while line.startswith(STANZA_PREFIX):
        if len(stanzas) >= MAX_STANZAS:
            raise HeaderError(f"more than {MAX_STANZAS} recipient stanzas")
        raw += line
        words = line[3:-1].split(b" ")
        if any(not w or any(not 33 <= c <= 126 for c in w) for w in words):
            raise HeaderError("invalid stanza arguments")
        body = bytearray()
        while True:
            line = _readline(src, len(raw))
            raw += line
            text = line[:-1]
            if len(text) > COLUMNS or any(c not in _B64 for c in text):
                raise HeaderError("invalid stanza body line")
            body += text
            if len(text) < COLUMNS:
                break
        words_s = [w.decode() for w in words]
        stanzas.append(Stanza(words_s[0], words_s[1:], b64decode(bytes(body))))
        line = _readline(src, len(raw))
    if not stanzas:
        raise HeaderError("header has no recipient stanzas")
    if not line.startswith(MAC_PREFIX):
        raise HeaderError("malformed header line")
    mac_text = line[4:-1]
    if len(mac_text) != 43:
        raise HeaderError("malformed header MAC")
    mac = b64decode(mac_text)
    mac_input = bytes(raw) + b"---"
    raw += line
    return Header(stanzas, mac_input, mac, bytes(raw))
