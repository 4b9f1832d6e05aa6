"""``sigmavault.sealed``: secrets sealed under a 0600 daemon key in the data dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigmavault.sealed import KEY_FILE, SealError, Sealer, sealer_for


def test_seal_opens_only_with_its_key_and_context(tmp_path: Path) -> None:
    sealer = sealer_for(tmp_path / "data")
    token = sealer.seal(b"correct horse", "row:1")
    key = tmp_path / "data" / KEY_FILE
    assert oct(key.stat().st_mode & 0o777) == "0o600" and len(key.read_bytes()) == 32
    assert b"correct horse" not in token.encode() and token.startswith("sv1:")
    assert sealer_for(tmp_path / "data").unseal(token, "row:1") == b"correct horse"  # the key persists
    assert sealer.seal(b"correct horse", "row:1") != token  # a fresh nonce each time
    with pytest.raises(SealError):
        sealer.unseal(token, "row:2")
    tampered = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    with pytest.raises(SealError):
        sealer.unseal(tampered, "row:1")
    with pytest.raises(SealError):
        sealer_for(tmp_path / "other").unseal(token, "row:1")
    with pytest.raises(SealError):
        sealer.unseal("**********", "row:1")


def test_a_loose_key_file_is_tightened_to_0600(tmp_path: Path) -> None:
    Sealer(tmp_path / KEY_FILE).seal(b"x")
    (tmp_path / KEY_FILE).chmod(0o644)
    Sealer(tmp_path / KEY_FILE).seal(b"x")
    assert oct((tmp_path / KEY_FILE).stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # no temporary left behind
