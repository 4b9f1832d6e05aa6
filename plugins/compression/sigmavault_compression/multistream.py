"""A decoder over concatenated xz or bzip2 streams that accepts nothing but valid streams.

The standard library's ``LZMAFile`` and ``BZ2File`` stop quietly at the first bytes after a stream
that do not decode, so trailing garbage passes as success, and ``LZMAFile`` reads xz Stream
Padding (null bytes between or after streams, xz file format section 2.2) as a truncated stream.
This reader runs one decompressor object per stream and between streams accepts only Stream
Padding (xz: null bytes in multiples of four) followed by the end of input or the next stream's
magic bytes; anything else raises.
"""

from __future__ import annotations

import bz2
import io
import lzma
from typing import TYPE_CHECKING, Any, Callable, Protocol

from .errors import CorruptArchive, UnsupportedArchive

if TYPE_CHECKING:  # pragma: no cover
    from .codecs import ByteSource

READ_SIZE = 1 << 16
XZ_MAGIC = b"\xfd7zXZ\x00"
BZ2_MAGIC = b"BZh"
# Check IDs the xz format defines (none, CRC32, CRC64, SHA-256); liblzma decodes a stream with any
# other ID without verifying it, which would accept data nothing checked.
XZ_DEFINED_CHECKS = {lzma.CHECK_NONE, lzma.CHECK_CRC32, lzma.CHECK_CRC64, lzma.CHECK_SHA256}


class Decompressor(Protocol):
    """``lzma.LZMADecompressor`` and ``bz2.BZ2Decompressor``: one stream each."""

    @property
    def eof(self) -> bool: ...

    @property
    def needs_input(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class StreamSequence(io.RawIOBase):
    """Decode one stream after another from ``fileobj``; ``read(n)`` returns at most ``n`` bytes.

    ``new_stream`` makes the decompressor of one stream. ``padding_unit`` > 0 allows null bytes
    between and after streams in multiples of that many bytes. ``check_stream`` looks at each
    decompressor after it decoded something and raises on features that must be refused.
    """

    def __init__(self, fileobj: "ByteSource", codec: str, magic: bytes,
                 new_stream: Callable[[], Decompressor], padding_unit: int = 0,
                 check_stream: Callable[[Any], None] | None = None):
        self._f = fileobj
        self._codec = codec
        self._magic = magic
        self._new_stream = new_stream
        self._padding_unit = padding_unit
        self._check_stream = check_stream
        self._dec: Decompressor | None = None
        self._pending = b""  # input read but not yet given to a decompressor
        self._offset = 0  # input bytes consumed before ``_pending``
        self._streams = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 20
        if size == 0:
            return b""
        while not self._done:
            if self._dec is None and not self._start_stream():
                self._done = True
                break
            out = self._decode(size)
            if out:
                return out
        return b""

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def _input(self) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
        else:
            data = self._f.read(READ_SIZE)
        self._offset += len(data)
        return data

    def _unread(self, data: bytes) -> None:
        self._pending = data + self._pending
        self._offset -= len(data)

    def _start_stream(self) -> bool:
        """Pass over Stream Padding; False at the end of input, else the next stream is set up."""
        padding = 0
        while True:
            data = self._input()
            if not data:
                if not self._streams:
                    raise CorruptArchive(f"{self._codec}: truncated archive: no {self._codec} stream")
                self._check_padding(padding)
                return False
            stripped = data.lstrip(b"\0") if self._padding_unit and self._streams else data
            padding += len(data) - len(stripped)
            if stripped:
                self._unread(stripped)
                break
        self._check_padding(padding)
        head = self._input()
        while len(head) < len(self._magic):
            more = self._input()
            if not more:
                break
            head += more
        self._unread(head)
        if not head.startswith(self._magic):
            where = "trailing data after the last" if self._streams else "not an"
            raise CorruptArchive(f"{self._codec}: corrupt archive: {where} {self._codec} stream "
                                 f"at offset "
                                 f"{self._offset} (starts with {head[:8].hex()})")
        self._dec = self._new_stream()
        self._streams += 1
        return True

    def _check_padding(self, padding: int) -> None:
        if padding and padding % self._padding_unit:
            raise CorruptArchive(f"{self._codec}: corrupt archive: stream padding of {padding} "
                                 f"bytes before offset {self._offset} is not a multiple of "
                                 f"{self._padding_unit}")

    def _decode(self, size: int) -> bytes:
        dec = self._dec
        assert dec is not None
        if dec.eof:
            self._unread(dec.unused_data)
            self._dec = None
            return b""
        data = b""
        if dec.needs_input:
            data = self._input()
            if not data:
                raise CorruptArchive(f"{self._codec}: truncated archive: input ends inside "
                                     f"stream {self._streams} at offset {self._offset}")
        try:
            out = dec.decompress(data, size)
        except (lzma.LZMAError, OSError, EOFError, ValueError) as exc:
            text = str(exc)
            kind = UnsupportedArchive if "unsupported" in text.lower() else CorruptArchive
            raise kind(f"{self._codec}: {'unsupported' if kind is UnsupportedArchive else 'corrupt'}"
                       f" archive: {text} (stream {self._streams}, before offset {self._offset})"
                       ) from exc
        if self._check_stream:
            self._check_stream(dec)
        return out


def check_xz_stream(dec: lzma.LZMADecompressor) -> None:
    if dec.check != lzma.CHECK_UNKNOWN and dec.check not in XZ_DEFINED_CHECKS:
        raise UnsupportedArchive(f"xz: unsupported archive: integrity check type {dec.check} is "
                                 "not defined by the xz format (none, CRC32, CRC64, SHA-256)")


def xz_streams(fileobj: "ByteSource") -> StreamSequence:
    """Concatenated xz streams with Stream Padding, every stream's index and check verified."""
    return StreamSequence(fileobj, "xz", XZ_MAGIC, lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ),
                          padding_unit=4, check_stream=check_xz_stream)


def bz2_streams(fileobj: "ByteSource") -> StreamSequence:
    """Concatenated bzip2 streams (``pbzip2`` output, ``cat a.bz2 b.bz2``)."""
    return StreamSequence(fileobj, "bz2", BZ2_MAGIC, bz2.BZ2Decompressor)
