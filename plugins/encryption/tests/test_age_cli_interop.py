"""Interoperability with the real ``age`` CLI (Debian package ``age``), both directions: X25519,
ASCII armor and passphrases (typed on a pseudo-terminal, as ``age -p`` reads them)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from sigmavault.commands import run
from sigmavault.testing import require_tool, wait_job

from sigmavault_encryption import files
from sigmavault_encryption.errors import NoIdentityMatch
from sigmavault_encryption.recipients import (ScryptIdentity, ScryptRecipient, X25519Identity,
                                              parse_identity_file, parse_recipient)
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


ARMOR_SIZES = [0, 47, 48, CHUNK + 1]
PASSPHRASE = "tr0ub4dor & 3 horses"


@pytest.mark.parametrize("size", ARMOR_SIZES)
async def test_armored_files_both_ways(tmp_path, age_key, size):
    """``age -a`` output opens here, ours opens with ``age -d``, and both have the same layout."""
    key, identity = age_key
    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(size))
    files.encrypt_file(plain, tmp_path / "ours.age", [identity.recipient], armored=True)
    out = tmp_path / "out.bin"
    await run(["age", "-d", "-i", str(key), "-o", str(out), str(tmp_path / "ours.age")])
    assert (out.read_bytes() if out.exists() else b"") == plain.read_bytes()
    await run(["age", "-a", "-r", str(identity.recipient), "-o", str(tmp_path / "theirs.age"), str(plain)])
    files.decrypt_file(tmp_path / "theirs.age", tmp_path / "back.bin", [identity])
    assert (tmp_path / "back.bin").read_bytes() == plain.read_bytes()
    ours, theirs = (tmp_path / "ours.age").read_bytes(), (tmp_path / "theirs.age").read_bytes()
    assert ours.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    assert [len(line) for line in ours.split(b"\n")] == [len(line) for line in theirs.split(b"\n")]


@pytest.mark.parametrize("armored", [False, True], ids=["binary", "armored"])
async def test_passphrase_files_both_ways(tmp_path, with_terminal, armored):
    """``age -p`` files open with the passphrase here; ours open with ``age -d`` and the passphrase."""
    require_tool("age")
    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(CHUNK + 5))
    flags = ["-a"] if armored else []
    await with_terminal(["age", "-p", *flags, "-o", str(tmp_path / "theirs.age"), str(plain)], PASSPHRASE)
    files.decrypt_file(tmp_path / "theirs.age", tmp_path / "back.bin", [ScryptIdentity(PASSPHRASE)])
    assert (tmp_path / "back.bin").read_bytes() == plain.read_bytes()
    with pytest.raises(NoIdentityMatch):
        files.decrypt_file(tmp_path / "theirs.age", tmp_path / "wrong.bin", [ScryptIdentity("not it")])
    assert not (tmp_path / "wrong.bin").exists()
    files.encrypt_file(plain, tmp_path / "ours.age", [ScryptRecipient(PASSPHRASE, 12)], armored=armored)
    await with_terminal(["age", "-d", "-o", str(tmp_path / "out.bin"), str(tmp_path / "ours.age")], PASSPHRASE)
    assert (tmp_path / "out.bin").read_bytes() == plain.read_bytes()


async def test_cli_passphrase_and_armor_with_age(tmp_path, with_terminal):
    """``python -m sigmavault_encryption encrypt -p -a`` ⇄ ``age``, passphrases typed on a terminal."""
    require_tool("age")
    cli = [sys.executable, "-m", "sigmavault_encryption"]
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"armored and passphrase-protected\n" * 100)
    await with_terminal([*cli, "encrypt", "-p", "-a", "-o", str(tmp_path / "ours.age"), str(plain)], PASSPHRASE)
    assert (tmp_path / "ours.age").read_bytes().startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    await with_terminal(["age", "-d", "-o", str(tmp_path / "out.txt"), str(tmp_path / "ours.age")], PASSPHRASE)
    assert (tmp_path / "out.txt").read_bytes() == plain.read_bytes()
    await with_terminal(["age", "-p", "-a", "-o", str(tmp_path / "theirs.age"), str(plain)], PASSPHRASE)
    await with_terminal([*cli, "decrypt", "-o", str(tmp_path / "back.txt"), str(tmp_path / "theirs.age")],
                        PASSPHRASE)
    assert (tmp_path / "back.txt").read_bytes() == plain.read_bytes()


async def test_api_jobs_and_age_passphrase_armor(client, root, with_terminal):
    """Through the HTTP API: an ``age -p -a`` file decrypts in a job given its passphrase, and a
    job's armored passphrase file decrypts with ``age -d``."""
    require_tool("age")
    plain = root / "notes.txt"
    plain.write_bytes(os.urandom(3 * CHUNK))
    await with_terminal(["age", "-p", "-a", "-o", str(root / "theirs.age"), str(plain)], PASSPHRASE)
    resp = await client.post("/api/v1/encryption/jobs/decrypt",
                             json={"source": {"path": str(root / "theirs.age")},
                                   "target": {"path": str(root / "back.txt")}, "passphrase": PASSPHRASE})
    job = await wait_job(client, (await resp.json())["id"])
    assert job["state"] == "SUCCESS", job
    assert (root / "back.txt").read_bytes() == plain.read_bytes()
    resp = await client.post("/api/v1/encryption/jobs/encrypt",
                             json={"source": {"path": str(plain)}, "target": {"path": str(root / "ours.age")},
                                   "passphrase": PASSPHRASE, "armor": True})
    job = await wait_job(client, (await resp.json())["id"])
    assert job["state"] == "SUCCESS", job
    await with_terminal(["age", "-d", "-o", str(root / "out.txt"), str(root / "ours.age")], PASSPHRASE)
    assert (root / "out.txt").read_bytes() == plain.read_bytes()
