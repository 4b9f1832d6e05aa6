"""Interoperability with the real ``age`` CLI (Debian package ``age``), both directions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sigmavault.commands import run
from sigmavault.testing import require_tool

from sigmavault_encryption import files
from sigmavault_encryption.recipients import X25519Identity, parse_identity_file, parse_recipient
from sigmavault_encryption.stream import CHUNK

SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 17 * CHUNK + 3]


@pytest.fixture
async def age_key(tmp_path: Path):
    require_tool("age", "age-keygen")
    key = tmp_path / "key.txt"
    await run(["age-keygen", "-o", str(key)])
    identity = parse_identity_file(key.read_text())[0]
    return key, identity


@pytest.mark.parametrize("size", SIZES)
async def test_age_cli_decrypts_our_files(tmp_path, age_key, size):
    key, identity = age_key
    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(size))
    files.encrypt_file(plain, tmp_path / "ours.age", [identity.recipient])
    out = tmp_path / "out.bin"
    await run(["age", "-d", "-i", str(key), "-o", str(out), str(tmp_path / "ours.age")])
    # age creates its output lazily: an empty plaintext leaves no file behind.
    assert (out.read_bytes() if out.exists() else b"") == plain.read_bytes()


@pytest.mark.parametrize("size", SIZES)
async def test_we_decrypt_age_cli_files(tmp_path, age_key, size):
    key, identity = age_key
    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(size))
    await run(["age", "-r", str(identity.recipient), "-o", str(tmp_path / "theirs.age"), str(plain)])
    files.decrypt_file(tmp_path / "theirs.age", tmp_path / "out.bin", [identity])
    assert (tmp_path / "out.bin").read_bytes() == plain.read_bytes()


async def test_same_layout_as_age_cli(tmp_path, age_key):
    """Same header grammar and payload length for the same plaintext size."""
    _, identity = age_key
    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(3 * CHUNK + 7))
    files.encrypt_file(plain, tmp_path / "ours.age", [identity.recipient])
    await run(["age", "-r", str(identity.recipient), "-o", str(tmp_path / "theirs.age"), str(plain)])
    ours, theirs = (tmp_path / "ours.age").read_bytes(), (tmp_path / "theirs.age").read_bytes()
    assert len(ours) == len(theirs)
    o_lines, t_lines = ours.split(b"\n")[:4], theirs.split(b"\n")[:4]
    assert o_lines[0] == t_lines[0] == b"age-encryption.org/v1"
    assert o_lines[1].split(b" ")[:2] == t_lines[1].split(b" ")[:2] == [b"->", b"X25519"]
    assert [len(x) for x in o_lines[1:4]] == [len(x) for x in t_lines[1:4]]


async def test_multiple_recipients_and_keys_from_age_keygen(tmp_path, age_key):
    key, identity = age_key
    other = X25519Identity.generate()
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"two recipients")
    files.encrypt_file(plain, tmp_path / "two.age", [other.recipient, identity.recipient])
    out = tmp_path / "out.bin"
    await run(["age", "-d", "-i", str(key), "-o", str(out), str(tmp_path / "two.age")])
    assert out.read_bytes() == b"two recipients"
    pub = (await run(["age-keygen", "-y", str(key)])).stdout.strip()
    assert str(parse_recipient(pub)) == str(identity.recipient)


async def test_age_cli_rejects_our_tampered_file(tmp_path, age_key):
    key, identity = age_key
    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(2 * CHUNK))
    files.encrypt_file(plain, tmp_path / "ours.age", [identity.recipient])
    data = bytearray((tmp_path / "ours.age").read_bytes())
    data[-5] ^= 0x40
    (tmp_path / "bad.age").write_bytes(bytes(data))
    result = await run(["age", "-d", "-i", str(key), "-o", str(tmp_path / "o"), str(tmp_path / "bad.age")],
                       check=False)
    assert result.returncode != 0


async def test_folder_archive_opens_with_age_and_tar(tmp_path, age_key):
    key, identity = age_key
    require_tool("tar")
    tree = tmp_path / "photos"
    (tree / "2026").mkdir(parents=True)
    (tree / "2026" / "a.jpg").write_bytes(os.urandom(100_000))
    (tree / "notes.txt").write_text("hi")
    files.encrypt_dir(tree, tmp_path / "photos.tar.age", [identity.recipient])
    await run(["age", "-d", "-i", str(key), "-o", str(tmp_path / "photos.tar"),
               str(tmp_path / "photos.tar.age")])
    (tmp_path / "x").mkdir()
    await run(["tar", "-xf", str(tmp_path / "photos.tar"), "-C", str(tmp_path / "x")])
    assert (tmp_path / "x" / "photos" / "2026" / "a.jpg").read_bytes() == (tree / "2026" / "a.jpg").read_bytes()
