"""The age STREAM payload: ChaCha20-Poly1305 over 64 KiB chunks with a final-chunk flag.

Reading, sealing/opening and writing run as a three-stage pipeline (reader thread, the calling
thread, writer thread) over a few preallocated 1 MiB blocks: file I/O and ChaCha20-Poly1305 all
release the GIL, so they overlap, and memory stays constant whatever the file size.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import BinaryIO, Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .errors import AuthenticationError
from .header import hkdf_sha256

CHUNK = 64 * 1024
TAG = 16
NONCE_SIZE = 16
BLOCK_CHUNKS = 16
DEPTH = 4
FLUSH_BEHIND = 32 << 20

Progress = Callable[[int], None]
"""Called with the number of plaintext bytes processed so far (may raise to abort)."""


def _nonce(counter: int, final: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def _fill(src: BinaryIO, view: memoryview) -> int:
    """Read until ``view`` is full or EOF; return bytes read."""
    got = 0
    while got < len(view):
        n = src.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    """HKDF-SHA-256(file key, salt=nonce, info="payload")."""
    return hkdf_sha256(file_key, nonce, b"payload")


class _Stopped(Exception):
    """Another pipeline stage failed; this one unwinds quietly."""


def _put(q: queue.Queue, item: object, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            q.put(item, timeout=0.05)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue, stop: threading.Event) -> object:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            return q.get(timeout=0.05)
        except queue.Empty:
            continue


def _flush_behind(dst: BinaryIO) -> Callable[[int], None] | None:
    """Start writeback of what was written so far, so the final fsync has little left to do."""
    try:
        fd = dst.fileno()
        if not hasattr(os, "posix_fadvise") or not os.path.isfile(f"/proc/self/fd/{fd}"):
            return None
    except (AttributeError, OSError, ValueError):
        return None
    state = {"done": 0}

    def advise(written: int) -> None:
        if written - state["done"] >= FLUSH_BEHIND:
            dst.flush()
            os.posix_fadvise(fd, state["done"], written - state["done"], os.POSIX_FADV_DONTNEED)
            state["done"] = written
    return advise


def _pipeline(src: BinaryIO, dst: BinaryIO, in_size: int, out_size: int,
              process: Callable[[memoryview, bool, memoryview], int], flush_behind: bool = True) -> None:
    """Feed ``src`` in blocks of ``in_size`` to ``process(block, is_last, out)`` and write its
    ``out[:n]`` to ``dst``. ``is_last`` is known by looking one block ahead."""
    stop = threading.Event()
    errors: list[BaseException] = []
    in_free: queue.Queue = queue.Queue()
    out_free: queue.Queue = queue.Queue()
    for _ in range(DEPTH):
        in_free.put(bytearray(in_size))
        out_free.put(bytearray(out_size))
    q_read: queue.Queue = queue.Queue(DEPTH)
    q_write: queue.Queue = queue.Queue(DEPTH)
    advise = _flush_behind(dst) if flush_behind else None

    def reader() -> None:
        try:
            while True:
                buf = _get(in_free, stop)
                n = _fill(src, memoryview(buf))  # type: ignore[arg-type]
                _put(q_read, (buf, n), stop)
                if n < in_size:
                    return
        except _Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001 - re-raised by the calling thread
            errors.append(exc)
            stop.set()

    def writer() -> None:
        written = 0
        try:
            while True:
                item = _get(q_write, stop)
                if item is None:
                    return
                buf, n = item  # type: ignore[misc]
                dst.write(memoryview(buf)[:n])
                written += n
                if advise:
                    advise(written)
                out_free.put(buf)
        except _Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=reader, daemon=True), threading.Thread(target=writer, daemon=True)]
    for t in threads:
        t.start()
    try:
        pending: tuple[bytearray, int] | None = None
        while True:
            buf, n = _get(q_read, stop)  # type: ignore[misc]
            if pending is not None:
                last = n == 0
                pbuf, pn = pending
                out = _get(out_free, stop)
                _put(q_write, (out, process(memoryview(pbuf)[:pn], last, memoryview(out))), stop)  # type: ignore[arg-type]
                in_free.put(pbuf)
                if last:
                    break
            if n < in_size and n > 0 or (n == 0 and pending is None):
                out = _get(out_free, stop)
                _put(q_write, (out, process(memoryview(buf)[:n], True, memoryview(out))), stop)  # type: ignore[arg-type]
                break
            pending = (buf, n)  # type: ignore[assignment]
        _put(q_write, None, stop)
    except _Stopped:
        pass
    except BaseException:
        stop.set()
        for t in threads:
            t.join()
        raise
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def encrypt_payload(src: BinaryIO, dst: BinaryIO, file_key: bytes, *,
                    progress: Progress | None = None, nonce: bytes | None = None,
                    flush_behind: bool = True) -> int:
    """Encrypt all of ``src`` into ``dst`` (nonce + chunks); return the plaintext size.

    ``flush_behind`` starts writeback of a regular-file ``dst`` as it grows (for callers that
    fsync at the end); turn it off when the output is not going to be synced."""
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    dst.write(nonce)
    aead = ChaCha20Poly1305(payload_key(file_key, nonce))
    counter = total = 0

    def seal(block: memoryview, last: bool, out: memoryview) -> int:
        nonlocal counter, total
        n = len(block)
        count = max(1, -(-n // CHUNK))
        o = 0
        for i in range(count):
            piece = block[i * CHUNK:min((i + 1) * CHUNK, n)]
            aead.encrypt_into(_nonce(counter, last and i == count - 1), piece, None,
                              out[o:o + len(piece) + TAG])
            o += len(piece) + TAG
            counter += 1
        total += n
        if progress:
            progress(total)
        return o

    _pipeline(src, dst, CHUNK * BLOCK_CHUNKS, (CHUNK + TAG) * BLOCK_CHUNKS, seal, flush_behind)
    return total


def decrypt_payload(src: BinaryIO, dst: BinaryIO, file_key: bytes, *,
                    progress: Progress | None = None) -> int:
    """Decrypt the payload at ``src`` into ``dst``; return the plaintext size.

    Raises :class:`AuthenticationError` on any modification, reordering, truncation or trailing
    data. Plaintext of chunks that authenticated may already be in ``dst`` when that happens:
    callers write to a temporary file and discard it on error.
    """
    nonce = bytearray(NONCE_SIZE)
    if _fill(src, memoryview(nonce)) != NONCE_SIZE:
        raise AuthenticationError("payload truncated: missing nonce")
    aead = ChaCha20Poly1305(payload_key(file_key, bytes(nonce)))
    enc = CHUNK + TAG
    counter = total = 0

    def open_(block: memoryview, last: bool, out: memoryview) -> int:
        nonlocal counter, total
        n = len(block)
        count = -(-n // enc)
        if last:
            tail = n - (count - 1) * enc if count else 0
            if count == 0 or tail < TAG or (tail == TAG and (counter or count > 1)):
                raise AuthenticationError("payload truncated or final chunk missing")
        o = 0
        for i in range(count):
            piece = block[i * enc:min((i + 1) * enc, n)]
            size = len(piece) - TAG
            try:
                aead.decrypt_into(_nonce(counter, last and i == count - 1), piece, None, out[o:o + size])
            except InvalidTag:
                raise AuthenticationError(f"payload chunk {counter} failed to authenticate") from None
            o += size
            counter += 1
        total += o
        if progress:
            progress(total)
        return o

    _pipeline(src, dst, enc * BLOCK_CHUNKS, CHUNK * BLOCK_CHUNKS, open_)
    return total
