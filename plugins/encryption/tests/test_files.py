"""File and folder operations: progress reporting, cancellation, crash-safe outputs."""

from __future__ import annotations

import os

import pytest

from sigmavault_encryption import files
from sigmavault_encryption.recipients import HybridIdentity
from sigmavault_encryption.stream import CHUNK

ID = HybridIdentity.generate()


class Cancelled(Exception):
    pass


def test_progress_is_monotonic_and_complete(tmp_path):
    data = os.urandom(40 * CHUNK + 5)
    (tmp_path / "p").write_bytes(data)
    seen: list[tuple[int, int | None]] = []
    files.encrypt_file(tmp_path / "p", tmp_path / "p.age", [ID.recipient], on_progress=lambda d, t: seen.append((d, t)))
    assert len(seen) >= 2 and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (len(data), len(data))
    seen.clear()
    files.decrypt_file(tmp_path / "p.age", tmp_path / "out", [ID], on_progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (len(data), len(data))
    assert files.plaintext_size(tmp_path / "p.age") == len(data)


@pytest.mark.parametrize("op", ["encrypt", "decrypt", "encrypt_dir"])
def test_cancellation_leaves_nothing_at_the_target(tmp_path, op):
    data = os.urandom(40 * CHUNK)
    (tmp_path / "p").write_bytes(data)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "big").write_bytes(data)
    files.encrypt_file(tmp_path / "p", tmp_path / "p.age", [ID.recipient])
    before = sorted(p.name for p in tmp_path.iterdir())

    def cancel(done: int, total: int | None) -> None:
        if done > 4 * CHUNK:
            raise Cancelled()

    with pytest.raises(Cancelled):
        if op == "encrypt":
            files.encrypt_file(tmp_path / "p", tmp_path / "new.age", [ID.recipient], on_progress=cancel)
        elif op == "decrypt":
            files.decrypt_file(tmp_path / "p.age", tmp_path / "new", [ID], on_progress=cancel)
        else:
            files.encrypt_dir(tmp_path / "d", tmp_path / "d.tar.age", [ID.recipient], on_progress=cancel)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_existing_targets_are_kept_unless_overwrite(tmp_path):
    (tmp_path / "p").write_bytes(b"new")
    (tmp_path / "p.age").write_bytes(b"old")
    with pytest.raises(FileExistsError):
        files.encrypt_file(tmp_path / "p", tmp_path / "p.age", [ID.recipient])
    assert (tmp_path / "p.age").read_bytes() == b"old"
    files.encrypt_file(tmp_path / "p", tmp_path / "p.age", [ID.recipient], overwrite=True)
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError):
        files.decrypt_dir(tmp_path / "p.age", tmp_path / "out", [ID])
