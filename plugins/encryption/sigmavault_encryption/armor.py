"""age's ASCII armor (``age -a``): strict PEM with type "AGE ENCRYPTED FILE".

c2sp.org/age: the binary file in standard base64 with padding, 64-column lines (only the last
one shorter), no headers, canonical encoding; LF or CRLF line ends; whitespace only before the
first and after the last line (at most 1 KiB each). Anything else is an :class:`ArmorError`.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any, BinaryIO

from .errors import ArmorError
from .header import VERSION_PREFIX

BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
END = b"-----END AGE ENCRYPTED FILE-----"
COLUMNS = 64
BYTES_PER_LINE = COLUMNS // 4 * 3
MAX_WHITESPACE = 1024
_WHITESPACE = b" \t\r\n\x0b\x0c"


def looks_armored(start: bytes) -> bool:
    """Whether a file starting with ``start`` is meant to be armored: it is not a binary age
    file and a PEM boundary opens it (possibly malformed, so the armor error names it)."""
    stripped = start.lstrip(_WHITESPACE)
    if stripped.startswith(VERSION_PREFIX):
        return False
    return stripped.startswith(b"-----") or b"-----BEGIN" in start


def reader(src: BinaryIO) -> BinaryIO:
    """``src`` for a binary age file, a decoding reader (raising :class:`ArmorError`) for an
    armored one. Read only through the returned stream afterwards."""
    buffered = src if hasattr(src, "peek") else io.BufferedReader(src)  # type: ignore[type-var]
    start = buffered.peek(MAX_WHITESPACE + len(BEGIN))[:MAX_WHITESPACE + len(BEGIN)]
    if not looks_armored(start):
        return buffered
    return io.BufferedReader(_Decoder(buffered), buffer_size=BYTES_PER_LINE * 1024)


def is_armored(stream: BinaryIO) -> bool:
    """Whether ``stream`` (from :func:`reader`) decodes an armored file."""
    return isinstance(getattr(stream, "raw", None), _Decoder)


class _Decoder(io.RawIOBase):
    """Decodes one armor line per read, validating as it goes."""

    def __init__(self, src: BinaryIO) -> None:
        self._src = src
        self._started = False
        self._finished = False
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._finished:
            self._pending = self._next()
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _line(self) -> bytes:
        line = self._src.readline(MAX_WHITESPACE + 2)
        if not line:
            raise ArmorError("invalid armor: unexpected end of file (no END line)")
        if not line.endswith(b"\n") and len(line) > MAX_WHITESPACE:
            raise ArmorError("invalid armor: line too long")
        line = line.removesuffix(b"\n")
        return line.removesuffix(b"\r")

    def _start(self) -> None:
        skipped = 0
        while True:
            line = self._line()
            if line.strip(_WHITESPACE):
                break
            skipped += len(line) + 1
            if skipped > MAX_WHITESPACE:
                raise ArmorError("invalid armor: too much leading whitespace")
        if line != BEGIN:
            raise ArmorError(f"invalid armor: the first line must be {BEGIN.decode()!r}, not {line[:80]!r}")
        self._started = True

    def _finish(self) -> None:
        trailing = self._src.read(MAX_WHITESPACE)
        if trailing.strip(_WHITESPACE):
            raise ArmorError("invalid armor: data after the END line")
        if len(trailing) == MAX_WHITESPACE:
            raise ArmorError("invalid armor: too much trailing whitespace")
        self._finished = True

    def _next(self) -> bytes:
        if not self._started:
            self._start()
        line = self._line()
        if line == END:
            self._finish()
            return b""
        if not line:
            raise ArmorError("invalid armor: empty line")
        if len(line) > COLUMNS:
            raise ArmorError(f"invalid armor: line longer than {COLUMNS} columns")
        try:
            data = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ArmorError(f"invalid armor: bad base64 ({exc})") from None
        if base64.b64encode(data) != line:
            raise ArmorError("invalid armor: non-canonical base64")
        if len(data) < BYTES_PER_LINE:
            if self._line() != END:
                raise ArmorError(f"invalid armor: a short line must be followed by {END.decode()!r}")
            self._finish()
        return data


class Writer:
    """Armors what is written to ``dst``; :meth:`close` writes the last line and the END line
    (``dst`` itself stays open)."""

    def __init__(self, dst: BinaryIO) -> None:
        self._dst = dst
        self._held = bytearray()
        dst.write(BEGIN + b"\n")

    def write(self, data: bytes | memoryview) -> int:
        self._held += data
        whole = len(self._held) // BYTES_PER_LINE * BYTES_PER_LINE
        if whole:
            self._emit(bytes(self._held[:whole]))
            del self._held[:whole]
        return len(data)

    def _emit(self, data: bytes) -> None:
        text = base64.b64encode(data)
        self._dst.write(b"".join(text[i:i + COLUMNS] + b"\n" for i in range(0, len(text), COLUMNS)))

    def close(self) -> None:
        if self._held:
            self._emit(bytes(self._held))
            self._held.clear()
        self._dst.write(END + b"\n")
