"""Encrypting and decrypting files and folders on disk, crash-safe.

Output goes to a temporary name beside the target and is renamed only after the last chunk
authenticated (``sigmavault.files.atomic_write``; for folders a temporary directory). Folders
travel as a tar stream through a pipe, so memory stays constant whatever their size.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, cast

from sigmavault.files import atomic_write, temp_path_for

from . import age, armor
from .errors import AgeError
from .header import read_header
from .recipients import Identity, Recipient
from .stream import CHUNK, NONCE_SIZE, TAG

OnProgress = Callable[[int, int | None], None]
"""``(bytes_done, bytes_total)``; may raise to abort (cancellation)."""


@dataclass
class Outcome:
    """What an operation did, JSON-able through ``as_dict``."""

    source: str
    target: str
    kind: str  # "file" | "folder"
    plaintext_bytes: int
    ciphertext_bytes: int

    def as_dict(self) -> dict:
        return self.__dict__.copy()


@contextmanager
def _atomic_binary(dst: Path, overwrite: bool) -> Iterator[BinaryIO]:
    """``atomic_write(dst)`` typed as what it is in its default ``wb`` mode: a binary file."""
    with atomic_write(dst, overwrite=overwrite) as out:
        yield cast(BinaryIO, out)


def plaintext_size(path: Path) -> int | None:
    """Estimate the plaintext size of an age file from its length (None if unreadable)."""
    try:
        with open(path, "rb") as f:
            header = read_header(f)
            payload = os.fstat(f.fileno()).st_size - len(header.raw) - NONCE_SIZE
    except Exception:
        return None
    chunks = max(1, -(-payload // (CHUNK + TAG)))
    return max(0, payload - chunks * TAG)


def is_passphrase_file(path: Path) -> bool:
    """Whether the age file at ``path`` (binary or armored) opens with a passphrase (an scrypt
    stanza); False for anything unreadable, which decryption then reports."""
    try:
        with open(path, "rb") as f:
            return read_header(armor.reader(f)).stanzas[0].type == "scrypt"
    except (AgeError, OSError):
        return False


def _progress(on_progress: OnProgress | None, total: int | None) -> Callable[[int], None] | None:
    if on_progress is None:
        return None
    return lambda done: on_progress(done, total)


def encrypt_file(src: Path, dst: Path, recipients: Iterable[Recipient], *,
                 on_progress: OnProgress | None = None, overwrite: bool = False,
                 armored: bool = False) -> Outcome:
    """Encrypt the regular file ``src`` to ``dst`` (ASCII-armored if ``armored``)."""
    recips = age.check_recipients(recipients)
    total = src.stat().st_size
    with open(src, "rb") as f, _atomic_binary(dst, overwrite) as out:
        n = age.encrypt(f, out, recips, progress=_progress(on_progress, total), armored=armored)
    return Outcome(str(src), str(dst), "file", n, dst.stat().st_size)


def decrypt_file(src: Path, dst: Path, identities: Iterable[Identity], *,
                 on_progress: OnProgress | None = None, overwrite: bool = False) -> Outcome:
    """Decrypt ``src`` to ``dst``; nothing appears at ``dst`` unless every chunk authenticated."""
    total = plaintext_size(src)
    with open(src, "rb") as f, _atomic_binary(dst, overwrite) as out:
        n = age.decrypt(f, out, list(identities), progress=_progress(on_progress, total))
    return Outcome(str(src), str(dst), "file", n, src.stat().st_size)


def _tree_size(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


class _Worker(threading.Thread):
    """A thread whose exception is kept for the caller to re-raise."""

    def __init__(self, target: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self._fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the joining thread
            self.error = exc


def encrypt_dir(src: Path, dst: Path, recipients: Iterable[Recipient], *,
                on_progress: OnProgress | None = None, overwrite: bool = False,
                armored: bool = False) -> Outcome:
    """Encrypt the folder ``src`` as a tar stream (paths relative to ``src``'s name)."""
    recips = age.check_recipients(recipients)
    total = _tree_size(src)
    r, w = os.pipe()
    reader, writer = os.fdopen(r, "rb", buffering=0), os.fdopen(w, "wb", buffering=1 << 20)

    def produce() -> None:
        try:
            with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                tar.add(src, arcname=src.name)
        finally:
            writer.close()

    worker = _Worker(produce)
    worker.start()
    try:
        with _atomic_binary(dst, overwrite) as out:
            n = age.encrypt(reader, out, recips, progress=_progress(on_progress, total), armored=armored)
            worker.join()
            if worker.error is not None:
                raise worker.error
    finally:
        reader.close()
        worker.join()
    return Outcome(str(src), str(dst), "folder", n, dst.stat().st_size)


def _extract(reader: BinaryIO, into: Path) -> None:
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            tar.extractall(into, filter="data")
        while reader.read(1 << 16):  # drain tar padding so the writer never sees a broken pipe
            pass
    except BaseException:
        reader.close()  # the decrypting side then fails with a broken pipe instead of blocking
        raise


def decrypt_dir(src: Path, dst: Path, identities: Iterable[Identity], *,
                on_progress: OnProgress | None = None) -> Outcome:
    """Decrypt a folder archive made by :func:`encrypt_dir` into the new directory ``dst``.

    Extraction happens in a temporary directory beside ``dst`` that is renamed to ``dst`` only
    after the whole payload authenticated; on any error it is removed.
    """
    if dst.exists():
        raise FileExistsError(f"{dst} already exists")
    total = plaintext_size(src)
    tmp = temp_path_for(dst)
    tmp.mkdir(mode=0o700)
    r, w = os.pipe()
    reader, writer = os.fdopen(r, "rb", buffering=1 << 20), os.fdopen(w, "wb", buffering=0)
    worker = _Worker(lambda: _extract(reader, tmp))
    worker.start()
    try:
        try:
            with open(src, "rb") as f:
                n = age.decrypt(f, writer, list(identities), progress=_progress(on_progress, total))
        finally:
            writer.close()
            worker.join()
        if worker.error is not None:
            raise worker.error
        entries = list(tmp.iterdir())
        if len(entries) != 1 or not entries[0].is_dir():
            raise ValueError("the archive does not contain exactly one folder")
        os.rename(entries[0], dst)
        tmp.rmdir()
    except BaseException:
        reader.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    reader.close()
    return Outcome(str(src), str(dst), "folder", n, src.stat().st_size)


def rewrap_file(path: Path, identities: Iterable[Identity], recipients: Iterable[Recipient],
                *, verify: bool = True) -> Outcome:
    """Replace the header of the age file at ``path`` so it opens for ``recipients``."""
    ids = list(identities)
    if verify:
        with open(path, "rb") as f:
            n = age.verify(f, ids)
    with open(path, "rb") as f, _atomic_binary(path, True) as out:
        age.rewrap(f, out, ids, recipients)
    return Outcome(str(path), str(path), "file", n if verify else -1, path.stat().st_size)
