"""Header grammar of c2sp.org/age, modelled on the age testkit's header cases."""

from __future__ import annotations

import io
import os

import pytest

from sigmavault_encryption import age
from sigmavault_encryption.errors import AuthenticationError, HeaderError
from sigmavault_encryption.header import MAX_STANZAS, Stanza, b64decode, b64encode, encode_header, read_header
from sigmavault_encryption.recipients import X25519Identity

ID = X25519Identity.generate()
KEY = os.urandom(16)


def _file() -> bytes:
    out = io.BytesIO()
    age.encrypt(io.BytesIO(b"hello"), out, [ID.recipient])
    return out.getvalue()


def _decrypt(data: bytes) -> bytes:
    out = io.BytesIO()
    age.decrypt(io.BytesIO(data), out, [ID])
    return out.getvalue()


def test_round_trip_and_payload_follows_header():
    data = _file()
    header = read_header(io.BytesIO(data))
    assert data.startswith(header.raw) and header.raw.endswith(b"\n")
    assert _decrypt(data) == b"hello"


@pytest.mark.parametrize("text", ["YQ==", "YR", "Y", "Y Q", "YQ\n"])
def test_base64_must_be_canonical_and_unpadded(text):
    with pytest.raises(HeaderError):
        b64decode(text)
    assert b64decode("YQ") == b"a" and b64encode(b"a") == "YQ"


@pytest.mark.parametrize("mutate, error", [
    (lambda h: h.replace(b"age-encryption.org/v1", b"age-encryption.org/v2"), HeaderError),
    (lambda h: h.replace(b"\n", b"\r\n", 1), HeaderError),
    (lambda h: h.replace(b"-> X25519 ", b"-> X25519  "), HeaderError),
    (lambda h: h.replace(b"-> X25519 ", b"->X25519 "), HeaderError),
    (lambda h: h.replace(b"\n--- ", b"\n---"), HeaderError),
    (lambda h: h.replace(b"\n--- ", b"\n---  "), HeaderError),
    (lambda h: h[: h.index(b"\n--- ") + 1] + b"--- " + b"A" * 42 + b"\n", HeaderError),
])
def test_malformed_headers_are_refused(mutate, error):
    data = _file()
    header = read_header(io.BytesIO(data)).raw
    with pytest.raises(error):
        _decrypt(mutate(header) + data[len(header):])


def test_wrong_mac_is_an_authentication_error():
    data = bytearray(_file())
    header = read_header(io.BytesIO(bytes(data))).raw
    mac_at = len(header) - 10
    data[mac_at] = ord("A") if data[mac_at] != ord("A") else ord("B")
    with pytest.raises((AuthenticationError, HeaderError)):
        _decrypt(bytes(data))


def test_body_lines_wrap_at_64_columns_and_end_short():
    stanza = Stanza("example.com/test", ["a", "b"], bytes(48))
    lines = stanza.encode().split(b"\n")
    assert lines[1] == b"A" * 64 and lines[2] == b"" and lines[3] == b""
    parsed = read_header(io.BytesIO(encode_header([stanza], KEY))).stanzas[0]
    assert parsed == stanza


def test_missing_final_short_line_is_refused():
    header = encode_header([Stanza("x", ["y"], bytes(48))], KEY)
    broken = header.replace(b"A" * 64 + b"\n\n", b"A" * 64 + b"\n")
    with pytest.raises(HeaderError):
        read_header(io.BytesIO(broken))


def test_unknown_stanzas_are_ignored_and_stanza_count_is_bounded():
    data = _file()
    header = read_header(io.BytesIO(data))
    stanzas = [Stanza("example.com/grease", ["x"], b"junk"), *header.stanzas]
    # re-MAC with the real file key is impossible without it: unwrap through the identity instead
    assert ID.unwrap(stanzas) is not None
    many = [Stanza("grease", [str(i)], b"") for i in range(MAX_STANZAS + 1)]
    with pytest.raises(HeaderError, match="stanzas"):
        read_header(io.BytesIO(encode_header(many, KEY)))
