"""age v1 files end to end: header + payload, encrypt, decrypt, and re-wrapping the file key.

Streams are binary file objects; nothing here knows about paths or jobs (see ``files``).
"""

from __future__ import annotations

import os
from typing import BinaryIO, Iterable

from . import armor
from .errors import HeaderError, NoIdentityMatch, PassphraseRequired, RecipientError
from .header import Header, encode_header, read_header
from .recipients import FILE_KEY_SIZE, Identity, Recipient
from .stream import Progress, decrypt_payload, encrypt_payload


def check_recipients(recipients: Iterable[Recipient]) -> list[Recipient]:
    """Refuse an empty list, a passphrase beside other recipients, and the mix of post-quantum
    and classic recipients.

    Mixing would let a quantum attacker read the file through the classic stanza, so the file
    would not be post-quantum protected (the age specification says the same).
    """
    recips = list(recipients)
    if not recips:
        raise RecipientError("at least one recipient is required")
    if len(recips) > 1 and any(r.kind == "scrypt" for r in recips):
        raise RecipientError("a passphrase (scrypt) recipient must be the only recipient of a file")
    kinds = {r.post_quantum for r in recips}
    if len(kinds) > 1:
        raise RecipientError("post-quantum and classic recipients cannot be mixed in one file")
    return recips


def wrap(file_key: bytes, recipients: Iterable[Recipient]) -> bytes:
    """The complete header (stanzas + MAC) carrying ``file_key`` to every recipient."""
    stanzas = [s for r in check_recipients(recipients) for s in r.wrap(file_key)]
    return encode_header(stanzas, file_key)


def unwrap(header: Header, identities: Iterable[Identity]) -> bytes:
    """Find the file key with one of ``identities`` and verify the header MAC with it."""
    if any(s.type == "scrypt" for s in header.stanzas) and len(header.stanzas) > 1:
        raise HeaderError("an scrypt stanza must be the only stanza")
    identities = list(identities)
    if header.stanzas[0].type == "scrypt" and not any(i.kind == "scrypt" for i in identities):
        raise PassphraseRequired("the file is encrypted with a passphrase, not to a key; "
                                 "decrypt it with its passphrase")
    for identity in identities:
        key = identity.unwrap(header.stanzas)
        if key is not None:
            if len(key) != FILE_KEY_SIZE:
                raise HeaderError("wrapped file key has the wrong size")
            header.verify_mac(key)
            return key
    raise NoIdentityMatch("no identity matches any recipient stanza of this file")


def encrypt(src: BinaryIO, dst: BinaryIO, recipients: Iterable[Recipient], *,
            progress: Progress | None = None, flush_behind: bool = True, armored: bool = False) -> int:
    """Encrypt ``src`` to ``dst`` for ``recipients`` (ASCII-armored if ``armored``); return the
    plaintext size."""
    file_key = os.urandom(FILE_KEY_SIZE)
    header = wrap(file_key, recipients)
    out: BinaryIO | armor.Writer = armor.Writer(dst) if armored else dst
    out.write(header)
    n = encrypt_payload(src, out, file_key, progress=progress,  # type: ignore[arg-type]
                        flush_behind=flush_behind and not armored)
    if isinstance(out, armor.Writer):
        out.close()
    return n


def decrypt(src: BinaryIO, dst: BinaryIO, identities: Iterable[Identity], *,
            progress: Progress | None = None) -> int:
    """Decrypt ``src`` (binary or armored) into ``dst``; raises ``ArmorError``/``HeaderError``/
    ``NoIdentityMatch``/``AuthenticationError``."""
    src = armor.reader(src)
    header = read_header(src)
    key = unwrap(header, identities)
    return decrypt_payload(src, dst, key, progress=progress)


def rewrap(src: BinaryIO, dst: BinaryIO, identities: Iterable[Identity],
           recipients: Iterable[Recipient]) -> Header:
    """Write ``src`` with a new header for ``recipients``, the payload copied unchanged (an
    armored file stays armored).

    The payload stays encrypted under the same file key; only who can unwrap it changes.
    Callers should verify the payload (``verify``) when they need to know it is intact.
    """
    src = armor.reader(src)
    header = read_header(src)
    key = unwrap(header, identities)
    out: BinaryIO | armor.Writer = armor.Writer(dst) if armor.is_armored(src) else dst
    out.write(wrap(key, recipients))
    while block := src.read(1 << 20):
        out.write(block)
    if isinstance(out, armor.Writer):
        out.close()
    return header


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


def verify(src: BinaryIO, identities: Iterable[Identity], *, progress: Progress | None = None) -> int:
    """Authenticate the whole file without keeping plaintext; return the plaintext size."""
    return decrypt(src, _Discard(), identities, progress=progress)  # type: ignore[arg-type]
