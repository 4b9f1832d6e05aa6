"""A third-party codec plugin as a plugin author writes one: no import of sigmavault_compression.

It adds a raw zlib (RFC 1950) codec through the ``register_codecs`` hook. The adapters show the
contract: the writer's ``close()`` ends the stream without closing the file; the reader's
``read(n)`` returns at most ``n`` bytes and raises when the stream is cut short.
"""

from __future__ import annotations

import io
import zlib

from sigmavault import hookimpl


class ZlibWriter(io.RawIOBase):
    def __init__(self, fileobj, level: int):
        self._f = fileobj
        self._z = zlib.compressobj(level)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._f.write(self._z.compress(data))
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._f.write(self._z.flush())
        super().close()


class ZlibReader(io.RawIOBase):
    def __init__(self, fileobj):
        self._f = fileobj
        self._z = zlib.decompressobj()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = size if size and size > 0 else 1 << 20
        while True:
            if self._z.eof:
                if self._z.unused_data or self._f.read(1):
                    raise ValueError("trailing data after the zlib stream")
                return b""
            data = self._z.unconsumed_tail or self._f.read(64 * 1024)
            if not data:
                raise EOFError("zlib stream ends before its end marker")
            out = self._z.decompress(data, size)  # bounded output: memory stays small
            if out:
                return out

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


class ZlibCodec:
    name = "zlib"
    levels = {"min": 1, "max": 9, "default": 6}
    extension = ".zz"
    magic = b"\x78"
    multithreaded = False
    description = "raw zlib stream (test plugin)"

    def compressor(self, fileobj, level: int, threads: int):
        return ZlibWriter(fileobj, level)

    def decompressor(self, fileobj):
        return ZlibReader(fileobj)


class ZlibCodecPlugin:
    """Registered on a PluginManager like an entry-point module would be."""

    @hookimpl
    def register_codecs(self, register):
        register(ZlibCodec())
