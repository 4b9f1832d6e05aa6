from __future__ import annotations

import os
import stat

import pytest
from sigmavault.commands import run
from sigmavault.testing import require_tool

from sigmavault_encryption import files
from sigmavault_encryption.keystore import Keystore, KeystoreError

PASS = "correct horse battery"


@pytest.fixture
def ks(tmp_path):
    return Keystore(tmp_path / "keys", scrypt_log_n=12)


@pytest.mark.parametrize("kind", ["x25519", "mlkem768x25519"])
def test_create_lock_unlock(ks, kind):
    rec = ks.create("main", kind, PASS)
    assert rec.fingerprint.startswith("SHA256:") and rec.recipient.startswith("age1")
    assert ks.is_unlocked(rec.id)
    assert ks.lock(rec.id) == 1 and not ks.is_unlocked(rec.id)
    with pytest.raises(KeystoreError) as err:
        ks.identity(rec.id)
    assert err.value.code == "key_locked"
    with pytest.raises(KeystoreError) as err:
        ks.unlock(rec.id, "not the passphrase")
    assert err.value.code == "wrong_passphrase"
    ks.unlock(rec.id, PASS)
    assert str(ks.identity(rec.id).recipient) == rec.recipient


def test_restart_starts_locked_and_modes_are_strict(ks, tmp_path):
    rec = ks.create("main", "x25519", PASS)
    again = Keystore(tmp_path / "keys", scrypt_log_n=12)
    assert not again.is_unlocked(rec.id)
    assert stat.S_IMODE(os.stat(tmp_path / "keys").st_mode) == 0o700
    for path in (tmp_path / "keys").iterdir():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert again.mode_findings() == []
    os.chmod(tmp_path / "keys" / f"{rec.id}.age", 0o644)
    os.chmod(tmp_path / "keys", 0o755)
    ids = {f["id"] for f in again.mode_findings()}
    assert ids == {"encryption.key_file_mode", "encryption.keystore_dir_mode"}


def test_weak_passphrase_and_duplicate_names(ks):
    with pytest.raises(KeystoreError) as err:
        ks.create("a", "x25519", "short")
    assert err.value.code == "weak_passphrase"
    ks.create("a", "x25519", PASS)
    with pytest.raises(KeystoreError) as err:
        ks.create("a", "x25519", PASS)
    assert err.value.code == "name_taken"
    with pytest.raises(KeystoreError):
        ks.create("b", "rsa", PASS)


def test_rotate_keeps_old_key_for_decryption(ks, tmp_path):
    old = ks.create("main", "mlkem768x25519", PASS)
    plain = tmp_path / "p"
    plain.write_bytes(b"before rotation")
    files.encrypt_file(plain, tmp_path / "p.age", [ks.identity(old.id).recipient])
    new = ks.rotate(old.id, PASS)
    assert new.rotated_from == old.id and new.name == "main" and new.rotated_at
    retired = ks.get(old.id)
    assert retired.status == "retired" and retired.replaced_by == new.id
    files.decrypt_file(tmp_path / "p.age", tmp_path / "out", ks.identities())
    assert (tmp_path / "out").read_bytes() == b"before rotation"
    with pytest.raises(KeystoreError):
        ks.rotate(old.id, PASS)


def test_export_import_bundle(ks, tmp_path):
    a = ks.create("a", "x25519", PASS)
    b = ks.create("b", "mlkem768x25519", PASS)
    bundle = ks.export([a.id, b.id], "bundle passphrase")
    assert bundle.startswith(b"age-encryption.org/v1\n-> scrypt ")
    other = Keystore(tmp_path / "other", scrypt_log_n=12)
    with pytest.raises(KeystoreError) as err:
        other.import_bundle(bundle, "wrong passphrase", PASS)
    assert err.value.code == "wrong_passphrase"
    added = other.import_bundle(bundle, "bundle passphrase", "another passphrase")
    assert sorted((r.name, r.recipient) for r in added) == sorted([("a", a.recipient), ("b", b.recipient)])
    assert other.import_bundle(bundle, "bundle passphrase", "another passphrase") == []


async def test_sealed_key_is_a_real_age_identity(ks, tmp_path):
    """An identity imported from age-keygen round-trips and decrypts what age encrypted."""
    require_tool("age", "age-keygen")
    key = tmp_path / "k.txt"
    await run(["age-keygen", "-o", str(key)])
    rec = ks.import_identity("imported", key.read_text(), PASS)
    (tmp_path / "p").write_bytes(b"from age")
    await run(["age", "-r", rec.recipient, "-o", str(tmp_path / "p.age"), str(tmp_path / "p")])
    ks.lock()
    ks.unlock(rec.id, PASS)
    files.decrypt_file(tmp_path / "p.age", tmp_path / "o", ks.identities())
    assert (tmp_path / "o").read_bytes() == b"from age"
    with pytest.raises(KeystoreError) as err:
        ks.import_identity("again", key.read_text(), PASS)
    assert err.value.code == "duplicate_key"
