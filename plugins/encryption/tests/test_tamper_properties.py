"""Property tests: any truncation, bit flip, chunk reorder or header change is rejected, and
nothing is written at the target path."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from sigmavault_encryption import age, files
from sigmavault_encryption.errors import AgeError
from sigmavault_encryption.header import read_header
from sigmavault_encryption.recipients import HybridIdentity, X25519Identity
from sigmavault_encryption.stream import CHUNK, NONCE_SIZE, TAG

X_ID = X25519Identity.generate()
PQ_ID = HybridIdentity.generate()
PLAINTEXT = os.urandom(3 * CHUNK + 1234)  # three full chunks and a short final one


def _encrypt(identity, plaintext: bytes = PLAINTEXT) -> bytes:
    out = io.BytesIO()
    age.encrypt(io.BytesIO(plaintext), out, [identity.recipient])
    return out.getvalue()


CIPHERTEXTS = {"x25519": _encrypt(X_ID), "pq": _encrypt(PQ_ID)}
IDENTITIES = {"x25519": X_ID, "pq": PQ_ID}
SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _header_len(data: bytes) -> int:
    return len(read_header(io.BytesIO(data)).raw)


def _assert_rejected(tmp_path: Path, data: bytes, identity) -> None:
    src, dst = tmp_path / "in.age", tmp_path / "out.bin"
    src.write_bytes(data)
    with pytest.raises(AgeError):
        files.decrypt_file(src, dst, [identity])
    assert not dst.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in.age"], "a temporary file was left behind"


@pytest.mark.parametrize("kind", ["x25519", "pq"])
def test_untampered_decrypts(tmp_path, kind):
    src, dst = tmp_path / "in.age", tmp_path / "out.bin"
    src.write_bytes(CIPHERTEXTS[kind])
    files.decrypt_file(src, dst, [IDENTITIES[kind]])
    assert dst.read_bytes() == PLAINTEXT


@SETTINGS
@given(kind=st.sampled_from(["x25519", "pq"]), data=st.data())
def test_every_truncation_is_rejected(tmp_path_factory, kind, data):
    ct = CIPHERTEXTS[kind]
    cut = data.draw(st.integers(min_value=0, max_value=len(ct) - 1), label="cut")
    _assert_rejected(tmp_path_factory.mktemp("t"), ct[:cut], IDENTITIES[kind])


@SETTINGS
@given(kind=st.sampled_from(["x25519", "pq"]), data=st.data())
def test_every_bit_flip_is_rejected(tmp_path_factory, kind, data):
    ct = bytearray(CIPHERTEXTS[kind])
    pos = data.draw(st.integers(min_value=0, max_value=len(ct) - 1), label="byte")
    bit = data.draw(st.integers(min_value=0, max_value=7), label="bit")
    ct[pos] ^= 1 << bit
    _assert_rejected(tmp_path_factory.mktemp("f"), bytes(ct), IDENTITIES[kind])


@SETTINGS
@given(kind=st.sampled_from(["x25519", "pq"]), data=st.data())
def test_every_chunk_reorder_is_rejected(tmp_path_factory, kind, data):
    ct = CIPHERTEXTS[kind]
    start = _header_len(ct) + NONCE_SIZE
    size = CHUNK + TAG
    chunks = [ct[i:i + size] for i in range(start, len(ct), size)]
    order = data.draw(st.permutations(range(len(chunks))).filter(lambda p: list(p) != sorted(p)))
    tampered = ct[:start] + b"".join(chunks[i] for i in order)
    _assert_rejected(tmp_path_factory.mktemp("r"), tampered, IDENTITIES[kind])


@SETTINGS
@given(kind=st.sampled_from(["x25519", "pq"]), data=st.data())
def test_every_header_change_is_rejected(tmp_path_factory, kind, data):
    ct = bytearray(CIPHERTEXTS[kind])
    hlen = _header_len(bytes(ct))
    pos = data.draw(st.integers(min_value=0, max_value=hlen - 1), label="pos")
    new = data.draw(st.integers(min_value=0, max_value=255).filter(lambda b: b != ct[pos]))
    op = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    if op == "replace":
        ct[pos] = new
    elif op == "insert":
        ct.insert(pos, new)
    else:
        del ct[pos]
    _assert_rejected(tmp_path_factory.mktemp("h"), bytes(ct), IDENTITIES[kind])


def test_dropped_and_duplicated_chunks_are_rejected(tmp_path):
    ct = CIPHERTEXTS["x25519"]
    start = _header_len(ct) + NONCE_SIZE
    size = CHUNK + TAG
    chunks = [ct[i:i + size] for i in range(start, len(ct), size)]
    for variant in (chunks[:-1], chunks[1:], chunks[:2] + chunks[1:], chunks + chunks[-1:]):
        _assert_rejected(tmp_path, ct[:start] + b"".join(variant), X_ID)


def test_final_flag_on_full_chunk_and_empty_payload(tmp_path):
    for plaintext in (b"", b"x" * CHUNK, b"y" * (2 * CHUNK)):
        src, dst = tmp_path / "in.age", tmp_path / "out.bin"
        src.write_bytes(_encrypt(X_ID, plaintext))
        files.decrypt_file(src, dst, [X_ID], overwrite=True)
        assert dst.read_bytes() == plaintext
        src.write_bytes(src.read_bytes()[:-1])
        dst.unlink()
        _assert_rejected(tmp_path, src.read_bytes(), X_ID)
        src.unlink()


def test_wrong_identity_is_no_match(tmp_path):
    from sigmavault_encryption.errors import NoIdentityMatch
    src, dst = tmp_path / "in.age", tmp_path / "out.bin"
    src.write_bytes(CIPHERTEXTS["pq"])
    with pytest.raises(NoIdentityMatch):
        files.decrypt_file(src, dst, [X_ID, HybridIdentity.generate()])
    assert not dst.exists()


def test_folder_archive_that_is_not_a_tar_fails_cleanly(tmp_path):
    """A well-authenticated payload that is not a tar archive: no directory appears, no hang."""
    src = tmp_path / "x.tar.age"
    src.write_bytes(_encrypt(X_ID, os.urandom(300_000)))
    with pytest.raises(Exception):
        files.decrypt_dir(src, tmp_path / "out", [X_ID])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.tar.age"]
