"""Small file-object adapters the engine stacks between files and codecs."""

from __future__ import annotations

import io
from typing import Any, Callable

from .codecs import Buffer, ByteSink, ByteSource, Decoder
from .errors import CorruptArchive
from .progress import CheckFn, Meter


class CountingReader(io.RawIOBase):
    """Reads ``raw``, adds to a meter counter, ticks the meter and checks for cancellation.

    Any exception raised here (a read error, a cancellation) is remembered in ``error`` so that a
    decoder wrapping this reader can tell it apart from a corrupt-input error of its own.
    """

    def __init__(self, raw: ByteSource, meter: Meter, counter: str, check: CheckFn | None = None):
        self.raw = raw
        self.meter = meter
        self.counter = counter
        self.check = check
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            if self.check:
                self.check()
            data = self.raw.read(size)
        except BaseException as exc:
            self.error = exc
            raise
        setattr(self.meter, self.counter, getattr(self.meter, self.counter) + len(data))
        self.meter.tick()
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


class CountingWriter(io.RawIOBase):
    """Writes to ``raw`` and adds the byte count to a meter counter (optionally also ``raw``)."""

    def __init__(self, raw: ByteSink, meter: Meter, counter: str, check: CheckFn | None = None,
                 also_raw: bool = False, on_data: Callable[[Buffer], None] | None = None):
        self.raw = raw
        self.meter = meter
        self.counter = counter
        self.check = check
        self.also_raw = also_raw
        self.on_data = on_data

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.check:
            self.check()
        n = len(data) if not isinstance(data, memoryview) else data.nbytes
        if self.on_data:
            self.on_data(data)
        self.raw.write(data)
        setattr(self.meter, self.counter, getattr(self.meter, self.counter) + n)
        if self.also_raw:
            self.meter.raw += n
        self.meter.tick()
        return n

    def flush(self) -> None:
        flush = getattr(self.raw, "flush", None)
        if flush is not None:
            flush()


class GuardedDecoder(io.RawIOBase):
    """A codec's decoder stream whose failures become :class:`CorruptArchive`.

    Errors that came from the source itself (read errors, cancellation; see
    :class:`CountingReader`) pass through unchanged. ``meter.raw`` counts decoded bytes.
    """

    def __init__(self, decoder: Decoder, source: CountingReader, codec_name: str, meter: Meter):
        self.decoder = decoder
        self.source = source
        self.codec_name = codec_name
        self.meter = meter

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            data = self.decoder.read(size)
        except BaseException as exc:
            if self.source.error is not None:
                raise self.source.error from None
            if isinstance(exc, CorruptArchive):
                raise
            if not isinstance(exc, Exception) or isinstance(exc, MemoryError):
                raise
            raise CorruptArchive(f"{self.codec_name}: corrupt or truncated archive: {exc}") from exc
        self.meter.raw += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self.decoder.close()
        except Exception:
            pass
        super().close()


class PrefixedReader(io.RawIOBase):
    """Replays ``prefix`` and then continues with ``rest`` (after peeking at a stream's head)."""

    def __init__(self, prefix: bytes, rest: ByteSource):
        self.prefix = memoryview(prefix)
        self.rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.prefix.nbytes:
            if size < 0:
                head, self.prefix = bytes(self.prefix), memoryview(b"")
                return head + self.rest.read()
            head, self.prefix = bytes(self.prefix[:size]), self.prefix[size:]
            return head
        return self.rest.read(size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def read_exactly_upto(reader: ByteSource, size: int) -> bytes:
    """Read until ``size`` bytes or EOF (decoders may return short reads)."""
    parts, got = [], 0
    while got < size:
        chunk = reader.read(size - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)
